//! The plugin's parameters (automatable settings with stable ids) and its persisted session state.
//!
//! Every setting of the two seed projects is a parameter here, with the seed's default. A
//! parameter that can change without reloading a model is automatable; the ones that pick a
//! model or change the video's timing (engine, resolution, frame rate) are not.
//!
//! The ids are part of every saved project and of every host's automation lanes: never change
//! one. `tests/clap_host.rs` checks them against `tests/fixtures/param_snapshot.txt`.

use std::path::PathBuf;
use std::sync::RwLock;

use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};

/// How many ImageNet classes the harmony can pick from: one per pitch class.
pub const NUM_PITCH_CLASSES: usize = 12;

/// Number of ImageNet classes; class indices are `0..NUM_IMAGENET_CLASSES`.
pub const NUM_IMAGENET_CLASSES: u16 = 1000;

/// The session-state version this build writes. Bump it and extend [`SessionState::migrate`]
/// when a persisted field changes meaning.
pub const SESSION_STATE_VERSION: u32 = 1;

/// Which model draws the pictures.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// BigGAN-deep: harmony picks ImageNet classes, loudness moves the noise vector.
    #[id = "biggan"]
    #[name = "BigGAN-deep"]
    BigGan,
    /// DeepDream on InceptionV1: the kick sets how deep the image dreams.
    #[id = "deepdream"]
    #[name = "DeepDream"]
    DeepDream,
}

/// Output image size in pixels (square), which is also the BigGAN-deep checkpoint to load.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// biggan-deep-128.
    #[id = "128"]
    #[name = "128 px"]
    Px128,
    /// biggan-deep-256.
    #[id = "256"]
    #[name = "256 px"]
    Px256,
    /// biggan-deep-512.
    #[id = "512"]
    #[name = "512 px"]
    Px512,
}

impl Resolution {
    /// The side length in pixels.
    pub fn pixels(self) -> u32 {
        match self {
            Resolution::Px128 => 128,
            Resolution::Px256 => 256,
            Resolution::Px512 => 512,
        }
    }
}

/// Video frame rate of the preview and of rendered takes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFps {
    /// 24 fps (film).
    #[id = "24"]
    #[name = "24 fps"]
    Fps24,
    /// 25 fps (PAL).
    #[id = "25"]
    #[name = "25 fps"]
    Fps25,
    /// 30 fps.
    #[id = "30"]
    #[name = "30 fps"]
    Fps30,
    /// 50 fps.
    #[id = "50"]
    #[name = "50 fps"]
    Fps50,
    /// 60 fps.
    #[id = "60"]
    #[name = "60 fps"]
    Fps60,
    /// The seed's rate: one frame per 512 samples at 22.05 kHz.
    #[id = "seed"]
    #[name = "43.07 fps (seed)"]
    Seed,
}

impl VideoFps {
    /// Frames per second as a rational `numerator / denominator`, so frame times stay exact.
    pub fn as_ratio(self) -> (u32, u32) {
        match self {
            VideoFps::Fps24 => (24, 1),
            VideoFps::Fps25 => (25, 1),
            VideoFps::Fps30 => (30, 1),
            VideoFps::Fps50 => (50, 1),
            VideoFps::Fps60 => (60, 1),
            VideoFps::Seed => (22050, 512),
        }
    }

    /// Frames per second.
    pub fn hz(self) -> f64 {
        let (num, den) = self.as_ratio();
        f64::from(num) / f64::from(den)
    }
}

/// The InceptionV1 layer whose activations DeepDream amplifies, in network order.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DreamLayer {
    /// First 7×7 convolution: edges and colour blobs.
    #[id = "conv1"]
    #[name = "conv1"]
    Conv1,
    /// 1×1 convolution after the first pool.
    #[id = "conv2"]
    #[name = "conv2"]
    Conv2,
    /// 3×3 convolution: textures.
    #[id = "conv3"]
    #[name = "conv3"]
    Conv3,
    /// First inception block.
    #[id = "inception3a"]
    #[name = "inception3a"]
    Inception3a,
    /// Second inception block.
    #[id = "inception3b"]
    #[name = "inception3b"]
    Inception3b,
    /// Patterns.
    #[id = "inception4a"]
    #[name = "inception4a"]
    Inception4a,
    /// Patterns and parts.
    #[id = "inception4b"]
    #[name = "inception4b"]
    Inception4b,
    /// Object parts: the classic DeepDream look.
    #[id = "inception4c"]
    #[name = "inception4c"]
    Inception4c,
    /// Object parts.
    #[id = "inception4d"]
    #[name = "inception4d"]
    Inception4d,
    /// Objects.
    #[id = "inception4e"]
    #[name = "inception4e"]
    Inception4e,
    /// Whole objects.
    #[id = "inception5a"]
    #[name = "inception5a"]
    Inception5a,
    /// The last block: whole objects and scenes.
    #[id = "inception5b"]
    #[name = "inception5b"]
    Inception5b,
}

