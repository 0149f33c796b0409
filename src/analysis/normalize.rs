//! The two ways of mapping kick, power, rise and onset to 0..1.
//!
//! **Song** (offline, two passes, exactly the seed's formulas over the whole file):
//! `power = (p - min p) / ptp p`; `rise = clip(gradient(p) / max gradient(p), 0)` with numpy's
//! `np.gradient` (central differences, one-sided at the ends); kick the same min/ptp as power;
//! onset divided by its maximum. Where the seed would divide by zero (a constant or silent file)
//! the result is 0, and where the largest gradient is negative (a file that only gets quieter)
//! the rise is 0 instead of the seed's sign-flipped values.
//!
//! **Live** (causal, used by the plugin): each value is placed between a floor and a peak that
//! follow the signal: the floor drops at once to a new low and creeps up towards the signal, the
//! peak jumps at once to a new high and sinks towards the floor, both with a 10 s time constant,
//! about a musical phrase, so a quiet verse after a loud chorus becomes visible again after a few
//! seconds. The range never shrinks below 5 % of the peak (a steady tone does not turn its noise
//! into full-scale flicker) nor below an absolute floor (silence maps to 0). Rise and onset are
//! divided by their own decaying peaks; the rise's peak never goes below 1 % of the power's peak,
//! the onset's never below 1 dB, for the same reason.

use crate::bridge::LiveLevels;

/// Time constant of the live floors and peaks.
pub const LIVE_RELEASE_S: f64 = 10.0;
/// Smallest live range as a fraction of the peak.
const MIN_RELATIVE_RANGE: f32 = 0.05;
/// Smallest live range in absolute (power) units: -100 dB re the level of a full-scale sine's
/// kick-band or mel power, so digital silence and denormal noise map to 0.
const MIN_ABSOLUTE_RANGE: f32 = 1e-10;
/// Smallest peak the live rise is divided by, relative to the power peak.
const MIN_RISE_PEAK_FRACTION: f32 = 0.01;
/// Smallest peak the live onset is divided by, in dB of mean flux.
const MIN_ONSET_PEAK_DB: f32 = 1.0;
/// Values below this are flushed to zero so the followers never run on denormals.
const FLUSH_BELOW: f32 = 1e-30;

fn flush(x: f32) -> f32 {
    if x.abs() < FLUSH_BELOW || !x.is_finite() {
        0.0
    } else {
        x
    }
}

/// Causal floor/peak follower mapping a level to 0..1.
#[derive(Debug, Clone)]
pub struct LiveRange {
    /// The running floor.
    floor: f32,
    /// The running peak.
    peak: f32,
    /// Fraction of the gap kept per frame: `exp(-hop_s / LIVE_RELEASE_S)`.
    keep: f32,
    /// Whether floor and peak hold a value yet.
    started: bool,
}

impl LiveRange {
    /// A follower for frames `hop_s` seconds apart.
    pub fn new(hop_s: f64) -> Self {
        Self {
            floor: 0.0,
            peak: 0.0,
            keep: (-hop_s / LIVE_RELEASE_S).exp() as f32,
            started: false,
        }
    }

    /// Forgets the past.
    pub fn reset(&mut self) {
        self.floor = 0.0;
        self.peak = 0.0;
        self.started = false;
    }

    /// The current peak (for relative floors elsewhere).
    pub fn peak(&self) -> f32 {
        self.peak
    }

    /// Takes the next level and returns it mapped to 0..1.
    pub fn update(&mut self, level: f32) -> f32 {
        let level = flush(level).max(0.0);
        if !self.started {
            self.floor = level;
            self.peak = level;
            self.started = true;
        }
        self.floor = if level < self.floor {
            level
        } else {
            flush(level - (level - self.floor) * self.keep)
        };
        self.peak = if level > self.peak {
            level
        } else {
            flush(self.floor + (self.peak - self.floor) * self.keep)
        };
        let range = (self.peak - self.floor)
            .max(self.peak * MIN_RELATIVE_RANGE)
            .max(MIN_ABSOLUTE_RANGE);
        ((level - self.floor) / range).clamp(0.0, 1.0)
    }
}

/// Causal decaying-peak follower mapping a non-negative value to 0..1.
#[derive(Debug, Clone)]
pub struct LivePeak {
    /// The running peak.
    peak: f32,
    /// Fraction of the peak kept per frame.
    keep: f32,
}

impl LivePeak {
    /// A follower for frames `hop_s` seconds apart.
    pub fn new(hop_s: f64) -> Self {
        Self {
            peak: 0.0,
            keep: (-hop_s / LIVE_RELEASE_S).exp() as f32,
        }
    }

    /// Forgets the past.
    pub fn reset(&mut self) {
        self.peak = 0.0;
    }

    /// Takes the next value and returns `value / max(peak, min_peak)`, clamped to 0..1.
    pub fn update(&mut self, value: f32, min_peak: f32) -> f32 {
        let value = flush(value).max(0.0);
        self.peak = flush(value.max(self.peak * self.keep));
        let divisor = self.peak.max(min_peak).max(MIN_ABSOLUTE_RANGE);
        (value / divisor).clamp(0.0, 1.0)
    }
}

/// The live normalisation of one analyzer: one follower per feature.
#[derive(Debug, Clone)]
pub struct LiveNormalizer {
    /// Kick-band energy follower.
    kick: LiveRange,
    /// Mel power follower.
    power: LiveRange,
    /// Power rise follower.
    rise: LivePeak,
    /// Onset follower.
    onset: LivePeak,
}

