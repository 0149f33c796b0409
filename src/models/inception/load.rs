//! Building [`InceptionV1`] from torchvision's state dict (`googlenet-1378be20.pth`, or the same
//! keys in a `.safetensors` file).
//!
//! The checkpoint's keys are used as they are: `<layer>.conv.weight` and
//! `<layer>.bn.{weight,bias,running_mean,running_var}` for every `BasicConv2d`. Keys this part of
//! the network does not use (`fc.*`, the auxiliary heads `aux1.*`/`aux2.*`, BatchNorm's
//! `num_batches_tracked`) are ignored.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};

use super::{BasicConv2d, Inception, InceptionV1, Layer, Preprocess};
use crate::models::checkpoint::{Checkpoint, CheckpointError};

/// torchvision's BatchNorm epsilon in `BasicConv2d`.
const BN_EPS: f64 = 1e-3;

/// What can go wrong building or running the network.
#[derive(Debug, thiserror::Error)]
pub enum InceptionError {
    /// The checkpoint could not be read, lacks a tensor, or has one of the wrong shape.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The first convolution's width is not torchvision's 64 (or an even fraction of it).
    #[error(
        "{path} is not a GoogLeNet/InceptionV1 checkpoint: `conv1.conv.weight` has shape \
         {found:?}, expected [64, 3, 7, 7] (torchvision's googlenet-1378be20.pth)"
    )]
    NotGoogLeNet {
        /// The checkpoint file.
        path: PathBuf,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The image is too small for the network to reach the requested layer.
    #[error(
        "an image of {width}×{height} pixels is too small to reach layer {layer}; use a larger \
         image, fewer octaves or an earlier layer"
    )]
    InputTooSmall {
        /// Image height in pixels.
        height: usize,
        /// Image width in pixels.
        width: usize,
        /// The layer that could not be reached.
        layer: &'static str,
    },
}

/// One `BasicConv2d`'s key prefix with its full-width shape: in, out, kernel, padding, stride.
struct ConvSpec {
    /// Key prefix, e.g. `inception4c.branch2.1`.
    prefix: String,
    /// Input channels at full width (3 for `conv1`, which is never divided).
    in_channels: usize,
    /// Output channels at full width.
    out_channels: usize,
    /// Square kernel side.
    kernel: usize,
    /// Zero padding on each side.
    padding: usize,
    /// Stride.
    stride: usize,
}

/// torchvision's Inception widths: in, 1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5", pool proj.
const INCEPTION_WIDTHS: [(Layer, [usize; 7]); 9] = [
    (Layer::Inception3a, [192, 64, 96, 128, 16, 32, 32]),
    (Layer::Inception3b, [256, 128, 128, 192, 32, 96, 64]),
    (Layer::Inception4a, [480, 192, 96, 208, 16, 48, 64]),
    (Layer::Inception4b, [512, 160, 112, 224, 24, 64, 64]),
    (Layer::Inception4c, [512, 128, 128, 256, 24, 64, 64]),
    (Layer::Inception4d, [512, 112, 144, 288, 32, 64, 64]),
    (Layer::Inception4e, [528, 256, 160, 320, 32, 128, 128]),
    (Layer::Inception5a, [832, 256, 160, 320, 32, 128, 128]),
    (Layer::Inception5b, [832, 384, 192, 384, 48, 128, 128]),
];

fn conv_spec(
    prefix: String,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    padding: usize,
) -> ConvSpec {
    ConvSpec {
        prefix,
        in_channels,
        out_channels,
        kernel,
        padding,
        stride: 1,
    }
}

/// Every `BasicConv2d` of the network up to `inception5b`, in network order.
fn conv_specs() -> Vec<ConvSpec> {
    let mut specs = vec![
        ConvSpec {
            stride: 2,
            ..conv_spec("conv1".into(), 3, 64, 7, 3)
        },
        conv_spec("conv2".into(), 64, 64, 1, 0),
        conv_spec("conv3".into(), 64, 192, 3, 1),
    ];
    for (layer, [c_in, c1, c2_red, c2, c3_red, c3, c4]) in INCEPTION_WIDTHS {
        let name = layer.name();
        specs.extend([
            conv_spec(format!("{name}.branch1"), c_in, c1, 1, 0),
            conv_spec(format!("{name}.branch2.0"), c_in, c2_red, 1, 0),
            conv_spec(format!("{name}.branch2.1"), c2_red, c2, 3, 1),
            conv_spec(format!("{name}.branch3.0"), c_in, c3_red, 1, 0),
            conv_spec(format!("{name}.branch3.1"), c3_red, c3, 3, 1),
            // `branch4.0` is the max pool.
            conv_spec(format!("{name}.branch4.1"), c_in, c4, 1, 0),
        ]);
    }
    specs
}

/// Narrows a full-width channel count; the RGB input is never narrowed.
fn narrow(channels: usize, width_divisor: usize) -> usize {
    if channels == 3 {
        3
    } else {
        channels / width_divisor
    }
}

