//! The Director: turns the feature timeline into what each video frame shows (BigGAN latents,
//! DeepDream depth). Every function here is pure and deterministic.

pub mod dream_depth;
