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

use crate::models::inception::Layer;
use serde::{Deserialize, Serialize};

use crate::settings::{self, ranges, Range, VisualSettings};
pub use crate::settings::{NUM_IMAGENET_CLASSES, NUM_PITCH_CLASSES};

/// The session-state version this build writes. Bump it and extend [`SessionState::migrate`]
/// when a persisted field changes meaning.
///
/// Version 2: `classes` became optional (`None` draws them from the seed, as the CLI does).
pub const SESSION_STATE_VERSION: u32 = 2;

/// The fixed classes version 1 gave every new instance; a version-1 project that still has them
/// never chose classes.
const V1_DEFAULT_CLASSES: [u16; NUM_PITCH_CLASSES] =
    [1, 130, 207, 291, 323, 340, 417, 530, 609, 812, 937, 980];

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
    /// The engine's seed's rate: 43.07 fps for BigGAN-deep, 30 fps for DeepDream (the CLI's
    /// default).
    #[id = "auto"]
    #[name = "Engine default"]
    EngineDefault,
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
    /// The chosen rate; `None` for the engine's default.
    pub fn frame_rate(self) -> Option<settings::FrameRate> {
        let fixed = |num| Some(settings::FrameRate { num, den: 1 });
        match self {
            VideoFps::EngineDefault => None,
            VideoFps::Fps24 => fixed(24),
            VideoFps::Fps25 => fixed(25),
            VideoFps::Fps30 => fixed(30),
            VideoFps::Fps50 => fixed(50),
            VideoFps::Fps60 => fixed(60),
            VideoFps::Seed => Some(settings::FrameRate::BIGGAN_SEED),
        }
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
    /// priority order when "sort classes by power" is on); `None` until the user picks them:
    /// 12 classes drawn from the seed, as the CLI does.
    pub classes: Option<[u16; NUM_PITCH_CLASSES]>,
    /// Seed for the noise vector, the jitter masks and anything else random, so a take renders
    /// the same twice.
    pub seed: u64,
    /// The picture DeepDream starts from; `None` dreams on a BigGAN frame.
    pub dream_image_path: Option<PathBuf>,
    /// Where rendered takes are written; `None` uses the user's video folder.
    pub output_dir: Option<PathBuf>,
    /// Editor window size in logical pixels, width then height.
    pub editor_size: (u32, u32),
    /// The ffmpeg program takes are encoded with; `None` uses `$DEEP_VISUALIZER_FFMPEG`, else
    /// the one beside the plugin or on `PATH` (a DAW's `PATH` is often not the shell's).
    pub ffmpeg_path: Option<PathBuf>,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            version: SESSION_STATE_VERSION,
            classes: None,
            seed: 0,
            dream_image_path: None,
            output_dir: None,
            editor_size: (960, 640),
            ffmpeg_path: None,
        }
    }
}

impl SessionState {
    /// Brings state saved by an older build up to [`SESSION_STATE_VERSION`], and clamps values a
    /// hand-edited or corrupt project could carry.
    pub fn migrate(mut self) -> Self {
        // Version 1 gave every instance the same fixed classes; unchanged, they were never a
        // choice, so they become "drawn from the seed" as in the CLI. A state with a newer
        // version is kept as is: its known fields still mean the same.
        if self.version < 2 && self.classes == Some(V1_DEFAULT_CLASSES) {
            self.classes = None;
        }
        if self.version < SESSION_STATE_VERSION {
            self.version = SESSION_STATE_VERSION;
        }
        if let Some(classes) = &mut self.classes {
            for class in classes {
                *class = (*class).min(NUM_IMAGENET_CLASSES - 1);
            }
        }
        // A window of 0 or a million pixels is a damaged project, not a wish.
        let (width, height) = self.editor_size;
        self.editor_size = (
            width.clamp(MIN_EDITOR_SIDE_PX, MAX_EDITOR_SIDE_PX),
            height.clamp(MIN_EDITOR_SIDE_PX, MAX_EDITOR_SIDE_PX),
        );
        self
    }
}

