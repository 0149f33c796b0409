//! GoogLeNet/InceptionV1 as torchvision defines it (`torchvision.models.googlenet`), up to any
//! layer from `conv1` to `inception5b`: the part DeepDream differentiates.
//!
//! Facts the code keeps (see `googlenet_deepdream_notes.md` in the shared reference):
//! - every convolution is torchvision's `BasicConv2d` (conv without bias, BatchNorm with eps 1e-3
//!   in eval mode, ReLU); the BatchNorm is folded into the convolution when the weights are
//!   loaded, which is exact in eval mode;
//! - an Inception block concatenates four branches: 1×1; 1×1→3×3; 1×1→**3×3** (torchvision keeps
//!   3×3 where the paper has 5×5, pytorch/vision#906); max-pool 3×3 stride 1 → 1×1;
//! - all max pools use `ceil_mode=True`;
//! - the ImageNet checkpoint expects `transform_input=True`: see [`Preprocess`].
//!
//! The channel widths are torchvision's divided by a *width divisor* read from the checkpoint
//! (1 for the real network; the test fixtures use 8 to stay small with the same keys and
//! structure).

mod gradient;
mod host;
mod host_conv;
mod load;
mod pool;

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

use crate::models::fused::on_host;
use gradient::Step;
use host::HostTensor;

pub use load::{expected_tensors, InceptionError};

/// The layers a DeepDream objective can use, in network order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// 7×7/2 convolution, 3 → 64 channels.
    Conv1,
    /// 1×1 convolution after the first pool, 64 → 64.
    Conv2,
    /// 3×3 convolution, 64 → 192.
    Conv3,
    /// Inception block, → 256 channels.
    Inception3a,
    /// Inception block, → 480 channels.
    Inception3b,
    /// Inception block after the third pool, → 512 channels.
    Inception4a,
    /// Inception block, → 512 channels.
    Inception4b,
    /// Inception block, → 512 channels: the classic DeepDream layer.
    Inception4c,
    /// Inception block, → 528 channels.
    Inception4d,
    /// Inception block, → 832 channels.
    Inception4e,
    /// Inception block after the fourth pool, → 832 channels.
    Inception5a,
    /// The last Inception block, → 1024 channels.
    Inception5b,
}

impl Layer {
    /// Every layer, in network order.
    pub const ALL: [Layer; 12] = [
        Layer::Conv1,
        Layer::Conv2,
        Layer::Conv3,
        Layer::Inception3a,
        Layer::Inception3b,
        Layer::Inception4a,
        Layer::Inception4b,
        Layer::Inception4c,
        Layer::Inception4d,
        Layer::Inception4e,
        Layer::Inception5a,
        Layer::Inception5b,
    ];

    /// torchvision's attribute name, which is also the checkpoint's key prefix.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Conv1 => "conv1",
            Layer::Conv2 => "conv2",
            Layer::Conv3 => "conv3",
            Layer::Inception3a => "inception3a",
            Layer::Inception3b => "inception3b",
            Layer::Inception4a => "inception4a",
            Layer::Inception4b => "inception4b",
            Layer::Inception4c => "inception4c",
            Layer::Inception4d => "inception4d",
            Layer::Inception4e => "inception4e",
            Layer::Inception5a => "inception5a",
            Layer::Inception5b => "inception5b",
        }
    }

    /// The layer called `name` (torchvision's spelling), if there is one.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|layer| layer.name() == name)
    }

    /// Output channels of the full-width network.
    pub fn num_channels_full(self) -> usize {
        match self {
            Layer::Conv1 | Layer::Conv2 => 64,
            Layer::Conv3 => 192,
            Layer::Inception3a => 256,
            Layer::Inception3b => 480,
            Layer::Inception4a | Layer::Inception4b | Layer::Inception4c => 512,
            Layer::Inception4d => 528,
            Layer::Inception4e | Layer::Inception5a => 832,
            Layer::Inception5b => 1024,
        }
    }

    /// The spatial size `[height, width]` of this layer's output for an input of `input_hw`, or
    /// `None` when the input is too small for the network to reach this layer.
    pub fn output_size(self, input_hw: [usize; 2]) -> Option<[usize; 2]> {
        if input_hw.contains(&0) {
            return None;
        }
        // conv1: 7×7, stride 2, padding 3.
        let mut size = input_hw.map(|s| (s - 1) / 2 + 1);
        // Each max pool sits after the last layer of a stage: (stage's last layer, kernel).
        for (last_layer, kernel) in [
            (Layer::Conv1, 3),
            (Layer::Conv3, 3),
            (Layer::Inception3b, 3),
            (Layer::Inception4e, 2),
        ] {
            if self <= last_layer {
                return Some(size);
            }
            for s in &mut size {
                *s = ceil_pool_output(*s, kernel, 2, 0)?;
            }
        }
        Some(size)
    }
}

