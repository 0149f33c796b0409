//! The BigGAN-deep generator as burn modules, in eval mode with the spectral norm folded in.
//!
//! Field names follow the checkpoint keys (`generator.layers.3.bn_1.scale`, …) without the
//! spectral-norm suffixes: each `weight` here is `weight_orig / sigma` (see `load.rs`). The
//! forward pass is `pytorch_pretrained_biggan.model` 0.1.1 step by step; the comments name the
//! quirks that matter for parity.

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

use super::config::BigGanConfig;
use super::exec::{AttentionPlan, BlockPlan, LayerPlan, Plan};
use crate::models::fused;

/// A linear layer `y = x · weight + bias`, with the weight stored `[in, out]`.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[in, out]`: the transpose of PyTorch's `[out, in]`, so the product needs no transpose.
    pub weight: Param<Tensor<2>>,
    /// `[out]`, if the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    /// A zero layer of the given size, to be overwritten by a loader.
    pub fn zeros(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([d_in, d_out], device)),
            bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
        }
    }

    /// `[B, in]` -> `[B, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.val()); // [B, out]
        match &self.bias {
            Some(bias) => y + bias.val().unsqueeze_dim::<2>(0),
            None => y,
        }
    }
}

/// A stride-1 convolution with "same" zero padding (`kernel / 2`).
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`, if the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
}

impl Conv2d {
    /// A zero layer of the given size, to be overwritten by a loader.
    pub fn zeros(c_in: usize, c_out: usize, kernel: usize, bias: bool, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([c_out, c_in, kernel, kernel], device)),
            bias: bias.then(|| Param::from_tensor(Tensor::zeros([c_out], device))),
        }
    }

    /// `[B, in, H, W]` -> `[B, out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let kernel = self.weight.dims()[2];
        let padding = kernel / 2;
        conv2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(Param::val),
            ConvOptions::new([1, 1], [padding, padding], [1, 1], 1),
        )
    }
}

/// The batch-norm statistics stored per truncation: row k belongs to truncation k/(n-1).
#[derive(Module, Debug)]
pub struct StandingStats {
    /// `[n_stats, C]` means.
    pub running_means: Param<Tensor<2>>,
    /// `[n_stats, C]` variances.
    pub running_vars: Param<Tensor<2>>,
}

/// Where a truncation falls in the statistics grid, computed exactly as the original does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsRow {
    /// `start_idx` of `math.modf(truncation / step)`.
    pub start_idx: usize,
    /// The fractional part `coef`; 0 means row `start_idx` alone is used.
    pub coef: f64,
}

impl StatsRow {
    /// `coef, start = math.modf(truncation / (1.0 / (n_stats - 1)))` in f64, as Python does:
    /// not `truncation * (n_stats - 1)` and not in f32, because the rounding decides the row
    /// (`0.14 / 0.02 = 7.000000000000001` selects row 8 almost entirely, see `interpolate`).
    /// `None` when the truncation falls outside the grid.
    pub fn new(truncation: f64, n_stats: usize) -> Option<Self> {
        let step = 1.0 / (n_stats - 1) as f64;
        let position = truncation / step;
        if position.is_nan() || position < 0.0 {
            return None;
        }
        let start = position.trunc();
        let coef = position - start; // exact, like math.modf
        let start_idx = start as usize;
        let last_needed = if coef != 0.0 {
            start_idx + 1
        } else {
            start_idx
        };
        (last_needed < n_stats).then_some(Self { start_idx, coef })
    }
}

impl StandingStats {
    /// Zero statistics, to be overwritten by a loader.
    pub fn zeros(n_stats: usize, channels: usize, device: &Device) -> Self {
        Self {
            running_means: Param::from_tensor(Tensor::zeros([n_stats, channels], device)),
            running_vars: Param::from_tensor(Tensor::zeros([n_stats, channels], device)),
        }
    }