/// How the kick drives DeepDream.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DreamMode {
    /// The seed's method: the base image is dreamed once per depth and each frame shows the
    /// depth of the kick. Cheap: at most `max_depth` dreams per base image.
    #[id = "static"]
    #[name = "Static"]
    Static,
    /// Each frame dreams on the previous one, zoomed (and rotated) a little: the picture travels.
    #[id = "flowing"]
    #[name = "Flowing"]
    Flowing,
}

/// Which input a group of features is taken from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureInput {
    /// The track's own audio, mixed to mono.
    #[id = "main"]
    #[name = "Main input"]
    Main,
    /// The sidechain input, mixed to mono (falls back to the main input when it is not connected).
    #[id = "sidechain"]
    #[name = "Sidechain"]
    Sidechain,
}

/// Everything the plugin persists beyond its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionState {
    /// Format version of this struct, so a later build can migrate an old project.
    pub version: u32,
    /// The ImageNet class (0–999) drawn for each pitch class, in pitch order C, C#, …, B (or in
    /// priority order when "sort classes by power" is on).
    pub classes: [u16; NUM_PITCH_CLASSES],
    /// Seed for the noise vector, the jitter masks and anything else random, so a take renders
    /// the same twice.
    pub seed: u64,
    /// The picture DeepDream starts from; `None` dreams on a BigGAN frame.
    pub dream_image_path: Option<PathBuf>,
    /// Where rendered takes are written; `None` uses the user's video folder.
    pub output_dir: Option<PathBuf>,
    /// Editor window size in logical pixels, width then height.
    pub editor_size: (u32, u32),
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            version: SESSION_STATE_VERSION,
            // A fixed, varied default so a fresh instance looks like something; the user picks
            // their own in the editor or with `--classes` on the CLI.
            classes: [1, 130, 207, 291, 323, 340, 417, 530, 609, 812, 937, 980],
            seed: 0,
            dream_image_path: None,
            output_dir: None,
            editor_size: (960, 640),
        }
    }
}

impl SessionState {
    /// Brings state saved by an older build up to [`SESSION_STATE_VERSION`], and clamps values a
    /// hand-edited or corrupt project could carry.
    pub fn migrate(mut self) -> Self {
        // Version 1 is the first; there is nothing older to convert yet. A state with a newer
        // version is kept as is: its known fields still mean the same.
        if self.version < SESSION_STATE_VERSION {
            self.version = SESSION_STATE_VERSION;
        }
        for class in &mut self.classes {
            *class = (*class).min(NUM_IMAGENET_CLASSES - 1);
        }
        self
    }
}

/// The key of [`SessionState`] among the plugin state's persisted fields.
const SESSION_FIELD_KEY: &str = "session";

/// Migrates the session field of a saved plugin state before the host's wrapper restores it.
///
/// A field that is not valid JSON for [`SessionState`] is dropped with a log line, so the
/// project still opens (with default classes and seed) instead of failing to load.
pub fn migrate_plugin_state(state: &mut PluginState) {
    let Some(json) = state.fields.get(SESSION_FIELD_KEY) else {
        return;
    };
    match serde_json::from_str::<SessionState>(json) {
        Ok(session) => {
            let migrated = session.migrate();
            match serde_json::to_string(&migrated) {
                Ok(json) => {
                    state.fields.insert(SESSION_FIELD_KEY.to_owned(), json);
                }
                Err(err) => nice_log!("could not re-encode the migrated session state: {err}"),
            }
        }
        Err(err) => {
            nice_log!("ignoring an unreadable saved session state ({err}); using defaults");
            // Replace rather than remove: a missing field would leave whatever session the
            // instance had before, so the same project could open differently.
            match serde_json::to_string(&SessionState::default()) {
                Ok(json) => {
                    state.fields.insert(SESSION_FIELD_KEY.to_owned(), json);
                }
                Err(_) => {
                    state.fields.remove(SESSION_FIELD_KEY);
                }
            }
        }
    }
}

/// All parameters of Deep Visualizer.
#[derive(Params)]
pub struct DeepVisualizerParams {
    /// Persisted non-parameter state: classes, seed, paths, editor size.
    #[persist = "session"]
    pub session: RwLock<SessionState>,

