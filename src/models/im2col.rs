//! k×k convolutions of any stride and padding on the CPU, as image-to-columns and one matrix
//! product per band of output rows, and their input gradients as a matrix product and
//! columns-to-image: GoogLeNet's 1×1 layers and its 7×7 stem (its 3×3 layers go through
//! [`super::winograd`]).
//!
//! burn's CPU convolution does the same work as one matrix product over the whole image, then
//! the bias and the ReLU as passes of their own on the calling thread; its transposed
//! convolution scatters the columns back on few threads (three for the stem's gradient, one per
//! colour). Here each band (one rayon task) builds its columns, multiplies, and applies the bias
//! and ReLU (forward) or the backward ReLU mask (gradient) while the band is in cache; a 1×1
//! convolution reads its input where it lies, with no columns at all.

use std::ops::Range;

use rayon::prelude::*;

use super::bands::{product, with_thread_scratch, SharedOutput, Strided};
use super::fused::{relu_grad, zeros};
use super::vector_isa::vectorised;

/// Output columns (pixels) a band aims for: enough for the matrix product to run at full
/// speed, few enough that a band's columns stay in the core's cache.
const COLUMNS_PER_BAND: usize = 1024;

/// A convolution's shape: `[out, in, kernel, kernel]` weights, the same stride and padding in
/// both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Step between output pixels, in input pixels.
    pub stride: usize,
    /// Zeros added on every side of the input.
    pub padding: usize,
    /// Input `[height, width]`.
    pub in_hw: [usize; 2],
}

impl Geometry {
    /// Output `[height, width]` (PyTorch's: the last input rows that do not fill a stride are
    /// left out).
    pub fn out_hw(&self) -> [usize; 2] {
        self.in_hw
            .map(|len| (len + 2 * self.padding).saturating_sub(self.kernel) / self.stride + 1)
    }

    /// Rows of the columns matrix (and of each output channel's weights): `in · k · k`.
    fn depth(&self) -> usize {
        self.in_channels * self.kernel * self.kernel
    }

    /// Whether the input itself is the columns matrix (1×1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// The output columns `[start, end)` a kernel column `kx` reads from inside an input row
    /// of `width` (the others read the padding), and the input column of the first.
    fn valid_columns(&self, kx: usize, width: usize, out_w: usize) -> (usize, usize, usize) {
        let (s, p) = (self.stride, self.padding);
        // ox·s + kx − p must lie in [0, width).
        let start = p.saturating_sub(kx).div_ceil(s).min(out_w);
        let end = if width + p > kx {
            (width + p - kx).div_ceil(s).clamp(start, out_w)
        } else {
            start
        };
        (start, end, (start * s + kx).saturating_sub(p))
    }

    /// The input row that output row `oy` reads with kernel row `ky`, if not padding.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky)
            .checked_sub(self.padding)
            .filter(|&iy| iy < self.in_hw[0])
    }
}

/// Each thread's scratch (see [`with_thread_scratch`]).
#[derive(Default)]
struct Scratch {
    /// A band's columns matrix, `[depth][band columns]`.
    columns: Vec<f32>,
    /// A band's output gradient through the ReLU, `[out][band columns]`.
    masked: Vec<f32>,
}

