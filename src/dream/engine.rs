//! The DeepDream engine as a render loop uses it: one call per video frame with that frame's kick
//! strength, returning the frame. It ties the kick envelope
//! ([`crate::director::dream_depth`]) to the static or flowing mode.

use burn::tensor::Device;
use image::RgbImage;

use super::{DreamError, DreamSettings, Dreamer, FlowSettings, FlowingDream, StaticDream};
use crate::director::dream_depth::DreamDepth;
use crate::models::inception::Layer;
use crate::params::{DreamLayer, DreamMode, DreamParams};

/// The mode's state.
enum ModeState {
    /// Dreamed depths of the base, computed on first use.
    Static(StaticDream),
    /// The running flow.
    Flowing(FlowingDream),
}

/// How the kick maps to frames; all of it is plugin parameters or CLI flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineSettings {
    /// Static (the seed's) or flowing.
    pub mode: DreamMode,
    /// Flowing mode's motion per frame.
    pub flow: FlowSettings,
    /// How much of the depth level survives a frame without a stronger kick (seed: 0.93).
    pub kick_decay: f32,
    /// Steps per octave at a full kick (seed: 20).
    pub max_depth: u32,
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            mode: DreamMode::Static,
            flow: FlowSettings::default(),
            kick_decay: 0.93,
            max_depth: 20,
            seed: 0,
        }
    }
}

/// DeepDream driven by the kick, one video frame at a time.
pub struct DreamEngine {
    /// The network and dream settings.
    dreamer: Dreamer,
    /// Kick → depth envelope.
    envelope: DreamDepth,
    /// Mode, flow, envelope shape and seed.
    settings: EngineSettings,
    /// The mode's state.
    state: ModeState,
}

impl DreamEngine {
    /// An engine dreaming on `base` (a user picture, or a BigGAN frame).
    pub fn new(dreamer: Dreamer, base: &RgbImage, settings: EngineSettings) -> Self {
        let state = new_state(&settings, base, dreamer.device());
        Self {
            dreamer,
            envelope: DreamDepth::new(settings.kick_decay, settings.max_depth),
            settings,
            state,
        }
    }

    /// The dreamer (network and dream settings).
    pub fn dreamer(&self) -> &Dreamer {
        &self.dreamer
    }

    /// Starts over from a new base picture (the static mode's dreamed depths are dropped; the
    /// kick level carries on).
    pub fn set_base(&mut self, base: &RgbImage) {
        self.state = new_state(&self.settings, base, self.dreamer.device());
    }

    /// The next video frame, for a frame whose kick strength is `kick` (0..1), and the depth
    /// (steps per octave) it was dreamed with.
    pub fn next_frame(&mut self, kick: f32) -> Result<(RgbImage, u32), DreamError> {
        let depth = self.envelope.next_frame(kick);
        let frame = match &mut self.state {
            ModeState::Static(frames) => frames.frame(&self.dreamer, depth as usize)?.clone(),
            ModeState::Flowing(flow) => flow.next_frame(&self.dreamer, depth as usize)?,
        };
        Ok((frame, depth))
    }
}

fn new_state(settings: &EngineSettings, base: &RgbImage, device: &Device) -> ModeState {
    match settings.mode {
        DreamMode::Static => ModeState::Static(StaticDream::new(
            base,
            settings.max_depth.max(1) as usize,
            settings.seed,
            device,
        )),
        DreamMode::Flowing => ModeState::Flowing(FlowingDream::new(
            base,
            settings.flow,
            settings.seed,
            device,
        )),
    }
}

/// The network layer a `dream_layer` parameter value names.
pub fn layer_of(param: DreamLayer) -> Layer {
    match param {
        DreamLayer::Conv1 => Layer::Conv1,
        DreamLayer::Conv2 => Layer::Conv2,
        DreamLayer::Conv3 => Layer::Conv3,
        DreamLayer::Inception3a => Layer::Inception3a,
        DreamLayer::Inception3b => Layer::Inception3b,
        DreamLayer::Inception4a => Layer::Inception4a,
        DreamLayer::Inception4b => Layer::Inception4b,
        DreamLayer::Inception4c => Layer::Inception4c,
        DreamLayer::Inception4d => Layer::Inception4d,
        DreamLayer::Inception4e => Layer::Inception4e,
        DreamLayer::Inception5a => Layer::Inception5a,
        DreamLayer::Inception5b => Layer::Inception5b,
    }
}

/// The dream and engine settings the plugin's DeepDream parameters describe; the rest (objective,
/// normalisation, jitter) keeps the seed's defaults.
pub fn settings_from_params(params: &DreamParams, seed: u64) -> (DreamSettings, EngineSettings) {
    let dream = DreamSettings {
        layer: layer_of(params.layer.value()),
        num_octaves: params.octaves.value().max(1) as usize,
        octave_scale: params.octave_scale.value(),
        step_size: params.step_size.value(),
        ..DreamSettings::default()
    };
    let engine = EngineSettings {
        mode: params.mode.value(),
        flow: FlowSettings {
            zoom_per_frame: params.flow_zoom.value(),
            rotation_deg_per_frame: params.flow_rotation_deg.value(),
        },
        kick_decay: params.kick_decay.value(),
        max_depth: params.max_depth.value().max(1) as u32,
        seed,
    };
    (dream, engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_defaults_are_the_seed_settings() {
        let (dream, engine) = settings_from_params(&DreamParams::default(), 3);
        assert_eq!(dream.layer, Layer::Inception4c);
        assert_eq!((dream.num_octaves, dream.octave_scale), (4, 1.4));
        assert!((dream.step_size - 3.0 / 255.0).abs() < 1e-3);
        assert_eq!(engine.mode, DreamMode::Static);
        assert_eq!(
            (engine.kick_decay, engine.max_depth, engine.seed),
            (0.93, 20, 3)
        );
    }

    #[test]
    fn every_layer_parameter_names_its_layer() {
        use nice_plug::prelude::Enum;
        for (idx, layer) in Layer::ALL.into_iter().enumerate() {
            let param = DreamLayer::from_index(idx);
            assert_eq!(layer_of(param).name(), DreamLayer::ids().unwrap()[idx]);
            assert_eq!(layer_of(param), layer);
        }
    }
}
