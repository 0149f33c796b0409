//! Song decoding as `render`, `features` and `dream` read a file: the header checks, symphonia
//! under its panic guard, and the damage report. The first byte picks the file name's extension
//! (symphonia takes it as a hint); the rest is the file.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// Extensions users give songs; the hint decides which demuxers symphonia tries first.
const EXTENSIONS: [&str; 8] = ["wav", "mp3", "flac", "ogg", "m4a", "aac", "aiff", "bin"];

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // Not ffmpeg: a fallback process per input would make the fuzzer crawl, and ffmpeg is
        // not our parser. The lookup failing is part of what is exercised.
        std::env::set_var("DEEP_VISUALIZER_FFMPEG", "/nonexistent/ffmpeg");
        // A panic the decoder's guard handles is an error for the user, not a crash; any other
        // panic still reaches libFuzzer's hook, which reports it.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !deep_visualizer::panic_guard::is_guarded() {
                report(info);
            }
        }));
        tempfile::tempdir().expect("a scratch folder")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    let path = scratch().path().join(format!("song.{ext}"));
    std::fs::write(&path, bytes).expect("the scratch file is written");
    if let Ok(audio) = deep_visualizer::analysis::decode::decode_file(&path) {
        assert!(audio.sample_rate_hz > 0, "a decoded song has a sample rate");
        assert!(
            audio.num_frames() > 0,
            "an empty decode is an error, not audio"
        );
    }
});
