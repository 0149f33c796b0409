//! Gaussian blur of `[1, c, h, w]` tensors with the semantics of `scipy.ndimage.gaussian_filter`
//! (the seed blurs its gradients with it): kernel radius `round(4σ)`, `reflect` borders
//! (`d c b a | a b c d | d c b a`), one axis after the other.
//!
//! The spatial axes are depthwise convolutions over a reflect-padded copy; the padding is an index
//! gather, so it works for any radius, also one larger than the image (small octaves blur with
//! σ up to 9 px). Blurring the 3-long colour axis (the seed's scalar σ blurs it too) is a fixed
//! 3×3 channel mix.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// scipy's default `truncate`: the kernel reaches 4σ on each side.
const TRUNCATE: f64 = 4.0;

/// scipy's 1-D Gaussian weights for `sigma`: `2r + 1` taps with `r = int(4σ + 0.5)`, summing to 1.
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (TRUNCATE * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

/// Where scipy's `reflect` mode reads position `idx` of an axis of `len` samples.
pub fn reflect_index(idx: i64, len: usize) -> usize {
    let len = len as i64;
    let period = 2 * len;
    let folded = idx.rem_euclid(period);
    (if folded >= len {
        period - 1 - folded
    } else {
        folded
    }) as usize
}

/// Blurs a `[1, c, h, w]` tensor along its two spatial axes, and along the channel axis as well
/// when `blur_channels` is set (scipy's scalar `sigma` on an `h×w×c` array).
pub fn gaussian_blur(x: Tensor<4>, sigma: f64, blur_channels: bool) -> Tensor<4> {
    let kernel = gaussian_kernel(sigma);
    let x = blur_axis(x, &kernel, 2);
    let x = blur_axis(x, &kernel, 3);
    if blur_channels {
        mix_channels(x, &kernel)
    } else {
        x
    }
}

/// One spatial axis (2 = height, 3 = width): reflect-pad by gathering, then a depthwise
/// convolution with the 1-D kernel.
fn blur_axis(x: Tensor<4>, kernel: &[f64], axis: usize) -> Tensor<4> {
    let device = x.device();
    let [_, num_channels, _, _] = x.dims();
    let len = x.dims()[axis];
    let radius = (kernel.len() / 2) as i64;
    let indices: Vec<i64> = (-radius..len as i64 + radius)
        .map(|i| reflect_index(i, len) as i64)
        .collect();
    let num_indices = indices.len();
    let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [num_indices]), &device);
    let padded = x.select(axis, indices); // [1, c, h + 2r, w] or [1, c, h, w + 2r]
    let taps: Vec<f32> = kernel.iter().map(|&w| w as f32).collect();
    let kernel_shape = if axis == 2 {
        [1, 1, kernel.len(), 1]
    } else {
        [1, 1, 1, kernel.len()]
    };
    let weight = Tensor::<4>::from_data(TensorData::new(taps, kernel_shape), &device)
        .repeat_dim(0, num_channels); // [c, 1, kh, kw]
    conv2d(
        padded,
        weight,
        None,
        ConvOptions::new([1, 1], [0, 0], [1, 1], num_channels),
    ) // [1, c, h, w]
}

/// The colour-axis blur as a channel mix: output channel `o` takes, from input channel `i`, the
/// kernel weights of every tap that `reflect` maps from `o + tap` onto `i`.
fn mix_channels(x: Tensor<4>, kernel: &[f64]) -> Tensor<4> {
    let device: Device = x.device();
    let [_, num_channels, _, _] = x.dims();
    let radius = (kernel.len() / 2) as i64;
    let mut mix = vec![0.0f64; num_channels * num_channels];
    for out_idx in 0..num_channels {
        for (tap_idx, &w) in kernel.iter().enumerate() {
            let source = reflect_index(out_idx as i64 + tap_idx as i64 - radius, num_channels);
            mix[out_idx * num_channels + source] += w;
        }
    }
    let mix: Vec<f32> = mix.into_iter().map(|w| w as f32).collect();
    let weight = Tensor::<4>::from_data(
        TensorData::new(mix, [num_channels, num_channels, 1, 1]),
        &device,
    );
    conv2d(x, weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1)) // [1, c, h, w]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_scipy_radius_and_sums_to_one() {
        // scipy: gaussian_filter1d(sigma=0.5) has radius int(2.5) = 2; sigma=2 has 8.
        assert_eq!(gaussian_kernel(0.5).len(), 5);
        assert_eq!(gaussian_kernel(2.0).len(), 17);
        let sum: f64 = gaussian_kernel(1.3).iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn reflect_repeats_edge_samples_and_folds_long_reaches() {
        // scipy's reflect on [a b c]: ... c b a | a b c | c b a | a b c ...
        let folded: Vec<usize> = (-4..7).map(|i| reflect_index(i, 3)).collect();
        assert_eq!(folded, vec![2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]);
        assert_eq!(reflect_index(-5, 1), 0);
    }
}
