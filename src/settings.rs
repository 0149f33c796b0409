//! One settings model for every picture Deep Visualizer draws.
//!
//! [`VisualSettings`] holds every setting that changes the pictures: the engine, the image size,
//! the frame rate, the seed's BigGAN flags, the DeepDream settings, the analysis band and inputs,
//! the 12 classes and the seed. The plugin's parameters and session state map into it
//! (`params::DeepVisualizerParams::visual_settings`), the CLI's flags map into it
//! (`cli::render`), and takes and vectors files store it, so the same settings mean the same
//! picture everywhere. The defaults are the seeds' and the ranges below are the only ranges:
//! the plugin's parameters, the CLI's flag parsers and [`VisualSettings::validate`] all read them.
//!
//! Decisions where the plugin and the CLI used to disagree:
//! - **DeepDream step size** is in pixel units (pixels span 0..1), default the seed's 3/255.
//! - **Class smoothing** is in seed steps (1/43.07 s) everywhere, as the seed's
//!   `--smooth_factor`; the Director converts it to the frame rate, so it lasts the same time at
//!   any frame rate.
//! - **Frame rate** is optional: `None` is the engine's own seed's rate (BigGAN-deep
//!   22050/512 ≈ 43.07 fps, DeepDream 30 fps), which is the CLI's default and the plugin's
//!   "Engine default".
//! - **Classes** are optional: `None` draws 12 from the seed, as the CLI always did; the plugin
//!   does the same until the user picks classes.
//! - **Ranges** are the wider of the two where they differed (a knob is skewed so the useful part
//!   keeps its resolution).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::models::inception::Layer;

/// The settings version this build writes into takes and vectors files. Bump it when a field
/// changes meaning, and convert older values where they are read.
pub const SETTINGS_VERSION: u32 = 1;

/// How many ImageNet classes the harmony can pick from: one per pitch class.
pub const NUM_PITCH_CLASSES: usize = 12;

/// Number of ImageNet classes; class indices are `0..NUM_IMAGENET_CLASSES`.
pub const NUM_IMAGENET_CLASSES: u16 = 1000;

/// The BigGAN-deep model sizes, which are also the output sizes, in pixels.
pub const RESOLUTIONS_PX: [u32; 3] = [128, 256, 512];

/// The seed's `--resolution`.
pub const DEFAULT_RESOLUTION_PX: u32 = 128;

/// The names of the pitch classes, in chroma order.
pub const PITCH_CLASS_NAMES: [&str; NUM_PITCH_CLASSES] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// A numeric setting's valid values, with the name the CLI spells it by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// The setting's CLI name (without dashes).
    pub name: &'static str,
    /// Smallest valid value.
    pub min: f64,
    /// Largest valid value.
    pub max: f64,
    /// The default (the seed's).
    pub default: f64,
}

impl Range {
    /// Checks `value` (finite and within `min..=max`).
    pub fn check(&self, value: f64) -> Result<(), SettingsError> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            Ok(())
        } else {
            Err(SettingsError::OutOfRange {
                name: self.name,
                value: value.to_string(),
                min: self.min,
                max: self.max,
            })
        }
    }

    /// The range in words, e.g. `0.02–1`.
    pub fn describe(&self) -> String {
        format!("{}–{}", self.min, self.max)
    }
}

/// Every range, in the units of [`VisualSettings`].
pub mod ranges {
    use super::Range;

