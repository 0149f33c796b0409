//! `config.json` of a BigGAN-deep checkpoint, as `pytorch_pretrained_biggan.BigGANConfig` reads it.

use serde::{Deserialize, Serialize};

/// One GenBlock of the layer list: `(up_sample, in multiplier, out multiplier)`; channel counts
/// are the multipliers times [`BigGanConfig::channel_width`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSpec(
    /// Whether the block doubles the resolution (nearest neighbour).
    pub bool,
    /// Input channels / channel width.
    pub usize,
    /// Output channels / channel width.
    pub usize,
);

impl LayerSpec {
    /// Whether the block doubles the resolution.
    pub fn up_sample(&self) -> bool {
        self.0
    }
}

/// The generator's hyper-parameters. Missing keys take the Python class's defaults (those of
/// biggan-deep-128), exactly as `BigGANConfig.from_dict` does; unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BigGanConfig {
    /// Side of the square output image in pixels (checked against the layer list).
    pub output_dim: usize,
    /// Length of the noise vector z; the class embedding has the same length.
    pub z_dim: usize,
    /// Unused by the model (the embedding width is `z_dim`); kept so configs round-trip.
    pub class_embed_dim: usize,
    /// The channel unit `ch`: block widths are multiples of it.
    pub channel_width: usize,
    /// Length of the class vector (1000 ImageNet classes).
    pub num_classes: usize,
    /// The GenBlocks in order.
    pub layers: Vec<LayerSpec>,
    /// Index in `layers` before which the self-attention block sits (`layers.{idx}` in the
    /// checkpoint); no attention when it is past the end.
    pub attention_layer_position: usize,
    /// Batch-norm epsilon (the spectral-norm epsilon too, unused in eval mode).
    pub eps: f64,
    /// Rows of the per-truncation batch-norm statistics, for truncations 0, 1/(n-1), …, 1.
    pub n_stats: usize,
}

impl Default for BigGanConfig {
    fn default() -> Self {
        Self {
            output_dim: 128,
            z_dim: 128,
            class_embed_dim: 128,
            channel_width: 128,
            num_classes: 1000,
            layers: [
                (false, 16, 16),
                (true, 16, 16),
                (false, 16, 16),
                (true, 16, 8),
                (false, 8, 8),
                (true, 8, 4),
                (false, 4, 4),
                (true, 4, 2),
                (false, 2, 2),
                (true, 2, 1),
            ]
            .into_iter()
            .map(|(up, cin, cout)| LayerSpec(up, cin, cout))
            .collect(),
            attention_layer_position: 8,
            eps: 1e-4,
            n_stats: 51,
        }
    }
}

impl BigGanConfig {
    /// The published biggan-deep-128 configuration.
    pub fn biggan_deep_128() -> Self {
        Self::default()
    }

    /// The published biggan-deep-256 configuration.
    pub fn biggan_deep_256() -> Self {
        Self {
            output_dim: 256,
            layers: [
                (false, 16, 16),
                (true, 16, 16),
                (false, 16, 16),
                (true, 16, 8),
                (false, 8, 8),
                (true, 8, 8),
                (false, 8, 8),
                (true, 8, 4),
                (false, 4, 4),
                (true, 4, 2),
                (false, 2, 2),
                (true, 2, 1),
            ]
            .into_iter()
            .map(|(up, cin, cout)| LayerSpec(up, cin, cout))
            .collect(),
            ..Self::default()
        }
    }

    /// The published biggan-deep-512 configuration.
    pub fn biggan_deep_512() -> Self {
        let mut config = Self::biggan_deep_256();
        config.output_dim = 512;
        config.layers.push(LayerSpec(false, 1, 1));
        config.layers.push(LayerSpec(true, 1, 1));
        config
    }

    /// Parses `config.json` text and checks it describes a generator we can build.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let config: Self = serde_json::from_str(text).map_err(|err| err.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// The length of the conditioning vector `cat(z, embed)` fed to every batch norm.
    pub fn cond_dim(&self) -> usize {
        2 * self.z_dim
    }

    /// Channels of the 4×4 tensor that `gen_z` produces.
    pub fn gen_z_channels(&self) -> usize {
        16 * self.channel_width
    }