    /// Which engine draws the pictures. Not automatable: switching loads another model.
    #[id = "engine"]
    pub engine: EnumParam<Engine>,
    /// Image size. Not automatable: each size is another checkpoint.
    #[id = "resolution"]
    pub resolution: EnumParam<Resolution>,
    /// Video frame rate. Not automatable: a take's frames are indexed by it.
    #[id = "fps"]
    pub fps: EnumParam<VideoFps>,

    /// BigGAN settings, as in the seed's flags.
    #[nested(group = "BigGAN")]
    pub biggan: BigGanParams,
    /// DeepDream settings.
    #[nested(group = "DeepDream")]
    pub dream: DreamParams,
    /// Where the features come from.
    #[nested(group = "Analysis")]
    pub analysis: AnalysisParams,
}

/// The seed's BigGAN flags as parameters.
#[derive(Params)]
pub struct BigGanParams {
    /// How slowly the classes follow the harmony: lower reacts faster (seed `--pitch_sensitivity`).
    #[id = "pitch_sens"]
    pub pitch_sensitivity: FloatParam,
    /// How far loudness moves the noise vector (seed `--tempo_sensitivity`).
    #[id = "tempo_sens"]
    pub tempo_sensitivity: FloatParam,
    /// Largest class-vector entry (seed `--depth`).
    #[id = "depth"]
    pub depth: FloatParam,
    /// How many pitch classes (and so ImageNet classes) are used (seed `--num_classes`).
    #[id = "num_classes"]
    pub num_classes: IntParam,
    /// Map the strongest pitches to the classes in the user's priority order
    /// (seed `--sort_classes_by_power`).
    #[id = "sort_by_power"]
    pub sort_classes_by_power: BoolParam,
    /// How much the noise units' step sizes vary, so repeated music does not loop the picture
    /// (seed `--jitter`).
    #[id = "jitter"]
    pub jitter: FloatParam,
    /// BigGAN truncation: lower is more typical and less varied (seed `--truncation`).
    #[id = "truncation"]
    pub truncation: FloatParam,
    /// Class-vector smoothing window in video frames (seed `--smooth_factor`).
    #[id = "smoothing"]
    pub smoothing_frames: IntParam,
}

/// DeepDream settings.
#[derive(Params)]
pub struct DreamParams {
    /// The layer whose activations are amplified.
    #[id = "dream_layer"]
    pub layer: EnumParam<DreamLayer>,
    /// Number of scales the image is dreamed at, smallest first.
    #[id = "octaves"]
    pub octaves: IntParam,
    /// Size ratio between successive octaves.
    #[id = "octave_scale"]
    pub octave_scale: FloatParam,
    /// Gradient-ascent iterations at full kick.
    #[id = "max_depth"]
    pub max_depth: IntParam,
    /// Size of one gradient-ascent step, as a fraction of the pixel range.
    #[id = "dream_step"]
    pub step_size: FloatParam,
    /// How much of the dream depth survives from one video frame to the next.
    #[id = "kick_decay"]
    pub kick_decay: FloatParam,
    /// Static (dream the base once per depth) or flowing (each frame dreams on the last).
    #[id = "dream_mode"]
    pub mode: EnumParam<DreamMode>,
    /// Flowing mode: zoom per video frame, about the centre.
    #[id = "flow_zoom"]
    pub flow_zoom: FloatParam,
    /// Flowing mode: rotation per video frame, degrees counter-clockwise.
    #[id = "flow_rotation"]
    pub flow_rotation_deg: FloatParam,
}

/// Analysis settings.
#[derive(Params)]
pub struct AnalysisParams {
    /// Lower edge of the kick band.
    #[id = "kick_low"]
    pub kick_low_hz: FloatParam,
    /// Upper edge of the kick band.
    #[id = "kick_high"]
    pub kick_high_hz: FloatParam,
    /// Which input the kick is measured on.
    #[id = "kick_input"]
    pub kick_input: EnumParam<FeatureInput>,
    /// Which input loudness and harmony are measured on.
    #[id = "tonal_input"]
    pub tonal_input: EnumParam<FeatureInput>,
}

/// Formats a value with two decimals, for settings whose useful precision is 0.01.
fn two_decimals() -> std::sync::Arc<dyn Fn(f32) -> String + Send + Sync> {
    formatters::v2s_f32_rounded(2)
}

impl Default for DeepVisualizerParams {
    fn default() -> Self {
        Self {
            session: RwLock::new(SessionState::default()),
            engine: EnumParam::new("Engine", Engine::BigGan).non_automatable(),
            resolution: EnumParam::new("Resolution", Resolution::Px128).non_automatable(),
            fps: EnumParam::new("Frame Rate", VideoFps::Fps30).non_automatable(),
            biggan: BigGanParams::default(),
            dream: DreamParams::default(),
            analysis: AnalysisParams::default(),
        }
    }
}