/// The smallest editor side a project may ask for, in logical pixels.
const MIN_EDITOR_SIDE_PX: u32 = 200;
/// The largest editor side a project may ask for, in logical pixels (beyond an 8K screen).
const MAX_EDITOR_SIDE_PX: u32 = 8192;

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
    /// Keep what the DAW plays (or bounces) as a take and render it to video when the transport
    /// stops. Automatable, so a producer can arm it for the chorus only.
    #[id = "record"]
    pub record: BoolParam,

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
    /// Class-vector smoothing in seed steps of 1/43.07 s, whatever the frame rate (seed
    /// `--smooth_factor`).
    #[id = "smoothing"]
    pub smooth_factor: IntParam,
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
            fps: EnumParam::new("Frame Rate", VideoFps::EngineDefault).non_automatable(),
            record: BoolParam::new("Record", false),
            biggan: BigGanParams::default(),
            dream: DreamParams::default(),
            analysis: AnalysisParams::default(),
        }
    }
}

/// A float parameter over `range`, skewed by `skew` (0 is linear, negative gives the low end
/// more travel).
fn float_param(title: &str, range: Range, skew: f32) -> FloatParam {
    let (min, max) = (range.min as f32, range.max as f32);
    let float_range = if skew == 0.0 {
        FloatRange::Linear { min, max }
    } else {
        FloatRange::Skewed {
            min,
            max,
            factor: FloatRange::skew_factor(skew),
        }
    };
    FloatParam::new(title, range.default as f32, float_range)
}

/// A float parameter over `range`, skewed symmetrically about `center`.
fn centred_param(title: &str, range: Range, center: f32) -> FloatParam {
    FloatParam::new(
        title,
        range.default as f32,
        FloatRange::SymmetricalSkewed {
            min: range.min as f32,
            max: range.max as f32,
            factor: FloatRange::skew_factor(-1.5),
            center,
        },
    )
}

/// An integer parameter over `range`.
fn int_param(title: &str, range: Range) -> IntParam {
    IntParam::new(
        title,
        range.default as i32,
        IntRange::Linear {
            min: range.min as i32,
            max: range.max as i32,
        },
    )
}

impl Default for BigGanParams {
    fn default() -> Self {
        Self {
            pitch_sensitivity: float_param("Pitch Sensitivity", ranges::PITCH_SENSITIVITY, -2.0)
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            tempo_sensitivity: float_param("Tempo Sensitivity", ranges::TEMPO_SENSITIVITY, -2.0)
                .with_value_to_string(two_decimals()),
            depth: float_param("Depth", ranges::DEPTH, 0.0)
                .with_value_to_string(formatters::v2s_f32_rounded(3)),
            num_classes: int_param("Classes", ranges::NUM_CLASSES),
            sort_classes_by_power: BoolParam::new("Sort Classes by Power", false),
            jitter: float_param("Jitter", ranges::JITTER, 0.0).with_value_to_string(two_decimals()),
            truncation: float_param("Truncation", ranges::TRUNCATION, 0.0)
                .with_value_to_string(two_decimals()),
            smooth_factor: int_param("Smoothing", ranges::SMOOTH_FACTOR).with_unit(" steps"),
        }
    }
}

impl Default for DreamParams {
    fn default() -> Self {
        Self {
            layer: EnumParam::new("Dream Layer", DreamLayer::Inception4c),
            octaves: int_param("Octaves", ranges::OCTAVES),
            octave_scale: float_param("Octave Scale", ranges::OCTAVE_SCALE, -1.0)
                .with_value_to_string(two_decimals()),
            max_depth: int_param("Max Depth", ranges::MAX_DEPTH).with_unit(" steps"),
            step_size: float_param("Step Size", ranges::STEP_SIZE, -2.5)
                .with_value_to_string(formatters::v2s_f32_rounded(4)),
            kick_decay: float_param("Kick Decay", ranges::KICK_DECAY, 2.0)
                .with_value_to_string(formatters::v2s_f32_rounded(3))
                .with_unit(" /frame"),
            mode: EnumParam::new("Dream Mode", DreamMode::Static),
            flow_zoom: centred_param("Flow Zoom", ranges::ZOOM, 1.0)
                .with_value_to_string(formatters::v2s_f32_rounded(3))
                .with_unit(" /frame"),
            flow_rotation_deg: centred_param("Flow Rotation", ranges::ROTATION_DEG, 0.0)
                .with_value_to_string(two_decimals())
                .with_unit(" °/frame"),
        }
    }
}

