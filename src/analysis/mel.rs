//! Mel power: the seed's `librosa.feature.melspectrogram(y, sr, n_mels=128, fmax=8000)` averaged
//! over its bands.
//!
//! The filter bank is librosa's default (`htk=False`, `norm="slaney"`): triangles on the Slaney
//! mel scale (linear below 1 kHz, logarithmic above), each scaled to unit area in Hz. It is
//! sampled at this analyzer's own bin frequencies, so with the rate-independent spectrum scale
//! of [`super::hop`] the bands measure the same energy at every sample rate.

/// Number of mel bands (the seed's `n_mels`).
pub const NUM_MEL_BANDS: usize = 128;
/// Upper edge of the mel filter bank (the seed's `fmax`).
pub const MEL_FMAX_HZ: f64 = 8000.0;

/// Width of one mel below 1 kHz on the Slaney scale, in Hz.
const SLANEY_HZ_PER_MEL: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns logarithmic.
const SLANEY_LOG_START_HZ: f64 = 1000.0;

/// Hz to Slaney mel (librosa `hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    let log_start_mel = SLANEY_LOG_START_HZ / SLANEY_HZ_PER_MEL;
    if hz >= SLANEY_LOG_START_HZ {
        log_start_mel + (hz / SLANEY_LOG_START_HZ).ln() / (6.4f64.ln() / 27.0)
    } else {
        hz / SLANEY_HZ_PER_MEL
    }
}

/// Slaney mel to Hz (librosa `mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    let log_start_mel = SLANEY_LOG_START_HZ / SLANEY_HZ_PER_MEL;
    if mel >= log_start_mel {
        SLANEY_LOG_START_HZ * ((6.4f64.ln() / 27.0) * (mel - log_start_mel)).exp()
    } else {
        SLANEY_HZ_PER_MEL * mel
    }
}

/// A mel filter bank stored sparsely: each band's non-zero weights are contiguous bins.
pub struct MelBank {
    /// First bin of each band.
    first_bin_idx: [usize; NUM_MEL_BANDS],
    /// Offset of each band's weights in `weights` (and the end, at index `NUM_MEL_BANDS`).
    weight_offsets: [usize; NUM_MEL_BANDS + 1],
    /// All bands' weights, back to back.
    weights: Vec<f32>,
}

impl MelBank {
    /// The bank for `num_bins` bins spaced `bin_hz` apart; allocates.
    pub fn new(bin_hz: f64, num_bins: usize) -> Self {
        let min_mel = hz_to_mel(0.0);
        let max_mel = hz_to_mel(MEL_FMAX_HZ);
        let num_edges = NUM_MEL_BANDS + 2;
        let edges_hz: Vec<f64> = (0..num_edges)
            .map(|i| {
                let mel = min_mel + (max_mel - min_mel) * i as f64 / (num_edges - 1) as f64;
                mel_to_hz(mel)
            })
            .collect();
        let mut first_bin_idx = [0; NUM_MEL_BANDS];
        let mut weight_offsets = [0; NUM_MEL_BANDS + 1];
        let mut weights = Vec::new();
        for band in 0..NUM_MEL_BANDS {
            let (lo, centre, hi) = (edges_hz[band], edges_hz[band + 1], edges_hz[band + 2]);
            let area_norm = 2.0 / (hi - lo);
            let mut first = None;
            for bin in 0..num_bins {
                let hz = bin as f64 * bin_hz;
                let rising = (hz - lo) / (centre - lo);
                let falling = (hi - hz) / (hi - centre);
                let weight = rising.min(falling).max(0.0);
                if weight > 0.0 {
                    if first.is_none() {
                        first = Some(bin);
                    }
                } else if first.is_some() {
                    break;
                }
                if first.is_some() {
                    weights.push((weight * area_norm) as f32);
                }
            }
            // A band narrower than one bin gets no weights (as librosa, which warns about it).
            first_bin_idx[band] = first.unwrap_or(0);
            weight_offsets[band + 1] = weights.len();
        }
        Self {
            first_bin_idx,
            weight_offsets,
            weights,
        }
    }

    /// Fills `bands` with the mel energies of `power` and returns their mean (the seed's power).
    pub fn apply(&self, power: &[f32], bands: &mut [f32; NUM_MEL_BANDS]) -> f32 {
        let mut total = 0.0f32;
        for (band, out) in bands.iter_mut().enumerate() {
            let weights = &self.weights[self.weight_offsets[band]..self.weight_offsets[band + 1]];
            let first = self.first_bin_idx[band];
            let energy: f32 = weights
                .iter()
                .zip(power.get(first..).unwrap_or(&[]))
                .map(|(w, p)| w * p)
                .sum();
            *out = energy;
            total += energy;
        }
        total / NUM_MEL_BANDS as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_matches_librosa_values() {
        // librosa.hz_to_mel(440.0) == 6.6, librosa.hz_to_mel(8000.0) == 45.245640471924965.
        assert!((hz_to_mel(440.0) - 6.6).abs() < 1e-12);
        assert!((hz_to_mel(8000.0) - 45.245_640_471_924_965).abs() < 1e-9);
        for hz in [0.0, 100.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn bank_matches_librosa_at_22k() {
        // From librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128, fmax=8000):
        // band 0 is non-zero at bins 1..=4 (starting 0.01969188, 0.03938375), and band 127
        // spans bins 709..=743.
        let bank = MelBank::new(22050.0 / 2048.0, 1025);
        assert_eq!(bank.first_bin_idx[0], 1);
        assert_eq!(bank.weight_offsets[1] - bank.weight_offsets[0], 4);
        assert!(
            (bank.weights[0] - 0.019_691_88).abs() < 1e-7,
            "{}",
            bank.weights[0]
        );
        assert!(
            (bank.weights[1] - 0.039_383_75).abs() < 1e-7,
            "{}",
            bank.weights[1]
        );
        assert_eq!(bank.first_bin_idx[127], 709);
        assert_eq!(
            bank.weight_offsets[128] - bank.weight_offsets[127],
            743 - 709 + 1
        );
    }
}
