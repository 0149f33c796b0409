//! Neural networks and everything needed to load them: checkpoint reading, device choice,
//! BigGAN-deep and InceptionV1/DeepDream.

pub(crate) mod bands;
pub mod biggan;
pub mod checkpoint;
pub mod device;
pub mod fused;
pub(crate) mod im2col;
pub mod inception;
pub mod subnormals;
#[cfg(test)]
mod test_tensors;
pub(crate) mod vector_isa;
pub(crate) mod winograd;
