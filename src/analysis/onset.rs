//! Spectral-flux onset strength on the log-mel spectrum, causally.
//!
//! `onset[t] = mean_b max(0, S_dB[b, t] - S_dB[b, t-1])` over the 128 mel bands of the power
//! feature: librosa's `onset_strength(S=power_to_db(mel), lag=1, max_size=1, center=False)`.
//! librosa floors the dB spectrogram at 80 dB below its global maximum; a live analyzer cannot
//! see the whole song, so the floor here is 80 dB below a running peak that decays by 1 dB per
//! second (it adapts to a quieter song after a loud one within tens of seconds, and differs from
//! librosa's only for bands more than 80 dB down, which carry no onsets worth drawing).

use super::mel::NUM_MEL_BANDS;

/// Power floor before taking logarithms (librosa's `amin`).
const AMIN: f32 = 1e-10;
/// Dynamic range kept below the running peak (librosa's `top_db`).
const TOP_DB: f32 = 80.0;
/// How fast the running peak forgets a loud past.
const PEAK_DECAY_DB_PER_S: f64 = 1.0;

/// Spectral-flux state: the previous frame's floored dB spectrum and the running peak.
pub struct OnsetDetector {
    /// Floored log-mel spectrum of the previous frame.
    prev_db: [f32; NUM_MEL_BANDS],
    /// Whether `prev_db` holds a frame yet (the first frame has no flux).
    has_prev: bool,
    /// Running peak of the log-mel spectrum, in dB.
    peak_db: f32,
    /// Peak decay per frame, in dB.
    decay_db_per_frame: f32,
    /// Scratch for the current frame's dB values.
    current_db: [f32; NUM_MEL_BANDS],
}

impl OnsetDetector {
    /// A detector for frames `hop_s` seconds apart.
    pub fn new(hop_s: f64) -> Self {
        Self {
            prev_db: [0.0; NUM_MEL_BANDS],
            has_prev: false,
            peak_db: f32::NEG_INFINITY,
            decay_db_per_frame: (PEAK_DECAY_DB_PER_S * hop_s) as f32,
            current_db: [0.0; NUM_MEL_BANDS],
        }
    }

    /// Forgets the past.
    pub fn reset(&mut self) {
        self.has_prev = false;
        self.peak_db = f32::NEG_INFINITY;
    }

    /// Onset strength of the frame whose mel energies are `bands`, in dB (>= 0).
    pub fn process(&mut self, bands: &[f32; NUM_MEL_BANDS]) -> f32 {
        let mut frame_peak = f32::NEG_INFINITY;
        for (db, &energy) in self.current_db.iter_mut().zip(bands) {
            // `max` also maps a NaN energy to the floor.
            *db = 10.0 * energy.max(AMIN).log10();
            frame_peak = frame_peak.max(*db);
        }
        self.peak_db = frame_peak.max(self.peak_db - self.decay_db_per_frame);
        let floor = self.peak_db - TOP_DB;
        for db in &mut self.current_db {
            *db = db.max(floor);
        }
        let flux = if self.has_prev {
            let sum: f32 = self
                .current_db
                .iter()
                .zip(&self.prev_db)
                .map(|(now, before)| (now - before).max(0.0))
                .sum();
            sum / NUM_MEL_BANDS as f32
        } else {
            0.0
        };
        self.prev_db = self.current_db;
        self.has_prev = true;
        flux
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_is_the_mean_positive_db_change() {
        let mut detector = OnsetDetector::new(512.0 / 22050.0);
        let quiet = [1e-4f32; NUM_MEL_BANDS];
        let mut loud = quiet;
        for band in loud.iter_mut().take(64) {
            *band = 1e-2; // +20 dB in half the bands
        }
        assert_eq!(detector.process(&quiet), 0.0);
        assert_eq!(detector.process(&quiet), 0.0);
        let rise = detector.process(&loud);
        assert!((rise - 10.0).abs() < 1e-4, "{rise}");
        // Falling energy is not an onset.
        assert_eq!(detector.process(&quiet), 0.0);
    }

    #[test]
    fn silence_and_garbage_stay_finite() {
        let mut detector = OnsetDetector::new(0.01);
        for bands in [
            [0.0f32; NUM_MEL_BANDS],
            [f32::NAN; NUM_MEL_BANDS],
            [f32::MIN_POSITIVE / 4.0; NUM_MEL_BANDS],
            [1e30; NUM_MEL_BANDS],
        ] {
            let flux = detector.process(&bands);
            assert!(flux.is_finite() && flux >= 0.0, "{flux}");
        }
    }
}