    /// How slowly the classes follow the harmony (seed: above 2, 5–200 recommended).
    pub const PITCH_SENSITIVITY: Range = Range {
        name: "pitch_sensitivity",
        min: 0.1,
        max: 1000.0,
        default: 50.0,
    };
    /// How far loudness moves the noise per seed step (seed: 0.05–0.3 recommended).
    pub const TEMPO_SENSITIVITY: Range = Range {
        name: "tempo_sensitivity",
        min: 0.0,
        max: 10.0,
        default: 0.2,
    };
    /// Largest class-vector entry.
    pub const DEPTH: Range = Range {
        name: "depth",
        min: 0.001,
        max: 1.0,
        default: 1.0,
    };
    /// How much half of the noise units are slowed.
    pub const JITTER: Range = Range {
        name: "jitter",
        min: 0.0,
        max: 1.0,
        default: 0.5,
    };
    /// BigGAN-deep keeps batch-norm statistics for 0.02, 0.04, …, 1.
    pub const TRUNCATION: Range = Range {
        name: "truncation",
        min: 0.02,
        max: 1.0,
        default: 1.0,
    };
    /// Pitch classes (and classes) in use.
    pub const NUM_CLASSES: Range = Range {
        name: "num_classes",
        min: 1.0,
        max: 12.0,
        default: 12.0,
    };
    /// Class-vector smoothing in seed steps.
    pub const SMOOTH_FACTOR: Range = Range {
        name: "smooth_factor",
        min: 1.0,
        max: 1000.0,
        default: 10.0,
    };
    /// DeepDream scales.
    pub const OCTAVES: Range = Range {
        name: "octaves",
        min: 1.0,
        max: 8.0,
        default: 4.0,
    };
    /// Size ratio between octaves.
    pub const OCTAVE_SCALE: Range = Range {
        name: "octave_scale",
        min: 1.05,
        max: 3.0,
        default: 1.4,
    };
    /// Gradient steps per octave at a full kick (the seed's 1–20).
    pub const MAX_DEPTH: Range = Range {
        name: "max_depth",
        min: 1.0,
        max: 200.0,
        default: 20.0,
    };
    /// Step length in pixel units (pixels span 0..1; the seed's 3/255).
    pub const STEP_SIZE: Range = Range {
        name: "step_size",
        min: 0.0001,
        max: 1.0,
        default: 3.0 / 255.0,
    };
    /// Share of the dream depth that survives a frame.
    pub const KICK_DECAY: Range = Range {
        name: "kick_decay",
        min: 0.0,
        max: 1.0,
        default: 0.93,
    };
    /// Flowing mode's zoom per frame.
    pub const ZOOM: Range = Range {
        name: "zoom",
        min: 0.5,
        max: 2.0,
        default: 1.02,
    };
    /// Flowing mode's rotation per frame, degrees.
    pub const ROTATION_DEG: Range = Range {
        name: "rotation",
        min: -45.0,
        max: 45.0,
        default: 0.0,
    };
    /// Lower edge of the kick band, Hz.
    pub const KICK_LOW_HZ: Range = Range {
        name: "kick_low",
        min: 10.0,
        max: 200.0,
        default: 20.0,
    };
    /// Upper edge of the kick band, Hz.
    pub const KICK_HIGH_HZ: Range = Range {
        name: "kick_high",
        min: 40.0,
        max: 500.0,
        default: 120.0,
    };
    /// Video frame rates, frames per second.
    pub const FPS: Range = Range {
        name: "fps",
        min: 1.0,
        max: 240.0,
        default: 22050.0 / 512.0,
    };
}

/// A setting that cannot be used; the message names it and says what is valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A numeric setting is outside its range (or not finite).
    #[error("{name} = {value} is out of range: use {min} to {max}")]
    OutOfRange {
        /// The setting's name as the CLI spells it.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// The resolution is not a BigGAN-deep size.
    #[error("resolution {0} is not a BigGAN-deep size: use 128, 256 or 512")]
    Resolution(u32),
    /// The class list has the wrong length.
    #[error(
        "{num_given} classes were given, but there must be 12 (one per pitch class) or as many as \
         num_classes ({num_classes})"
    )]
    ClassCount {
        /// How many classes were given.
        num_given: usize,
        /// The number of pitch classes in use.
        num_classes: usize,
    },
    /// A class index is not an ImageNet class.
    #[error("class {0} does not exist: ImageNet classes are 0 to 999")]
    ClassIndex(u16),
    /// The kick band is empty.
    #[error("the kick band {low_hz}–{high_hz} Hz is empty: its low edge must be below its high")]
    KickBand {
        /// Lower edge.
        low_hz: f32,
        /// Upper edge.
        high_hz: f32,
    },
    /// Settings written by a newer Deep Visualizer.
    #[error(
        "these settings are version {0}, newer than this Deep Visualizer understands \
         ({SETTINGS_VERSION}): update Deep Visualizer"
    )]
    Version(u32),
}

/// Which model draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// BigGAN-deep: harmony picks the classes, loudness moves the noise (the first seed).
    #[default]
    Biggan,
    /// DeepDream on GoogLeNet: the kick sets how deep the picture dreams (the second seed).
    Deepdream,
}

