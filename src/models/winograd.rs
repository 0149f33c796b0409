//! 3×3 convolutions with stride 1 and padding 1 on the CPU, by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
//!
//! Each 2×2 block of output comes from a 4×4 tile of input: both are taken to a 4×4 "Winograd
//! domain" where the convolution is an element-wise product, so a layer becomes 16 matrix
//! products (one per tile position, tiles × input channels by input channels × output
//! channels) of 2.25× fewer multiplies than the direct convolution, plus cheap transforms in and
//! out. GoogLeNet's 3×3 layers are most of DeepDream's work; burn's CPU convolution runs them as
//! im2col + matrix product after a serial conversion to channels-last, at about 1.4–2× the time
//! of PyTorch's direct kernels.
//!
//! The output is computed in bands of tile rows, one rayon task each, so a band's transformed
//! input and products stay in cache. A convolution's input gradient is the same operation with
//! the kernel flipped and its channels swapped ([`WinogradKernel::input_grad`]), so DeepDream's
//! backward pass uses it too; the ReLU before it masks the input as it is read, and the bias and
//! ReLU after a forward convolution are applied as the output is written.

use rayon::prelude::*;

use super::bands::{product, with_thread_scratch, SharedOutput, Strided};
use super::fused::{relu_grad, zeros};
use super::vector_isa::vectorised;

/// Output tiles a band aims for: enough rows for the matrix products to run at full speed,
/// few enough that a band's scratch stays in the core's cache.
const TILES_PER_BAND: usize = 128;

/// A 3×3 kernel taken to the Winograd domain: `G g Gᵀ` per input and output channel.
#[derive(Debug, Clone)]
pub(crate) struct WinogradKernel {
    /// `[16][in_channels][out_channels]`: the matrix for tile position ξ is
    /// `matrices[ξ·in·out ..]`, row-major.
    matrices: Vec<f32>,
    /// Input channels of the convolution this kernel computes.
    in_channels: usize,
    /// Output channels of the convolution this kernel computes.
    out_channels: usize,
}

impl WinogradKernel {
    /// The convolution with `weight` (`[out, in, 3, 3]`, row-major, PyTorch's cross-correlation).
    pub(crate) fn forward(weight: &[f32], out_channels: usize, in_channels: usize) -> Self {
        assert_eq!(weight.len(), out_channels * in_channels * 9);
        Self::from_taps(in_channels, out_channels, |i, o, tap| {
            weight[(o * in_channels + i) * 9 + tap]
        })
    }

    /// The input gradient of the convolution with `weight` (`[out, in, 3, 3]`): a convolution
    /// from its output channels to its input channels with the kernel turned by 180°.
    pub(crate) fn input_grad(weight: &[f32], out_channels: usize, in_channels: usize) -> Self {
        assert_eq!(weight.len(), out_channels * in_channels * 9);
        Self::from_taps(out_channels, in_channels, |o, i, tap| {
            weight[(o * in_channels + i) * 9 + 8 - tap]
        })
    }

    /// The kernel from `tap(input_channel, output_channel, 3·row + column)`.
    fn from_taps(
        in_channels: usize,
        out_channels: usize,
        tap: impl Fn(usize, usize, usize) -> f32,
    ) -> Self {
        let plane = in_channels * out_channels;
        let mut matrices = vec![0.0; 16 * plane];
        for i in 0..in_channels {
            for o in 0..out_channels {
                let g: [f32; 9] = std::array::from_fn(|t| tap(i, o, t));
                // G g: rows (g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2) of each column.
                let gg: [[f32; 3]; 4] = std::array::from_fn(|r| {
                    std::array::from_fn(|c| {
                        let (a, b, d) = (g[c], g[3 + c], g[6 + c]);
                        match r {
                            0 => a,
                            1 => 0.5 * (a + b + d),
                            2 => 0.5 * (a - b + d),
                            _ => d,
                        }
                    })
                });
                // (G g) Gᵀ: the same on each row.
                for (r, row) in gg.iter().enumerate() {
                    let [a, b, d] = *row;
                    let u = [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d];
                    for (s, value) in u.into_iter().enumerate() {
                        matrices[(4 * r + s) * plane + i * out_channels + o] = value;
                    }
                }
            }
        }
        WinogradKernel {
            matrices,
            in_channels,
            out_channels,
        }
    }
}

