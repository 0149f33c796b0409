//! The live preview's timing: feature frames in, the newest video frame to draw out.
//!
//! The live view follows the audio clock (the samples the plugin has heard, counted from the
//! Analyzer's last reset), not the transport, so it moves while the DAW's transport is stopped
//! (monitoring an input) and in the standalone app. Each feature frame becomes a
//! [`FeatureSample`] at its window's centre; video frame `k` aggregates the samples of
//! `[k/fps, (k+1)/fps)` as a render does (causally). [`LiveClock::advance`] steps the Director
//! (cheap) through every frame up to the newest one the audio has reached, and says which one to
//! draw: only the newest, so nothing queues up when the model is slower than the frame rate.

use std::collections::VecDeque;

use crate::bridge::FeatureFrame;
use crate::director::input::{FeatureSample, FrameInput, FrameInputs};
use crate::settings::FrameRate;

/// Seconds of feature samples kept: enough for the slowest frame rate and a model that falls
/// behind by a second.
const HISTORY_S: f64 = 3.0;

/// At most this many frames are stepped through at once; a longer gap (a reset, a stall) starts
/// over at the newest frame.
const MAX_CATCH_UP_FRAMES: u64 = 240;

/// The live timeline.
#[derive(Debug, Clone)]
pub struct LiveClock {
    /// The video frame rate.
    fps: FrameRate,
    /// Recent samples on the audio clock, oldest first.
    samples: VecDeque<FeatureSample>,
    /// Feature samples per second.
    feature_hz: f64,
    /// The next frame index to step the Director with.
    next_frame_idx: u64,
    /// The Analyzer frame index seen last, to notice a reset.
    last_analyzer_idx: Option<u64>,
}

/// What [`LiveClock::advance`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    /// The features of each frame to step, oldest first.
    pub inputs: Vec<FrameInput>,
    /// The index of the last of them (the frame to draw).
    pub newest_frame_idx: u64,
    /// Audio-clock time of the newest sample, in seconds.
    pub newest_time_s: f64,
}

impl LiveClock {
    /// A clock for video at `fps`.
    pub fn new(fps: FrameRate) -> Self {
        Self {
            fps,
            samples: VecDeque::new(),
            feature_hz: crate::analysis::DEFAULT_FEATURE_RATE_HZ,
            next_frame_idx: 0,
            last_analyzer_idx: None,
        }
    }

    /// The frame rate.
    pub fn fps(&self) -> FrameRate {
        self.fps
    }

    /// Adds a feature frame from the plugin's queue. Returns true when the Analyzer restarted
    /// (re-activation, reset): the timeline starts over.
    pub fn push(&mut self, frame: &FeatureFrame) -> bool {
        let restarted = self
            .last_analyzer_idx
            .is_some_and(|last| frame.frame_idx <= last);
        if restarted {
            self.samples.clear();
            self.next_frame_idx = 0;
        }
        self.last_analyzer_idx = Some(frame.frame_idx);
        let sr = f64::from(frame.sample_rate_hz.max(1.0));
        let hop = f64::from(frame.hop_samples.max(1));
        self.feature_hz = sr / hop;
        let end_s = (frame.frame_idx + 1) as f64 * hop / sr;
        self.samples.push_back(FeatureSample {
            time_s: end_s - f64::from(frame.spectral_latency_samples) / sr,
            kick: frame.live.kick,
            power: frame.live.power,
            power_rise: frame.live.power_rise,
            chroma: frame.chroma,
        });
        while self
            .samples
            .front()
            .is_some_and(|s| s.time_s < end_s - HISTORY_S)
        {
            self.samples.pop_front();
        }
        restarted
    }

    /// The frames the audio has reached since the last call; `None` when none is new.
    pub fn advance(&mut self) -> Option<Advance> {
        let newest_time_s = self.samples.back()?.time_s;
        let newest_frame_idx = (newest_time_s * self.fps.hz()).floor().max(0.0) as u64;
        if newest_frame_idx < self.next_frame_idx {
            return None;
        }
        let first = if newest_frame_idx - self.next_frame_idx >= MAX_CATCH_UP_FRAMES {
            newest_frame_idx
        } else {
            self.next_frame_idx
        };
        let inputs = FrameInputs::new(
            self.samples.iter().copied().collect(),
            self.feature_hz,
            0.0,
            self.fps.num,
            self.fps.den,
            true,
        );
        let inputs = (first..=newest_frame_idx).map(|k| inputs.get(k)).collect();
        self.next_frame_idx = newest_frame_idx + 1;
        Some(Advance {
            inputs,
            newest_frame_idx,
            newest_time_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(idx: u64, kick: f32) -> FeatureFrame {
        let mut f = FeatureFrame {
            frame_idx: idx,
            sample_rate_hz: 48_000.0,
            hop_samples: 1000,
            spectral_latency_samples: 2000,
            ..FeatureFrame::default()
        };
        f.live.kick = kick;
        f
    }

    #[test]
    fn steps_every_frame_reached_and_draws_the_newest() {
        let mut clock = LiveClock::new(FrameRate::new(24, 1));
        assert!(clock.advance().is_none());
        // 48 hops of 1000 samples at 48 kHz: one second; the newest sample is centred at
        // 48 000/48 000 − 2000/48 000 s.
        for i in 0..48 {
            clock.push(&frame(i, if i == 30 { 1.0 } else { 0.0 }));
        }
        let first = clock.advance().unwrap();
        assert_eq!(first.newest_frame_idx, 23);
        assert_eq!(first.inputs.len(), 24);
        // Sample 30 is centred at (31·1000 − 2000)/48 000 s = 0.604 s: frame 14 at 24 fps.
        let kicks: Vec<usize> = (0..24).filter(|&k| first.inputs[k].kick > 0.5).collect();
        assert_eq!(kicks, vec![14]);
        // Nothing new: nothing to draw.
        assert!(clock.advance().is_none());
        clock.push(&frame(48, 0.0));
        clock.push(&frame(49, 0.0));
        let next = clock.advance().unwrap();
        assert_eq!((next.newest_frame_idx, next.inputs.len()), (24, 1));
    }

    #[test]
    fn a_restart_or_a_long_stall_starts_at_the_newest_frame() {
        let mut clock = LiveClock::new(FrameRate::new(30, 1));
        for i in 0..100 {
            clock.push(&frame(i, 0.0));
        }
        assert!(clock.advance().is_some());
        assert!(clock.push(&frame(0, 0.0)));
        let after = clock.advance().unwrap();
        assert_eq!(after.newest_frame_idx, 0);
        // 20 s later: one frame, not 600.
        for i in 1..1000 {
            clock.push(&frame(i, 0.0));
        }
        let caught_up = clock.advance().unwrap();
        assert_eq!(caught_up.inputs.len(), 1);
    }
}
