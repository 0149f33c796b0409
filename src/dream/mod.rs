//! DeepDream: gradient ascent on the input image to amplify what an InceptionV1 layer responds
//! to, at several scales (octaves), with the seed's gradient smoothing.
//!
//! - [`Dreamer`] holds the settings and a loaded [`InceptionV1`]; [`Dreamer::gradient`] is the
//!   gradient path (autodiff w.r.t. the image only), [`Dreamer::step`] one jittered, normalised,
//!   clamped ascent step, [`Dreamer::dream`] the octave loop.
//! - [`StaticDream`] and [`FlowingDream`] are the two ways the kick drives it (see `modes`);
//!   [`DreamEngine`] runs either from one kick value per video frame.
//! - Images are `[1, 3, h, w]` tensors of pixels in `[0, 1]`; [`picture`] converts from and to
//!   RGB8 buffers (a user's PNG/JPEG, or a BigGAN frame) and writes PNGs.

mod blur;
mod engine;
mod modes;
pub mod picture;

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use blur::{gaussian_blur, gaussian_kernel, reflect_index};
pub use engine::{dream_settings, DreamEngine, EngineSettings};
pub use modes::{warp_zoom_rotate, FlowSettings, FlowingDream, StaticDream};

use crate::models::inception::{InceptionError, InceptionV1, Layer};

/// Keeps a division by a vanishing gradient finite (the seed's and Google's 1e-8).
const NORM_EPS: f32 = 1e-8;

/// What is maximised at the chosen layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Mean of the activations (Google's `dream.ipynb` for a single layer; torch `act.mean()`).
    Mean,
    /// Mean of the squared activations: the seed's `reduce_mean(square(layer))`, an L2 objective
    /// (Google's `0.5·sum(act²)` differs by a constant factor, which normalisation removes).
    L2,
}

/// How a raw gradient becomes a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradientNorm {
    /// The seed's (Hvass-Labs' DeepDream tutorial): divide by the standard deviation, blur with
    /// Gaussians of σ, 2σ and σ/2 where σ = 0.5 + 4·step/steps grows over an octave's steps, sum,
    /// and divide by the sum's standard deviation. `blur_colour` also blurs across the three
    /// colour channels, as the seed's scalar σ does (it keeps the input's colours; off gives
    /// more psychedelic colours).
    SeedBlur {
        /// Blur across the colour channels too (the seed's behaviour).
        blur_colour: bool,
    },
    /// Divide by the mean absolute gradient (Google's `dream.ipynb`).
    MeanAbs,
}

/// Everything that shapes a dream, apart from the network, the image and the number of steps
/// per octave (the depth, which the kick sets per frame).
#[derive(Debug, Clone, PartialEq)]
pub struct DreamSettings {
    /// The layer whose activations are amplified.
    pub layer: Layer,
    /// What is maximised there.
    pub objective: Objective,
    /// Number of scales, the smallest `octave_scale^(num_octaves-1)` times smaller than the image.
    /// Octaves too small for the network to reach `layer` are skipped.
    pub num_octaves: usize,
    /// Size ratio between successive octaves (> 1).
    pub octave_scale: f32,
    /// Step length in pixel units (pixels span 0..1) after normalisation.
    pub step_size: f32,
    /// Gradient normalisation.
    pub norm: GradientNorm,
    /// Largest random roll of the image before each gradient, in pixels each way (0 = none).
    pub jitter_px: usize,
}

impl Default for DreamSettings {
    fn default() -> Self {
        Self {
            layer: Layer::Inception4c,
            objective: Objective::L2,
            num_octaves: 4,
            octave_scale: 1.4,
            // The seed's 3.0 per step on 0..255 pixels.
            step_size: 3.0 / 255.0,
            norm: GradientNorm::SeedBlur { blur_colour: true },
            jitter_px: 32,
        }
    }
}

