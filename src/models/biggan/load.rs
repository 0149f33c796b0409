//! Building a [`BigGanModule`] from a PyTorch checkpoint (`pytorch_model.bin`, legacy or zip,
//! or `.safetensors` with the same keys), folding the spectral norm into plain weights.
//!
//! Every tensor is read by key with the shape the configuration implies, so a wrong file fails
//! with the key, its shape and the expected one (see `checkpoint.rs`).
//!
//! The same code builds a model with random weights (for benchmarks) from a [`RandomWeights`]
//! source that answers every key.

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::BigGanConfig;
use super::model::{
    BatchNorm, BigGanModule, CondBatchNorm, Conv2d, GenBlock, Generator, Layer, Linear, SelfAttn,
    StandingStats,
};
use super::BigGanError;
use crate::models::checkpoint::{Checkpoint, FloatTensor};

/// Where tensors come from, by checkpoint key.
pub trait TensorSource {
    /// The tensor `key`, which must have `shape`.
    fn read(&self, key: &str, shape: &[usize]) -> Result<FloatTensor, BigGanError>;
    /// Whether `key` exists.
    fn has(&self, key: &str) -> bool;
    /// The file, for error messages.
    fn path(&self) -> &Path;
}

impl TensorSource for Checkpoint {
    fn read(&self, key: &str, shape: &[usize]) -> Result<FloatTensor, BigGanError> {
        Ok(self.tensor(key, shape)?)
    }

    fn has(&self, key: &str) -> bool {
        self.shape(key).is_some()
    }

    fn path(&self) -> &Path {
        Checkpoint::path(self)
    }
}

/// Plausible random weights for every key: what a published checkpoint costs to run, without
/// the file. Layers come as plain (already normalised) weights N(0, 1/fan_in), so activations
/// keep their scale through the network; statistics are mean 0 and variance 1, gains 1, biases
/// 0, attention gain 0.5. Deterministic per seed and key.
pub struct RandomWeights {
    /// Mixed with each key's hash to seed its values.
    pub seed: u64,
}

impl TensorSource for RandomWeights {
    fn read(&self, key: &str, shape: &[usize]) -> Result<FloatTensor, BigGanError> {
        use rand::{Rng, SeedableRng};
        use std::hash::{Hash, Hasher};
        let count: usize = shape.iter().product();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ hasher.finish());
        let mut normal = move || {
            let (u1, u2): (f64, f64) = (rng.random(), rng.random());
            ((-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        };
        let values = if key.ends_with("running_vars") || key == "generator.bn.weight" {
            vec![1.0; count]
        } else if key.ends_with("running_means") || key.ends_with("bias") {
            vec![0.0; count]
        } else if key.ends_with("gamma") {
            vec![0.5; count]
        } else {
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let scale = 1.0 / (fan_in as f32).sqrt();
            (0..count).map(|_| normal() * scale).collect()
        };
        Ok(FloatTensor {
            shape: shape.to_vec(),
            values,
        })
    }

    fn has(&self, key: &str) -> bool {
        // Plain weights instead of `weight_orig` + u + v: random u and v would give arbitrary
        // sigmas, and with them exploding activations.
        !key.ends_with(".weight_orig")
    }

    fn path(&self) -> &Path {
        Path::new("<random weights>")
    }
}

/// Reads tensors for one model onto one device.
struct Loader<'a> {
    /// Where the tensors come from.
    source: &'a dyn TensorSource,
    /// Where the tensors go.
    device: &'a Device,
}