/// A frame rate as an exact ratio, so frame times stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRate {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl FrameRate {
    /// The seed's BigGAN rate: one frame per 512 samples at 22.05 kHz.
    pub const BIGGAN_SEED: FrameRate = FrameRate {
        num: 11025,
        den: 256,
    };
    /// The DeepDream seed's 30 fps.
    pub const DEEPDREAM_SEED: FrameRate = FrameRate { num: 30, den: 1 };

    /// `num/den` in lowest terms (a zero denominator becomes 1).
    pub fn new(num: u32, den: u32) -> Self {
        let g = gcd(u64::from(num), u64::from(den.max(1))).max(1) as u32;
        Self {
            num: num / g,
            den: den.max(1) / g,
        }
    }

    /// Frames per second.
    pub fn hz(self) -> f64 {
        f64::from(self.num) / f64::from(self.den.max(1))
    }

    /// Start of frame `frame_idx` in seconds from frame 0.
    pub fn frame_start_s(self, frame_idx: u64) -> f64 {
        (frame_idx as f64 * f64::from(self.den)) / f64::from(self.num.max(1))
    }

    /// `30`, `29.97` (up to 3 decimals) or `30000/1001`, within [`ranges::FPS`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a frame rate: use e.g. 30, 29.97 or 30000/1001");
        let (num, den): (u64, u64) = if let Some((n, d)) = text.split_once('/') {
            (
                n.trim().parse().map_err(|_| bad())?,
                d.trim().parse().map_err(|_| bad())?,
            )
        } else if let Some((whole, frac)) = text.split_once('.') {
            if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            let den = 10u64.pow(frac.len() as u32);
            let whole: u64 = whole.parse().map_err(|_| bad())?;
            let frac: u64 = if frac.is_empty() {
                0
            } else {
                frac.parse().map_err(|_| bad())?
            };
            (whole * den + frac, den)
        } else {
            (text.trim().parse().map_err(|_| bad())?, 1)
        };
        if den == 0 {
            return Err(bad());
        }
        let hz = num as f64 / den as f64;
        if !(ranges::FPS.min..=ranges::FPS.max).contains(&hz) {
            return Err(format!("{hz} fps is outside 1–240"));
        }
        let g = gcd(num, den);
        Ok(FrameRate {
            num: u32::try_from(num / g).map_err(|_| bad())?,
            den: u32::try_from(den / g).map_err(|_| bad())?,
        })
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The seed's BigGAN flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BigGanVisual {
    /// How slowly the class vector follows the harmony (`--pitch_sensitivity`).
    pub pitch_sensitivity: f32,
    /// How far loudness and its rise move the noise per seed step (`--tempo_sensitivity`).
    pub tempo_sensitivity: f32,
    /// Largest class-vector entry (`--depth`).
    pub depth: f32,
    /// How many pitch classes (and classes) are used, 1–12 (`--num_classes`).
    pub num_classes: u8,
    /// Give the strongest pitches the classes in the order listed (`--sort_classes_by_power`).
    pub sort_classes_by_power: bool,
    /// How much half of the noise units are slowed, redrawn every 100 seed steps (`--jitter`).
    pub jitter: f32,
    /// BigGAN truncation (`--truncation`); f64 because the model picks its batch-norm
    /// statistics from it in f64.
    pub truncation: f64,
    /// Class-vector smoothing in seed steps of 1/43.07 s (`--smooth_factor`).
    pub smooth_factor: u32,
}

impl Default for BigGanVisual {
    fn default() -> Self {
        Self {
            pitch_sensitivity: ranges::PITCH_SENSITIVITY.default as f32,
            tempo_sensitivity: ranges::TEMPO_SENSITIVITY.default as f32,
            depth: ranges::DEPTH.default as f32,
            num_classes: ranges::NUM_CLASSES.default as u8,
            sort_classes_by_power: false,
            jitter: ranges::JITTER.default as f32,
            truncation: ranges::TRUNCATION.default,
            smooth_factor: ranges::SMOOTH_FACTOR.default as u32,
        }
    }
}

/// How the kick drives DeepDream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DreamMode {
    /// The seed's: the base is dreamed once per depth, each frame shows its kick's depth.
    #[default]
    Static,
    /// Each frame dreams on the previous one, zoomed and rotated: the picture travels.
    Flowing,
}

/// How big DeepDream's picture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PictureSize {
    /// The longer side is the resolution (the plugin; the CLI with `--resolution`).
    #[default]
    Resolution,
    /// The base picture's own size (the CLI's `--image` without `--resolution`).
    Own,
}

