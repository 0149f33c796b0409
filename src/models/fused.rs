//! Element-wise work between convolutions, fused into one parallel pass on the CPU backend.
//!
//! burn's CPU backend runs each broadcast add, multiply and ReLU as its own pass over the
//! whole tensor, on the calling thread, into a new buffer: a conditional batch norm with ReLU
//! is four such passes while the other cores wait. On the CPU these functions take the
//! tensor's buffer (burn hands a uniquely held, contiguous buffer over without a copy), do the
//! whole expression in one pass over rayon's pool and hand it back. On other backends they are
//! the same expression in burn ops, which the GPU backends run as kernels of their own.

use burn::tensor::activation::relu;
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// Elements each rayon task takes at least: below this, handing work to another thread costs
/// more than the work.
pub(crate) const MIN_ELEMENTS_PER_TASK: usize = 16 * 1024;

/// Whether `x` lives in host memory as `f32` (burn's CPU backend) and is not tracked for
/// gradients, where the fused passes run (a pass on the buffer would cut autodiff's graph).
pub(crate) fn on_host(x: &Tensor<4>) -> bool {
    x.dtype() == DType::F32 && x.device() == Device::flex() && !x.is_autodiff()
}

/// The values of a CPU backend tensor's data, row-major.
pub(crate) fn host_slice(data: &TensorData) -> &[f32] {
    data.as_slice::<f32>()
        .expect("the CPU backend's float tensors are f32")
}

/// The gradient through a ReLU: `grad` where the ReLU's `output` is positive, 0 elsewhere (as
/// burn's and PyTorch's). A select, not a branch: it vectorises.
#[inline(always)]
pub(crate) fn relu_grad(grad: f32, output: f32) -> f32 {
    if output <= 0.0 {
        0.0
    } else {
        grad
    }
}

/// `len` zeros, written by rayon's threads. `vec![0.0; len]` of a large buffer is zero-filled by
/// `calloc` on the calling thread (glibc reuses freed heap memory for it once its mmap threshold
/// has grown) while the other cores wait: our CPU kernels' outputs are allocated here.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.spare_capacity_mut()[..len]
        .par_chunks_mut(MIN_ELEMENTS_PER_TASK)
        .for_each(|chunk| chunk.fill(std::mem::MaybeUninit::new(0.0)));
    // SAFETY: the first `len` elements were all written just above.
    unsafe { values.set_len(len) };
    values
}

/// The values of a small tensor (per-channel factors), row-major.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("the CPU backend's float tensors are f32")
}

/// Runs `pass(plane_index, plane)` over every `[H, W]` plane of `x` (`[B, C, H, W]`) in
/// parallel, in place.
pub(crate) fn for_each_plane(x: Tensor<4>, pass: impl Fn(usize, &mut [f32]) + Sync) -> Tensor<4> {
    let device = x.device();
    let shape = x.dims();
    let plane_len = shape[2] * shape[3];
    let mut data = x.into_data();
    let buffer = data
        .as_mut_slice::<f32>()
        .expect("the CPU backend's float tensors are f32");
    if plane_len > 0 {
        buffer
            .par_chunks_mut(plane_len)
            .with_min_len(MIN_ELEMENTS_PER_TASK.div_ceil(plane_len))
            .enumerate()
            .for_each(|(plane, values)| pass(plane, values));
    }
    Tensor::from_data(data, &device)
}

/// `relu(x · gain + bias)` with one gain and bias per sample and channel: `x` `[B, C, H, W]`,
/// `gain` and `bias` `[B, C]` or `[1, C]` (the same for every sample).
pub fn affine_relu(x: Tensor<4>, gain: Tensor<2>, bias: Tensor<2>) -> Tensor<4> {
    let [batch, channels, _, _] = x.dims();
    if !on_host(&x) {
        let [gain_rows, _] = gain.dims();
        return relu(
            x * gain.reshape([gain_rows, channels, 1, 1])
                + bias.reshape([gain_rows, channels, 1, 1]),
        );
    }
    let (gain_rows, gain, bias) = (gain.dims()[0], values(gain), values(bias));
    debug_assert!(gain_rows == 1 || gain_rows == batch);
    for_each_plane(x, |plane, values| {
        let (sample, channel) = (plane / channels, plane % channels);
        let row = if gain_rows == 1 { 0 } else { sample };
        let (g, b) = (
            gain[row * channels + channel],
            bias[row * channels + channel],
        );
        for v in values {
            *v = (*v * g + b).max(0.0);
        }
    })
}

