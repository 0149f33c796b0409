//! The two ways the kick drives DeepDream.
//!
//! - **Static** (the seed's method): the base image is dreamed once per depth `d` (`d` steps per
//!   octave, `d = 0` is the base itself) and each video frame shows the depth the kick asks for.
//!   A depth is dreamed the first time it is asked for and kept, so a song costs at most
//!   `max_depth` dreams whatever its length.
//! - **Flowing**: each frame dreams on the previous frame, zoomed in (and optionally rotated) a
//!   little about the centre, for as many steps as the kick asks: the picture travels into itself.

use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use burn::tensor::{Device, Tensor, TensorData};

use super::picture::{rgb8_to_tensor, tensor_to_rgb8};
use super::{dream_rng, DreamError, Dreamer};
use image::RgbImage;

/// The static mode's cache of dreamed depths of one base image.
pub struct StaticDream {
    /// The base image, `[1, 3, h, w]` in `[0, 1]`, on the dreamer's device.
    base: Tensor<4>,
    /// Seed for every depth's jitter: depths share their first rolls, so neighbouring depths
    /// differ by the extra steps only.
    seed: u64,
    /// `frames[d]` is the base dreamed with `d` steps per octave, once computed.
    frames: Vec<Option<RgbImage>>,
    /// How many dreams have been run (for tests and the editor's status line).
    num_dreams_run: usize,
}

impl StaticDream {
    /// Prepares depths `0..=max_depth` of `base` (RGB8, e.g. a user picture or a BigGAN frame)
    /// on `device`. Nothing is dreamed until a depth is asked for.
    pub fn new(base: &RgbImage, max_depth: usize, seed: u64, device: &Device) -> Self {
        let mut frames = vec![None; max_depth + 1];
        frames[0] = Some(base.clone());
        Self {
            base: rgb8_to_tensor(base, device),
            seed,
            frames,
            num_dreams_run: 0,
        }
    }

    /// The deepest depth available.
    pub fn max_depth(&self) -> usize {
        self.frames.len() - 1
    }

    /// How many dreams have been computed so far.
    pub fn num_dreams_run(&self) -> usize {
        self.num_dreams_run
    }

    /// Whether `depth` is already dreamed.
    pub fn is_ready(&self, depth: usize) -> bool {
        self.frames.get(depth).is_some_and(Option::is_some)
    }

    /// The deepest ready depth at or below `depth` and its frame (depth 0, the base, is always
    /// ready).
    pub fn nearest_ready(&self, depth: usize) -> (usize, &RgbImage) {
        let depth = depth.min(self.max_depth());
        (0..=depth)
            .rev()
            .find_map(|d| self.frames[d].as_ref().map(|frame| (d, frame)))
            .unwrap_or_else(|| (0, self.frames[0].as_ref().expect("depth 0 is the base")))
    }

    /// The shallowest depth not dreamed yet, if any.
    pub fn next_missing(&self) -> Option<usize> {
        self.frames.iter().position(Option::is_none)
    }

    /// The frame for `depth` (clamped to `max_depth`), dreaming it first if needed.
    pub fn frame(&mut self, dreamer: &Dreamer, depth: usize) -> Result<&RgbImage, DreamError> {
        let depth = depth.min(self.max_depth());
        if self.frames[depth].is_none() {
            let mut rng = dream_rng(self.seed);
            let dreamed = dreamer.dream(self.base.clone(), depth, &mut rng)?;
            self.frames[depth] = Some(tensor_to_rgb8(dreamed));
            self.num_dreams_run += 1;
        }
        Ok(self.frames[depth]
            .as_ref()
            .expect("the frame was stored just above"))
    }
}

/// How the flowing mode moves the picture between frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowSettings {
    /// Zoom per frame about the centre (1.0 = none; 1.02 enlarges by 2 %).
    pub zoom_per_frame: f32,
    /// Rotation per frame about the centre, in degrees (positive = counter-clockwise).
    pub rotation_deg_per_frame: f32,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self {
            zoom_per_frame: 1.02,
            rotation_deg_per_frame: 0.0,
        }
    }
}

/// The flowing mode: a dream that feeds on its own previous frame.
pub struct FlowingDream {
    /// The last frame, `[1, 3, h, w]` in `[0, 1]`, or the base before the first frame.
    current: Tensor<4>,
    /// The motion between frames.
    flow: FlowSettings,
    /// Seed of the jitter; frame `k` draws from `seed + k`.
    seed: u64,
    /// Index of the next frame.
    frame_idx: u64,
}

impl FlowingDream {
    /// Starts from `base` on `device`.
    pub fn new(base: &RgbImage, flow: FlowSettings, seed: u64, device: &Device) -> Self {
        Self {
            current: rgb8_to_tensor(base, device),
            flow,
            seed,
            frame_idx: 0,
        }
    }

    /// Changes the motion from the next frame on.
    pub fn set_flow(&mut self, flow: FlowSettings) {
        self.flow = flow;
    }

    /// Index of the next frame.
    pub fn frame_idx(&self) -> u64 {
        self.frame_idx
    }

    /// The next frame: the previous one moved by the flow (not for the first frame), then dreamed
    /// for `num_steps_per_octave` steps per octave.
    pub fn next_frame(
        &mut self,
        dreamer: &Dreamer,
        num_steps_per_octave: usize,
    ) -> Result<RgbImage, DreamError> {
        let start = if self.frame_idx == 0 {
            self.current.clone()
        } else {
            warp_zoom_rotate(
                self.current.clone(),
                self.flow.zoom_per_frame,
                self.flow.rotation_deg_per_frame,
            )
        };
        let mut rng = dream_rng(self.seed.wrapping_add(self.frame_idx));
        let dreamed = dreamer.dream(start, num_steps_per_octave, &mut rng)?;
        self.current = dreamed.clone();
        self.frame_idx += 1;
        Ok(tensor_to_rgb8(dreamed))
    }
}

/// Zooms `x` (`[1, c, h, w]`) by `zoom` about its centre and rotates it by `rotation_deg`
/// (counter-clockwise), keeping its size; pixels pulled in from outside repeat the border.
pub fn warp_zoom_rotate(x: Tensor<4>, zoom: f32, rotation_deg: f32) -> Tensor<4> {
    if zoom == 1.0 && rotation_deg == 0.0 {
        return x;
    }
    let device = x.device();
    let [_, _, h, w] = x.dims();
    let (sin, cos) = f64::from(rotation_deg).to_radians().sin_cos();
    let zoom = f64::from(zoom);
    // Output pixel centre (u, v) in pixels from the image centre samples the input at the
    // inverse rotation of (u, v) / zoom; the grid is in grid_sample's [-1, 1] units
    // (align_corners=false: -1 and 1 are the outer pixel edges).
    let (half_w, half_h) = (w as f64 / 2.0, h as f64 / 2.0);
    let mut grid = Vec::with_capacity(h * w * 2);
    for row in 0..h {
        for col in 0..w {
            let u = col as f64 + 0.5 - half_w;
            let v = row as f64 + 0.5 - half_h;
            // The inverse of a counter-clockwise turn on screen, with rows growing downwards.
            let src_u = (cos * u - sin * v) / zoom;
            let src_v = (sin * u + cos * v) / zoom;
            grid.push((src_u / half_w) as f32);
            grid.push((src_v / half_h) as f32);
        }
    }
    let grid = Tensor::<4>::from_data(TensorData::new(grid, [1, h, w, 2]), &device);
    x.grid_sample_2d(
        grid,
        GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Border),
    )
}
