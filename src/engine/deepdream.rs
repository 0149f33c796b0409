//! The DeepDream engine as a [`FrameSource`]: each video frame's kick sets how deep its picture
//! dreams (see [`crate::dream::engine`] for the static and flowing modes).

use super::{EngineError, FrameSource};
use crate::director::input::FrameInputs;
use crate::dream::DreamEngine;

/// Video frames dreamed from a base picture, their depth following the song's kick.
pub struct DreamFrames {
    /// The dreaming engine (network, mode, kick envelope).
    engine: DreamEngine,
    /// The song's features per video frame.
    inputs: FrameInputs,
    /// Frames in the video.
    num_frames: u64,
    /// Index of the next frame to draw.
    next_frame_idx: u64,
    /// Width and height of every frame, in pixels (the base picture's).
    size_px: (u32, u32),
}

impl DreamFrames {
    /// `num_frames` frames of `engine`, whose base picture is `size_px`, driven by `inputs`.
    pub fn new(
        engine: DreamEngine,
        inputs: FrameInputs,
        num_frames: u64,
        size_px: (u32, u32),
    ) -> Self {
        Self {
            engine,
            inputs,
            num_frames,
            next_frame_idx: 0,
            size_px,
        }
    }
}

impl FrameSource for DreamFrames {
    fn frame_size_px(&self) -> (u32, u32) {
        self.size_px
    }

    fn next_frames(
        &mut self,
        max_frames: usize,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<usize, EngineError> {
        let mut num_drawn = 0;
        while num_drawn < max_frames && self.next_frame_idx < self.num_frames {
            let kick = self.inputs.get(self.next_frame_idx).kick;
            let (frame, _depth) = self.engine.next_frame(kick)?;
            debug_assert_eq!(frame.dimensions(), self.size_px);
            out.push(frame.into_raw());
            self.next_frame_idx += 1;
            num_drawn += 1;
        }
        Ok(num_drawn)
    }
}