/// DeepDream's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DreamVisual {
    /// The GoogLeNet layer whose activations are amplified.
    #[serde(with = "layer_name")]
    pub layer: Layer,
    /// Number of scales.
    pub octaves: u32,
    /// Size ratio between octaves.
    pub octave_scale: f32,
    /// Gradient steps per octave at a full kick.
    pub max_depth: u32,
    /// Step length in pixel units (pixels span 0..1).
    pub step_size: f32,
    /// Share of the depth that survives a frame without a stronger kick.
    pub kick_decay: f32,
    /// Static (the seed's) or flowing.
    pub mode: DreamMode,
    /// Flowing mode: zoom per frame about the centre.
    pub zoom: f32,
    /// Flowing mode: rotation per frame in degrees, counter-clockwise.
    pub rotation_deg: f32,
    /// The picture to dream on; `None` dreams on the first BigGAN-deep frame.
    pub image: Option<PathBuf>,
    /// How big the dreamed picture is.
    pub picture_size: PictureSize,
}

impl Default for DreamVisual {
    fn default() -> Self {
        Self {
            layer: Layer::Inception4c,
            octaves: ranges::OCTAVES.default as u32,
            octave_scale: ranges::OCTAVE_SCALE.default as f32,
            max_depth: ranges::MAX_DEPTH.default as u32,
            step_size: ranges::STEP_SIZE.default as f32,
            kick_decay: ranges::KICK_DECAY.default as f32,
            mode: DreamMode::Static,
            zoom: ranges::ZOOM.default as f32,
            rotation_deg: ranges::ROTATION_DEG.default as f32,
            image: None,
            picture_size: PictureSize::Resolution,
        }
    }
}

/// Which input a group of features is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputChoice {
    /// The track's own audio.
    #[default]
    Main,
    /// The sidechain (the main input while it is silent).
    Sidechain,
}

/// What the analysis listens to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisVisual {
    /// Lower edge of the kick band.
    pub kick_low_hz: f32,
    /// Upper edge of the kick band.
    pub kick_high_hz: f32,
    /// Input the kick is measured on.
    pub kick_input: InputChoice,
    /// Input loudness and harmony are measured on.
    pub tonal_input: InputChoice,
}

impl Default for AnalysisVisual {
    fn default() -> Self {
        Self {
            kick_low_hz: ranges::KICK_LOW_HZ.default as f32,
            kick_high_hz: ranges::KICK_HIGH_HZ.default as f32,
            kick_input: InputChoice::Main,
            tonal_input: InputChoice::Main,
        }
    }
}

/// Every setting that changes the pictures (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisualSettings {
    /// Format version, so a later build can read old takes and vectors files.
    pub version: u32,
    /// Which model draws.
    pub engine: EngineKind,
    /// Image size in pixels: 128, 256 or 512.
    pub resolution_px: u32,
    /// Video frame rate; `None` is the engine's seed's rate.
    pub fps: Option<FrameRate>,
    /// The BigGAN settings.
    pub biggan: BigGanVisual,
    /// The DeepDream settings.
    pub dream: DreamVisual,
    /// The analysis band and inputs.
    pub analysis: AnalysisVisual,
    /// The ImageNet classes (0–999), one per pitch class C … B (12) or `num_classes` of them;
    /// `None` draws 12 from the seed.
    pub classes: Option<Vec<u16>>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for VisualSettings {
    fn default() -> Self {
        Self {
            version: SETTINGS_VERSION,
            engine: EngineKind::Biggan,
            resolution_px: DEFAULT_RESOLUTION_PX,
            fps: None,
            biggan: BigGanVisual::default(),
            dream: DreamVisual::default(),
            analysis: AnalysisVisual::default(),
            classes: None,
            seed: 0,
        }
    }
}

impl VisualSettings {
    /// The frame rate in force: the chosen one, else the engine's seed's.
    pub fn frame_rate(&self) -> FrameRate {
        self.fps.unwrap_or(match self.engine {
            EngineKind::Biggan => FrameRate::BIGGAN_SEED,
            EngineKind::Deepdream => FrameRate::DEEPDREAM_SEED,
        })
    }