/// `h + skip`, with `skip` up-sampled ×2 (nearest) first when `up_sample`: `h` `[B, C, H, W]`,
/// `skip` `[B, C, H, W]` or `[B, C, H/2, W/2]`. The residual sum that ends a generator block.
pub fn add_skip(h: Tensor<4>, skip: Tensor<4>, up_sample: bool) -> Tensor<4> {
    if !on_host(&h) {
        let skip = if up_sample {
            super::biggan::model::upsample_nearest_2x(skip)
        } else {
            skip
        };
        return h + skip;
    }
    let width = h.dims()[3];
    let skip_width = skip.dims()[3];
    let skip_plane_len = skip.dims()[2] * skip_width;
    let skip = skip.into_data();
    let skip = host_slice(&skip);
    for_each_plane(h, |plane, values| {
        let source = &skip[plane * skip_plane_len..(plane + 1) * skip_plane_len];
        if up_sample {
            for (y, row) in values.chunks_exact_mut(width).enumerate() {
                let source_row = &source[(y / 2) * skip_width..(y / 2 + 1) * skip_width];
                for (pair, s) in row.chunks_exact_mut(2).zip(source_row) {
                    pair[0] += s;
                    pair[1] += s;
                }
            }
        } else {
            for (v, s) in values.iter_mut().zip(source) {
                *v += s;
            }
        }
    })
}