/// Every tensor key the network reads, with the shape it expects for `width_divisor` (1 = the
/// ImageNet checkpoint), in network order.
pub fn expected_tensors(width_divisor: usize) -> Vec<(String, Vec<usize>)> {
    conv_specs()
        .into_iter()
        .flat_map(|spec| {
            let c_in = narrow(spec.in_channels, width_divisor);
            let c_out = narrow(spec.out_channels, width_divisor);
            let p = &spec.prefix;
            [
                (
                    format!("{p}.conv.weight"),
                    vec![c_out, c_in, spec.kernel, spec.kernel],
                ),
                (format!("{p}.bn.weight"), vec![c_out]),
                (format!("{p}.bn.bias"), vec![c_out]),
                (format!("{p}.bn.running_mean"), vec![c_out]),
                (format!("{p}.bn.running_var"), vec![c_out]),
            ]
        })
        .collect()
}

impl InceptionV1 {
    /// Loads the network from a torchvision GoogLeNet checkpoint (`.pth` zip or legacy, or
    /// `.safetensors`) onto `device`.
    pub fn load(
        path: &Path,
        preprocess: Preprocess,
        device: &Device,
    ) -> Result<Self, InceptionError> {
        let checkpoint = Checkpoint::open(path)?;
        Self::from_checkpoint(&checkpoint, preprocess, device)
    }

    /// Builds the network from an opened checkpoint. The width divisor is read from
    /// `conv1.conv.weight` (64 output channels at full width); every other tensor must then have
    /// exactly the shape torchvision's layout gives it.
    pub fn from_checkpoint(
        checkpoint: &Checkpoint,
        preprocess: Preprocess,
        device: &Device,
    ) -> Result<Self, InceptionError> {
        let width_divisor = width_divisor(checkpoint)?;
        let mut convs = conv_specs()
            .into_iter()
            .map(|spec| load_conv(checkpoint, &spec, width_divisor, device))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        // `conv_specs` lists the convolutions in the order they are taken here.
        let mut next = || convs.next().expect("conv_specs lists every convolution");
        let conv1 = next();
        let conv2 = next();
        let conv3 = next();
        let mut inception = || Inception {
            branch1: next(),
            branch2: [next(), next()],
            branch3: [next(), next()],
            branch4: next(),
        };
        Ok(Self {
            conv1,
            conv2,
            conv3,
            inception3a: inception(),
            inception3b: inception(),
            inception4a: inception(),
            inception4b: inception(),
            inception4c: inception(),
            inception4d: inception(),
            inception4e: inception(),
            inception5a: inception(),
            inception5b: inception(),
            preprocess,
            width_divisor,
            device: device.clone(),
        })
    }
}

fn width_divisor(checkpoint: &Checkpoint) -> Result<usize, InceptionError> {
    const KEY: &str = "conv1.conv.weight";
    let not_googlenet = |found: Vec<usize>| InceptionError::NotGoogLeNet {
        path: checkpoint.path().to_owned(),
        found,
    };
    let Some(shape) = checkpoint.shape(KEY) else {
        // Reading it produces the checkpoint's own "missing key" error, which lists the keys.
        checkpoint.tensor_any_shape(KEY)?;
        return Err(not_googlenet(Vec::new()));
    };
    match *shape {
        // Every torchvision width is a multiple of 8, so divisors up to 8 keep the structure.
        [out, 3, 7, 7] if out > 0 && 64 % out == 0 && 64 / out <= 8 => Ok(64 / out),
        _ => Err(not_googlenet(shape.to_vec())),
    }
}

/// Reads one `BasicConv2d` and folds its eval-mode BatchNorm into the convolution:
/// `bn(conv(x)) = conv(x, w * s) + (beta - mean * s)` with `s = gamma / sqrt(var + eps)`.
fn load_conv(
    checkpoint: &Checkpoint,
    spec: &ConvSpec,
    width_divisor: usize,
    device: &Device,
) -> Result<BasicConv2d, InceptionError> {
    let c_in = narrow(spec.in_channels, width_divisor);
    let c_out = narrow(spec.out_channels, width_divisor);
    let k = spec.kernel;
    let p = &spec.prefix;
    let weight = checkpoint.tensor(&format!("{p}.conv.weight"), &[c_out, c_in, k, k])?;
    let bn = |name: &str| checkpoint.tensor(&format!("{p}.bn.{name}"), &[c_out]);
    let (gamma, beta, mean, var) = (
        bn("weight")?,
        bn("bias")?,
        bn("running_mean")?,
        bn("running_var")?,
    );
    // f64 so the fold itself adds no rounding beyond the final cast.
    let scale: Vec<f64> = (0..c_out)
        .map(|o| f64::from(gamma.values[o]) / (f64::from(var.values[o]) + BN_EPS).sqrt())
        .collect();
    let per_out = c_in * k * k;
    let folded_weight: Vec<f32> = weight
        .values
        .iter()
        .enumerate()
        .map(|(i, &w)| (f64::from(w) * scale[i / per_out]) as f32)
        .collect();
    let folded_bias: Vec<f32> = (0..c_out)
        .map(|o| (f64::from(beta.values[o]) - f64::from(mean.values[o]) * scale[o]) as f32)
        .collect();
    Ok(BasicConv2d {
        weight: Tensor::from_data(TensorData::new(folded_weight, [c_out, c_in, k, k]), device),
        bias: Tensor::from_data(TensorData::new(folded_bias, [c_out]), device),
        padding: spec.padding,
        stride: spec.stride,
        host: Default::default(),
    })
}