    /// Whether `layers.{idx}` of the checkpoint's module list is the attention block.
    pub fn has_attention(&self) -> bool {
        self.attention_layer_position < self.layers.len()
    }

    /// The side of the generated image: 4 doubled once per up-sampling block.
    pub fn resolution(&self) -> usize {
        self.layers
            .iter()
            .filter(|layer| layer.up_sample())
            .fold(4usize, |side, _| side.saturating_mul(2))
    }

    /// Checks what the PyTorch code would otherwise fail on with a shape error (or silently
    /// get wrong), so a damaged or foreign `config.json` is reported as such.
    pub fn validate(&self) -> Result<(), String> {
        let ch = self.channel_width;
        if ch == 0 || self.z_dim == 0 || self.num_classes == 0 {
            return Err("channel_width, z_dim and num_classes must be positive".into());
        }
        if self.n_stats < 2 {
            return Err(format!("n_stats is {}, needs at least 2", self.n_stats));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(format!(
                "eps is {}, needs a small positive number",
                self.eps
            ));
        }
        let Some(first) = self.layers.first() else {
            return Err("the layer list is empty".into());
        };
        if first.1 != 16 {
            return Err(format!(
                "the first layer takes {}×channel_width channels, but gen_z makes 16×",
                first.1
            ));
        }
        for (idx, pair) in self.layers.windows(2).enumerate() {
            if pair[0].2 != pair[1].1 {
                return Err(format!(
                    "layer {idx} outputs {}×channel_width channels but layer {} takes {}×",
                    pair[0].2,
                    idx + 1,
                    pair[1].1
                ));
            }
        }
        for (idx, layer) in self.layers.iter().enumerate() {
            let (cin, cout) = (layer.1 * ch, layer.2 * ch);
            if cin / 4 == 0 {
                return Err(format!("layer {idx} has {cin} channels, fewer than 4"));
            }
            // The skip path keeps the first half of the channels; nothing else fits `out`.
            if cin != cout && cin / 2 != cout {
                return Err(format!(
                    "layer {idx} maps {cin} to {cout} channels; only equal or halved widths exist"
                ));
            }
        }
        if self.layers.last().map(|layer| layer.2) != Some(1) {
            return Err("the last layer must output channel_width channels (multiplier 1)".into());
        }
        if self.has_attention() {
            let channels = self.layers[self.attention_layer_position].1 * ch;
            if channels / 8 == 0 {
                return Err(format!(
                    "attention over {channels} channels needs at least 8"
                ));
            }
        }
        if self.resolution() != self.output_dim {
            return Err(format!(
                "output_dim is {} but the layer list makes {}×{} images",
                self.output_dim,
                self.resolution(),
                self.resolution()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_configs_are_valid_and_have_their_resolutions() {
        for (config, side) in [
            (BigGanConfig::biggan_deep_128(), 128),
            (BigGanConfig::biggan_deep_256(), 256),
            (BigGanConfig::biggan_deep_512(), 512),
        ] {
            config.validate().unwrap();
            assert_eq!(config.resolution(), side);
        }
    }

    #[test]
    fn published_json_round_trips_and_missing_keys_take_defaults() {
        let json = serde_json::to_string(&BigGanConfig::biggan_deep_256()).unwrap();
        assert_eq!(
            BigGanConfig::from_json(&json).unwrap(),
            BigGanConfig::biggan_deep_256()
        );
        assert_eq!(
            BigGanConfig::from_json("{}").unwrap(),
            BigGanConfig::biggan_deep_128()
        );
    }

    #[test]
    fn inconsistent_layer_lists_are_refused() {
        let mut config = BigGanConfig::default();
        config.layers[3].2 = 4;
        let err = BigGanConfig::from_json(&serde_json::to_string(&config).unwrap()).unwrap_err();
        assert!(err.contains("layer 3"), "{err}");
        let err = BigGanConfig::from_json(r#"{"output_dim": 256}"#).unwrap_err();
        assert!(err.contains("output_dim is 256"), "{err}");
        assert!(BigGanConfig::from_json("[1, 2]").is_err());
    }
}
