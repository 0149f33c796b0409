//! What a director sees per video frame, and how it is gathered from the Analyzer's features.
//!
//! The Analyzer emits features at its own fixed rate (43.07 per second by default); video frame
//! `k` covers song time `[start + k/fps, start + (k+1)/fps)`. [`FrameInputs`] averages the
//! feature samples whose time falls in that interval. When the frame rate is higher than the
//! feature rate an interval can hold none; the frame then repeats the latest sample before it
//! (or the first sample, before the song's first one).
//!
//! The chroma's rise is computed on the feature samples and then averaged like the rest:
//! central differences (numpy's `np.gradient`, one-sided at the ends, as the seed computes it)
//! over a whole song, or backward differences when the frames must be causal (live). It is
//! expressed per seed step (1/43.07 s) whatever the feature rate, so the pitch sensitivity
//! means the same thing at any rate.

use super::SEED_STEP_HZ;
use crate::settings::NUM_PITCH_CLASSES;

/// The features of one video frame's interval `[k/fps, (k+1)/fps)`, as the BigGAN director uses
/// them. Power and its rise are normalised to 0..1 by the Analyzer; chroma is max-normalised per
/// analysis frame (0..1) and its rise is a signed derivative per seed step (1/43.07 s).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameInput {
    /// Strongest kick-band level in the interval, 0..1: the maximum, not the mean, so a kick
    /// shorter than a frame is not averaged away (DeepDream's depth follows it).
    pub kick: f32,
    /// Mean mel power, 0..1.
    pub power: f32,
    /// Positive rise of the mean mel power, 0..1.
    pub power_rise: f32,
    /// Pitch-class energy in librosa's order C, C#, …, B.
    pub chroma: [f32; NUM_PITCH_CLASSES],
    /// Time derivative of `chroma` per seed step (signed, like the seed's `np.gradient`).
    pub chroma_rise: [f32; NUM_PITCH_CLASSES],
}

/// One normalised feature sample of the Analyzer (a row of `deep-visualizer features`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FeatureSample {
    /// Song time of the sample's analysis window centre, in seconds.
    pub time_s: f64,
    /// Kick-band energy, 0..1.
    pub kick: f32,
    /// Mean mel power, 0..1.
    pub power: f32,
    /// Positive rise of the mean mel power, 0..1.
    pub power_rise: f32,
    /// Max-normalised chroma C, C#, …, B.
    pub chroma: [f32; NUM_PITCH_CLASSES],
}

/// The mean chroma over `samples`: what song mode ranks the pitch classes by.
pub fn mean_chroma(samples: &[FeatureSample]) -> [f32; NUM_PITCH_CLASSES] {
    let mut sum = [0.0f64; NUM_PITCH_CLASSES];
    for s in samples {
        for (acc, &c) in sum.iter_mut().zip(&s.chroma) {
            *acc += f64::from(c);
        }
    }
    let n = samples.len().max(1) as f64;
    sum.map(|s| (s / n) as f32)
}

/// The [`FrameInput`] of every video frame of a song, computed on demand from its feature
/// samples (so a long song costs no memory per frame).
#[derive(Debug, Clone)]
pub struct FrameInputs {
    /// The song's feature samples, in time order.
    samples: Vec<FeatureSample>,
    /// Song time of frame 0's start, in seconds.
    start_s: f64,
    /// Video frame rate as a ratio `num/den`, so frame times are exact.
    fps_num: u64,
    /// Denominator of the frame rate.
    fps_den: u64,
    /// Scale from a chroma change per sample to a change per seed step.
    rise_per_seed_step: f32,
    /// Backward differences (live) instead of central ones (song).
    causal: bool,
}

impl FrameInputs {
    /// Frames at `fps_num/fps_den` per second starting at song time `start_s`, over `samples`
    /// taken at `feature_hz` per second.
    pub fn new(
        samples: Vec<FeatureSample>,
        feature_hz: f64,
        start_s: f64,
        fps_num: u32,
        fps_den: u32,
        causal: bool,
    ) -> Self {
        Self {
            samples,
            start_s,
            fps_num: u64::from(fps_num.max(1)),
            fps_den: u64::from(fps_den.max(1)),
            rise_per_seed_step: (feature_hz / SEED_STEP_HZ) as f32,
            causal,
        }
    }

    /// The feature samples.
    pub fn samples(&self) -> &[FeatureSample] {
        &self.samples
    }

    /// Song time where frame `frame_idx` starts.
    pub fn frame_start_s(&self, frame_idx: u64) -> f64 {
        self.start_s + (frame_idx * self.fps_den) as f64 / self.fps_num as f64
    }

