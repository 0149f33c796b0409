//! How the generator's convolutions are computed: the weights in the form each formulation
//! wants, derived once after loading.
//!
//! Two formulations give the same results up to float rounding:
//! - *direct*: burn's `conv2d`;
//! - *matmul*: one matrix product per convolution, `W [C_out, k·k·C_in] × im2col(x)
//!   [B, k·k·C_in, H·W]` (for 1×1 convolutions `x` itself), with the weight laid out once
//!   here instead of on every call.
//!
//! And an up-sampling 3×3 convolution can run as four 2×2 convolutions of the small input
//! ([`subpixel_kernel`]), 16 instead of 36 multiply-adds per input pixel and channel pair.

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::Tensor;

use super::model::{upsample_nearest_2x, BigGanModule, Conv2d, Layer};
use crate::models::fused;

/// Which formulations to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Convolutions as matrix products over im2col (else burn's `conv2d`), at feature maps of
    /// at most `matmul_max_pixels` pixels.
    pub matmul_convs: bool,
    /// The largest feature map (height × width) whose convolutions are matrix products: on
    /// small maps one large product beats burn's `conv2d`; on large ones building the im2col
    /// matrix costs more than it saves (measured by `benches/biggan.rs` with `BIGGAN_BENCH_OPS=1`).
    pub matmul_max_pixels: usize,
    /// Up-sampling 3×3 convolutions as four 2×2 phase convolutions (else up-sample, then
    /// convolve, as the original).
    pub subpixel_upsampling: bool,
    /// The largest im2col matrix built at once, in elements; larger ones are built per
    /// sample and band of rows.
    pub max_im2col_elements: usize,
    /// How many parts of a batch run at once, each on its own thread. burn's CPU backend
    /// parallelises matrix products but runs element-wise work on the calling thread, so
    /// one batch keeps only about 1.5 of 2 cores busy; 1 on a GPU.
    pub parallel_samples: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            matmul_convs: true,
            matmul_max_pixels: 16 * 16,
            subpixel_upsampling: true,
            max_im2col_elements: 16 << 20,
            parallel_samples: 1,
        }
    }
}

/// A stride-1 convolution with zero padding, ready to run.
#[derive(Debug, Clone)]
pub enum ConvOp {
    /// burn's `conv2d`.
    Direct {
        /// `[out, in, k, k]`.
        weight: Tensor<4>,
        /// `[out]`.
        bias: Option<Tensor<1>>,
        /// Zero padding on every side.
        padding: usize,
    },
    /// A matrix product over im2col.
    Matmul {
        /// `[1, out, k·k·in]`, columns ordered (ky, kx, in) like [`im2col`]'s rows.
        weight: Tensor<3>,
        /// `[1, out, 1]`.
        bias: Option<Tensor<3>>,
        /// Kernel side.
        kernel: usize,
        /// Zero padding on every side.
        padding: usize,
        /// See [`ExecOptions::max_im2col_elements`].
        max_im2col_elements: usize,
    },
}

impl ConvOp {
    /// Prepares `weight` (`[out, in, k, k]`) and `bias` for the formulation `options` choose.
    pub fn new(
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        padding: usize,
        options: &ExecOptions,
    ) -> Self {
        if !options.matmul_convs {
            return Self::Direct {
                weight,
                bias,
                padding,
            };
        }
        let [c_out, c_in, kernel, _] = weight.dims();
        let weight = weight
            .permute([0, 2, 3, 1]) // [out, ky, kx, in]
            .reshape([1, c_out, kernel * kernel * c_in]);
        Self::Matmul {
            weight,
            bias: bias.map(|b| b.reshape([1, c_out, 1])),
            kernel,
            padding,
            max_im2col_elements: options.max_im2col_elements,
        }
    }

    /// A module convolution with "same" padding.
    pub fn from_module(conv: &Conv2d, options: &ExecOptions) -> Self {
        let weight = conv.weight.val();
        let padding = weight.dims()[2] / 2;
        Self::new(
            weight,
            conv.bias.as_ref().map(|b| b.val()),
            padding,
            options,
        )
    }