/// PyTorch's output length for a max pool with `ceil_mode=True` and `padding` on each side, or
/// `None` when the input is shorter than the window reaches (PyTorch refuses those).
fn ceil_pool_output(input: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    // A window may hang over the end, but must start inside the input or the left padding:
    // with ceil mode PyTorch counts ceil((input + 2·padding − kernel) / stride) + 1 windows and
    // drops a last one starting past the input.
    if input == 0 {
        return None;
    }
    let span = (input + 2 * padding) as isize - kernel as isize;
    let mut num = (span + stride as isize - 1).div_euclid(stride as isize) + 1;
    if num >= 1 && (num - 1) * stride as isize >= (input + padding) as isize {
        num -= 1;
    }
    (num >= 1).then_some(num as usize)
}

/// How pixels in `[0, 1]` are turned into the network's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// The torchvision ImageNet checkpoint's convention: ImageNet mean/std normalisation followed
    /// by torchvision's `transform_input=True`, which together map a pixel `p` to `2p - 1` (the
    /// weights were ported from a network trained on `[-1, 1]` inputs).
    Pretrained,
    /// Feed the pixels unchanged (`transform_input=False`, no normalisation), as the random-weight
    /// reference models of the tests do.
    Identity,
}

/// ImageNet channel means, for torchvision's normalisation.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// `BasicConv2d` with its BatchNorm folded in: `relu(conv(x, weight) + bias)`.
#[derive(Debug, Clone)]
pub struct BasicConv2d {
    /// `conv.weight` scaled by the BatchNorm's `weight / sqrt(running_var + eps)`,
    /// `[out, in, k, k]`.
    weight: Tensor<4>,
    /// The BatchNorm's `bias - running_mean * scale`, `[out]`.
    bias: Tensor<1>,
    /// Zero padding on every side.
    padding: usize,
    /// Stride in both directions.
    stride: usize,
    /// The weights as the CPU backend's 3×3 convolution takes them, made on first use.
    host: host_conv::HostKernels,
}

impl BasicConv2d {
    /// `relu(conv(x) + bias)` in burn's ops, for any backend (autodiff included).
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new(
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        );
        burn::tensor::activation::relu(conv2d(
            x,
            self.weight.clone(),
            Some(self.bias.clone()),
            options,
        ))
    }
}

/// What flows between GoogLeNet's stages: burn tensors on any backend (autodiff included), or
/// [`HostTensor`]s between our own CPU kernels, whose stages can be recorded on a tape for the
/// backward pass ([`gradient`]).
trait Activation: Clone {
    /// `conv`'s output for this input, recorded on `tape` when there is one.
    fn conv<'a>(self, conv: &'a BasicConv2d, tape: Option<&mut Vec<Step<'a>>>) -> Self;

    /// torchvision's max pool (`ceil_mode=True`) of a square window, recorded on `tape` when
    /// there is one.
    fn max_pool<'a>(
        self,
        kernel: usize,
        stride: usize,
        padding: usize,
        tape: Option<&mut Vec<Step<'a>>>,
    ) -> Self;

    /// The four branches' outputs, concatenated along the channels.
    fn cat_channels(parts: [Self; 4]) -> Self;

    /// Channels.
    fn num_channels(&self) -> usize;
}