impl Loader<'_> {
    fn read(&self, key: &str, shape: &[usize]) -> Result<FloatTensor, BigGanError> {
        self.source.read(key, shape)
    }

    fn tensor<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<D>> {
        Param::from_tensor(Tensor::from_data(
            TensorData::new(values, shape),
            self.device,
        ))
    }

    /// `{prefix}.weight` of a spectral-normed layer as eval mode computes it:
    /// `weight_orig / sigma` with `sigma = u · (W v)` from the stored `weight_u` / `weight_v`
    /// (no power iteration). `shape` is `[out, ...]`; W is viewed as `[out, prod(rest)]`.
    ///
    /// A checkpoint whose spectral norm was already removed (plain `{prefix}.weight`, no
    /// `weight_orig`) is used as is.
    fn sn_weight(&self, prefix: &str, shape: &[usize]) -> Result<Vec<f32>, BigGanError> {
        let orig_key = format!("{prefix}.weight_orig");
        let plain_key = format!("{prefix}.weight");
        if !self.source.has(&orig_key) && self.source.has(&plain_key) {
            return Ok(self.read(&plain_key, shape)?.values);
        }
        let weight = self.read(&orig_key, shape)?.values;
        let rows = shape[0];
        let cols: usize = shape[1..].iter().product();
        let u = self.read(&format!("{prefix}.weight_u"), &[rows])?.values;
        let v = self.read(&format!("{prefix}.weight_v"), &[cols])?.values;
        // torch: sigma = dot(u, mv(W, v)) in f32; f64 accumulation here differs only in the
        // last bits of sigma.
        let sigma: f64 = weight
            .chunks_exact(cols)
            .zip(&u)
            .map(|(row, &u_i)| {
                let wv: f64 = row
                    .iter()
                    .zip(&v)
                    .map(|(&w, &v_j)| w as f64 * v_j as f64)
                    .sum();
                u_i as f64 * wv
            })
            .sum();
        let sigma = sigma as f32;
        if !(sigma.is_finite() && sigma != 0.0) {
            return Err(BigGanError::BadSpectralNorm {
                path: self.source.path().to_owned(),
                key: orig_key,
                sigma,
            });
        }
        Ok(weight.into_iter().map(|w| w / sigma).collect())
    }

    /// A spectral-normed `nn.Linear(d_in, d_out)`, transposed to `[in, out]`.
    fn sn_linear(
        &self,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> Result<Linear, BigGanError> {
        let weight = self.sn_weight(prefix, &[d_out, d_in])?;
        Ok(Linear {
            weight: self.tensor(transpose(&weight, d_out, d_in), [d_in, d_out]),
            bias: self.bias(prefix, d_out, bias)?,
        })
    }

    /// A spectral-normed `nn.Conv2d(c_in, c_out, k)`; only the first `keep_out` output
    /// channels are kept.
    fn sn_conv(
        &self,
        prefix: &str,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        bias: bool,
        keep_out: usize,
    ) -> Result<Conv2d, BigGanError> {
        let mut weight = self.sn_weight(prefix, &[c_out, c_in, kernel, kernel])?;
        weight.truncate(keep_out * c_in * kernel * kernel);
        let bias = match self.bias(prefix, c_out, bias)? {
            Some(bias) if keep_out < c_out => {
                Some(Param::from_tensor(bias.val().narrow(0, 0, keep_out)))
            }
            other => other,
        };
        Ok(Conv2d {
            weight: self.tensor(weight, [keep_out, c_in, kernel, kernel]),
            bias,
        })
    }

    fn bias(
        &self,
        prefix: &str,
        d_out: usize,
        bias: bool,
    ) -> Result<Option<Param<Tensor<1>>>, BigGanError> {
        if !bias {
            return Ok(None);
        }
        let values = self.read(&format!("{prefix}.bias"), &[d_out])?.values;
        Ok(Some(self.tensor(values, [d_out])))
    }

    fn stats(
        &self,
        prefix: &str,
        n_stats: usize,
        channels: usize,
    ) -> Result<StandingStats, BigGanError> {
        let shape = [n_stats, channels];
        Ok(StandingStats {
            running_means: self.tensor(
                self.read(&format!("{prefix}.running_means"), &shape)?
                    .values,
                shape,
            ),
            running_vars: self.tensor(
                self.read(&format!("{prefix}.running_vars"), &shape)?.values,
                shape,
            ),
        })
    }

    fn cond_bn(
        &self,
        prefix: &str,
        config: &BigGanConfig,
        channels: usize,
    ) -> Result<CondBatchNorm, BigGanError> {
        let cond = config.cond_dim();
        Ok(CondBatchNorm {
            stats: self.stats(prefix, config.n_stats, channels)?,
            scale: self.sn_linear(&format!("{prefix}.scale"), cond, channels, false)?,
            offset: self.sn_linear(&format!("{prefix}.offset"), cond, channels, false)?,
        })
    }

    fn block(
        &self,
        prefix: &str,
        config: &BigGanConfig,
        c_in: usize,
        c_out: usize,
        up_sample: bool,
    ) -> Result<GenBlock, BigGanError> {
        let mid = c_in / 4;
        let p = |name: &str| format!("{prefix}.{name}");
        Ok(GenBlock {
            bn_0: self.cond_bn(&p("bn_0"), config, c_in)?,
            conv_0: self.sn_conv(&p("conv_0"), c_in, mid, 1, true, mid)?,
            bn_1: self.cond_bn(&p("bn_1"), config, mid)?,
            conv_1: self.sn_conv(&p("conv_1"), mid, mid, 3, true, mid)?,
            bn_2: self.cond_bn(&p("bn_2"), config, mid)?,
            conv_2: self.sn_conv(&p("conv_2"), mid, mid, 3, true, mid)?,
            bn_3: self.cond_bn(&p("bn_3"), config, mid)?,
            conv_3: self.sn_conv(&p("conv_3"), mid, c_out, 1, true, c_out)?,
            up_sample,
        })
    }

    fn attention(&self, prefix: &str, channels: usize) -> Result<SelfAttn, BigGanError> {
        let p = |name: &str| format!("{prefix}.{name}");
        let (c8, c2) = (channels / 8, channels / 2);
        Ok(SelfAttn {
            snconv1x1_theta: self.sn_conv(&p("snconv1x1_theta"), channels, c8, 1, false, c8)?,
            snconv1x1_phi: self.sn_conv(&p("snconv1x1_phi"), channels, c8, 1, false, c8)?,
            snconv1x1_g: self.sn_conv(&p("snconv1x1_g"), channels, c2, 1, false, c2)?,
            snconv1x1_o_conv: self.sn_conv(
                &p("snconv1x1_o_conv"),
                c2,
                channels,
                1,
                false,
                channels,
            )?,
            gamma: self.tensor(self.read(&p("gamma"), &[1])?.values, [1]),
        })
    }
}