    /// `[B, in, H, W]` -> `[B, out, H + 2p - k + 1, W + 2p - k + 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Direct {
                weight,
                bias,
                padding,
            } => conv2d(
                x,
                weight.clone(),
                bias.clone(),
                ConvOptions::new([1, 1], [*padding, *padding], [1, 1], 1),
            ),
            Self::Matmul {
                weight,
                bias,
                kernel,
                padding,
                max_im2col_elements,
            } => {
                let [batch, c_in, height, width] = x.dims();
                let c_out = weight.dims()[1];
                let (out_h, out_w) = (
                    height + 2 * padding + 1 - kernel,
                    width + 2 * padding + 1 - kernel,
                );
                let matmul = |cols: Tensor<3>| -> Tensor<3> {
                    let y = weight.clone().matmul(cols); // [b, out, pixels]
                    match bias {
                        Some(bias) => y + bias.clone(),
                        None => y,
                    }
                };
                let col_rows = kernel * kernel * c_in;
                let y = if *kernel == 1 && *padding == 0 {
                    matmul(x.reshape([batch, c_in, height * width]))
                } else if batch * col_rows * out_h * out_w <= *max_im2col_elements {
                    matmul(im2col(x, *kernel, *padding)) // [B, out, out_h·out_w]
                } else {
                    // Bands of output rows, one sample at a time, so the im2col matrix stays
                    // bounded (a 512-pixel model at batch 8 would need gigabytes at once).
                    let band_rows = (*max_im2col_elements / (col_rows * out_w)).clamp(1, out_h);
                    let padded = pad(x, *padding);
                    let samples = (0..batch)
                        .map(|b| {
                            let sample = padded.clone().narrow(0, b, 1);
                            let bands = (0..out_h)
                                .step_by(band_rows)
                                .map(|row| {
                                    let rows = band_rows.min(out_h - row);
                                    let band = sample.clone().narrow(2, row, rows + kernel - 1);
                                    matmul(im2col(band, *kernel, 0)) // [1, out, rows·out_w]
                                })
                                .collect();
                            Tensor::cat(bands, 2)
                        })
                        .collect();
                    Tensor::cat(samples, 0)
                };
                y.reshape([batch, c_out, out_h, out_w])
            }
        }
    }
}

/// Zero padding on both sides of the last two dimensions.
fn pad(x: Tensor<4>, padding: usize) -> Tensor<4> {
    if padding == 0 {
        return x;
    }
    x.pad(
        [(padding, padding), (padding, padding)],
        PadMode::Constant(0.0),
    )
}

/// `[B, C, H, W]` -> `[B, k·k·C, H'·W']`: row (ky, kx, c) holds input channel c shifted by
/// (ky - p, kx - p), zero outside the image. A 1×1 kernel without padding is a reshape.
pub fn im2col(x: Tensor<4>, kernel: usize, padding: usize) -> Tensor<3> {
    let [batch, channels, height, width] = x.dims();
    let (out_h, out_w) = (
        height + 2 * padding + 1 - kernel,
        width + 2 * padding + 1 - kernel,
    );
    if kernel == 1 && padding == 0 {
        return x.reshape([batch, channels, height * width]);
    }
    let padded = pad(x, padding);
    let mut taps = Vec::with_capacity(kernel * kernel);
    for ky in 0..kernel {
        for kx in 0..kernel {
            taps.push(padded.clone().slice([
                0..batch,
                0..channels,
                ky..ky + out_h,
                kx..kx + out_w,
            ]));
        }
    }
    Tensor::cat(taps, 1).reshape([batch, kernel * kernel * channels, out_h * out_w])
}

/// The 2×2 kernels of the four output phases of `conv3x3(upsample_nearest_2x(x))`:
/// `[out, in, 3, 3]` -> `[4·out, in, 2, 2]`, phases (a, b) in row-major order.
///
/// Output pixel (2i+a, 2j+b) only sees input rows i-1, i (a = 0) or i, i+1 (a = 1), and
/// likewise for columns, because rows 2i-1, 2i, 2i+1 of the up-sampled image are copies of
/// input rows i-1, i, i. So phase (a, b) is a 2×2 convolution of the input whose taps are
/// sums of the 3×3 taps: for a = 0 the rows are (w0, w1 + w2), for a = 1 (w0 + w1, w2).
/// Run with padding 1, the (H+1)×(W+1) output holds phase (a, b) at offset (a, b); see
/// [`fused::interleave_phases`].
pub fn subpixel_kernel(weight: Tensor<4>) -> Tensor<4> {
    let rows = |w: &Tensor<4>, a: usize| -> Tensor<4> {
        let r = |k: usize| w.clone().narrow(2, k, 1); // [out, in, 1, 3]
        if a == 0 {
            Tensor::cat(vec![r(0), r(1) + r(2)], 2)
        } else {
            Tensor::cat(vec![r(0) + r(1), r(2)], 2)
        } // [out, in, 2, 3]
    };
    let cols = |w: &Tensor<4>, b: usize| -> Tensor<4> {
        let c = |k: usize| w.clone().narrow(3, k, 1); // [out, in, 2, 1]
        if b == 0 {
            Tensor::cat(vec![c(0), c(1) + c(2)], 3)
        } else {
            Tensor::cat(vec![c(0) + c(1), c(2)], 3)
        } // [out, in, 2, 2]
    };
    let mut phases = Vec::with_capacity(4);
    for a in 0..2 {
        let phase_rows = rows(&weight, a);
        for b in 0..2 {
            phases.push(cols(&phase_rows, b));
        }
    }
    Tensor::cat(phases, 0) // [4 out, in, 2, 2]
}

