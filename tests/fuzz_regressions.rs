//! The inputs the fuzzers (`fuzz/`) found crashing, hanging or allocating without bound, kept
//! as regression tests: each file in `tests/fixtures/fuzz/<target>/` goes through what its
//! target does, and must end as a result (usually an error), not a panic, an abort or a hang.
//! New findings: copy the artifact from `fuzz/artifacts/<target>/` into the folder.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target's first byte picks the file name's extension, in this order (as in
/// `fuzz/fuzz_targets/decode_audio.rs`).
const EXTENSIONS: [&str; 8] = ["wav", "mp3", "flac", "ogg", "m4a", "aac", "aiff", "bin"];

fn findings(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn songs_the_decoder_fuzzer_found_are_errors_not_crashes() {
    let files = findings("decode_audio");
    assert!(!files.is_empty(), "the decoder's findings are kept");
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let Some((&pick, bytes)) = data.split_first() else {
            continue;
        };
        let song = dir.path().join(format!(
            "song.{}",
            EXTENSIONS[usize::from(pick) % EXTENSIONS.len()]
        ));
        std::fs::write(&song, bytes).unwrap();
        // In the library: a result, whatever it is.
        let _ = deep_visualizer::analysis::decode::decode_file(&song);
        // Through the CLI: a plain error naming the file, not "internal error".
        let out = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"))
            .arg("features")
            .arg(&song)
            .arg("--out")
            .arg(dir.path().join("features.csv"))
            .env("DEEP_VISUALIZER_FFMPEG", "/nonexistent/ffmpeg")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", file.display());
        assert!(
            !stderr.contains("internal error"),
            "{}: {stderr}",
            file.display()
        );
        assert!(stderr.contains("song."), "{}: {stderr}", file.display());
    }
}
