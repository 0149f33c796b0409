//! GoogLeNet's max pools on the CPU backend, and their input gradient for
//! [`super::gradient`].
//!
//! burn's CPU pool spends about 30 ns per output (a division and a NaN test per element read,
//! and it finds the argmax in the forward pass for a backward pass that may never come). Here a
//! window's maximum is taken one dimension after the other (each input row's maximum over each
//! window's columns, then each window's maximum over its rows' maxima), as branch-free selects
//! the compiler vectorises. The backward pass finds each window's maximum again, in PyTorch's
//! order (the first one wins a tie), and sends it the gradient: one window position at a time
//! for a whole row of windows, each window's gradient held until its first maximum takes it, as
//! selects again (a search that stops at the maximum mispredicts a branch per window: it took
//! 15 % of a DeepDream step's CPU time at 512²). Keeping the positions in the forward pass
//! instead was measured slower: the index selects stop the vectorisation.

use rayon::prelude::*;

use super::host::HostTensor;
use crate::models::fused::zeros;
use crate::models::vector_isa::vectorised;

/// A pool's input and output, for its gradient.
pub struct Pooled {
    /// `[N, C, H, W]`.
    input: HostTensor,
    /// `[N, C, H', W']`.
    pub output: HostTensor,
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

/// Adds the `held` gradient to `sink` and clears it when `value` is the window's `max` (NaN
/// matches NaN, as PyTorch's pool takes it): called on a window's positions in order, the first
/// maximum takes the gradient. Selects, not branches.
#[inline(always)]
fn send_if_max(value: f32, max: f32, held: &mut f32, sink: &mut f32) {
    let hit = (value == max) | (value.is_nan() & max.is_nan());
    // All ones where `hit`: masks on the bits keep the compiler from turning the selects into
    // branches (or masked stores) again.
    let taken = 0u32.wrapping_sub(u32::from(hit));
    *sink += f32::from_bits(held.to_bits() & taken);
    *held = f32::from_bits(held.to_bits() & !taken);
}

/// `row` split by `stride`'s phases into `split`: positions `x ≡ r` modulo the stride, in
/// order, phase after phase (see [`Window::phase_index`]).
#[inline(always)]
fn split_phases(row: &[f32], stride: usize, split: &mut [f32]) {
    let mut sinks = split.iter_mut();
    for r in 0..stride {
        // The phase's own iterator first: `zip` stops on it without taking one more from the
        // shared one.
        for (&v, sink) in row[r..].iter().step_by(stride).zip(&mut sinks) {
            *sink = v;
        }
    }
}

/// [`split_phases`] undone: `split` back in order into `row`.
#[inline(always)]
fn merge_phases(split: &[f32], stride: usize, row: &mut [f32]) {
    let mut values = split.iter();
    for r in 0..stride {
        for (sink, &v) in row[r..].iter_mut().step_by(stride).zip(&mut values) {
            *sink = v;
        }
    }
}

/// A pool gradient task's scratch, kept between planes.
#[derive(Default)]
struct GradScratch {
    /// Each window's gradient in a row of windows, until its first maximum takes it.
    held: Vec<f32>,
    /// The input plane, its rows split by the stride's phases.
    plane: Vec<f32>,
    /// The plane's gradient, its rows split by the stride's phases.
    grad: Vec<f32>,
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

    /// The windows `[start, end)` of the `num_windows` in a dimension of `len` that lie wholly
    /// inside it (neither cut by the padding nor hanging over the end).
    fn inner(self, len: usize, num_windows: usize) -> (usize, usize) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let start = p.div_ceil(s).min(num_windows);
        let end = if len + p >= k {
            ((len + p - k) / s + 1).clamp(start, num_windows)
        } else {
            start
        };
        (start, end)
    }

    /// Where position `x` of a row of `len` goes when the row is split by the stride's phases
    /// (positions `x ≡ r` modulo the stride, in order, phase after phase): a strided window
    /// position across a row of windows is then one contiguous run, which vectorises.
    fn phase_index(self, x: usize, len: usize) -> usize {
        let s = self.stride;
        let r = x % s;
        r * (len / s) + r.min(len % s) + x / s
    }