    /// Checks every setting; the error names the first bad one and what is valid.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.version > SETTINGS_VERSION {
            return Err(SettingsError::Version(self.version));
        }
        if !RESOLUTIONS_PX.contains(&self.resolution_px) {
            return Err(SettingsError::Resolution(self.resolution_px));
        }
        if let Some(fps) = self.fps {
            ranges::FPS.check(fps.hz())?;
        }
        let b = &self.biggan;
        ranges::PITCH_SENSITIVITY.check(f64::from(b.pitch_sensitivity))?;
        ranges::TEMPO_SENSITIVITY.check(f64::from(b.tempo_sensitivity))?;
        ranges::DEPTH.check(f64::from(b.depth))?;
        ranges::NUM_CLASSES.check(f64::from(b.num_classes))?;
        ranges::JITTER.check(f64::from(b.jitter))?;
        ranges::TRUNCATION.check(b.truncation)?;
        ranges::SMOOTH_FACTOR.check(f64::from(b.smooth_factor))?;
        let d = &self.dream;
        ranges::OCTAVES.check(f64::from(d.octaves))?;
        ranges::OCTAVE_SCALE.check(f64::from(d.octave_scale))?;
        ranges::MAX_DEPTH.check(f64::from(d.max_depth))?;
        ranges::STEP_SIZE.check(f64::from(d.step_size))?;
        ranges::KICK_DECAY.check(f64::from(d.kick_decay))?;
        ranges::ZOOM.check(f64::from(d.zoom))?;
        ranges::ROTATION_DEG.check(f64::from(d.rotation_deg))?;
        let a = &self.analysis;
        ranges::KICK_LOW_HZ.check(f64::from(a.kick_low_hz))?;
        ranges::KICK_HIGH_HZ.check(f64::from(a.kick_high_hz))?;
        if a.kick_low_hz >= a.kick_high_hz {
            return Err(SettingsError::KickBand {
                low_hz: a.kick_low_hz,
                high_hz: a.kick_high_hz,
            });
        }
        if let Some(classes) = &self.classes {
            let num_classes = usize::from(b.num_classes);
            if classes.len() != NUM_PITCH_CLASSES && classes.len() != num_classes {
                return Err(SettingsError::ClassCount {
                    num_given: classes.len(),
                    num_classes,
                });
            }
            if let Some(&bad) = classes.iter().find(|&&c| c >= NUM_IMAGENET_CLASSES) {
                return Err(SettingsError::ClassIndex(bad));
            }
        }
        Ok(())
    }
}

/// Serialises a [`Layer`] by its torchvision name.
mod layer_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::models::inception::Layer;

    pub fn serialize<S: Serializer>(layer: &Layer, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(layer.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Layer, D::Error> {
        let name = String::deserialize(deserializer)?;
        Layer::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown GoogLeNet layer `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_the_seeds() {
        let s = VisualSettings::default();
        s.validate().unwrap();
        assert_eq!(s.frame_rate().hz(), 22050.0 / 512.0);
        let dream = VisualSettings {
            engine: EngineKind::Deepdream,
            ..s.clone()
        };
        assert_eq!(dream.frame_rate(), FrameRate { num: 30, den: 1 });
        assert!((s.dream.step_size - 3.0 / 255.0).abs() < 1e-9);
    }

    #[test]
    fn json_round_trip_keeps_every_field() {
        let mut s = VisualSettings {
            engine: EngineKind::Deepdream,
            resolution_px: 512,
            fps: Some(FrameRate::new(30000, 1001)),
            classes: Some(vec![1, 2, 3]),
            seed: 99,
            ..VisualSettings::default()
        };
        s.biggan.num_classes = 3;
        s.dream.layer = Layer::Inception5b;
        s.dream.mode = DreamMode::Flowing;
        s.dream.image = Some(PathBuf::from("/x/y.png"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"inception5b\""), "{json}");
        let back: VisualSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        back.validate().unwrap();
    }

    #[test]
    fn validation_names_the_setting() {
        let mut s = VisualSettings::default();
        s.dream.octave_scale = 5.0;
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("octave_scale") && err.contains("1.05"),
            "{err}"
        );
        let s = VisualSettings {
            classes: Some(vec![1, 2]),
            ..VisualSettings::default()
        };
        assert!(matches!(
            s.validate(),
            Err(SettingsError::ClassCount { .. })
        ));
        let s = VisualSettings {
            version: SETTINGS_VERSION + 1,
            ..VisualSettings::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("update"));
    }

    #[test]
    fn frame_rates_parse_exactly() {
        assert_eq!(
            FrameRate::parse("29.97").unwrap(),
            FrameRate::new(2997, 100)
        );
        assert_eq!(
            FrameRate::parse("30000/1001").unwrap(),
            FrameRate::new(30000, 1001)
        );
        assert!(FrameRate::parse("0").is_err() && FrameRate::parse("x").is_err());
        assert_eq!(FrameRate::BIGGAN_SEED, FrameRate::new(22050, 512));
    }
}
