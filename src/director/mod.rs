//! Directors turn the feature timeline into the latent state an engine draws, one video frame at
//! a time. They are pure: no I/O, no clocks, and every random choice comes from a seeded RNG, so
//! the same features, settings and seed give the same frames in the CLI and in the plugin.
//!
//! - [`biggan`]: the seed's BigGAN dynamics (noise vector `z` moved by loudness, class vector `y`
//!   following the harmony), at any video frame rate.
//! - [`smoothing`]: the class-vector smoothing of the seed (block means, linear interpolation)
//!   and its causal counterpart for live use.
//! - [`input`]: what a director sees per video frame, aggregated from the Analyzer's frames.
//! - [`dream_depth`]: DeepDream's depth, the kick envelope that sets how deep each frame dreams.

pub mod biggan;
pub mod dream_depth;
pub mod input;
pub mod smoothing;

pub use biggan::{BigGanDirector, BigGanSettings, FrameLatents, HarmonyMode};
pub use input::{FeatureSample, FrameInput, FrameInputs};

/// The seed's step rate, 22050 / 512 ≈ 43.07 per second: every rate constant of the seed
/// (tempo and pitch sensitivity, smoothing, the jitter period) is defined per step at this rate.
pub const SEED_STEP_HZ: f64 = 22050.0 / 512.0;

/// Settings a director cannot work with. Each message names the setting and its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectorError {
    /// A numeric setting is outside its range (or not finite).
    #[error("{name} = {value} is out of range: it must be {expected}")]
    OutOfRange {
        /// The setting's name as the CLI spells it.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The valid range in words.
        expected: &'static str,
    },
    /// The class list has the wrong length.
    #[error(
        "{num_given} classes were given, but there must be 12 (one per pitch class) or as many as \
         num_classes ({num_classes})"
    )]
    ClassCount {
        /// How many classes the user gave.
        num_given: usize,
        /// The number of pitch classes in use.
        num_classes: usize,
    },
    /// A class index is beyond the model's classes.
    #[error("class {class_idx} does not exist: the model's classes are 0 to {}", class_dim - 1)]
    ClassIndex {
        /// The rejected index.
        class_idx: u32,
        /// The number of classes (1000 for ImageNet).
        class_dim: usize,
    },
}