impl Default for AnalysisParams {
    fn default() -> Self {
        Self {
            kick_low_hz: float_param("Kick Low", ranges::KICK_LOW_HZ, -1.0)
                .with_value_to_string(formatters::v2s_f32_rounded(1))
                .with_unit(" Hz"),
            kick_high_hz: float_param("Kick High", ranges::KICK_HIGH_HZ, -1.0)
                .with_value_to_string(formatters::v2s_f32_rounded(1))
                .with_unit(" Hz"),
            kick_input: EnumParam::new("Kick Input", FeatureInput::Main),
            tonal_input: EnumParam::new("Tonal Input", FeatureInput::Main),
        }
    }
}

impl DeepVisualizerParams {
    /// The visual settings these parameters and the session state describe (see
    /// [`crate::settings`]).
    pub fn visual_settings(&self) -> VisualSettings {
        let session = self
            .session
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let b = &self.biggan;
        let d = &self.dream;
        let a = &self.analysis;
        VisualSettings {
            version: settings::SETTINGS_VERSION,
            engine: match self.engine.value() {
                Engine::BigGan => settings::EngineKind::Biggan,
                Engine::DeepDream => settings::EngineKind::Deepdream,
            },
            resolution_px: self.resolution.value().pixels(),
            fps: self.fps.value().frame_rate(),
            biggan: settings::BigGanVisual {
                pitch_sensitivity: b.pitch_sensitivity.value(),
                tempo_sensitivity: b.tempo_sensitivity.value(),
                depth: b.depth.value(),
                num_classes: b.num_classes.value().clamp(1, 12) as u8,
                sort_classes_by_power: b.sort_classes_by_power.value(),
                jitter: b.jitter.value(),
                truncation: f64::from(b.truncation.value()),
                smooth_factor: b.smooth_factor.value().max(1) as u32,
            },
            dream: settings::DreamVisual {
                layer: d.layer.value().layer(),
                octaves: d.octaves.value().max(1) as u32,
                octave_scale: d.octave_scale.value(),
                max_depth: d.max_depth.value().max(1) as u32,
                step_size: d.step_size.value(),
                kick_decay: d.kick_decay.value(),
                mode: match d.mode.value() {
                    DreamMode::Static => settings::DreamMode::Static,
                    DreamMode::Flowing => settings::DreamMode::Flowing,
                },
                zoom: d.flow_zoom.value(),
                rotation_deg: d.flow_rotation_deg.value(),
                image: session.dream_image_path.clone(),
                picture_size: settings::PictureSize::Resolution,
            },
            analysis: settings::AnalysisVisual {
                kick_low_hz: a.kick_low_hz.value(),
                kick_high_hz: a.kick_high_hz.value(),
                kick_input: a.kick_input.value().choice(),
                tonal_input: a.tonal_input.value().choice(),
            },
            classes: session.classes.map(|c| c.to_vec()),
            seed: session.seed,
        }
    }
}

impl DreamLayer {
    /// The network layer this value names.
    pub fn layer(self) -> Layer {
        Layer::ALL[self as usize]
    }
}

