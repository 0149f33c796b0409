//! The gradient of a function of a layer's output with respect to the input pixels, by hand,
//! on the CPU backend.
//!
//! burn's autodiff cannot run kernels of our own, and its CPU pool is slow (see [`super::pool`]).
//! DeepDream only needs the input's gradient through a fixed network, which is short to write
//! out: the forward pass records each stage ([`Step`]), and the backward pass walks them in
//! reverse: a ReLU passes the gradient where its output is positive, a convolution's input
//! gradient is the transposed convolution with the same weights (our own CPU kernels, see
//! [`super::host_conv`]), a pool sends each output's gradient to its maximum, an Inception block
//! splits the gradient among its branches and sums what comes back.

use burn::tensor::Tensor;

use super::host::HostTensor;
use super::pool::Pooled;
use super::{BasicConv2d, InceptionV1, Layer, Preprocess, IMAGENET_STD};
use crate::models::fused::on_host;

/// What the backward pass needs of one stage of the forward pass.
pub(super) enum Step<'a> {
    /// A convolution with its ReLU.
    Conv {
        /// The layer.
        conv: &'a BasicConv2d,
        /// Its input's `[height, width]`.
        input_hw: [usize; 2],
        /// Its output (after the ReLU).
        output: HostTensor,
    },
    /// A max pool.
    Pool(Box<Pooled>),
    /// An Inception block.
    Block {
        /// Each branch's stages, in order.
        branches: [Vec<Step<'a>>; 4],
        /// Each branch's output channels, in concatenation order.
        widths: [usize; 4],
    },
}

impl Step<'_> {
    /// The gradient at the stage's input for `grad` at its output.
    fn backward(self, grad: HostTensor) -> HostTensor {
        match self {
            Step::Conv {
                conv,
                input_hw,
                output,
            } => conv.input_grad_on_host(&grad, &output, input_hw),
            Step::Pool(pooled) => pooled.input_grad(grad),
            Step::Block { branches, widths } => {
                let mut start = 0;
                let mut sum: Option<HostTensor> = None;
                for (branch, width) in branches.into_iter().zip(widths) {
                    let part = backward(branch, grad.narrow_channels(start..start + width));
                    start += width;
                    sum = Some(match sum {
                        Some(sum) => sum.add(&part),
                        None => part,
                    });
                }
                sum.expect("a block has four branches")
            }
        }
    }
}

/// The gradient at the first stage's input for `grad` at the last one's output.
fn backward(steps: Vec<Step<'_>>, grad: HostTensor) -> HostTensor {
    steps
        .into_iter()
        .rev()
        .fold(grad, |grad, step| step.backward(grad))
}

impl InceptionV1 {
    /// The gradient with respect to `pixels` (`[n, 3, h, w]` in `[0, 1]`, on the CPU backend) of
    /// a function of `layer`'s output whose gradient `output_grad` gives from that output.
    /// Callers check the size first with [`Self::check_input_size`].
    pub fn input_gradient(
        &self,
        pixels: Tensor<4>,
        layer: Layer,
        output_grad: impl FnOnce(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        assert!(
            on_host(&pixels),
            "the input gradient by hand runs on the CPU backend; use autodiff elsewhere"
        );
        let device = pixels.device();
        let x = HostTensor::from_tensor(self.preprocess_pixels(pixels));
        let mut tape = Vec::new();
        let output = self.run(x, layer, Some(&mut tape)).into_tensor(&device);
        let grad = HostTensor::from_tensor(output_grad(output));
        let grad = backward(tape, grad).into_tensor(&device); // [n, 3, h, w]
        match self.preprocess {
            Preprocess::Identity => grad,
            Preprocess::Pretrained => {
                // The chain rule through `preprocess_pixels`, in the order autodiff takes it.
                let device = grad.device();
                let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
                grad * (std.clone() / 0.5) / std
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The tests' GoogLeNet of width divisor 8 (random weights saved by PyTorch).
    fn small_network(preprocess: Preprocess) -> InceptionV1 {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/deepdream/googlenet_w8.pth");
        InceptionV1::load(&path, preprocess, &Device::flex()).unwrap()
    }

    #[test]
    fn the_gradient_by_hand_matches_autodiff_at_every_layer() {
        for preprocess in [Preprocess::Pretrained, Preprocess::Identity] {
            let net = small_network(preprocess);
            // An even height (the stem drops no row) and an odd width (it drops one); pools
            // overhang.
            let pixels = Tensor::<4>::random(
                [1, 3, 44, 39],
                Distribution::Uniform(0.0, 1.0),
                &Device::flex(),
            );
            for layer in Layer::ALL {
                let by_hand = net.input_gradient(pixels.clone(), layer, |out| {
                    out.clone() * (2.0 / out.dims().iter().product::<usize>() as f32)
                });
                let input = pixels.clone().autodiff().require_grad();
                let loss = net.forward_to(input.clone(), layer).square().mean();
                let autodiff = input.grad(&loss.backward()).unwrap();
                let scale = autodiff.clone().abs().max().into_scalar::<f32>();
                let diff = (by_hand - autodiff).abs().max().into_scalar::<f32>();
                assert!(
                    diff <= 1e-4 * scale,
                    "{layer:?} {preprocess:?}: {diff} of {scale}"
                );
            }
        }
    }
}