thread_local! {
    /// See [`Scratch`].
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Rows per band for `rows` rows of `width` pixels: about [`COLUMNS_PER_BAND`] pixels and at
/// least `min_rows` (up to 32 times that many pixels: each thread keeps its scratch), but at
/// least one band per thread.
fn band_rows(rows: usize, width: usize, min_rows: usize) -> usize {
    let width = width.max(1);
    let per_thread = rows.div_ceil(rayon::current_num_threads()).max(1);
    let min_rows = min_rows.min(32 * COLUMNS_PER_BAND / width);
    COLUMNS_PER_BAND
        .div_ceil(width)
        .max(min_rows)
        .clamp(1, per_thread)
}

/// `relu(conv(input, weight) + bias)`: `input` `[batch, in, height, width]`, `weight`
/// `[out, in, k, k]`, `bias` `[out]`, all row-major; returns `[batch, out, out_h, out_w]`.
pub(crate) fn conv_bias_relu(
    input: &[f32],
    batch: usize,
    geometry: Geometry,
    weight: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let [height, width] = geometry.in_hw;
    let [out_h, out_w] = geometry.out_hw();
    let (depth, out_channels) = (geometry.depth(), geometry.out_channels);
    assert_eq!(input.len(), batch * geometry.in_channels * height * width);
    assert_eq!(weight.len(), out_channels * depth);
    assert_eq!(bias.len(), out_channels);
    let out_plane = out_h * out_w;
    let mut output = zeros(batch * out_channels * out_plane);
    if out_plane == 0 || out_channels == 0 {
        return output;
    }
    let rows_per_band = band_rows(out_h, out_w, 1);
    let num_bands = out_h.div_ceil(rows_per_band);
    let in_image = geometry.in_channels * height * width;
    let out_ptr = SharedOutput::new(&mut output);
    (0..batch * num_bands).into_par_iter().for_each(|job| {
        let (image, band) = (job / num_bands, job % num_bands);
        let rows = band * rows_per_band..((band + 1) * rows_per_band).min(out_h);
        let first = rows.start * out_w;
        let num_columns = rows.len() * out_w;
        let image_input = &input[image * in_image..(image + 1) * in_image];
        with_thread_scratch(&SCRATCH, |scratch: &mut Scratch| {
            // The columns matrix and its row stride.
            let (columns, columns_stride) = if geometry.pointwise() {
                (&image_input[first..], height * width)
            } else {
                scratch.columns.resize(depth * num_columns, 0.0);
                vectorised(
                    #[inline(always)]
                    || image_to_columns(image_input, &geometry, rows.clone(), &mut scratch.columns),
                );
                (&scratch.columns[..], num_columns)
            };
            let dst = out_ptr.offset(image * out_channels * out_plane + first);
            // SAFETY: lhs is out × depth (row-major weights), rhs depth × band columns with
            // row stride `columns_stride`, dst out × band columns with the output plane as
            // row stride: all inside their buffers; this band's output columns are written by
            // no other task.
            unsafe {
                product(
                    [out_channels, num_columns, depth],
                    Strided::new(dst.ptr(), 1, out_plane),
                    Strided::new(weight.as_ptr(), 1, depth),
                    Strided::new(columns.as_ptr(), 1, columns_stride),
                );
            }
            for (o, &b) in bias.iter().enumerate() {
                // SAFETY: this band's columns of channel o, written by no other task.
                let values = unsafe { dst.rows(o * out_plane, num_columns) };
                vectorised(
                    #[inline(always)]
                    || {
                        for v in values.iter_mut() {
                            *v = (*v + b).max(0.0);
                        }
                    },
                );
            }
        });
    });
    output
}

/// Where one row of a band's columns matrix meets one output row: what [`image_to_columns`]
/// gathers and [`columns_to_image`] scatters back.
struct TapRow {
    /// The columns matrix's `out_w` values for it, `[start, end)` of the band's columns.
    columns: Range<usize>,
    /// The input channel.
    channel: usize,
    /// The input row its kernel tap reads; `None` in the padding.
    input_row: Option<usize>,
    /// The output columns `[start, end)` whose tap lies inside the input row (the others read
    /// the padding).
    inside: Range<usize>,
    /// The input column the first of `inside` reads; the next ones follow every stride.
    first_x: usize,
}

impl Geometry {
    /// Each row `(c, ky, kx)` of the columns matrix of the band of `out_rows`, met with each
    /// output row.
    fn tap_rows(&self, out_rows: Range<usize>) -> impl Iterator<Item = TapRow> + '_ {
        let (k, [_, width], [_, out_w]) = (self.kernel, self.in_hw, self.out_hw());
        let num_columns = out_rows.len() * out_w;
        (0..self.depth()).flat_map(move |r| {
            let (channel, ky, kx) = (r / (k * k), r / k % k, r % k);
            let (start, end, first_x) = self.valid_columns(kx, width, out_w);
            out_rows.clone().enumerate().map(move |(i, oy)| {
                let first = r * num_columns + i * out_w;
                TapRow {
                    columns: first..first + out_w,
                    channel,
                    input_row: self.input_row(oy, ky),
                    inside: start..end,
                    first_x,
                }
            })
        })
    }
}

/// The band of output `rows`' columns matrix, `[depth][rows · out_w]`: row `(c, ky, kx)` holds
/// the input pixel each output pixel's kernel tap `(ky, kx)` of channel `c` reads (0 in the
/// padding).
#[inline(always)]
fn image_to_columns(input: &[f32], geometry: &Geometry, rows: Range<usize>, columns: &mut [f32]) {
    let [height, width] = geometry.in_hw;
    for tap in geometry.tap_rows(rows) {
        let out_row = &mut columns[tap.columns];
        let Some(iy) = tap.input_row else {
            out_row.fill(0.0);
            continue;
        };
        let (start, end) = (tap.inside.start, tap.inside.end);
        out_row[..start].fill(0.0);
        out_row[end..].fill(0.0);
        if start < end {
            let in_row = &input[(tap.channel * height + iy) * width..][..width];
            let taps = in_row[tap.first_x..].iter().step_by(geometry.stride);
            for (v, &x) in out_row[start..end].iter_mut().zip(taps) {
                *v = x;
            }
        }
    }
}