/// Reads every tensor `config` needs from `source` and folds the spectral norms.
pub fn module_from_source(
    source: &dyn TensorSource,
    config: &BigGanConfig,
    device: &Device,
) -> Result<BigGanModule, BigGanError> {
    let loader = Loader { source, device };
    let ch = config.channel_width;
    // Map `embeddings.weight` [z_dim, num_classes] -> `embeddings` [num_classes, z_dim].
    let embeddings = loader
        .read("embeddings.weight", &[config.z_dim, config.num_classes])?
        .values;
    let embeddings = loader.tensor(
        transpose(&embeddings, config.z_dim, config.num_classes),
        [config.num_classes, config.z_dim],
    );
    let gen_z = loader.sn_linear("generator.gen_z", config.cond_dim(), 16 * 16 * ch, true)?;
    let mut layers = Vec::with_capacity(config.layers.len() + 1);
    for (block_idx, spec) in config.layers.iter().enumerate() {
        if block_idx == config.attention_layer_position {
            let prefix = format!("generator.layers.{}", layers.len());
            layers.push(Layer::Attention(loader.attention(&prefix, spec.1 * ch)?));
        }
        let prefix = format!("generator.layers.{}", layers.len());
        layers.push(Layer::Block(loader.block(
            &prefix,
            config,
            spec.1 * ch,
            spec.2 * ch,
            spec.up_sample(),
        )?));
    }
    let bn = BatchNorm {
        stats: loader.stats("generator.bn", config.n_stats, ch)?,
        weight: loader.tensor(loader.read("generator.bn.weight", &[ch])?.values, [ch]),
        bias: loader.tensor(loader.read("generator.bn.bias", &[ch])?.values, [ch]),
    };
    // The checkpoint's conv_to_rgb has `ch` output channels; the model keeps 3.
    let conv_to_rgb = loader.sn_conv("generator.conv_to_rgb", ch, ch, 3, true, 3)?;
    Ok(BigGanModule {
        embeddings,
        generator: Generator {
            gen_z,
            layers,
            bn,
            conv_to_rgb,
        },
    })
}

/// `[rows, cols]` row-major -> `[cols, rows]` row-major.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::transpose;

    #[test]
    fn transpose_moves_rows_to_columns() {
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