impl Default for BigGanParams {
    fn default() -> Self {
        Self {
            // The seed accepts any value above 2 and recommends 5–200.
            pitch_sensitivity: FloatParam::new(
                "Pitch Sensitivity",
                50.0,
                FloatRange::Skewed {
                    min: 2.5,
                    max: 500.0,
                    factor: FloatRange::skew_factor(-2.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            tempo_sensitivity: FloatParam::new(
                "Tempo Sensitivity",
                0.2,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_value_to_string(two_decimals()),
            depth: FloatParam::new(
                "Depth",
                1.0,
                FloatRange::Linear {
                    min: 0.01,
                    max: 1.0,
                },
            )
            .with_value_to_string(two_decimals()),
            num_classes: IntParam::new("Classes", 12, IntRange::Linear { min: 1, max: 12 }),
            sort_classes_by_power: BoolParam::new("Sort Classes by Power", false),
            jitter: FloatParam::new("Jitter", 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_value_to_string(two_decimals()),
            // BigGAN-deep keeps BN statistics for truncations 0.02..1 in steps of 0.02; the model
            // is undefined at 0.
            truncation: FloatParam::new(
                "Truncation",
                1.0,
                FloatRange::Linear {
                    min: 0.02,
                    max: 1.0,
                },
            )
            .with_value_to_string(two_decimals()),
            smoothing_frames: IntParam::new("Smoothing", 10, IntRange::Linear { min: 1, max: 100 })
                .with_unit(" frames"),
        }
    }
}

impl Default for DreamParams {
    fn default() -> Self {
        Self {
            layer: EnumParam::new("Dream Layer", DreamLayer::Inception4c),
            octaves: IntParam::new("Octaves", 4, IntRange::Linear { min: 1, max: 8 }),
            octave_scale: FloatParam::new(
                "Octave Scale",
                1.4,
                FloatRange::Linear { min: 1.1, max: 2.0 },
            )
            .with_value_to_string(two_decimals()),
            max_depth: IntParam::new("Max Depth", 20, IntRange::Linear { min: 1, max: 50 })
                .with_unit(" steps"),
            // The seed's 3.0 per step on 0..255 pixels is about 0.012 of the range.
            step_size: FloatParam::new(
                "Step Size",
                0.012,
                FloatRange::Skewed {
                    min: 0.001,
                    max: 0.1,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(4)),
            kick_decay: FloatParam::new(
                "Kick Decay",
                0.93,
                FloatRange::Linear {
                    min: 0.5,
                    max: 0.999,
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(3))
            .with_unit(" /frame"),
            mode: EnumParam::new("Dream Mode", DreamMode::Static),
            flow_zoom: FloatParam::new(
                "Flow Zoom",
                1.02,
                FloatRange::Linear { min: 1.0, max: 1.1 },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(3))
            .with_unit(" /frame"),
            flow_rotation_deg: FloatParam::new(
                "Flow Rotation",
                0.0,
                FloatRange::Linear {
                    min: -5.0,
                    max: 5.0,
                },
            )
            .with_value_to_string(two_decimals())
            .with_unit(" °/frame"),
        }
    }
}

impl Default for AnalysisParams {
    fn default() -> Self {
        Self {
            kick_low_hz: FloatParam::new(
                "Kick Low",
                20.0,
                FloatRange::Skewed {
                    min: 10.0,
                    max: 200.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(1))
            .with_unit(" Hz"),
            kick_high_hz: FloatParam::new(
                "Kick High",
                120.0,
                FloatRange::Skewed {
                    min: 40.0,
                    max: 500.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(1))
            .with_unit(" Hz"),
            kick_input: EnumParam::new("Kick Input", FeatureInput::Main),
            tonal_input: EnumParam::new("Tonal Input", FeatureInput::Main),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_clamps_out_of_range_classes_and_upgrades_version() {
        let old = SessionState {
            version: 0,
            classes: [999, 1000, 65535, 0, 1, 2, 3, 4, 5, 6, 7, 8],
            ..SessionState::default()
        };
        let new = old.migrate();
        assert_eq!(new.version, SESSION_STATE_VERSION);
        assert_eq!(&new.classes[..3], &[999, 999, 999]);
        assert_eq!(new.classes[3], 0);
    }

    #[test]
    fn seed_frame_rate_is_22050_over_512() {
        assert!((VideoFps::Seed.hz() - 43.066_406_25).abs() < 1e-9);
    }
}