/// The gradient at the input of [`conv_bias_relu`] for `grad` at its output, whose values
/// (after the ReLU) are `output`: `[batch, in, height, width]`.
pub(crate) fn conv_input_grad(
    grad: &[f32],
    output: &[f32],
    batch: usize,
    geometry: Geometry,
    weight: &[f32],
) -> Vec<f32> {
    let [height, width] = geometry.in_hw;
    let [out_h, out_w] = geometry.out_hw();
    let (depth, out_channels, in_channels) = (
        geometry.depth(),
        geometry.out_channels,
        geometry.in_channels,
    );
    let out_plane = out_h * out_w;
    assert_eq!(grad.len(), batch * out_channels * out_plane);
    assert_eq!(output.len(), grad.len());
    assert_eq!(weight.len(), out_channels * depth);
    let in_plane = height * width;
    let mut input_grad = zeros(batch * in_channels * in_plane);
    if out_plane == 0 || in_plane == 0 || in_channels == 0 {
        return input_grad;
    }
    // Bands of input rows; the output rows that reach a band overlap the next band's by
    // (k − 1) / s, computed twice: wider bands keep that small.
    let rows_per_band = band_rows(height, width, 6 * (geometry.kernel - 1));
    let num_bands = height.div_ceil(rows_per_band);
    let out_image = out_channels * out_plane;
    let grad_ptr = SharedOutput::new(&mut input_grad);
    (0..batch * num_bands).into_par_iter().for_each(|job| {
        let (image, band) = (job / num_bands, job % num_bands);
        let rows = band * rows_per_band..((band + 1) * rows_per_band).min(height);
        // Output rows oy with oy·s + ky − p in `rows` for some ky.
        let (k, s, p) = (geometry.kernel, geometry.stride, geometry.padding);
        let out_rows = (rows.start + p).saturating_sub(k - 1).div_ceil(s)
            ..((rows.end - 1 + p) / s + 1).min(out_h);
        if out_rows.is_empty() {
            return;
        }
        let num_columns = out_rows.len() * out_w;
        let span = image * out_image..(image + 1) * out_image;
        let (grad, output) = (&grad[span.clone()], &output[span]);
        let image_grad = grad_ptr.offset(image * in_channels * in_plane);
        with_thread_scratch(&SCRATCH, |scratch: &mut Scratch| {
            let Scratch { columns, masked } = scratch;
            masked.resize(out_channels * num_columns, 0.0);
            let first = out_rows.start * out_w;
            vectorised(
                #[inline(always)]
                || {
                    for (o, sink) in masked.chunks_exact_mut(num_columns).enumerate() {
                        let at = o * out_plane + first..o * out_plane + first + num_columns;
                        for ((m, &g), &y) in sink.iter_mut().zip(&grad[at.clone()]).zip(&output[at])
                        {
                            *m = relu_grad(g, y);
                        }
                    }
                },
            );
            // Wᵀ · masked: the weights `[out][depth]` read as depth × out.
            let (dst, dst_stride) = if geometry.pointwise() {
                (image_grad.offset(rows.start * width).ptr(), in_plane)
            } else {
                columns.resize(depth * num_columns, 0.0);
                (columns.as_mut_ptr(), num_columns)
            };
            // SAFETY: lhs is depth × out (column stride depth), rhs out × band columns, dst
            // depth × band columns with row stride `dst_stride`: a 1×1 convolution's band of
            // input rows (the same rows as its output rows), written by no other task, or
            // this thread's columns.
            unsafe {
                product(
                    [depth, num_columns, out_channels],
                    Strided::new(dst, 1, dst_stride),
                    Strided::new(weight.as_ptr(), depth, 1),
                    Strided::new(masked.as_ptr(), 1, num_columns),
                );
            }
            if !geometry.pointwise() {
                // SAFETY: this band's input rows of every channel, written by no other task.
                let band_grad: Vec<&mut [f32]> = (0..in_channels)
                    .map(|c| unsafe {
                        image_grad.rows(c * in_plane + rows.start * width, rows.len() * width)
                    })
                    .collect();
                columns_to_image(
                    columns,
                    &geometry,
                    out_rows.clone(),
                    rows.clone(),
                    band_grad,
                );
            }
        });
    });
    input_grad
}

