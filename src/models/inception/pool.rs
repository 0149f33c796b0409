//! GoogLeNet's max pools on the CPU backend, and their input gradient for
//! [`super::gradient`].
//!
//! burn's CPU pool spends about 30 ns per output (a division and a NaN test per element read,
//! and it finds the argmax in the forward pass for a backward pass that may never come). Here a
//! window's maximum is taken one dimension after the other (each input row's maximum over each
//! window's columns, then each window's maximum over its rows' maxima), as branch-free selects
//! the compiler vectorises; the backward pass finds each window's maximum again, in PyTorch's
//! order (the first one wins a tie), and sends it the gradient. (Keeping the positions in the
//! forward pass instead was measured slower: the index selects stop the vectorisation.)

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use crate::models::fused::host_slice;
use crate::models::vector_isa::vectorised;

/// A pool's input and output, for its gradient.
pub struct Pooled {
    /// `[N, C, H, W]`.
    input: Tensor<4>,
    /// `[N, C, H', W']`.
    pub output: Tensor<4>,
    /// The window.
    window: Window,
}

/// A square pooling window's geometry along both dimensions.
#[derive(Clone, Copy)]
struct Window {
    /// Side.
    kernel: usize,
    /// Step between windows.
    stride: usize,
    /// Implicit padding before the first element (never part of a maximum).
    padding: usize,
}

/// PyTorch's max: `v` replaces `m` when larger, and NaN wins. A select, not a branch: the
/// comparison's outcome is random on image data.
#[inline(always)]
fn max_nan(m: f32, v: f32) -> f32 {
    if v > m || v.is_nan() {
        v
    } else {
        m
    }
}

impl Window {
    /// The input positions `[start, end)` window `o` covers in a dimension of `len`.
    fn span(self, o: usize, len: usize) -> (usize, usize) {
        let start = (o * self.stride).saturating_sub(self.padding);
        let end = (o * self.stride + self.kernel)
            .saturating_sub(self.padding)
            .min(len);
        (start, end)
    }

    /// `maxima[o]`: the maximum of `row` over window `o`'s columns.
    #[inline(always)]
    fn row_maxima(self, row: &[f32], maxima: &mut [f32]) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        // Windows wholly inside the row: [inner_start, inner_end), one shifted, strided pass
        // per kernel column (vectorised where the stride is 1).
        let inner_start = p.div_ceil(s).min(maxima.len());
        let inner_end = if row.len() + p >= k {
            ((row.len() + p - k) / s + 1).clamp(inner_start, maxima.len())
        } else {
            inner_start
        };
        let inner = &mut maxima[inner_start..inner_end];
        if !inner.is_empty() {
            let first = inner_start * s - p;
            for j in 0..k {
                let source = &row[first + j..];
                if s == 1 {
                    if j == 0 {
                        inner.copy_from_slice(&source[..inner.len()]);
                    } else {
                        for (m, &v) in inner.iter_mut().zip(source) {
                            *m = max_nan(*m, v);
                        }
                    }
                } else {
                    for (m, &v) in inner.iter_mut().zip(source.iter().step_by(s)) {
                        *m = if j == 0 { v } else { max_nan(*m, v) };
                    }
                }
            }
        }
        // The windows at the edges, cut by the padding or hanging over the end.
        for o in (0..inner_start).chain(inner_end..maxima.len()) {
            let (x0, x1) = self.span(o, row.len());
            maxima[o] = row[x0 + 1..x1].iter().fold(row[x0], |m, &v| max_nan(m, v));
        }
    }
}

/// A square-window max pool of `x` (`[N, C, H, W]`, on the CPU backend) with `stride` and
/// `padding`, `out_hw` outputs (PyTorch's `ceil_mode` sizes, computed by the caller).
pub fn max_pool(
    x: Tensor<4>,
    kernel: usize,
    stride: usize,
    padding: usize,
    out_hw: [usize; 2],
) -> Pooled {
    let window = Window {
        kernel,
        stride,
        padding,
    };
    let device = x.device();
    let [n, c, height, width] = x.dims();
    let [out_h, out_w] = out_hw;
    // Taken and given back whole: the buffer is not copied.
    let data = x.into_data();
    let input = host_slice(&data);
    let (plane_len, out_len) = (height * width, out_h * out_w);
    let mut output = vec![0.0f32; n * c * out_len];
    if out_len > 0 {
        output.par_chunks_mut(out_len).enumerate().for_each_init(
            || vec![0.0f32; height * out_w],
            |row_max, (plane_idx, out)| {
                vectorised(
                    #[inline(always)]
                    || {
                        let plane = &input[plane_idx * plane_len..(plane_idx + 1) * plane_len];
                        for (row, maxima) in plane
                            .chunks_exact(width)
                            .zip(row_max.chunks_exact_mut(out_w))
                        {
                            window.row_maxima(row, maxima);
                        }
                        for (oy, out_row) in out.chunks_exact_mut(out_w).enumerate() {
                            let (y0, y1) = window.span(oy, height);
                            out_row.copy_from_slice(&row_max[y0 * out_w..(y0 + 1) * out_w]);
                            for maxima in row_max[(y0 + 1) * out_w..y1 * out_w].chunks_exact(out_w)
                            {
                                for (o, &m) in out_row.iter_mut().zip(maxima) {
                                    *o = max_nan(*o, m);
                                }
                            }
                        }
                    },
                )
            },
        );
    }
    Pooled {
        input: Tensor::from_data(data, &device),
        output: Tensor::from_data(TensorData::new(output, [n, c, out_h, out_w]), &device),
        window,
    }
}