impl FeatureInput {
    /// The same choice in the settings model.
    pub fn choice(self) -> settings::InputChoice {
        match self {
            FeatureInput::Main => settings::InputChoice::Main,
            FeatureInput::Sidechain => settings::InputChoice::Sidechain,
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
            classes: Some([999, 1000, 65535, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
            ..SessionState::default()
        };
        let new = old.migrate();
        assert_eq!(new.version, SESSION_STATE_VERSION);
        let classes = new.classes.unwrap();
        assert_eq!(&classes[..3], &[999, 999, 999]);
        assert_eq!(classes[3], 0);
    }

    #[test]
    fn migrate_keeps_the_editor_size_on_a_screen() {
        let size = |editor_size| {
            SessionState {
                editor_size,
                ..SessionState::default()
            }
            .migrate()
            .editor_size
        };
        assert_eq!(size((0, 0)), (200, 200));
        assert_eq!(size((u32::MAX, 100_000)), (8192, 8192));
        assert_eq!(size((1234, 777)), (1234, 777));
    }

    #[test]
    fn version_1_default_classes_become_drawn_from_the_seed() {
        let old = SessionState {
            version: 1,
            classes: Some(V1_DEFAULT_CLASSES),
            ..SessionState::default()
        };
        assert_eq!(old.migrate().classes, None);
        let chosen = SessionState {
            version: 1,
            classes: Some([5; 12]),
            ..SessionState::default()
        };
        assert_eq!(chosen.migrate().classes, Some([5; 12]));
    }

    #[test]
    fn default_parameters_are_the_default_settings() {
        assert_eq!(
            DeepVisualizerParams::default().visual_settings(),
            VisualSettings::default()
        );
    }

    /// Parameters that are not visual settings: `record` arms take recording.
    const NOT_VISUAL: [&str; 1] = ["record"];

    #[test]
    fn every_parameter_maps_into_the_settings() {
        let defaults = VisualSettings::default();
        for (id, _, _) in DeepVisualizerParams::default().param_map() {
            if NOT_VISUAL.contains(&id.as_str()) {
                continue;
            }
            let params = DeepVisualizerParams::default();
            let map = params.param_map();
            let (_, ptr, _) = map.iter().find(|(i, _, _)| *i == id).unwrap();
            // SAFETY: `ptr` points into `params`, which outlives this block.
            let changed = unsafe {
                let other = if ptr.default_normalized_value() > 0.5 {
                    0.0
                } else {
                    1.0
                };
                ptr._internal_set_normalized_value(other);
                ptr.unmodulated_normalized_value() != ptr.default_normalized_value()
            };
            assert!(changed, "{id} did not move");
            assert_ne!(params.visual_settings(), defaults, "{id} maps to nothing");
        }
    }

    #[test]
    fn every_layer_value_names_its_layer() {
        for (idx, layer) in Layer::ALL.into_iter().enumerate() {
            let value = DreamLayer::from_index(idx);
            assert_eq!(value.layer(), layer);
            assert_eq!(layer.name(), DreamLayer::ids().unwrap()[idx]);
        }
    }

    #[test]
    fn every_parameter_range_is_the_settings_range() {
        let params = DeepVisualizerParams::default();
        let float = |p: &FloatParam, r: Range| {
            let (lo, hi) = (p.preview_plain(0.0), p.preview_plain(1.0));
            assert!(
                (f64::from(lo) - r.min).abs() < 1e-6 && (f64::from(hi) - r.max).abs() < 1e-6,
                "{}: {lo}..{hi} vs {r:?}",
                r.name
            );
            assert!((f64::from(p.default_plain_value()) - r.default).abs() < 1e-6);
        };
        let int = |p: &IntParam, r: Range| {
            assert_eq!(
                (p.preview_plain(0.0), p.preview_plain(1.0)),
                (r.min as i32, r.max as i32),
                "{}",
                r.name
            );
            assert_eq!(p.default_plain_value(), r.default as i32);
        };
        let b = &params.biggan;
        float(&b.pitch_sensitivity, ranges::PITCH_SENSITIVITY);
        float(&b.tempo_sensitivity, ranges::TEMPO_SENSITIVITY);
        float(&b.depth, ranges::DEPTH);
        int(&b.num_classes, ranges::NUM_CLASSES);
        float(&b.jitter, ranges::JITTER);
        float(&b.truncation, ranges::TRUNCATION);
        int(&b.smooth_factor, ranges::SMOOTH_FACTOR);
        let d = &params.dream;
        int(&d.octaves, ranges::OCTAVES);
        float(&d.octave_scale, ranges::OCTAVE_SCALE);
        int(&d.max_depth, ranges::MAX_DEPTH);
        float(&d.step_size, ranges::STEP_SIZE);
        float(&d.kick_decay, ranges::KICK_DECAY);
        float(&d.flow_zoom, ranges::ZOOM);
        float(&d.flow_rotation_deg, ranges::ROTATION_DEG);
        let a = &params.analysis;
        float(&a.kick_low_hz, ranges::KICK_LOW_HZ);
        float(&a.kick_high_hz, ranges::KICK_HIGH_HZ);
    }
}