/// `[B, 4·out, H+1, W+1]` phase outputs -> `[B, out, 2H, 2W]`, pixel (2i+a, 2j+b) from phase
/// (a, b) at (i + a, j + b), in burn ops (what [`fused::interleave_phases`] runs off the CPU).
pub(crate) fn interleave_phases_burn(y: Tensor<4>, height: usize, width: usize) -> Tensor<4> {
    let [batch, channels, _, _] = y.dims();
    let c_out = channels / 4;
    let phase = |a: usize, b: usize| -> Tensor<4> {
        y.clone()
            .narrow(1, (2 * a + b) * c_out, c_out)
            .narrow(2, a, height)
            .narrow(3, b, width) // [B, out, H, W]
    };
    let row = |a: usize| Tensor::stack::<5>(vec![phase(a, 0), phase(a, 1)], 4); // [B, out, H, W, 2]
    Tensor::stack::<6>(vec![row(0), row(1)], 3) // [B, out, H, 2, W, 2]
        .reshape([batch, c_out, 2 * height, 2 * width])
}

/// A GenBlock's four convolutions, ready to run.
#[derive(Debug, Clone)]
pub struct BlockPlan {
    /// 1×1, `in -> mid`.
    pub conv_0: ConvOp,
    /// 3×3 (or, for sub-pixel up-sampling, the 2×2 phase kernels with padding 1).
    pub conv_1: ConvOp,
    /// Whether `conv_1` is the sub-pixel form (only in up-sampling blocks).
    pub conv_1_subpixel: bool,
    /// 3×3.
    pub conv_2: ConvOp,
    /// 1×1, `mid -> out`.
    pub conv_3: ConvOp,
}

impl BlockPlan {
    /// `conv_1` applied after the block's optional up-sampling: `[B, mid, H, W]` ->
    /// `[B, mid, H', W']`.
    pub fn conv_1(&self, h: Tensor<4>, up_sample: bool) -> Tensor<4> {
        match (up_sample, self.conv_1_subpixel) {
            (true, true) => {
                let [_, _, height, width] = h.dims();
                fused::interleave_phases(self.conv_1.forward(h), height, width)
            }
            (true, false) => self.conv_1.forward(upsample_nearest_2x(h)),
            (false, _) => self.conv_1.forward(h),
        }
    }
}

/// The attention block's 1×1 convolutions, ready to run.
#[derive(Debug, Clone)]
pub struct AttentionPlan {
    /// `C -> C/8`.
    pub theta: ConvOp,
    /// `C -> C/8`.
    pub phi: ConvOp,
    /// `C -> C/2`.
    pub g: ConvOp,
    /// `C/2 -> C`.
    pub o_conv: ConvOp,
}

/// Ready-to-run convolutions of one `layers.{i}` entry.
#[derive(Debug, Clone)]
pub enum LayerPlan {
    /// For a GenBlock.
    Block(BlockPlan),
    /// For the attention block.
    Attention(AttentionPlan),
}

/// Ready-to-run convolutions of the whole generator.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One per `generator.layers` entry.
    pub layers: Vec<LayerPlan>,
    /// The final 3×3 convolution (3 output channels).
    pub conv_to_rgb: ConvOp,
    /// The options it was built with.
    pub options: ExecOptions,
}

impl Plan {
    /// Derives the convolutions of `module` for `options`.
    pub fn new(module: &BigGanModule, options: ExecOptions) -> Self {
        // The options for a convolution over a `side_px`² feature map.
        let at = |side_px: usize| ExecOptions {
            matmul_convs: options.matmul_convs && side_px * side_px <= options.matmul_max_pixels,
            ..options
        };
        let conv = |c: &Conv2d, side_px: usize| ConvOp::from_module(c, &at(side_px));
        // gen_z's output is 4×4; every up-sampling block doubles the side.
        let mut side_px = 4;
        let mut layers = Vec::with_capacity(module.generator.layers.len());
        for layer in &module.generator.layers {
            layers.push(match layer {
                Layer::Block(block) => {
                    let out_side_px = if block.up_sample {
                        2 * side_px
                    } else {
                        side_px
                    };
                    let subpixel = block.up_sample && options.subpixel_upsampling;
                    let conv_1 = if subpixel {
                        // The four phases are computed at the input's size.
                        let weight = subpixel_kernel(block.conv_1.weight.val());
                        let bias = block.conv_1.bias.as_ref().map(|b| b.val().repeat_dim(0, 4));
                        ConvOp::new(weight, bias, 1, &at(side_px))
                    } else {
                        conv(&block.conv_1, out_side_px)
                    };
                    let plan = LayerPlan::Block(BlockPlan {
                        conv_0: conv(&block.conv_0, side_px),
                        conv_1,
                        conv_1_subpixel: subpixel,
                        conv_2: conv(&block.conv_2, out_side_px),
                        conv_3: conv(&block.conv_3, out_side_px),
                    });
                    side_px = out_side_px;
                    plan
                }
                Layer::Attention(attention) => LayerPlan::Attention(AttentionPlan {
                    theta: conv(&attention.snconv1x1_theta, side_px),
                    phi: conv(&attention.snconv1x1_phi, side_px),
                    g: conv(&attention.snconv1x1_g, side_px),
                    o_conv: conv(&attention.snconv1x1_o_conv, side_px),
                }),
            });
        }
        Self {
            layers,
            conv_to_rgb: conv(&module.generator.conv_to_rgb, side_px),
            options,
        }
    }
}