impl Pooled {
    /// The gradient at the pool's input for `grad` at its output: each output's gradient goes
    /// to the first maximum of its window in row-major order, as PyTorch's and burn's pools
    /// send it (summed where windows overlap on one).
    pub fn input_grad(self, grad: Tensor<4>) -> Tensor<4> {
        let device = grad.device();
        let [n, c, height, width] = self.input.dims();
        let [_, _, out_h, out_w] = grad.dims();
        let (input, output, grad) = (
            self.input.into_data(),
            self.output.into_data(),
            grad.into_data(),
        );
        let (input, output, grad) = (host_slice(&input), host_slice(&output), host_slice(&grad));
        let (plane_len, out_len) = (height * width, out_h * out_w);
        let window = self.window;
        let mut input_grad = vec![0.0f32; n * c * plane_len];
        if plane_len > 0 && out_len > 0 {
            input_grad
                .par_chunks_mut(plane_len)
                .enumerate()
                .for_each(|(plane_idx, plane_grad)| {
                    let plane = &input[plane_idx * plane_len..(plane_idx + 1) * plane_len];
                    let outs = &output[plane_idx * out_len..(plane_idx + 1) * out_len];
                    let grads = &grad[plane_idx * out_len..(plane_idx + 1) * out_len];
                    for oy in 0..out_h {
                        let (y0, y1) = window.span(oy, height);
                        for ox in 0..out_w {
                            let (x0, x1) = window.span(ox, width);
                            let (max, g) = (outs[oy * out_w + ox], grads[oy * out_w + ox]);
                            let is_nan = max.is_nan();
                            let mut at = y0 * width + x0;
                            'find: for y in y0..y1 {
                                let row = &plane[y * width + x0..y * width + x1];
                                for (dx, &v) in row.iter().enumerate() {
                                    if v == max || (is_nan && v.is_nan()) {
                                        at = y * width + x0 + dx;
                                        break 'find;
                                    }
                                }
                            }
                            plane_grad[at] += g;
                        }
                    }
                });
        }
        Tensor::from_data(TensorData::new(input_grad, [n, c, height, width]), &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::max_pool2d_with_indices;
    use burn::tensor::module::{max_pool2d, max_pool2d_with_indices_backward};
    use burn::tensor::ops::MaxPoolOptions;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn the_pool_and_its_gradient_match_burns_with_ties() {
        // GoogLeNet's pools, on sizes where ceil mode overhangs; the input rounded to a few
        // values so windows hold their maximum twice (the first one must get the gradient).
        for (kernel, stride, padding, h, w) in [
            (3, 2, 0, 9, 12),
            (3, 1, 1, 7, 5),
            (2, 2, 0, 5, 6),
            (3, 2, 0, 3, 3),
        ] {
            let device = Device::flex();
            let x =
                Tensor::<4>::random([2, 3, h, w], Distribution::Uniform(0.0, 4.0), &device).floor();
            let options = MaxPoolOptions::new([kernel, kernel])
                .with_stride([stride, stride])
                .with_padding([padding, padding])
                .with_ceil_mode(true);
            let expected = max_pool2d(x.clone(), options.clone());
            let [_, _, out_h, out_w] = expected.dims();
            let pooled = max_pool(x.clone(), kernel, stride, padding, [out_h, out_w]);
            assert_eq!(
                pooled
                    .output
                    .clone()
                    .into_data()
                    .try_into_vec::<f32>()
                    .unwrap(),
                expected.into_data().try_into_vec::<f32>().unwrap(),
                "k {kernel} s {stride} p {padding} {h}×{w}"
            );
            let grad = Tensor::<4>::random([2, 3, out_h, out_w], Distribution::Default, &device);
            let (_, indices) = max_pool2d_with_indices(x.clone(), options.clone());
            let expected = max_pool2d_with_indices_backward(
                x,
                [kernel, kernel],
                [stride, stride],
                [padding, padding],
                [1, 1],
                true,
                grad.clone(),
                indices,
            );
            let got = pooled.input_grad(grad);
            let diff = (got - expected).abs().max().into_scalar::<f32>();
            assert!(
                diff < 1e-6,
                "k {kernel} s {stride} p {padding} {h}×{w}: {diff}"
            );
        }
    }
}