    /// Adds each window's gradient to the first maximum of the window in `plane`
    /// (`[height, width]`, row-major), into `plane_grad`: `maxima` and `grads` hold the
    /// windows' maxima and gradients, row-major.
    #[inline(always)]
    fn send_to_maxima(
        self,
        plane: &[f32],
        [height, width]: [usize; 2],
        maxima: &[f32],
        grads: &[f32],
        plane_grad: &mut [f32],
        scratch: &mut GradScratch,
    ) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let out_w = scratch.held.len();
        let (inner_start, inner_end) = self.inner(width, out_w);
        let inner = inner_start..inner_end;
        // With a stride, rows are read and the gradient is summed split by phases (see
        // `phase_index`), and put back in order at the end.
        let phased = s > 1;
        if phased {
            scratch.plane.resize(plane.len(), 0.0);
            for (row, split) in plane
                .chunks_exact(width)
                .zip(scratch.plane.chunks_exact_mut(width))
            {
                split_phases(row, s, split);
            }
            scratch.grad.clear();
            scratch.grad.resize(plane_grad.len(), 0.0);
        }
        let GradScratch {
            held,
            plane: phased_plane,
            grad: phased_grad,
        } = scratch;
        let (values, sums): (&[f32], &mut [f32]) = if phased {
            (phased_plane, phased_grad)
        } else {
            (plane, plane_grad)
        };
        let rows = maxima.chunks_exact(out_w).zip(grads.chunks_exact(out_w));
        for (oy, (max_row, grad_row)) in rows.enumerate() {
            held.copy_from_slice(grad_row);
            // Rows in order, and columns in order within each row: the window's positions in
            // row-major order, so the first maximum takes the gradient.
            let (y0, y1) = self.span(oy, height);
            for y in y0..y1 {
                let row = &plane[y * width..(y + 1) * width];
                let row_values = &values[y * width..(y + 1) * width];
                let row_sums = &mut sums[y * width..(y + 1) * width];
                if !inner.is_empty() {
                    for j in 0..k {
                        let x = inner_start * s - p + j;
                        let first = if phased {
                            self.phase_index(x, width)
                        } else {
                            x
                        };
                        let columns = first..first + inner.len();
                        let (values, sinks) =
                            (&row_values[columns.clone()], &mut row_sums[columns]);
                        let (max_row, held) = (&max_row[inner.clone()], &mut held[inner.clone()]);
                        for (((sink, &v), &m), h) in
                            sinks.iter_mut().zip(values).zip(max_row).zip(held)
                        {
                            send_if_max(v, m, h, sink);
                        }
                    }
                }
                for o in (0..inner_start).chain(inner_end..out_w) {
                    let (x0, x1) = self.span(o, width);
                    for (x, &v) in (x0..x1).zip(&row[x0..x1]) {
                        let at = if phased {
                            self.phase_index(x, width)
                        } else {
                            x
                        };
                        send_if_max(v, max_row[o], &mut held[o], &mut row_sums[at]);
                    }
                }
            }
        }
        if phased {
            for (row_grad, row_sums) in plane_grad
                .chunks_exact_mut(width)
                .zip(phased_grad.chunks_exact(width))
            {
                merge_phases(row_sums, s, row_grad);
            }
        }
    }

    /// `maxima[o]`: the maximum of `row` over window `o`'s columns.
    #[inline(always)]
    fn row_maxima(self, row: &[f32], maxima: &mut [f32]) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        // Windows wholly inside the row: one shifted, strided pass per kernel column
        // (vectorised where the stride is 1).
        let (inner_start, inner_end) = self.inner(row.len(), maxima.len());
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

/// A square-window max pool of `x` (`[N, C, H, W]`) with `stride` and `padding`, `out_hw`
/// outputs (PyTorch's `ceil_mode` sizes, computed by the caller).
pub fn max_pool(
    x: HostTensor,
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
    let [n, c, height, width] = x.dims();
    let [out_h, out_w] = out_hw;
    let input = x.values();
    let (plane_len, out_len) = (height * width, out_h * out_w);
    let mut output = zeros(n * c * out_len);
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
        input: x,
        output: HostTensor::new(output, [n, c, out_h, out_w]),
        window,
    }
}