impl LiveNormalizer {
    /// Followers for frames `hop_s` seconds apart.
    pub fn new(hop_s: f64) -> Self {
        Self {
            kick: LiveRange::new(hop_s),
            power: LiveRange::new(hop_s),
            rise: LivePeak::new(hop_s),
            onset: LivePeak::new(hop_s),
        }
    }

    /// Forgets the past.
    pub fn reset(&mut self) {
        self.kick.reset();
        self.power.reset();
        self.rise.reset();
        self.onset.reset();
    }

    /// Maps one frame's raw values to 0..1.
    pub fn update(&mut self, kick: f32, power: f32, rise: f32, onset_db: f32) -> LiveLevels {
        let kick = self.kick.update(kick);
        let power_level = self.power.update(power);
        let rise = self
            .rise
            .update(rise, self.power.peak() * MIN_RISE_PEAK_FRACTION);
        let onset = self.onset.update(onset_db, MIN_ONSET_PEAK_DB);
        LiveLevels {
            kick,
            power: power_level,
            power_rise: rise,
            onset,
        }
    }
}

/// `(x - min) / ptp` over the whole series (the seed's power normalisation); all 0 when the
/// series is constant.
pub fn song_min_ptp(values: &[f32]) -> Vec<f32> {
    let min = values.iter().copied().fold(f32::INFINITY, f32::min);
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let ptp = max - min;
    if !(ptp > 0.0 && ptp.is_finite()) {
        return vec![0.0; values.len()];
    }
    values.iter().map(|&v| (v - min) / ptp).collect()
}

/// numpy's `np.gradient` with unit spacing: central differences inside, one-sided at the ends;
/// all 0 for fewer than two values (where numpy raises).
pub fn gradient(values: &[f32]) -> Vec<f32> {
    let n = values.len();
    if n < 2 {
        return vec![0.0; n];
    }
    (0..n)
        .map(|i| {
            if i == 0 {
                values[1] - values[0]
            } else if i == n - 1 {
                values[n - 1] - values[n - 2]
            } else {
                (values[i + 1] - values[i - 1]) / 2.0
            }
        })
        .collect()
}

/// The seed's rise: `clip(gradient(p) / max(gradient(p)), 0)`; all 0 when no gradient is
/// positive.
pub fn song_rise(power: &[f32]) -> Vec<f32> {
    let grad = gradient(power);
    let max = grad.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0; grad.len()];
    }
    grad.iter().map(|&g| (g / max).max(0.0)).collect()
}

/// `x / max x` (for the onset); all 0 when the maximum is not positive.
pub fn song_max_scale(values: &[f32]) -> Vec<f32> {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0; values.len()];
    }
    values.iter().map(|&v| (v / max).max(0.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_numpy() {
        // np.gradient([1, 2, 4, 7, 11]) == [1, 1.5, 2.5, 3.5, 4]
        assert_eq!(
            gradient(&[1.0, 2.0, 4.0, 7.0, 11.0]),
            vec![1.0, 1.5, 2.5, 3.5, 4.0]
        );
        assert_eq!(gradient(&[3.0]), vec![0.0]);
        assert!(gradient(&[]).is_empty());
    }

    #[test]
    fn song_normalisation_follows_the_seed_and_never_divides_by_zero() {
        assert_eq!(song_min_ptp(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(song_min_ptp(&[5.0, 5.0]), vec![0.0, 0.0]);
        // gradient [2, 1, -1.5, -2] / 2, clipped.
        assert_eq!(song_rise(&[0.0, 2.0, 2.0, -1.0]), vec![1.0, 0.5, 0.0, 0.0]);
        assert_eq!(song_rise(&[3.0, 2.0, 1.0]), vec![0.0, 0.0, 0.0]);
        assert_eq!(song_max_scale(&[0.0, 2.0, 1.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(song_max_scale(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn live_range_tracks_a_new_level_and_maps_silence_to_zero() {
        let hop_s = 512.0 / 22050.0;
        let mut silent = LiveRange::new(hop_s);
        for _ in 0..100 {
            assert_eq!(silent.update(0.0), 0.0);
        }
        assert_eq!(silent.update(1e-38), 0.0);

        // Alternate loud and quiet: loud maps to 1, quiet to 0.
        let mut range = LiveRange::new(hop_s);
        for i in 0..200 {
            let out = range.update(if i % 2 == 0 { 1.0 } else { 0.1 });
            if i > 0 {
                let expected = if i % 2 == 0 { 1.0 } else { 0.0 };
                assert!((out - expected).abs() < 1e-6, "frame {i}: {out}");
            }
        }
        // After a minute of a steady level the output stays small, not full-scale flicker.
        for _ in 0..2600 {
            range.update(0.5);
        }
        let wobble = range.update(0.51);
        assert!(wobble < 0.5, "{wobble}");
    }

    #[test]
    fn live_peak_decays_with_the_release_time() {
        let hop_s = 0.01;
        let mut peak = LivePeak::new(hop_s);
        assert_eq!(peak.update(2.0, 0.0), 1.0);
        // After one time constant the peak has decayed to 1/e, so the same small value reads
        // e times larger.
        let frames = (LIVE_RELEASE_S / hop_s) as usize;
        let mut out = 0.0;
        for _ in 0..frames {
            out = peak.update(0.1, 0.0);
        }
        let expected = 0.1 / (2.0 * (-1.0f32).exp());
        assert!((out - expected).abs() < 1e-3, "{out} vs {expected}");
        assert_eq!(peak.update(0.0, 0.0), 0.0);
        assert_eq!(LivePeak::new(hop_s).update(f32::NAN, 1.0), 0.0);
    }
}