/// Adds each column's value to the input pixel its kernel tap read ([`image_to_columns`] the
/// other way), for the input rows `rows` only: `columns` is `[depth][out_rows · out_w]`,
/// `band_grad[c]` channel `c`'s rows `rows`.
fn columns_to_image(
    columns: &[f32],
    geometry: &Geometry,
    out_rows: Range<usize>,
    rows: Range<usize>,
    mut band_grad: Vec<&mut [f32]>,
) {
    let [_, width] = geometry.in_hw;
    for tap in geometry.tap_rows(out_rows) {
        let Some(iy) = tap.input_row.filter(|iy| rows.contains(iy)) else {
            continue;
        };
        if tap.inside.is_empty() {
            continue;
        }
        let values = &columns[tap.columns][tap.inside];
        let row = &mut band_grad[tap.channel][(iy - rows.start) * width..][..width];
        let sinks = row[tap.first_x..].iter_mut().step_by(geometry.stride);
        for (sink, &v) in sinks.zip(values) {
            *sink += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_tensors::{assert_close, random, values};
    use burn::tensor::activation::relu;
    use burn::tensor::module::{conv2d, conv_transpose2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
    use burn::tensor::Tensor;

    /// (batch, geometry): the stem's shape at odd and even sizes (the last row or column
    /// dropped by the stride or not), 1×1 layers, a 1×1 image, and sizes of several bands.
    fn cases() -> Vec<(usize, Geometry)> {
        [
            (1, 3, 8, 7, 2, 3, [37, 45]),
            (2, 3, 5, 7, 2, 3, [40, 22]),
            (1, 3, 4, 7, 2, 3, [1, 1]),
            (1, 16, 12, 1, 1, 0, [9, 13]),
            (2, 7, 9, 1, 1, 0, [70, 33]),
            (1, 5, 6, 3, 2, 1, [11, 8]),
            (1, 4, 3, 5, 1, 2, [80, 20]),
        ]
        .into_iter()
        .map(
            |(batch, in_channels, out_channels, kernel, stride, padding, in_hw)| {
                let geometry = Geometry {
                    in_channels,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    in_hw,
                };
                (batch, geometry)
            },
        )
        .collect()
    }

    /// Random `[out, in, k, k]` weights for `geometry`.
    fn random_weight(geometry: &Geometry) -> Tensor<4> {
        let k = geometry.kernel;
        random([geometry.out_channels, geometry.in_channels, k, k], -1.0)
    }

    #[test]
    fn matches_burns_convolution_with_bias_and_relu() {
        for (batch, geometry) in cases() {
            let [h, w] = geometry.in_hw;
            let x = random([batch, geometry.in_channels, h, w], -1.0);
            let weight = random_weight(&geometry);
            let bias = random([geometry.out_channels], -0.5);
            let (s, p) = (geometry.stride, geometry.padding);
            let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
            let reference = relu(conv2d(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                options,
            ));
            assert_eq!(geometry.out_hw(), reference.dims()[2..], "{geometry:?}");
            let ours = conv_bias_relu(&values(x), batch, geometry, &values(weight), &values(bias));
            assert_close(&ours, reference, &format!("{geometry:?}"));
        }
    }

    #[test]
    fn the_input_gradient_matches_burns_transposed_convolution_through_the_relu() {
        for (batch, geometry) in cases() {
            let [out_h, out_w] = geometry.out_hw();
            let out_shape = [batch, geometry.out_channels, out_h, out_w];
            let grad = random(out_shape, -1.0);
            // A ReLU's output: about half of it zero.
            let relu_output = relu(random(out_shape, -1.0));
            let weight = random_weight(&geometry);
            let masked = grad
                .clone()
                .mask_fill(relu_output.clone().lower_equal_elem(0.0), 0.0);
            let (k, s, p) = (geometry.kernel, geometry.stride, geometry.padding);
            // The input rows and columns a stride leaves out come back as output padding.
            let extra = |input: usize, out: usize| input + 2 * p - ((out - 1) * s + k);
            let [h, w] = geometry.in_hw;
            let options = ConvTransposeOptions::new(
                [s, s],
                [p, p],
                [extra(h, out_h), extra(w, out_w)],
                [1, 1],
                1,
            );
            let reference = conv_transpose2d(masked, weight.clone(), None, options);
            let ours = conv_input_grad(
                &values(grad),
                &values(relu_output),
                batch,
                geometry,
                &values(weight),
            );
            assert_close(&ours, reference, &format!("{geometry:?}"));
        }
    }
}
