//! Tensors as GoogLeNet's CPU path passes them between its own kernels: values in host memory,
//! shared without copies.
//!
//! A burn tensor's values can only be read by taking its data, which copies the buffer (on the
//! calling thread, while the other cores wait) whenever another handle holds it too; and in
//! this network almost every activation has two holders: the next stage and the backward
//! pass's tape, or an Inception block's four branches. Here clones share one buffer, and the
//! kernels read it where it lies.

use std::ops::Range;
use std::sync::Arc;

use crate::models::fused::{zeros, MIN_ELEMENTS_PER_TASK};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// A `[batch, channels, height, width]` tensor's values, row-major, in host memory.
#[derive(Debug, Clone)]
pub(super) struct HostTensor {
    /// The values, shared by clones.
    buffer: Arc<Vec<f32>>,
    /// Where this tensor starts in `buffer` (a channel range of a batch of one is a view).
    start: usize,
    /// `[batch, channels, height, width]`.
    shape: [usize; 4],
}

impl HostTensor {
    /// A tensor of `shape` holding `values`.
    pub fn new(values: Vec<f32>, shape: [usize; 4]) -> Self {
        assert_eq!(values.len(), shape.iter().product::<usize>(), "{shape:?}");
        HostTensor {
            buffer: Arc::new(values),
            start: 0,
            shape,
        }
    }

    /// `tensor`'s values (a CPU backend tensor: its buffer is taken over, not copied, when
    /// nothing else holds it).
    pub fn from_tensor(tensor: Tensor<4>) -> Self {
        let shape = tensor.dims();
        let values = tensor
            .into_data()
            .try_into_vec::<f32>()
            .expect("the CPU backend's float tensors are f32");
        Self::new(values, shape)
    }

    /// A burn tensor on `device` with these values (the buffer handed over when this is its
    /// only holder).
    pub fn into_tensor(self, device: &Device) -> Tensor<4> {
        let shape = self.shape;
        Tensor::from_data(TensorData::new(self.into_values(), shape), device)
    }

    /// The values as a buffer of their own: the shared one itself when this tensor is all of it
    /// and its only holder, a copy otherwise.
    fn into_values(self) -> Vec<f32> {
        if self.start == 0 && self.len() == self.buffer.len() {
            Arc::try_unwrap(self.buffer).unwrap_or_else(|shared| shared.to_vec())
        } else {
            self.values().to_vec()
        }
    }

    /// The values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.buffer[self.start..self.start + self.len()]
    }

    /// `[batch, channels, height, width]`.
    pub fn dims(&self) -> [usize; 4] {
        self.shape
    }

    /// Number of values.
    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The channels `range` of every image: a view for a batch of one, a copy otherwise.
    pub fn narrow_channels(&self, range: Range<usize>) -> Self {
        let [batch, channels, height, width] = self.shape;
        assert!(range.end <= channels, "{range:?} of {channels} channels");
        let plane_len = height * width;
        let shape = [batch, range.len(), height, width];
        if batch == 1 {
            return HostTensor {
                buffer: Arc::clone(&self.buffer),
                start: self.start + range.start * plane_len,
                shape,
            };
        }
        let image_len = channels * plane_len;
        let values = self
            .values()
            .chunks_exact(image_len)
            .flat_map(|image| &image[range.start * plane_len..range.end * plane_len])
            .copied()
            .collect();
        Self::new(values, shape)
    }

    /// `parts` concatenated along the channels (they agree on the other dimensions).
    pub fn cat_channels(parts: &[HostTensor]) -> Self {
        let [batch, _, height, width] = parts[0].shape;
        let plane_len = height * width;
        let channels: usize = parts.iter().map(|part| part.shape[1]).sum();
        for part in parts {
            let [b, _, h, w] = part.shape;
            assert_eq!(
                [b, h, w],
                [batch, height, width],
                "concatenated shapes differ"
            );
        }
        let mut values = zeros(batch * channels * plane_len);
        // Each (image, part) block is one contiguous copy, in parallel.
        let mut blocks = Vec::with_capacity(batch * parts.len());
        let mut rest = &mut values[..];
        for image in 0..batch {
            for part in parts {
                let len = part.shape[1] * plane_len;
                let (block, tail) = rest.split_at_mut(len);
                let source = &part.values()[image * len..(image + 1) * len];
                blocks.push((block, source));
                rest = tail;
            }
        }
        blocks.into_par_iter().for_each(|(block, source)| {
            block
                .par_chunks_mut(MIN_ELEMENTS_PER_TASK)
                .zip(source.par_chunks(MIN_ELEMENTS_PER_TASK))
                .for_each(|(sink, source)| sink.copy_from_slice(source));
        });
        Self::new(values, [batch, channels, height, width])
    }

    /// `self + other`, element by element (the same shape), into `self`'s buffer when nothing
    /// else holds it.
    pub fn add(self, other: &HostTensor) -> Self {
        assert_eq!(self.shape, other.shape, "added shapes differ");
        let shape = self.shape;
        let mut values = self.into_values();
        values
            .par_chunks_mut(MIN_ELEMENTS_PER_TASK)
            .zip(other.values().par_chunks(MIN_ELEMENTS_PER_TASK))
            .for_each(|(sum, part)| {
                for (s, &p) in sum.iter_mut().zip(part) {
                    *s += p;
                }
            });
        Self::new(values, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(shape: [usize; 4]) -> HostTensor {
        let len = shape.iter().product::<usize>();
        HostTensor::new((0..len).map(|i| i as f32).collect(), shape)
    }

    #[test]
    fn channel_ranges_and_concatenation_match_burns() {
        let device = Device::flex();
        for batch in [1, 3] {
            let a = counting([batch, 5, 2, 3]);
            let b = HostTensor::new(vec![-1.0; batch * 2 * 6], [batch, 2, 2, 3]);
            let (ta, tb) = (
                a.clone().into_tensor(&device),
                b.clone().into_tensor(&device),
            );
            let cat = HostTensor::cat_channels(&[a.clone(), b.clone(), a.clone()]);
            let expected_cat = Tensor::cat(vec![ta.clone(), tb, ta], 1);
            assert_eq!(cat.dims(), expected_cat.dims());
            let expected = expected_cat
                .clone()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            assert_eq!(cat.values(), &expected[..]);

            let narrow = cat.narrow_channels(4..9);
            let expected = expected_cat.narrow(1, 4, 5);
            let expected = expected.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(narrow.values(), &expected[..]);
            // A view (or copy) turns back into a tensor of its own values.
            let back = narrow.clone().into_tensor(&device);
            assert_eq!(back.into_data().try_into_vec::<f32>().unwrap(), expected);

            let sum = narrow.clone().add(&narrow);
            let doubled: Vec<f32> = expected.iter().map(|v| 2.0 * v).collect();
            assert_eq!(sum.values(), &doubled[..]);
            // The sum did not write into the buffer the view shares.
            assert_eq!(narrow.values(), &expected[..]);
        }
    }
}
