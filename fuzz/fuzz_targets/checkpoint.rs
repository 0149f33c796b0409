//! Checkpoint reading as the model loaders do it: open (torch legacy pickle, torch zip or
//! safetensors, detected from the bytes), list the tensors, read each one as floats.
#![no_main]

use std::sync::OnceLock;

use deep_visualizer::models::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().path().join("pytorch_model.bin");
    std::fs::write(&path, data).expect("the scratch file is written");
    let Ok(checkpoint) = Checkpoint::open(&path) else {
        return;
    };
    let keys: Vec<String> = checkpoint.keys().map(str::to_owned).collect();
    for key in keys.iter().take(64) {
        if let Ok(tensor) = checkpoint.tensor_any_shape(key) {
            assert_eq!(
                tensor.values.len(),
                tensor.shape.iter().product::<usize>(),
                "a tensor holds as many values as its shape says"
            );
        }
    }
});