    /// The `[C]` mean and variance for `row`, with the original's *swapped* weights:
    /// `m[start] * coef + m[start + 1] * (1 - coef)`, so `coef` multiplies the lower row.
    /// The scalars are applied to f32 rows as f32 products and an f32 sum, as torch does.
    pub fn interpolate(&self, row: StatsRow) -> (Tensor<1>, Tensor<1>) {
        let pick = |stats: &Param<Tensor<2>>, idx: usize| -> Tensor<1> {
            stats.val().narrow(0, idx, 1).squeeze_dim::<1>(0) // [C]
        };
        let blend = |stats: &Param<Tensor<2>>| -> Tensor<1> {
            let lower = pick(stats, row.start_idx);
            if row.coef == 0.0 {
                return lower;
            }
            let upper = pick(stats, row.start_idx + 1);
            lower.mul_scalar(row.coef) + upper.mul_scalar(1.0 - row.coef)
        };
        (blend(&self.running_means), blend(&self.running_vars))
    }
}

/// `BigGANBatchNorm(conditional=True)`: always the stored statistics (never batch statistics),
/// gain `1 + scale(cond)` and bias `offset(cond)`, both spectral-normed linears without bias.
#[derive(Module, Debug)]
pub struct CondBatchNorm {
    /// Per-truncation statistics.
    pub stats: StandingStats,
    /// `cond -> C`, added to 1 for the gain.
    pub scale: Linear,
    /// `cond -> C`, the bias.
    pub offset: Linear,
}

impl CondBatchNorm {
    /// Zero layer for `channels` channels conditioned on `cond_dim` values.
    pub fn zeros(n_stats: usize, channels: usize, cond_dim: usize, device: &Device) -> Self {
        Self {
            stats: StandingStats::zeros(n_stats, channels, device),
            scale: Linear::zeros(cond_dim, channels, false, device),
            offset: Linear::zeros(cond_dim, channels, false, device),
        }
    }

    /// The truncation-dependent part: the interpolated mean and `1 / sqrt(var + eps)`.
    pub fn normalization(&self, row: StatsRow, eps: f64) -> Normalization {
        let (mean, var) = self.stats.interpolate(row); // [C], [C]
        let channels = mean.dims()[0];
        Normalization {
            mean: mean.reshape([1, channels]),
            inv_std: var.add_scalar(eps).sqrt().recip().unsqueeze_dim::<2>(0),
        }
    }

    /// `relu((x - mean) / sqrt(var + eps) * (1 + scale(cond)) + offset(cond))`, computed as
    /// `relu(x · gain + bias)` with per-sample, per-channel `gain` and `bias`: one pass over `x`
    /// (see [`fused`]) instead of four.
    pub fn forward_relu(&self, x: Tensor<4>, cond: &Tensor<2>, norm: &Normalization) -> Tensor<4> {
        let gain = self.scale.forward(cond.clone()).add_scalar(1.0) * norm.inv_std.clone(); // [B, C]
        let bias = self.offset.forward(cond.clone()) - norm.mean.clone() * gain.clone(); // [B, C]
        fused::affine_relu(x, gain, bias)
    }
}

/// The truncation-dependent part of a conditional batch norm.
#[derive(Debug, Clone)]
pub struct Normalization {
    /// `[1, C]` interpolated mean.
    pub mean: Tensor<2>,
    /// `[1, C]` `1 / sqrt(var + eps)` of the interpolated variance.
    pub inv_std: Tensor<2>,
}

/// The final, unconditional `BigGANBatchNorm`: `F.batch_norm` with the stored statistics and
/// an affine `weight`/`bias`.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Per-truncation statistics.
    pub stats: StandingStats,
    /// `[C]` affine gain.
    pub weight: Param<Tensor<1>>,
    /// `[C]` affine bias.
    pub bias: Param<Tensor<1>>,
}

