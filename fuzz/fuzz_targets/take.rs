//! Take folders as the take renderer and `render --take` read them: the manifest, the block
//! file (complete or cut off while recording), and the audio laid onto the transport.
//! The first two bytes (little-endian) give the manifest's length; the manifest follows, then
//! the block file.
#![no_main]

use std::sync::OnceLock;

use deep_visualizer::take::{Take, AUDIO_FILE, MANIFEST_FILE};
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
}

fuzz_target!(|data: &[u8]| {
    let Some((len_bytes, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let manifest_len = usize::from(u16::from_le_bytes(*len_bytes)).min(rest.len());
    let (manifest, audio) = rest.split_at(manifest_len);
    let dir = scratch().path().join("take-fuzz.take");
    std::fs::create_dir_all(&dir).expect("the take folder is made");
    std::fs::write(dir.join(MANIFEST_FILE), manifest).expect("the manifest is written");
    std::fs::write(dir.join(AUDIO_FILE), audio).expect("the audio is written");
    let Ok(take) = Take::open(&dir) else {
        return;
    };
    let _ = take.segments();
    if let Ok(flat) = take.flatten() {
        let lengths: Vec<usize> = flat.channels.iter().map(Vec::len).collect();
        assert!(
            lengths.windows(2).all(|w| w[0] == w[1]),
            "channels of one length"
        );
    }
});