/// What happens to the input as it is read and to the output as it is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fusion<'a> {
    /// Input values are taken as 0 where this tensor (same shape as the input) is not
    /// positive: the gradient through the ReLU whose output it is.
    pub relu_mask: Option<&'a [f32]>,
    /// Added to each output channel.
    pub bias: Option<&'a [f32]>,
    /// `max(0, ·)` on the output, after the bias.
    pub relu: bool,
}

/// The 3×3 convolution with stride 1 and padding 1 of `input` (`[batch, in, height, width]`,
/// row-major) by `kernel`, with `fusion`'s extras: `[batch, out, height, width]`.
pub(crate) fn conv3x3(
    input: &[f32],
    [batch, height, width]: [usize; 3],
    kernel: &WinogradKernel,
    fusion: Fusion<'_>,
) -> Vec<f32> {
    let (in_channels, out_channels) = (kernel.in_channels, kernel.out_channels);
    let plane_len = height * width;
    assert_eq!(input.len(), batch * in_channels * plane_len);
    if let Some(mask) = fusion.relu_mask {
        assert_eq!(mask.len(), input.len());
    }
    if let Some(bias) = fusion.bias {
        assert_eq!(bias.len(), out_channels);
    }
    let mut output = zeros(batch * out_channels * plane_len);
    if plane_len == 0 || out_channels == 0 {
        return output;
    }
    let grid = TileGrid::new(height, width);
    let band_rows = grid.band_rows(rayon::current_num_threads());
    let num_bands = grid.rows.div_ceil(band_rows);
    let in_image = in_channels * plane_len;
    let out_image = out_channels * plane_len;
    let out_ptr = SharedOutput::new(&mut output);
    (0..batch * num_bands).into_par_iter().for_each(|job| {
        with_scratch(&grid, band_rows, in_channels, out_channels, |scratch| {
            let (image, band) = (job / num_bands, job % num_bands);
            let rows = band * band_rows..((band + 1) * band_rows).min(grid.rows);
            let span = image * in_image..(image + 1) * in_image;
            let mask = fusion.relu_mask.map(|mask| &mask[span.clone()]);
            vectorised(
                #[inline(always)]
                || scratch.transform_input(&grid, rows.clone(), &input[span], mask, in_channels),
            );
            scratch.multiply(kernel, rows.len() * grid.cols);
            let image_out = out_ptr.offset(image * out_image);
            vectorised(
                #[inline(always)]
                || scratch.transform_output(&grid, rows, image_out, fusion, out_channels),
            );
        })
    });
    output
}