impl BatchNorm {
    /// Zero layer for `channels` channels.
    pub fn zeros(n_stats: usize, channels: usize, device: &Device) -> Self {
        Self {
            stats: StandingStats::zeros(n_stats, channels, device),
            weight: Param::from_tensor(Tensor::zeros([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    /// `(alpha, beta)`, each `[1, C]`, with `batch_norm(x) = x * alpha + beta`, the form
    /// torch's CPU kernel computes.
    pub fn affine(&self, row: StatsRow, eps: f64) -> (Tensor<2>, Tensor<2>) {
        let (mean, var) = self.stats.interpolate(row); // [C], [C]
        let alpha = self.weight.val() * var.add_scalar(eps).sqrt().recip(); // [C]
        let beta = self.bias.val() - mean * alpha.clone(); // [C]
        (alpha.unsqueeze_dim(0), beta.unsqueeze_dim(0))
    }

    /// `relu(batch_norm(x))` with `affine`'s `(alpha, beta)`.
    pub fn forward_relu(x: Tensor<4>, affine: &(Tensor<2>, Tensor<2>)) -> Tensor<4> {
        fused::affine_relu(x, affine.0.clone(), affine.1.clone())
    }
}

/// One GenBlock: bottleneck of 1×1 → 3×3 → 3×3 → 1×1 convolutions, each after a conditional
/// BN + ReLU, with an up-sampling step and a channel-dropping skip connection.
#[derive(Module, Debug)]
pub struct GenBlock {
    /// BN on the input (`in` channels).
    pub bn_0: CondBatchNorm,
    /// 1×1, `in -> in/4`.
    pub conv_0: Conv2d,
    /// BN before the optional up-sampling.
    pub bn_1: CondBatchNorm,
    /// 3×3, `mid -> mid`, at the output resolution.
    pub conv_1: Conv2d,
    /// BN.
    pub bn_2: CondBatchNorm,
    /// 3×3, `mid -> mid`.
    pub conv_2: Conv2d,
    /// BN.
    pub bn_3: CondBatchNorm,
    /// 1×1, `mid -> out`.
    pub conv_3: Conv2d,
    /// Whether the block doubles the resolution.
    #[module(skip)]
    pub up_sample: bool,
}

impl GenBlock {
    /// Zero block for `c_in -> c_out` channels.
    pub fn zeros(
        config: &BigGanConfig,
        c_in: usize,
        c_out: usize,
        up_sample: bool,
        device: &Device,
    ) -> Self {
        let (n, cond) = (config.n_stats, config.cond_dim());
        let mid = c_in / 4;
        Self {
            bn_0: CondBatchNorm::zeros(n, c_in, cond, device),
            conv_0: Conv2d::zeros(c_in, mid, 1, true, device),
            bn_1: CondBatchNorm::zeros(n, mid, cond, device),
            conv_1: Conv2d::zeros(mid, mid, 3, true, device),
            bn_2: CondBatchNorm::zeros(n, mid, cond, device),
            conv_2: Conv2d::zeros(mid, mid, 3, true, device),
            bn_3: CondBatchNorm::zeros(n, mid, cond, device),
            conv_3: Conv2d::zeros(mid, c_out, 1, true, device),
            up_sample,
        }
    }

    /// `[B, in, H, W]` -> `[B, out, H', W']` (H' = 2H when up-sampling), with the
    /// batch-norm normalisations `norms` for the current truncation and the convolutions of
    /// `plan` (derived from this block's).
    pub fn forward(
        &self,
        x: Tensor<4>,
        cond: &Tensor<2>,
        norms: &[Normalization; 4],
        plan: &BlockPlan,
    ) -> Tensor<4> {
        let c_out = self.conv_3.weight.dims()[0];
        let c_in = x.dims()[1];
        let h = plan
            .conv_0
            .forward(self.bn_0.forward_relu(x.clone(), cond, &norms[0])); // [B, mid, H, W]
        let h = self.bn_1.forward_relu(h, cond, &norms[1]);
        let h = plan.conv_1(h, self.up_sample); // [B, mid, H', W']
        let h = plan
            .conv_2
            .forward(self.bn_2.forward_relu(h, cond, &norms[2])); // [B, mid, H', W']
        let h = plan
            .conv_3
            .forward(self.bn_3.forward_relu(h, cond, &norms[3])); // [B, out, H', W']

        // The skip connection drops channels (keeps the first `in/2`) instead of a 1×1 conv.
        let skip = if c_in != c_out {
            x.narrow(1, 0, c_in / 2)
        } else {
            x
        };
        fused::add_skip(h, skip, self.up_sample)
    }
}

/// `SelfAttn`: non-local attention over all positions, without the usual 1/sqrt(d) scaling.
#[derive(Module, Debug)]
pub struct SelfAttn {
    /// 1×1, `C -> C/8`, no bias.
    pub snconv1x1_theta: Conv2d,
    /// 1×1, `C -> C/8`, no bias, then 2×2 max-pooled.
    pub snconv1x1_phi: Conv2d,
    /// 1×1, `C -> C/2`, no bias, then 2×2 max-pooled.
    pub snconv1x1_g: Conv2d,
    /// 1×1, `C/2 -> C`, no bias.
    pub snconv1x1_o_conv: Conv2d,
    /// `[1]` gain of the attention branch.
    pub gamma: Param<Tensor<1>>,
}

impl SelfAttn {
    /// Zero block over `channels` channels.
    pub fn zeros(channels: usize, device: &Device) -> Self {
        Self {
            snconv1x1_theta: Conv2d::zeros(channels, channels / 8, 1, false, device),
            snconv1x1_phi: Conv2d::zeros(channels, channels / 8, 1, false, device),
            snconv1x1_g: Conv2d::zeros(channels, channels / 2, 1, false, device),
            snconv1x1_o_conv: Conv2d::zeros(channels / 2, channels, 1, false, device),
            gamma: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// `[B, C, H, W]` -> `[B, C, H, W]`, with the convolutions of `plan`.
    pub fn forward(&self, x: Tensor<4>, plan: &AttentionPlan) -> Tensor<4> {
        let [batch, channels, height, width] = x.dims();
        let positions = height * width;
        let pool = |t: Tensor<4>| max_pool2d(t, MaxPoolOptions::new([2, 2]));
        // Flattening is row-major over (h, w), as `.view` does on a contiguous NCHW tensor.
        let theta = plan
            .theta
            .forward(x.clone())
            .reshape([batch, channels / 8, positions]); // [B, C/8, HW]
        let phi = pool(plan.phi.forward(x.clone())).reshape([batch, channels / 8, positions / 4]); // [B, C/8, HW/4]
        let attn = softmax(theta.swap_dims(1, 2).matmul(phi), 2); // [B, HW, HW/4], no 1/sqrt(d)
        let g = pool(plan.g.forward(x.clone())).reshape([batch, channels / 2, positions / 4]); // [B, C/2, HW/4]
        let attn_g = g
            .matmul(attn.swap_dims(1, 2))
            .reshape([batch, channels / 2, height, width]); // [B, C/2, H, W]
        let o = plan.o_conv.forward(attn_g); // [B, C, H, W]
        x + o * self.gamma.val().reshape([1, 1, 1, 1])
    }
}

/// An entry of `generator.layers`: the GenBlocks with the attention block inserted.
// A dozen entries per model: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Layer {
    /// A GenBlock.
    Block(GenBlock),
    /// The self-attention block (`layers.{attention_layer_position}`).
    Attention(SelfAttn),
}

/// `generator`: everything after the class embedding.
#[derive(Module, Debug)]
pub struct Generator {
    /// `cond -> 4·4·16ch`, reshaped as NHWC.
    pub gen_z: Linear,
    /// GenBlocks and the attention block, in checkpoint order.
    pub layers: Vec<Layer>,
    /// Final unconditional BN.
    pub bn: BatchNorm,
    /// 3×3 `ch -> 3`: the checkpoint's 128 output channels, of which only the first 3 are
    /// ever used, are cut to 3 at load time (identical results, 1/40 of the work).
    pub conv_to_rgb: Conv2d,
}

/// The whole `BigGAN` module: class embedding and generator.
#[derive(Module, Debug)]
pub struct BigGanModule {
    /// `[num_classes, z_dim]`: `nn.Linear(num_classes, z_dim, bias=False)` transposed.
    pub embeddings: Param<Tensor<2>>,
    /// The generator.
    pub generator: Generator,
}

impl BigGanModule {
    /// A zero-filled module with `config`'s shapes, for a loader to overwrite.
    pub fn zeros(config: &BigGanConfig, device: &Device) -> Self {
        let ch = config.channel_width;
        let mut layers = Vec::with_capacity(config.layers.len() + 1);
        for (idx, spec) in config.layers.iter().enumerate() {
            if idx == config.attention_layer_position {
                layers.push(Layer::Attention(SelfAttn::zeros(spec.1 * ch, device)));
            }
            layers.push(Layer::Block(GenBlock::zeros(
                config,
                spec.1 * ch,
                spec.2 * ch,
                spec.up_sample(),
                device,
            )));
        }
        Self {
            embeddings: Param::from_tensor(Tensor::zeros(
                [config.num_classes, config.z_dim],
                device,
            )),
            generator: Generator {
                gen_z: Linear::zeros(config.cond_dim(), 16 * ch * 16, true, device),
                layers,
                bn: BatchNorm::zeros(config.n_stats, ch, device),
                conv_to_rgb: Conv2d::zeros(ch, 3, 3, true, device),
            },
        }
    }
}

/// Intermediate results of a forward pass, for parity tests: `(name, tensor)` with the
/// fixture's names (`gen_z`, `layers.{i}`).
pub type Trace = Vec<(String, Tensor<4>)>;

/// Called with each stage's name and output during a forward pass: `gen_z`, `layers.{i}`,
/// then `bn` (final BN + ReLU) and `image`.
pub type Observer<'a> = &'a mut dyn FnMut(&str, &Tensor<4>);

/// Every batch norm's truncation-dependent part, computed once per truncation.
#[derive(Debug, Clone)]
pub struct Normalizations {
    /// For each `layers.{i}`: its four conditional BNs (`None` for the attention block).
    pub blocks: Vec<Option<[Normalization; 4]>>,
    /// The final BN's `(alpha, beta)`.
    pub last: (Tensor<2>, Tensor<2>),
}

impl Normalizations {
    /// The normalisations of every batch norm of `module` for statistics row `row`.
    pub fn new(module: &BigGanModule, row: StatsRow, eps: f64) -> Self {
        let blocks = module
            .generator
            .layers
            .iter()
            .map(|layer| match layer {
                Layer::Block(block) => Some([
                    block.bn_0.normalization(row, eps),
                    block.bn_1.normalization(row, eps),
                    block.bn_2.normalization(row, eps),
                    block.bn_3.normalization(row, eps),
                ]),
                Layer::Attention(_) => None,
            })
            .collect();
        Self {
            blocks,
            last: module.generator.bn.affine(row, eps),
        }
    }
}

/// The forward pass. `z`: `[B, z_dim]`, `y`: `[B, num_classes]`; returns `[B, 3, R, R]` in
/// (-1, 1). The convolutions run as `plan` (derived from `module`) says; `norms` come from
/// [`Normalizations::new`] for the truncation.
pub(crate) fn forward(
    module: &BigGanModule,
    config: &BigGanConfig,
    plan: &Plan,
    norms: &Normalizations,
    z: Tensor<2>,
    y: Tensor<2>,
    mut observer: Option<Observer<'_>>,
) -> Tensor<4> {
    let batch = z.dims()[0];
    let generator = &module.generator;
    let embed = y.matmul(module.embeddings.val()); // [B, z_dim]
    let cond = Tensor::cat(vec![z, embed], 1); // [B, 2 z_dim]
    let channels = config.gen_z_channels();
    // TF layout artefact: gen_z's output is NHWC, permuted to NCHW.
    let mut h = generator
        .gen_z
        .forward(cond.clone())
        .reshape([batch, 4, 4, channels])
        .permute([0, 3, 1, 2]); // [B, 16ch, 4, 4]
    if let Some(observe) = observer.as_mut() {
        observe("gen_z", &h);
    }
    let layers = generator.layers.iter().zip(&plan.layers).zip(&norms.blocks);
    for (idx, ((layer, layer_plan), layer_norms)) in layers.enumerate() {
        h = match (layer, layer_plan, layer_norms) {
            (Layer::Block(block), LayerPlan::Block(block_plan), Some(block_norms)) => {
                block.forward(h, &cond, block_norms, block_plan)
            }
            (Layer::Attention(attention), LayerPlan::Attention(attention_plan), None) => {
                attention.forward(h, attention_plan)
            }
            _ => {
                unreachable!("plans and normalisations are derived from the module, entry by entry")
            }
        };
        if let Some(observe) = observer.as_mut() {
            observe(&format!("layers.{idx}"), &h);
        }
    }
    let h = BatchNorm::forward_relu(h, &norms.last); // [B, ch, R, R]
    if let Some(observe) = observer.as_mut() {
        observe("bn", &h);
    }
    let images = plan.conv_to_rgb.forward(h).tanh(); // [B, 3, R, R]
    if let Some(observe) = observer.as_mut() {
        observe("image", &images);
    }
    images
}

/// Nearest-neighbour ×2 up-sampling (`F.interpolate(scale_factor=2, mode='nearest')`): every
/// pixel becomes a 2×2 block.
pub fn upsample_nearest_2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}
