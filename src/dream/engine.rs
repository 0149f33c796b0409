//! The DeepDream engine as a render loop uses it: one call per video frame with that frame's kick
//! strength, returning the frame. It ties the kick envelope
//! ([`crate::director::dream_depth`]) to the static or flowing mode.

use burn::tensor::Device;
use image::RgbImage;

use super::{DreamError, DreamSettings, Dreamer, FlowSettings, FlowingDream, StaticDream};
use crate::director::dream_depth::DreamDepth;
#[cfg(test)]
use crate::models::inception::Layer;
use crate::settings::{DreamMode, VisualSettings};

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

    /// Steps the kick envelope by one frame without drawing (a live frame that is skipped);
    /// returns the depth.
    pub fn advance(&mut self, kick: f32) -> u32 {
        self.envelope.next_frame(kick)
    }

    /// The live frame at the envelope's current depth, never waiting for a dream in static mode:
    /// the deepest depth dreamed so far stands in (and [`Self::prepare_static_depth`] dreams the
    /// rest in the background). Flowing mode dreams the frame. Returns the frame and its depth.
    pub fn draw_live(&mut self) -> Result<(RgbImage, u32), DreamError> {
        let depth = self.envelope.depth();
        match &mut self.state {
            ModeState::Static(frames) => {
                let (ready, frame) = frames.nearest_ready(depth as usize);
                Ok((frame.clone(), ready as u32))
            }
            ModeState::Flowing(flow) => {
                Ok((flow.next_frame(&self.dreamer, depth as usize)?, depth))
            }
        }
    }

    /// Static mode: dreams the shallowest depth not dreamed yet. Returns `(ready, of)` depths
    /// after it, or `None` in flowing mode.
    pub fn prepare_static_depth(&mut self) -> Result<Option<(usize, usize)>, DreamError> {
        let ModeState::Static(frames) = &mut self.state else {
            return Ok(None);
        };
        if let Some(depth) = frames.next_missing() {
            frames.frame(&self.dreamer, depth)?;
        }
        let max = frames.max_depth();
        let ready = frames.next_missing().map_or(max, |d| d.saturating_sub(1));
        Ok(Some((ready, max)))
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

/// The dream and engine settings of `visual`; the rest (objective, normalisation, jitter) keeps
/// the seed's defaults.
pub fn dream_settings(visual: &VisualSettings) -> (DreamSettings, EngineSettings) {
    let d = &visual.dream;
    let dream = DreamSettings {
        layer: d.layer,
        num_octaves: d.octaves.max(1) as usize,
        octave_scale: d.octave_scale,
        step_size: d.step_size,
        ..DreamSettings::default()
    };
    let engine = EngineSettings {
        mode: d.mode,
        flow: FlowSettings {
            zoom_per_frame: d.zoom,
            rotation_deg_per_frame: d.rotation_deg,
        },
        kick_decay: d.kick_decay,
        max_depth: d.max_depth.max(1),
        seed: visual.seed,
    };
    (dream, engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_are_the_seed_settings() {
        let visual = VisualSettings {
            seed: 3,
            ..VisualSettings::default()
        };
        let (dream, engine) = dream_settings(&visual);
        assert_eq!(dream.layer, Layer::Inception4c);
        assert_eq!((dream.num_octaves, dream.octave_scale), (4, 1.4));
        assert_eq!(dream.step_size, 3.0 / 255.0);
        assert_eq!(engine.mode, DreamMode::Static);
        assert_eq!(
            (engine.kick_decay, engine.max_depth, engine.seed),
            (0.93, 20, 3)
        );
    }
}