    /// The features of frame `frame_idx`.
    pub fn get(&self, frame_idx: u64) -> FrameInput {
        if self.samples.is_empty() {
            return FrameInput::default();
        }
        let begin_s = self.frame_start_s(frame_idx);
        let end_s = self.frame_start_s(frame_idx + 1);
        let lo = self.samples.partition_point(|s| s.time_s < begin_s);
        let hi = self.samples.partition_point(|s| s.time_s < end_s);
        let range = if lo < hi {
            lo..hi
        } else {
            let held = lo.saturating_sub(1).min(self.samples.len() - 1);
            held..held + 1
        };
        let n = range.len() as f64;
        let mut kick = 0.0f32;
        let mut power = 0.0f64;
        let mut power_rise = 0.0f64;
        let mut chroma = [0.0f64; NUM_PITCH_CLASSES];
        let mut chroma_rise = [0.0f64; NUM_PITCH_CLASSES];
        for i in range {
            let s = &self.samples[i];
            kick = kick.max(s.kick);
            power += f64::from(s.power);
            power_rise += f64::from(s.power_rise);
            let rise = self.chroma_rise(i);
            for p in 0..NUM_PITCH_CLASSES {
                chroma[p] += f64::from(s.chroma[p]);
                chroma_rise[p] += f64::from(rise[p]);
            }
        }
        FrameInput {
            kick,
            power: (power / n) as f32,
            power_rise: (power_rise / n) as f32,
            chroma: chroma.map(|c| (c / n) as f32),
            chroma_rise: chroma_rise.map(|c| (c / n) as f32 * self.rise_per_seed_step),
        }
    }

    /// The chroma's change per sample at sample `i`.
    fn chroma_rise(&self, i: usize) -> [f32; NUM_PITCH_CLASSES] {
        let n = self.samples.len();
        let c = |j: usize| self.samples[j].chroma;
        if n < 2 {
            return [0.0; NUM_PITCH_CLASSES];
        }
        let (later, earlier, span) = if self.causal {
            if i == 0 {
                return [0.0; NUM_PITCH_CLASSES];
            }
            (c(i), c(i - 1), 1.0)
        } else if i == 0 {
            (c(1), c(0), 1.0)
        } else if i == n - 1 {
            (c(n - 1), c(n - 2), 1.0)
        } else {
            (c(i + 1), c(i - 1), 2.0)
        };
        std::array::from_fn(|p| (later[p] - earlier[p]) / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time_s: f64, power: f32, c0: f32) -> FeatureSample {
        let mut chroma = [0.0; 12];
        chroma[0] = c0;
        FeatureSample {
            time_s,
            kick: power,
            power,
            power_rise: power / 2.0,
            chroma,
        }
    }

    /// Samples every 0.1 s (10 Hz) with power = c0 = the sample's index.
    fn ramp(num: usize) -> Vec<FeatureSample> {
        (0..num)
            .map(|i| sample(i as f64 * 0.1, i as f32, i as f32))
            .collect()
    }

    #[test]
    fn frames_average_the_samples_in_their_interval() {
        // 5 fps from 0.2 s: frame k covers [0.2 + 0.2k, 0.4 + 0.2k): samples 2,3 then 4,5.
        let inputs = FrameInputs::new(ramp(10), 10.0, 0.2, 5, 1, false);
        let f0 = inputs.get(0);
        assert!((f0.power - 2.5).abs() < 1e-6 && (f0.power_rise - 1.25).abs() < 1e-6);
        assert!((inputs.get(1).chroma[0] - 4.5).abs() < 1e-6);
        // A linear ramp rises by 1 per sample; per seed step (10 Hz vs 43.07 Hz) by 0.2322.
        let want = (10.0 / SEED_STEP_HZ) as f32;
        assert!(
            (f0.chroma_rise[0] - want).abs() < 1e-6,
            "{}",
            f0.chroma_rise[0]
        );
    }

    #[test]
    fn frames_between_samples_hold_the_latest_one() {
        // 40 fps over 10 Hz samples: frame 1 ([0.025, 0.05)) has no sample and holds sample 0;
        // frame 5 ([0.125, 0.15)) holds sample 1.
        let inputs = FrameInputs::new(ramp(4), 10.0, 0.0, 40, 1, false);
        assert_eq!(inputs.get(0).power, 0.0);
        assert_eq!(inputs.get(1).power, 0.0);
        assert_eq!(inputs.get(5).power, 1.0);
        // Past the end: the last sample.
        assert_eq!(inputs.get(1000).power, 3.0);
    }

    #[test]
    fn chroma_rise_is_numpy_gradient_or_causal_difference() {
        let values = [0.0f32, 1.0, 4.0, 9.0];
        let samples: Vec<FeatureSample> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| sample(i as f64, 0.0, v))
            .collect();
        // One sample per frame at the seed's rate, so no rescaling.
        let song = FrameInputs::new(samples.clone(), SEED_STEP_HZ, 0.0, 1, 1, false);
        let live = FrameInputs::new(samples, SEED_STEP_HZ, 0.0, 1, 1, true);
        // np.gradient([0, 1, 4, 9]) = [1, 2, 4, 5].
        let song_rise: Vec<f32> = (0..4).map(|k| song.get(k).chroma_rise[0]).collect();
        let live_rise: Vec<f32> = (0..4).map(|k| live.get(k).chroma_rise[0]).collect();
        assert_eq!(song_rise, vec![1.0, 2.0, 4.0, 5.0]);
        assert_eq!(live_rise, vec![0.0, 1.0, 3.0, 5.0]);
    }

    #[test]
    fn mean_chroma_averages_each_pitch() {
        let m = mean_chroma(&ramp(5));
        assert_eq!(m[0], 2.0);
        assert_eq!(m[1], 0.0);
    }
}
