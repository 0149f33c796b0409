//! DeepDream's base picture as `dream --image`, `render --image` and the plugin's Picture read
//! it: PNG or JPEG detected from the bytes, decoded to RGB8 within the image crate's memory
//! limits.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().path().join("picture.png");
    std::fs::write(&path, data).expect("the scratch file is written");
    if let Ok(picture) = deep_visualizer::dream::picture::load_rgb8(&path) {
        assert_eq!(
            picture.as_raw().len(),
            picture.width() as usize * picture.height() as usize * 3
        );
    }
});
