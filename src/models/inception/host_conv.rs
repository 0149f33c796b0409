//! GoogLeNet's 3×3 layers (stride 1, padding 1) on the CPU backend through our own Winograd
//! convolution ([`crate::models::winograd`]), forward and input gradient: they are most of
//! DeepDream's work, and burn's CPU convolution takes ~1.5× as long for them.

use std::sync::{Arc, OnceLock};

use burn::tensor::{Tensor, TensorData};

use super::BasicConv2d;
use crate::models::fused::host_slice;
use crate::models::winograd::{conv3x3, Fusion, WinogradKernel};

/// A 3×3 layer's weights in the form the Winograd convolution takes, made on first use.
#[derive(Debug, Default, Clone)]
pub(super) struct HostKernels(Arc<OnceLock<Kernels>>);

/// See [`HostKernels`].
#[derive(Debug)]
struct Kernels {
    /// For the forward convolution.
    forward: WinogradKernel,
    /// For its input gradient.
    input_grad: WinogradKernel,
    /// The bias, per output channel.
    bias: Vec<f32>,
}

impl BasicConv2d {
    /// Whether this layer runs as our Winograd convolution on the CPU backend.
    pub(super) fn runs_winograd(&self) -> bool {
        let [_, _, kh, kw] = self.weight.dims();
        [kh, kw, self.stride, self.padding] == [3, 3, 1, 1]
    }

    fn kernels(&self) -> &Kernels {
        self.host.0.get_or_init(|| {
            let [c_out, c_in, _, _] = self.weight.dims();
            let weight = self.weight.clone().into_data();
            let weight = host_slice(&weight);
            Kernels {
                forward: WinogradKernel::forward(weight, c_out, c_in),
                input_grad: WinogradKernel::input_grad(weight, c_out, c_in),
                bias: host_slice(&self.bias.clone().into_data()).to_vec(),
            }
        })
    }

    /// `relu(conv(x) + bias)` for a layer that [`Self::runs_winograd`], `x` on the CPU backend.
    pub(super) fn forward_winograd(&self, x: Tensor<4>) -> Tensor<4> {
        let kernels = self.kernels();
        let device = x.device();
        let [n, _, h, w] = x.dims();
        let x = x.into_data();
        let fusion = Fusion {
            bias: Some(&kernels.bias),
            relu: true,
            ..Fusion::default()
        };
        let y = conv3x3(host_slice(&x), [n, h, w], &kernels.forward, fusion);
        let c_out = kernels.forward.out_channels();
        Tensor::from_data(TensorData::new(y, [n, c_out, h, w]), &device)
    }

    /// The gradient at the input of a layer that [`Self::runs_winograd`] for `grad` at its
    /// ReLU's `output`.
    pub(super) fn input_grad_winograd(&self, grad: Tensor<4>, output: Tensor<4>) -> Tensor<4> {
        let kernels = self.kernels();
        let device = grad.device();
        let [n, _, h, w] = grad.dims();
        let (grad, output) = (grad.into_data(), output.into_data());
        let fusion = Fusion {
            relu_mask: Some(host_slice(&output)),
            ..Fusion::default()
        };
        let x_grad = conv3x3(host_slice(&grad), [n, h, w], &kernels.input_grad, fusion);
        let c_in = kernels.input_grad.out_channels();
        Tensor::from_data(TensorData::new(x_grad, [n, c_in, h, w]), &device)
    }
}