thread_local! {
    /// Each thread's [`Scratch`] (see [`with_thread_scratch`]).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `work` with this thread's scratch, grown to fit a band.
fn with_scratch(
    grid: &TileGrid,
    band_rows: usize,
    in_channels: usize,
    out_channels: usize,
    work: impl FnOnce(&mut Scratch),
) {
    with_thread_scratch(&SCRATCH, |scratch| {
        scratch.fit(grid, band_rows, in_channels, out_channels);
        work(scratch);
    });
}

/// The output's 2×2 tiles.
#[derive(Debug, Clone, Copy)]
struct TileGrid {
    /// Input and output height.
    height: usize,
    /// Input and output width.
    width: usize,
    /// Tile rows, `ceil(height / 2)`.
    rows: usize,
    /// Tile columns, `ceil(width / 2)`.
    cols: usize,
}

impl TileGrid {
    fn new(height: usize, width: usize) -> Self {
        TileGrid {
            height,
            width,
            rows: height.div_ceil(2),
            cols: width.div_ceil(2),
        }
    }

    /// Tile rows per band: about [`TILES_PER_BAND`] tiles, but at least one band per thread.
    fn band_rows(&self, num_threads: usize) -> usize {
        let by_size = TILES_PER_BAND.div_ceil(self.cols);
        let by_threads = self.rows.div_ceil(num_threads.max(1));
        by_size.min(by_threads).max(1)
    }
}

/// One thread's buffers for a band.
#[derive(Default)]
struct Scratch {
    /// Transformed input, `[16][in_channels][tiles]`.
    transformed: Vec<f32>,
    /// Products, `[16][out_channels][tiles]`.
    products: Vec<f32>,
    /// A padded input row's even and odd elements, `cols + 1` each: the padded row is one
    /// zero, the row, then zeros up to `2·cols + 2`.
    halves: Vec<f32>,
    /// Each input row of the band's tiles taken through `· B`, `[row][4][cols]`.
    row_columns: Vec<f32>,
    /// Three output rows of the full tile width: two for tiles that overhang the image's
    /// right edge, one for a last tile row that overhangs its bottom.
    out_rows: Vec<f32>,
}

impl Scratch {
    /// Grows the buffers to fit a band of `band_rows` tile rows.
    fn fit(&mut self, grid: &TileGrid, band_rows: usize, in_channels: usize, out_channels: usize) {
        let tiles = band_rows * grid.cols;
        for (buffer, len) in [
            (&mut self.transformed, 16 * in_channels * tiles),
            (&mut self.products, 16 * out_channels * tiles),
            (&mut self.halves, 2 * grid.cols + 2),
            (&mut self.row_columns, (2 * band_rows + 2) * 4 * grid.cols),
            (&mut self.out_rows, 6 * grid.cols),
        ] {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
        }
    }

    /// `Bᵀ d B` of every tile of the band's `tile_rows` in every channel of `image`
    /// (`[in, height, width]`), into `transformed`.
    ///
    /// The transform is separable: each input row the band reads is taken through `· B` once
    /// (`row_columns`; tiles overlap by two rows), then `Bᵀ ·` combines four of them per tile
    /// row. Both steps run along rows of tiles, so they vectorise.
    #[inline(always)]
    fn transform_input(
        &mut self,
        grid: &TileGrid,
        tile_rows: std::ops::Range<usize>,
        image: &[f32],
        mask: Option<&[f32]>,
        in_channels: usize,
    ) {
        let (width, cols, plane_len) = (grid.width, grid.cols, grid.height * grid.width);
        let tiles = tile_rows.len() * cols;
        // Input rows 2·first − 1 ..= 2·last + 2 of the band's tiles.
        let num_rows = 2 * tile_rows.len() + 2;
        let first_row = 2 * tile_rows.start;
        for channel in 0..in_channels {
            let plane = &image[channel * plane_len..][..plane_len];
            let mask_plane = mask.map(|m| &m[channel * plane_len..][..plane_len]);
            for (r, columns) in self.row_columns[..num_rows * 4 * cols]
                .chunks_exact_mut(4 * cols)
                .enumerate()
            {
                let Some(y) = (first_row + r).checked_sub(1).filter(|&y| y < grid.height) else {
                    columns.fill(0.0);
                    continue;
                };
                // The padded row's even and odd halves: even[j + 1] = row[2j + 1] and
                // odd[j] = row[2j], the ReLU's mask applied.
                let source = &plane[y * width..][..width];
                let (even, odd) = self.halves[..2 * cols + 2].split_at_mut(cols + 1);
                even[0] = 0.0;
                let pairs = source.chunks_exact(2);
                let last = pairs.remainder().first().copied();
                match mask_plane {
                    None => {
                        for ((pair, o), e) in pairs.zip(odd.iter_mut()).zip(&mut even[1..]) {
                            *o = pair[0];
                            *e = pair[1];
                        }
                    }
                    Some(m) => {
                        let m = m[y * width..][..width].chunks_exact(2);
                        for (((pair, m), o), e) in
                            pairs.zip(m).zip(odd.iter_mut()).zip(&mut even[1..])
                        {
                            *o = relu_grad(pair[0], m[0]);
                            *e = relu_grad(pair[1], m[1]);
                        }
                    }
                }
                let half = width / 2;
                match last {
                    Some(value) => {
                        let m = mask_plane.map_or(1.0, |m| m[y * width + width - 1]);
                        odd[half] = relu_grad(value, m);
                        odd[half + 1..].fill(0.0);
                    }
                    None => odd[half..].fill(0.0),
                }
                even[half + 1..].fill(0.0);
                // d B on each tile's columns (a, b, c, d) = (even[j], odd[j], even[j + 1],
                // odd[j + 1]): (a − c, b + c, c − b, b − d).
                let (e0, e1, o0, o1) = (&even[..cols], &even[1..], &odd[..cols], &odd[1..]);
                let (c0, rest) = columns.split_at_mut(cols);
                let (c1, rest) = rest.split_at_mut(cols);
                let (c2, c3) = rest.split_at_mut(cols);
                for j in 0..cols {
                    c0[j] = e0[j] - e1[j];
                    c1[j] = o0[j] + e1[j];
                    c2[j] = e1[j] - o0[j];
                    c3[j] = o0[j] - o1[j];
                }
            }
            // Bᵀ (d B): rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3) of each tile's four rows.
            for k in 0..tile_rows.len() {
                let row = |r: usize, column: usize| {
                    &self.row_columns[((2 * k + r) * 4 + column) * cols..][..cols]
                };
                for column in 0..4 {
                    let [d0, d1, d2, d3] = [0, 1, 2, 3].map(|r| row(r, column));
                    for (combination, xi) in (0..4).map(|r| (r, 4 * r + column)) {
                        let out = &mut self.transformed
                            [(xi * in_channels + channel) * tiles + k * cols..][..cols];
                        match combination {
                            0 => sub(out, d0, d2),
                            1 => add(out, d1, d2),
                            2 => sub(out, d2, d1),
                            _ => sub(out, d1, d3),
                        }
                    }
                }
            }
        }
    }

    /// The 16 products `transformed[ξ]ᵀ · kernel[ξ]` for `tiles` tiles, into `products`.
    fn multiply(&mut self, kernel: &WinogradKernel, tiles: usize) {
        let (in_channels, out_channels) = (kernel.in_channels, kernel.out_channels);
        for xi in 0..16 {
            let lhs = &self.transformed[xi * in_channels * tiles..][..in_channels * tiles];
            let rhs =
                &kernel.matrices[xi * in_channels * out_channels..][..in_channels * out_channels];
            let dst = &mut self.products[xi * out_channels * tiles..][..out_channels * tiles];
            // SAFETY: each matrix lies within its slice with the strides given: lhs is
            // tiles × in (column-major), rhs in × out (row-major), dst tiles × out
            // (column-major); the products do not alias.
            unsafe {
                product(
                    [tiles, out_channels, in_channels],
                    Strided::new(dst.as_mut_ptr(), tiles, 1),
                    Strided::new(lhs.as_ptr(), tiles, 1),
                    Strided::new(rhs.as_ptr(), 1, out_channels),
                );
            }
        }
    }

    /// `Aᵀ m A` of every tile in `products`, with the bias and ReLU, into the band's rows of
    /// `image` (`[out, height, width]`).
    #[inline(always)]
    fn transform_output(
        &mut self,
        grid: &TileGrid,
        tile_rows: std::ops::Range<usize>,
        image: SharedOutput,
        fusion: Fusion<'_>,
        out_channels: usize,
    ) {
        let (cols, width) = (grid.cols, grid.width);
        let tiles = tile_rows.len() * cols;
        let plane_len = grid.height * width;
        let (top, rest) = self.out_rows[..6 * cols].split_at_mut(2 * cols);
        let (bottom, spare) = rest.split_at_mut(2 * cols);
        // Tiles whose two columns are both in the image are written in place.
        let whole_tiles = width / 2;
        for channel in 0..out_channels {
            let bias = fusion.bias.map_or(0.0, |b| b[channel]);
            for (k, tile_row) in tile_rows.clone().enumerate() {
                let m: [&[f32]; 16] = std::array::from_fn(|xi| {
                    &self.products[(xi * out_channels + channel) * tiles + k * cols..][..cols]
                });
                let y = 2 * tile_row;
                let num_rows = if y + 1 < grid.height { 2 } else { 1 };
                // SAFETY: these rows lie in the image and belong to this band alone.
                let rows = unsafe { image.rows(channel * plane_len + y * width, num_rows * width) };
                let (first, second) = rows.split_at_mut(width);
                // A last tile row that overhangs the image writes its second row to scratch.
                let second = if second.is_empty() {
                    &mut spare[..width]
                } else {
                    second
                };
                let mut j = 0;
                while j + LANES <= whole_tiles {
                    output_tiles::<LANES>(&m, j, first, second, bias, fusion.relu);
                    j += LANES;
                }
                for j in j..cols {
                    output_tiles::<1>(&m, j, top, bottom, bias, fusion.relu);
                    let end = (2 * j + 2).min(width);
                    first[2 * j..end].copy_from_slice(&top[2 * j..end]);
                    second[2 * j..end].copy_from_slice(&bottom[2 * j..end]);
                }
            }
        }
    }
}

/// Tiles the output transform takes at once: one AVX register of `f32`.
const LANES: usize = 8;

/// `Aᵀ m A` plus `bias` (then ReLU when `relu`) of the `N` tiles from `j` of the 16 product
/// rows `m`, into columns `2j ..` of the two output rows.
#[inline(always)]
fn output_tiles<const N: usize>(
    m: &[&[f32]; 16],
    j: usize,
    top: &mut [f32],
    bottom: &mut [f32],
    bias: f32,
    relu: bool,
) {
    let mut v = [[0.0f32; N]; 16];
    for (values, row) in v.iter_mut().zip(m) {
        values.copy_from_slice(&row[j..j + N]);
    }
    // Aᵀ m: rows m0 + m1 + m2 and m1 − m2 − m3, per column s.
    let (mut r0, mut r1) = ([[0.0f32; N]; 4], [[0.0f32; N]; 4]);
    for s in 0..4 {
        for i in 0..N {
            r0[s][i] = v[s][i] + v[4 + s][i] + v[8 + s][i];
            r1[s][i] = v[4 + s][i] - v[8 + s][i] - v[12 + s][i];
        }
    }
    let finish = |y: f32| {
        let y = y + bias;
        if relu {
            y.max(0.0)
        } else {
            y
        }
    };
    // (Aᵀ m) A: the same along each row.
    for (r, row) in [(r0, &mut *top), (r1, &mut *bottom)] {
        let pairs = &mut row[2 * j..2 * (j + N)];
        for (i, pair) in pairs.chunks_exact_mut(2).enumerate() {
            pair[0] = finish(r[0][i] + r[1][i] + r[2][i]);
            pair[1] = finish(r[1][i] - r[2][i] - r[3][i]);
        }
    }
}

/// `out = a − b`, element by element.
#[inline(always)]
fn sub(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a - b;
    }
}

