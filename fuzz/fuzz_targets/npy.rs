//! `.npy` reading: whole arrays (`generate --z/--y`) and the row-streaming reader
//! (`render --vectors` input).
#![no_main]

use std::sync::OnceLock;

use deep_visualizer::export::npy::{parse_npy, NpyReader};
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = parse_npy(data) {
        assert_eq!(array.values.len(), array.shape.iter().product::<usize>());
    }
    let path = scratch().path().join("vectors.npy");
    std::fs::write(&path, data).expect("the scratch file is written");
    if let Ok(mut reader) = NpyReader::open(&path) {
        let num_cols = reader.num_cols();
        while let Ok(Some(row)) = reader.read_row() {
            assert_eq!(row.len(), num_cols);
        }
    }
});