/// What can go wrong while dreaming.
#[derive(Debug, thiserror::Error)]
pub enum DreamError {
    /// The network could not be loaded, or the image is too small for it.
    #[error(transparent)]
    Inception(#[from] InceptionError),
    /// A setting is outside what the algorithm accepts.
    #[error("invalid DeepDream setting: {0}")]
    BadSetting(String),
    /// An image file could not be read or written.
    #[error("{action} {path}: {reason}")]
    Image {
        /// "cannot read" or "cannot write".
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

/// A loaded network with dream settings: the DeepDream engine.
pub struct Dreamer {
    /// The network, frozen, on the plain (non-autodiff) device.
    model: InceptionV1,
    /// The settings every dream uses.
    settings: DreamSettings,
}

impl Dreamer {
    /// An engine dreaming with `model` as `settings` say.
    pub fn new(model: InceptionV1, settings: DreamSettings) -> Result<Self, DreamError> {
        validate(&settings)?;
        Ok(Self { model, settings })
    }

    /// The settings in use.
    pub fn settings(&self) -> &DreamSettings {
        &self.settings
    }

    /// Changes the settings (e.g. from automated plugin parameters).
    pub fn set_settings(&mut self, settings: DreamSettings) -> Result<(), DreamError> {
        validate(&settings)?;
        self.settings = settings;
        Ok(())
    }

    /// The network.
    pub fn model(&self) -> &InceptionV1 {
        &self.model
    }

    /// The device images must live on.
    pub fn device(&self) -> &Device {
        self.model.device()
    }

    /// The gradient of the objective at the settings' layer w.r.t. `pixels` (`[1, 3, h, w]`, in
    /// `[0, 1]`); only the image's gradient is computed, the network's weights are constants.
    pub fn gradient(&self, pixels: Tensor<4>) -> Result<Tensor<4>, DreamError> {
        let [_, _, h, w] = pixels.dims();
        self.model.check_input_size([h, w], self.settings.layer)?;
        Ok(objective_gradient(
            &self.model,
            pixels,
            self.settings.layer,
            self.settings.objective,
        ))
    }

    /// One ascent step: roll the image by a random offset, take the gradient, roll it back,
    /// normalise it (`step_idx` of `num_steps` sets the seed's blur width), add it times the
    /// step size, and clamp the pixels to `[0, 1]`.
    pub fn step(
        &self,
        pixels: Tensor<4>,
        step_idx: usize,
        num_steps: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<4>, DreamError> {
        let jitter = self.settings.jitter_px as i64;
        let (dy, dx) = if jitter > 0 {
            (
                rng.random_range(-jitter..=jitter),
                rng.random_range(-jitter..=jitter),
            )
        } else {
            (0, 0)
        };
        let rolled = roll(pixels.clone(), dy, dx);
        let grad = roll(self.gradient(rolled)?, -dy, -dx); // [1, 3, h, w]
        let update = normalised_update(grad, self.settings.norm, step_idx, num_steps);
        Ok((pixels + update * self.settings.step_size).clamp(0.0, 1.0))
    }

    /// Dreams `pixels` (`[1, 3, h, w]`, in `[0, 1]`) with the settings' octaves and
    /// `num_steps_per_octave` steps each, Google's way: the smallest octave is dreamed first; what
    /// each octave added (its *detail*) is scaled up and added to the next octave's image.
    /// The result has the input's size. `rng` draws the jitter.
    pub fn dream(
        &self,
        pixels: Tensor<4>,
        num_steps_per_octave: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<4>, DreamError> {
        self.dream_with_progress(pixels, num_steps_per_octave, rng, &mut |_, _| {})
    }

    /// [`Self::dream`], calling `on_step(steps_done, num_steps)` after every step (for progress
    /// bars; `num_steps` counts the steps of all octaves).
    pub fn dream_with_progress(
        &self,
        pixels: Tensor<4>,
        num_steps_per_octave: usize,
        rng: &mut ChaCha8Rng,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor<4>, DreamError> {
        let [_, _, h, w] = pixels.dims();
        self.model.check_input_size([h, w], self.settings.layer)?;
        if num_steps_per_octave == 0 {
            return Ok(pixels);
        }
        let sizes = self.octave_sizes([h, w]);
        let num_steps = sizes.len() * num_steps_per_octave;
        let mut steps_done = 0;
        let mut detail: Option<Tensor<4>> = None;
        let mut image = pixels.clone();
        for size in sizes {
            let base = if size == [h, w] {
                pixels.clone()
            } else {
                resize(pixels.clone(), size)
            };
            image = match detail {
                Some(detail) if detail.dims()[2..] == size[..] => base.clone() + detail,
                Some(detail) => base.clone() + resize(detail, size),
                None => base.clone(),
            }
            .clamp(0.0, 1.0);
            for step_idx in 0..num_steps_per_octave {
                image = self.step(image, step_idx, num_steps_per_octave, rng)?;
                steps_done += 1;
                on_step(steps_done, num_steps);
            }
            detail = Some(image.clone() - base);
        }
        Ok(image)
    }

    /// The octaves' sizes, smallest first, ending with `hw` itself: side `round(side /
    /// scale^k)`, leaving out those too small to reach the layer.
    pub fn octave_sizes(&self, hw: [usize; 2]) -> Vec<[usize; 2]> {
        let scale = f64::from(self.settings.octave_scale);
        let mut sizes: Vec<[usize; 2]> = (0..self.settings.num_octaves.max(1))
            .map(|k| {
                let factor = scale.powi(k as i32);
                hw.map(|side| ((side as f64 / factor).round() as usize).max(1))
            })
            .filter(|&size| self.settings.layer.output_size(size).is_some())
            .collect();
        sizes.dedup();
        sizes.reverse();
        sizes
    }
}

fn validate(settings: &DreamSettings) -> Result<(), DreamError> {
    if !(settings.octave_scale.is_finite() && settings.octave_scale > 1.0) {
        return Err(DreamError::BadSetting(format!(
            "octave scale must be above 1, got {}",
            settings.octave_scale
        )));
    }
    if !(settings.step_size.is_finite() && settings.step_size > 0.0) {
        return Err(DreamError::BadSetting(format!(
            "step size must be positive, got {}",
            settings.step_size
        )));
    }
    if settings.num_octaves == 0 {
        return Err(DreamError::BadSetting(
            "at least one octave is needed".into(),
        ));
    }
    Ok(())
}

/// The input gradient of `objective` at `layer`. On the CPU backend the network's backward pass
/// is written out ([`InceptionV1::input_gradient`]: burn's autodiff cannot use the faster CPU
/// pool); elsewhere it is autodiff on the model's device, with the weights on the plain device,
/// so autodiff treats them as constants and computes no weight grads.
pub fn objective_gradient(
    model: &InceptionV1,
    pixels: Tensor<4>,
    layer: Layer,
    objective: Objective,
) -> Tensor<4> {
    let pixels = pixels.without_autodiff(); // [1, 3, h, w]
    if crate::models::fused::on_host(&pixels) {
        return model.input_gradient(pixels, layer, |activations| {
            let num = activations.dims().iter().product::<usize>() as f32;
            match objective {
                // d mean(a) / da = 1/N everywhere.
                Objective::Mean => activations.ones_like() / num,
                // d mean(a²) / da = 2a/N.
                Objective::L2 => activations * (2.0 / num),
            }
        });
    }
    let input = pixels.autodiff().require_grad(); // [1, 3, h, w]
    let activations = model.forward_to(input.clone(), layer); // [1, c, h', w']
    let loss = match objective {
        Objective::Mean => activations.mean(),
        Objective::L2 => activations.square().mean(),
    }; // [1]
    let grads = loss.backward();
    input
        .grad(&grads)
        .expect("the input requires grad and the loss depends on it")
}

/// The update direction for a step of size 1 (before multiplying by the step size).
pub fn normalised_update(
    grad: Tensor<4>,
    norm: GradientNorm,
    step_idx: usize,
    num_steps: usize,
) -> Tensor<4> {
    match norm {
        GradientNorm::MeanAbs => {
            let scale = (grad.clone().abs().mean() + NORM_EPS).recip(); // [1]
            grad * scale.reshape([1, 1, 1, 1])
        }
        GradientNorm::SeedBlur { blur_colour } => {
            let grad = grad.clone() / (std_dev(grad) + NORM_EPS).reshape([1, 1, 1, 1]);
            let sigma = step_idx as f64 * 4.0 / num_steps.max(1) as f64 + 0.5;
            let smooth = gaussian_blur(grad.clone(), sigma, blur_colour)
                + gaussian_blur(grad.clone(), sigma * 2.0, blur_colour)
                + gaussian_blur(grad, sigma * 0.5, blur_colour);
            smooth.clone() / (std_dev(smooth) + NORM_EPS).reshape([1, 1, 1, 1])
        }
    }
}

/// Population standard deviation of all elements (numpy's `std`), as a 1-element tensor.
fn std_dev(x: Tensor<4>) -> Tensor<1> {
    let centred = x.clone() - x.mean().reshape([1, 1, 1, 1]);
    centred.square().mean().sqrt()
}

/// `torch.roll(x, (dy, dx), (2, 3))`: pixels pushed off one edge come back on the other.
fn roll(x: Tensor<4>, dy: i64, dx: i64) -> Tensor<4> {
    if dy == 0 && dx == 0 {
        return x;
    }
    x.roll(&[dy, dx], &[2, 3])
}

/// Bilinear resize to `size` (`[h, w]`) with half-pixel centres (torch's `align_corners=False`).
pub fn resize(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size(size),
    )
}

/// The jitter generator for `seed`; one per dream, so equal seeds give equal pictures.
pub fn dream_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
