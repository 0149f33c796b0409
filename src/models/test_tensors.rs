//! The CPU kernels' tests' tensors: random inputs on the CPU backend, values, comparisons.

use burn::tensor::{Device, Distribution, Tensor};

/// Uniform in `[low, 1)` on the CPU backend.
pub(crate) fn random<const D: usize>(shape: [usize; D], low: f32) -> Tensor<D> {
    Tensor::random(
        shape,
        Distribution::Uniform(f64::from(low), 1.0),
        &Device::flex(),
    )
}

/// The values, row-major.
pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// `ours` is `reference` within 1e-5 of its largest value (or of 1).
pub(crate) fn assert_close(ours: &[f32], reference: Tensor<4>, what: &str) {
    let reference = values(reference);
    assert_eq!(ours.len(), reference.len(), "{what}");
    let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let diff = ours
        .iter()
        .zip(&reference)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff <= 1e-5 * scale.max(1.0), "{what}: {diff} of {scale}");
}