impl Activation for Tensor<4> {
    fn conv<'a>(self, conv: &'a BasicConv2d, tape: Option<&mut Vec<Step<'a>>>) -> Self {
        debug_assert!(tape.is_none(), "the tape records host tensors");
        conv.forward(self)
    }

    fn max_pool<'a>(
        self,
        kernel: usize,
        stride: usize,
        padding: usize,
        tape: Option<&mut Vec<Step<'a>>>,
    ) -> Self {
        debug_assert!(tape.is_none(), "the tape records host tensors");
        let options = MaxPoolOptions::new([kernel, kernel])
            .with_stride([stride, stride])
            .with_padding([padding, padding])
            .with_ceil_mode(true);
        max_pool2d(self, options)
    }

    fn cat_channels(parts: [Self; 4]) -> Self {
        Tensor::cat(parts.into(), 1)
    }

    fn num_channels(&self) -> usize {
        self.dims()[1]
    }
}

impl Activation for HostTensor {
    fn conv<'a>(self, conv: &'a BasicConv2d, tape: Option<&mut Vec<Step<'a>>>) -> Self {
        let [_, _, h, w] = self.dims();
        let output = conv.forward_on_host(&self);
        if let Some(tape) = tape {
            tape.push(Step::Conv {
                conv,
                input_hw: [h, w],
                output: output.clone(),
            });
        }
        output
    }

    fn max_pool<'a>(
        self,
        kernel: usize,
        stride: usize,
        padding: usize,
        tape: Option<&mut Vec<Step<'a>>>,
    ) -> Self {
        let [_, _, h, w] = self.dims();
        let out_hw = [h, w].map(|len| {
            ceil_pool_output(len, kernel, stride, padding).expect("the caller checked the size")
        });
        let pooled = pool::max_pool(self, kernel, stride, padding, out_hw);
        let output = pooled.output.clone();
        if let Some(tape) = tape {
            tape.push(Step::Pool(Box::new(pooled)));
        }
        output
    }

    fn cat_channels(parts: [Self; 4]) -> Self {
        HostTensor::cat_channels(&parts)
    }

    fn num_channels(&self) -> usize {
        self.dims()[1]
    }
}

/// torchvision's `Inception` block; field names follow its state-dict keys.
#[derive(Debug, Clone)]
pub struct Inception {
    /// `branch1`: 1×1.
    branch1: BasicConv2d,
    /// `branch2.0` and `branch2.1`: 1×1 then 3×3.
    branch2: [BasicConv2d; 2],
    /// `branch3.0` and `branch3.1`: 1×1 then 3×3 (5×5 in the paper; torchvision's choice kept).
    branch3: [BasicConv2d; 2],
    /// `branch4.1`: the 1×1 after the 3×3 stride-1 max pool (`branch4.0`, no weights).
    branch4: BasicConv2d,
}

impl Inception {
    /// The block's output, its branches recorded on `tape` when there is one.
    fn run<'a, A: Activation>(&'a self, x: A, tape: Option<&mut Vec<Step<'a>>>) -> A {
        let mut branches: [Vec<Step<'a>>; 4] = Default::default();
        let record = tape.is_some();
        let [t1, mut t2, mut t3, mut t4] = branches.each_mut().map(|t| record.then_some(t));
        let b1 = x.clone().conv(&self.branch1, t1); // [n, c1, h, w]
        let mid = x.clone().conv(&self.branch2[0], t2.as_deref_mut());
        let b2 = mid.conv(&self.branch2[1], t2); // [n, c2, h, w]
        let mid = x.clone().conv(&self.branch3[0], t3.as_deref_mut());
        let b3 = mid.conv(&self.branch3[1], t3); // [n, c3, h, w]
        let pooled = x.max_pool(3, 1, 1, t4.as_deref_mut()); // [n, c_in, h, w]
        let b4 = pooled.conv(&self.branch4, t4); // [n, c4, h, w]
        let widths = [&b1, &b2, &b3, &b4].map(|b| b.num_channels());
        if let Some(tape) = tape {
            tape.push(Step::Block { branches, widths });
        }
        A::cat_channels([b1, b2, b3, b4]) // [n, c1+c2+c3+c4, h, w]
    }
}