/// The four phase outputs of a sub-pixel up-sampling convolution, `[B, 4·C, H+1, W+1]` with
/// phase (a, b) in channels `(2a + b)·C ..`, interleaved into `[B, C, 2H, 2W]`: pixel
/// (2i+a, 2j+b) from phase (a, b) at (i + a, j + b). The burn form of it
/// (`biggan::exec::interleave_phases_burn`: two stacks of four views) copies the data twice on
/// one thread.
pub fn interleave_phases(y: Tensor<4>, height: usize, width: usize) -> Tensor<4> {
    if !on_host(&y) {
        return super::biggan::exec::interleave_phases_burn(y, height, width);
    }
    let device = y.device();
    let [batch, channels, phase_h, phase_w] = y.dims();
    let c_out = channels / 4;
    let phase_len = phase_h * phase_w;
    let data = y.into_data();
    let phases = host_slice(&data);
    let (out_w, plane_len) = (2 * width, 4 * height * width);
    let mut out = vec![0.0f32; batch * c_out * plane_len];
    if plane_len > 0 {
        out.par_chunks_mut(plane_len)
            .with_min_len(MIN_ELEMENTS_PER_TASK.div_ceil(plane_len))
            .enumerate()
            .for_each(|(plane, values)| {
                let (sample, channel) = (plane / c_out, plane % c_out);
                for a in 0..2 {
                    for b in 0..2 {
                        let source =
                            (sample * channels + (2 * a + b) * c_out + channel) * phase_len;
                        for i in 0..height {
                            let row = &phases[source + (i + a) * phase_w + b..][..width];
                            let out_row = &mut values[(2 * i + a) * out_w..][..out_w];
                            for (j, v) in row.iter().enumerate() {
                                out_row[2 * j + b] = *v;
                            }
                        }
                    }
                }
            });
    }
    Tensor::from_data(
        TensorData::new(out, [batch, c_out, 2 * height, 2 * width]),
        &device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    fn random<const D: usize>(shape: [usize; D]) -> Tensor<D> {
        Tensor::random(shape, Distribution::Uniform(-2.0, 2.0), &Device::flex())
    }

    /// The unfused expression, in burn ops.
    fn affine_relu_reference(x: Tensor<4>, gain: Tensor<2>, bias: Tensor<2>) -> Tensor<4> {
        let [rows, channels] = gain.dims();
        relu(x * gain.reshape([rows, channels, 1, 1]) + bias.reshape([rows, channels, 1, 1]))
    }

    #[test]
    fn affine_relu_matches_the_burn_expression_per_sample_and_shared() {
        let x = random([3, 4, 5, 7]);
        for rows in [3, 1] {
            let (gain, bias) = (random([rows, 4]), random([rows, 4]));
            let expected = affine_relu_reference(x.clone(), gain.clone(), bias.clone());
            let fused = affine_relu(x.clone(), gain, bias);
            assert!(on_host(&fused));
            fused
                .into_data()
                .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
        }
    }

    #[test]
    fn affine_relu_leaves_a_shared_input_unchanged() {
        // A tensor still held elsewhere (the block's skip path holds its input) must be copied,
        // not written over.
        let x = random([1, 2, 3, 3]);
        let before = x.clone().into_data();
        let _ = affine_relu(x.clone(), random([1, 2]), random([1, 2]));
        x.into_data()
            .assert_approx_eq::<f32>(&before, Tolerance::absolute(0.0));
    }

    #[test]
    fn add_skip_matches_upsampling_then_adding() {
        let h = random([2, 3, 6, 8]);
        let small = random([2, 3, 3, 4]);
        let expected = h.clone() + crate::models::biggan::model::upsample_nearest_2x(small.clone());
        add_skip(h.clone(), small, true)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
        let same = random([2, 3, 6, 8]);
        add_skip(h.clone(), same.clone(), false)
            .into_data()
            .assert_approx_eq::<f32>(&(h + same).into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn add_skip_reads_a_narrowed_skip_correctly() {
        // The block's skip keeps the first half of the input's channels: a view, not a copy.
        let x = random([2, 6, 3, 4]);
        let skip = x.clone().narrow(1, 0, 3);
        let h = random([2, 3, 6, 8]);
        let expected = h.clone() + crate::models::biggan::model::upsample_nearest_2x(skip.clone());
        add_skip(h, skip, true)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn interleave_phases_matches_the_burn_form() {
        let (height, width) = (3, 5);
        let y = random([2, 4 * 3, height + 1, width + 1]);
        let expected =
            crate::models::biggan::exec::interleave_phases_burn(y.clone(), height, width);
        interleave_phases(y, height, width)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(0.0));
    }

    #[test]
    fn a_tensor_tracked_for_gradients_keeps_its_graph() {
        // A pass over the buffer would cut autodiff's graph: such tensors take the burn form.
        let x = random([1, 2, 3, 3]).autodiff().require_grad();
        let gain = Tensor::<2>::from_floats([[2.0, -1.0]], &Device::flex().autodiff());
        let bias = Tensor::<2>::zeros([1, 2], &Device::flex().autodiff());
        let grads = affine_relu(x.clone(), gain, bias).sum().backward();
        let grad = x.grad(&grads).expect("the input's gradient");
        assert_eq!(grad.dims(), [1, 2, 3, 3]);
    }

    #[test]
    fn an_empty_tensor_passes_through() {
        let x = Tensor::<4>::from_data(
            TensorData::new(Vec::<f32>::new(), [1, 2, 0, 3]),
            &Device::flex(),
        );
        assert_eq!(
            affine_relu(x, random([1, 2]), random([1, 2])).dims(),
            [1, 2, 0, 3]
        );
    }

    #[test]
    fn zeros_are_zeros_of_the_length_asked() {
        for len in [
            0,
            1,
            3,
            MIN_ELEMENTS_PER_TASK + 5,
            5 * MIN_ELEMENTS_PER_TASK,
        ] {
            let values = zeros(len);
            assert_eq!(values.len(), len);
            assert!(values.iter().all(|&v| v.to_bits() == 0), "{len}");
        }
    }
}