/// `out = a + b`, element by element.
#[inline(always)]
fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_tensors::{assert_close, random, values};
    use burn::tensor::module::{conv2d, conv_transpose2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    /// Shapes with odd and even sides, one-pixel images, and bands of several tile rows.
    const SHAPES: [[usize; 5]; 6] = [
        // [batch, in, out, height, width]
        [1, 3, 5, 8, 8],
        [2, 4, 6, 7, 9],
        [1, 16, 32, 1, 1],
        [1, 5, 3, 2, 1],
        [1, 8, 12, 37, 300],
        [3, 2, 7, 65, 3],
    ];

    #[test]
    fn matches_burns_convolution_with_bias_and_relu() {
        for [batch, c_in, c_out, h, w] in SHAPES {
            let x = random([batch, c_in, h, w], -1.0);
            let weight = random([c_out, c_in, 3, 3], -1.0);
            let bias = random([c_out], -1.0);
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let reference = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
            let kernel = WinogradKernel::forward(&values(weight), c_out, c_in);
            let bias = bias.into_data().try_into_vec::<f32>().unwrap();
            for relu in [false, true] {
                let ours = conv3x3(
                    &values(x.clone()),
                    [batch, h, w],
                    &kernel,
                    Fusion {
                        relu_mask: None,
                        bias: Some(&bias),
                        relu,
                    },
                );
                let reference = if relu {
                    burn::tensor::activation::relu(reference.clone())
                } else {
                    reference.clone()
                };
                assert_close(&ours, reference, &format!("{batch}×{c_in}→{c_out} {h}×{w}"));
            }
        }
    }

    #[test]
    fn the_input_gradient_matches_burns_transposed_convolution_through_the_relu() {
        for [batch, c_in, c_out, h, w] in SHAPES {
            let grad = random([batch, c_out, h, w], -1.0);
            // The ReLU's output: zero at about a third of the places.
            let relu_output = burn::tensor::activation::relu(random([batch, c_out, h, w], -0.5));
            let weight = random([c_out, c_in, 3, 3], -1.0);
            let mask = values(relu_output.clone());
            let masked = grad
                .clone()
                .mask_fill(relu_output.lower_equal_elem(0.0), 0.0);
            let options = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
            let reference = conv_transpose2d(masked, weight.clone(), None, options);
            let kernel = WinogradKernel::input_grad(&values(weight), c_out, c_in);
            let ours = conv3x3(
                &values(grad),
                [batch, h, w],
                &kernel,
                Fusion {
                    relu_mask: Some(&mask),
                    ..Fusion::default()
                },
            );
            assert_close(&ours, reference, &format!("{batch}×{c_out}→{c_in} {h}×{w}"));
        }
    }

    #[test]
    fn empty_images_give_empty_outputs() {
        let kernel = WinogradKernel::forward(&[1.0; 9 * 6], 3, 2);
        assert!(conv3x3(&[], [1, 0, 5], &kernel, Fusion::default()).is_empty());
        assert!(conv3x3(&[], [0, 4, 4], &kernel, Fusion::default()).is_empty());
    }
}