/// GoogLeNet's feature layers with loaded, frozen weights.
///
/// The weights live on a device without autodiff: a gradient taken through [`Self::forward_to`]
/// with an autodiff input treats them as constants, so only the input's gradient is computed.
#[derive(Debug, Clone)]
pub struct InceptionV1 {
    /// 7×7/2 stem convolution.
    conv1: BasicConv2d,
    /// 1×1 convolution.
    conv2: BasicConv2d,
    /// 3×3 convolution.
    conv3: BasicConv2d,
    /// Inception blocks, in network order (3a, 3b, 4a–4e, 5a, 5b).
    inception3a: Inception,
    /// See `inception3a`.
    inception3b: Inception,
    /// See `inception3a`.
    inception4a: Inception,
    /// See `inception3a`.
    inception4b: Inception,
    /// See `inception3a`.
    inception4c: Inception,
    /// See `inception3a`.
    inception4d: Inception,
    /// See `inception3a`.
    inception4e: Inception,
    /// See `inception3a`.
    inception5a: Inception,
    /// See `inception3a`.
    inception5b: Inception,
    /// How pixels become network input.
    preprocess: Preprocess,
    /// torchvision's channel counts divided by this (1 for the ImageNet checkpoint).
    width_divisor: usize,
    /// Where the weights live.
    device: Device,
}

impl InceptionV1 {
    /// The device holding the weights.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The input convention in use.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// torchvision's channel counts divided by this give this network's (1 = full width).
    pub fn width_divisor(&self) -> usize {
        self.width_divisor
    }

    /// Output channels of `layer` in this network.
    pub fn num_channels(&self, layer: Layer) -> usize {
        layer.num_channels_full() / self.width_divisor
    }

    /// Checks that an image of `input_hw` pixels reaches `layer` with at least one pixel.
    pub fn check_input_size(
        &self,
        input_hw: [usize; 2],
        layer: Layer,
    ) -> Result<(), InceptionError> {
        match layer.output_size(input_hw) {
            Some(_) => Ok(()),
            None => Err(InceptionError::InputTooSmall {
                height: input_hw[0],
                width: input_hw[1],
                layer: layer.name(),
            }),
        }
    }

    /// Maps pixels in `[0, 1]` (`[n, 3, h, w]`) to the network's input.
    pub fn preprocess_pixels(&self, pixels: Tensor<4>) -> Tensor<4> {
        match self.preprocess {
            Preprocess::Identity => pixels,
            Preprocess::Pretrained => {
                // Written as torchvision computes it (normalise, then `_transform_input`), not
                // as the algebraically equal `2p - 1`, so rounding matches PyTorch's.
                let device = pixels.device();
                let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
                let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
                let normalised = (pixels - mean.clone()) / std.clone(); // [n, 3, h, w]
                normalised * (std / 0.5) + (mean - 0.5) / 0.5 // [n, 3, h, w]
            }
        }
    }

    /// Runs pixels in `[0, 1]` (`[n, 3, h, w]`) through the network and returns `layer`'s output.
    ///
    /// Callers check the size first with [`Self::check_input_size`]: the backends panic on an
    /// input too small for a pooling window.
    pub fn forward_to(&self, pixels: Tensor<4>, layer: Layer) -> Tensor<4> {
        let x = self.preprocess_pixels(pixels); // [n, 3, h, w]
        if on_host(&x) {
            let device = x.device();
            return self
                .run(HostTensor::from_tensor(x), layer, None)
                .into_tensor(&device);
        }
        self.run(x, layer, None)
    }

