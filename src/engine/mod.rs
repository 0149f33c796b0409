//! Engines turn a song's feature timeline into pictures, a batch of video frames at a time.
//!
//! A render (the CLI's `render`, the plugin's take renderer) drives a [`FrameSource`] and hands
//! each batch to the encoder; it does not care which model draws. [`biggan::BigGanFrames`] is the
//! BigGAN-deep engine (Director + generator), [`deepdream::DreamFrames`] the DeepDream engine
//! (kick envelope + GoogLeNet).

pub mod biggan;
pub mod deepdream;

use crate::director::DirectorError;
use crate::dream::DreamError;
use crate::export::ExportError;
use crate::models::biggan::BigGanError;

/// Why an engine could not render.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model failed.
    #[error(transparent)]
    Model(#[from] BigGanError),
    /// DeepDream failed.
    #[error(transparent)]
    Dream(#[from] DreamError),
    /// The director's settings are unusable.
    #[error(transparent)]
    Director(#[from] DirectorError),
    /// Reading or writing the latent vectors failed.
    #[error(transparent)]
    Vectors(#[from] ExportError),
    /// Latent vectors read back do not fit this render.
    #[error("the previous vectors in {path} do not fit this render: {reason}")]
    VectorsMismatch {
        /// The vectors file.
        path: String,
        /// What does not fit and what to do.
        reason: String,
    },
}

/// A sequence of video frames drawn on demand.
pub trait FrameSource {
    /// Frame width and height in pixels.
    fn frame_size_px(&self) -> (u32, u32);

    /// Draws up to `max_frames` next frames (RGB8, row-major) into `out`; returns how many were
    /// drawn, 0 after the last frame.
    fn next_frames(
        &mut self,
        max_frames: usize,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<usize, EngineError>;
}