impl Pooled {
    /// The gradient at the pool's input for `grad` at its output: each output's gradient goes
    /// to the first maximum of its window in row-major order, as PyTorch's and burn's pools
    /// send it (summed where windows overlap on one).
    pub fn input_grad(self, grad: HostTensor) -> HostTensor {
        let [n, c, height, width] = self.input.dims();
        let [_, _, out_h, out_w] = grad.dims();
        let (input, output, grad) = (self.input.values(), self.output.values(), grad.values());
        let (plane_len, out_len) = (height * width, out_h * out_w);
        let window = self.window;
        let mut input_grad = zeros(n * c * plane_len);
        if plane_len > 0 && out_len > 0 {
            input_grad
                .par_chunks_mut(plane_len)
                .enumerate()
                .for_each_init(
                    || GradScratch {
                        held: vec![0.0; out_w],
                        ..GradScratch::default()
                    },
                    |scratch, (plane_idx, plane_grad)| {
                        let plane = &input[plane_idx * plane_len..(plane_idx + 1) * plane_len];
                        let outputs = plane_idx * out_len..(plane_idx + 1) * out_len;
                        let (maxima, grads) = (&output[outputs.clone()], &grad[outputs]);
                        vectorised(
                            #[inline(always)]
                            || {
                                window.send_to_maxima(
                                    plane,
                                    [height, width],
                                    maxima,
                                    grads,
                                    plane_grad,
                                    scratch,
                                )
                            },
                        );
                    },
                );
        }
        HostTensor::new(input_grad, [n, c, height, width])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::max_pool2d_with_indices;
    use burn::tensor::module::{max_pool2d, max_pool2d_with_indices_backward};
    use burn::tensor::ops::MaxPoolOptions;
    use burn::tensor::{Device, Distribution, Tensor};

    fn host(x: &Tensor<4>) -> HostTensor {
        HostTensor::from_tensor(x.clone())
    }

    #[test]
    fn the_pool_and_its_gradient_match_burns_with_ties() {
        // GoogLeNet's pools, on sizes where ceil mode overhangs; the input rounded to a few
        // values so windows hold their maximum twice (the first one must get the gradient).
        for (kernel, stride, padding, h, w) in [
            (3, 2, 0, 9, 12),
            (3, 1, 1, 7, 5),
            (2, 2, 0, 5, 6),
            (3, 2, 0, 3, 3),
            // Rows long enough for the vector passes over the windows wholly inside.
            (3, 1, 1, 20, 37),
            (3, 2, 0, 33, 40),
            (2, 2, 0, 17, 34),
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
            let pooled = max_pool(host(&x), kernel, stride, padding, [out_h, out_w]);
            assert_eq!(
                pooled.output.values(),
                &expected.into_data().try_into_vec::<f32>().unwrap()[..],
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
            let got = pooled.input_grad(host(&grad)).into_tensor(&device);
            let diff = (got - expected).abs().max().into_scalar::<f32>();
            assert!(
                diff < 1e-6,
                "k {kernel} s {stride} p {padding} {h}×{w}: {diff}"
            );
        }
    }

    #[test]
    fn a_nan_takes_the_maximum_and_its_gradient() {
        // PyTorch: a window holding NaN outputs NaN and sends its gradient to the first NaN in
        // row-major order. One 3×3 window (stride 3) and a row of stride-1 windows.
        let nan = f32::NAN;
        let values = [1.0, 5.0, nan, nan, 0.0, 2.0, 3.0, 4.0, 9.0];
        let pooled = max_pool(
            HostTensor::new(values.to_vec(), [1, 1, 3, 3]),
            3,
            3,
            0,
            [1, 1],
        );
        assert!(pooled.output.values()[0].is_nan());
        let got = pooled.input_grad(HostTensor::new(vec![2.0], [1, 1, 1, 1]));
        assert_eq!(got.values(), [0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);

        // Stride 1, padding 1 on a 1×3 row: windows [1, 5], [1, 5, NaN], [5, NaN].
        let pooled = max_pool(
            HostTensor::new(vec![1.0, 5.0, nan], [1, 1, 1, 3]),
            3,
            1,
            1,
            [1, 3],
        );
        let got = pooled.input_grad(HostTensor::new(vec![1.0, 10.0, 100.0], [1, 1, 1, 3]));
        assert_eq!(got.values(), [0.0, 1.0, 110.0]);
    }
}