    /// The network from its (preprocessed) input `x` to `layer`'s output, each stage recorded
    /// on `tape` when there is one.
    fn run<'a, A: Activation>(
        &'a self,
        x: A,
        layer: Layer,
        mut tape: Option<&mut Vec<Step<'a>>>,
    ) -> A {
        let x = x.conv(&self.conv1, tape.as_deref_mut()); // [n, 64, h/2, w/2]
        if layer == Layer::Conv1 {
            return x;
        }
        let x = x.max_pool(3, 2, 0, tape.as_deref_mut()); // [n, 64, h/4, w/4]
        let x = x.conv(&self.conv2, tape.as_deref_mut()); // [n, 64, h/4, w/4]
        if layer == Layer::Conv2 {
            return x;
        }
        let x = x.conv(&self.conv3, tape.as_deref_mut()); // [n, 192, h/4, w/4]
        if layer == Layer::Conv3 {
            return x;
        }
        let x = x.max_pool(3, 2, 0, tape.as_deref_mut()); // [n, 192, h/8, w/8]
        let x = self.inception3a.run(x, tape.as_deref_mut()); // [n, 256, h/8, w/8]
        if layer == Layer::Inception3a {
            return x;
        }
        let x = self.inception3b.run(x, tape.as_deref_mut()); // [n, 480, h/8, w/8]
        if layer == Layer::Inception3b {
            return x;
        }
        let mut x = x.max_pool(3, 2, 0, tape.as_deref_mut()); // [n, 480, h/16, w/16]
        for (block, block_layer) in [
            (&self.inception4a, Layer::Inception4a), // [n, 512, h/16, w/16]
            (&self.inception4b, Layer::Inception4b), // [n, 512, h/16, w/16]
            (&self.inception4c, Layer::Inception4c), // [n, 512, h/16, w/16]
            (&self.inception4d, Layer::Inception4d), // [n, 528, h/16, w/16]
            (&self.inception4e, Layer::Inception4e), // [n, 832, h/16, w/16]
        ] {
            x = block.run(x, tape.as_deref_mut());
            if layer == block_layer {
                return x;
            }
        }
        let x = x.max_pool(2, 2, 0, tape.as_deref_mut()); // [n, 832, h/32, w/32]
        let x = self.inception5a.run(x, tape.as_deref_mut()); // [n, 832, h/32, w/32]
        if layer == Layer::Inception5a {
            return x;
        }
        self.inception5b.run(x, tape) // [n, 1024, h/32, w/32]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_torchvision_ceil_mode() {
        // 224 is the training size; 37×45 and 15×17 are the fixtures' odd sizes (PyTorch's
        // shapes printed by tests/make_dream_fixtures.py).
        assert_eq!(Layer::Conv1.output_size([224, 224]), Some([112, 112]));
        assert_eq!(Layer::Conv3.output_size([224, 224]), Some([56, 56]));
        assert_eq!(Layer::Inception3b.output_size([224, 224]), Some([28, 28]));
        assert_eq!(Layer::Inception4e.output_size([224, 224]), Some([14, 14]));
        assert_eq!(Layer::Inception5b.output_size([224, 224]), Some([7, 7]));
        assert_eq!(Layer::Conv1.output_size([37, 45]), Some([19, 23]));
        assert_eq!(Layer::Conv2.output_size([37, 45]), Some([9, 11]));
        assert_eq!(Layer::Inception3a.output_size([37, 45]), Some([4, 5]));
        assert_eq!(Layer::Inception4c.output_size([37, 45]), Some([2, 2]));
        assert_eq!(Layer::Inception5b.output_size([37, 45]), Some([1, 1]));
        assert_eq!(Layer::Inception5b.output_size([15, 17]), Some([1, 1]));
        assert_eq!(Layer::Conv1.output_size([1, 1]), Some([1, 1]));
        assert_eq!(Layer::Conv2.output_size([1, 1]), None);
    }

    #[test]
    fn layer_names_round_trip() {
        for layer in Layer::ALL {
            assert_eq!(Layer::from_name(layer.name()), Some(layer));
        }
        assert_eq!(Layer::from_name("inception6a"), None);
    }
}
