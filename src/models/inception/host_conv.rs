//! GoogLeNet's convolutions on the CPU backend through our own kernels, forward and input
//! gradient: the 3×3 layers (stride 1, padding 1) through the Winograd convolution
//! ([`crate::models::winograd`]), the others (1×1 and the 7×7 stem) as image-to-columns and
//! matrix products ([`crate::models::im2col`]). burn's CPU convolution takes ~1.5× as long for
//! the 3×3 layers and runs the bias, the ReLU and its transposed convolution's scatter on few
//! threads.

use std::sync::{Arc, OnceLock};

use super::host::HostTensor;
use super::BasicConv2d;
use crate::models::fused::host_slice;
use crate::models::im2col::{conv_bias_relu, conv_input_grad, Geometry};
use crate::models::winograd::{conv3x3, Fusion, WinogradKernel};

/// A layer's weights in the form our CPU convolutions take, made on first use.
#[derive(Debug, Default, Clone)]
pub(super) struct HostKernels(Arc<OnceLock<Kernels>>);

/// See [`HostKernels`].
#[derive(Debug)]
struct Kernels {
    /// The weights for the convolution the layer runs as.
    form: Form,
    /// The bias, per output channel.
    bias: Vec<f32>,
}

/// See [`Kernels`].
#[derive(Debug)]
enum Form {
    /// A 3×3 layer's Winograd kernels.
    Winograd {
        /// For the forward convolution.
        forward: WinogradKernel,
        /// For its input gradient.
        input_grad: WinogradKernel,
    },
    /// Any other layer's weights, `[out, in, k, k]` row-major.
    Matrix(Vec<f32>),
}

impl BasicConv2d {
    /// Whether this layer runs as our Winograd convolution on the CPU backend.
    fn runs_winograd(&self) -> bool {
        let [_, _, kh, kw] = self.weight.dims();
        [kh, kw, self.stride, self.padding] == [3, 3, 1, 1]
    }

    fn kernels(&self) -> &Kernels {
        self.host.0.get_or_init(|| {
            let [c_out, c_in, _, _] = self.weight.dims();
            let weight = self.weight.clone().into_data();
            let weight = host_slice(&weight);
            let form = if self.runs_winograd() {
                Form::Winograd {
                    forward: WinogradKernel::forward(weight, c_out, c_in),
                    input_grad: WinogradKernel::input_grad(weight, c_out, c_in),
                }
            } else {
                Form::Matrix(weight.to_vec())
            };
            Kernels {
                form,
                bias: host_slice(&self.bias.clone().into_data()).to_vec(),
            }
        })
    }

    /// The layer's shape for an input of `in_hw`.
    fn geometry(&self, in_hw: [usize; 2]) -> Geometry {
        let [out_channels, in_channels, kernel, _] = self.weight.dims();
        Geometry {
            in_channels,
            out_channels,
            kernel,
            stride: self.stride,
            padding: self.padding,
            in_hw,
        }
    }

    /// `relu(conv(x) + bias)`.
    pub(super) fn forward_on_host(&self, x: &HostTensor) -> HostTensor {
        let kernels = self.kernels();
        let [n, _, h, w] = x.dims();
        let geometry = self.geometry([h, w]);
        let y = match &kernels.form {
            Form::Winograd { forward, .. } => {
                let fusion = Fusion {
                    bias: Some(&kernels.bias),
                    relu: true,
                    ..Fusion::default()
                };
                conv3x3(x.values(), [n, h, w], forward, fusion)
            }
            Form::Matrix(weight) => conv_bias_relu(x.values(), n, geometry, weight, &kernels.bias),
        };
        let [out_h, out_w] = geometry.out_hw();
        HostTensor::new(y, [n, geometry.out_channels, out_h, out_w])
    }

    /// The gradient at the input (`in_hw`) for `grad` at the layer's ReLU's `output`.
    pub(super) fn input_grad_on_host(
        &self,
        grad: &HostTensor,
        output: &HostTensor,
        in_hw: [usize; 2],
    ) -> HostTensor {
        let kernels = self.kernels();
        let [n, _, out_h, out_w] = grad.dims();
        let geometry = self.geometry(in_hw);
        let (grad, output) = (grad.values(), output.values());
        let x_grad = match &kernels.form {
            Form::Winograd { input_grad, .. } => {
                let fusion = Fusion {
                    relu_mask: Some(output),
                    ..Fusion::default()
                };
                conv3x3(grad, [n, out_h, out_w], input_grad, fusion)
            }
            Form::Matrix(weight) => conv_input_grad(grad, output, n, geometry, weight),
        };
        HostTensor::new(x_grad, [n, geometry.in_channels, in_hw[0], in_hw[1]])
    }
}
