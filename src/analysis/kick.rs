//! Kick-drum energy: the power spectrum summed over a low band (default 20–120 Hz).
//!
//! At the seed's 22.05 kHz / 2048-point STFT the band is librosa's selection: the bins whose
//! centre frequency lies in `[low_hz, high_hz]` (`(freqs >= low) & (freqs <= high)`), i.e. the
//! frequency range covered by those bins' cells, `[(first - ½)·Δ, (last + ½)·Δ]` with
//! `Δ = 22050 / 2048 ≈ 10.77 Hz`. At other rates the bin spacing differs slightly (the window is
//! rounded to a fast FFT length, see [`super::hop`]), so the same range in Hz is summed with
//! each bin weighted by how much of its cell lies inside it. That keeps the band the same at
//! every rate (choosing bins by their centres alone moves its edges by up to half a bin) and
//! exactly librosa's at 22.05 and 44.1 kHz.
//!
//! A band narrower than one reference bin (no bin centre inside) falls back to the single
//! reference bin nearest its middle, so the kick never goes silent because of a narrow band.
//! The seed's DeepDream visualiser summed a spectrogram over 0–120 Hz; the 20 Hz default leaves
//! out the DC bin and sub-sonic rumble.

use super::hop::{REFERENCE_FFT_SIZE, REFERENCE_SAMPLE_RATE_HZ};

/// Default lower edge of the kick band.
pub const DEFAULT_KICK_LOW_HZ: f32 = 20.0;
/// Default upper edge of the kick band.
pub const DEFAULT_KICK_HIGH_HZ: f32 = 120.0;

/// Weights closer than this to 0 or 1 are taken as exactly 0 or 1 (rounding of the cell edges).
const WEIGHT_SNAP: f64 = 1e-6;

/// The bins of one band of a power spectrum, the edge bins possibly weighted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KickBand {
    /// First bin in the band.
    first_bin_idx: usize,
    /// One past the last bin in the band (equal to `first_bin_idx` for an empty band).
    end_bin_idx: usize,
    /// Weight of the first bin (the fraction of its cell inside the band).
    first_weight: f32,
    /// Weight of the last bin (when it is not also the first).
    last_weight: f32,
}

impl KickBand {
    /// The band `[low_hz, high_hz]` (edges swapped if given high first) in a spectrum of
    /// `num_bins` bins spaced `bin_hz` apart. Allocation-free, so it can follow a parameter on
    /// the audio thread.
    pub fn new(low_hz: f32, high_hz: f32, bin_hz: f64, num_bins: usize) -> Self {
        let empty = Self {
            first_bin_idx: 0,
            end_bin_idx: 0,
            first_weight: 0.0,
            last_weight: 0.0,
        };
        let (low, high) = if low_hz <= high_hz {
            (f64::from(low_hz), f64::from(high_hz))
        } else {
            (f64::from(high_hz), f64::from(low_hz))
        };
        if !(low.is_finite() && high.is_finite() && bin_hz > 0.0 && num_bins > 0) {
            return empty;
        }
        // The reference bins whose centres lie in the band, as librosa picks them.
        let ref_hz = REFERENCE_SAMPLE_RATE_HZ / REFERENCE_FFT_SIZE as f64;
        let mut first_ref = (low / ref_hz).ceil().max(0.0);
        let mut last_ref = (high / ref_hz).floor();
        if first_ref > last_ref {
            let middle = ((low + high) / 2.0 / ref_hz).round().max(0.0);
            (first_ref, last_ref) = (middle, middle);
        }
        let band_lo = (first_ref - 0.5).max(0.0) * ref_hz;
        let band_hi = (last_ref + 0.5) * ref_hz;

        // Bins of this grid whose cells overlap the band, weighted by the overlap.
        let weight = |bin: usize| -> f64 {
            let cell_lo = (bin as f64 - 0.5) * bin_hz;
            let cell_hi = (bin as f64 + 0.5) * bin_hz;
            let overlap = (cell_hi.min(band_hi) - cell_lo.max(band_lo)) / bin_hz;
            if overlap < WEIGHT_SNAP {
                0.0
            } else if overlap > 1.0 - WEIGHT_SNAP {
                1.0
            } else {
                overlap
            }
        };
        let mut first = (band_lo / bin_hz).floor().max(0.0) as usize;
        while first < num_bins && weight(first) == 0.0 {
            first += 1;
        }
        if first >= num_bins {
            return empty;
        }
        let mut end = first + 1;
        while end < num_bins && weight(end) > 0.0 {
            end += 1;
        }
        Self {
            first_bin_idx: first,
            end_bin_idx: end,
            first_weight: weight(first) as f32,
            last_weight: weight(end - 1) as f32,
        }
    }

    /// Weighted sum of `power` over the band.
    pub fn energy(&self, power: &[f32]) -> f32 {
        let Some(band) = power.get(self.first_bin_idx..self.end_bin_idx) else {
            return 0.0;
        };
        match band {
            [] => 0.0,
            [only] => self.first_weight * only,
            [first, inner @ .., last] => {
                self.first_weight * first + inner.iter().sum::<f32>() + self.last_weight * last
            }
        }
    }

    /// The band's bins as a half-open range.
    pub fn bins(&self) -> std::ops::Range<usize> {
        self.first_bin_idx..self.end_bin_idx
    }

    /// Weights of the band's first and last bins (inner bins count fully).
    pub fn edge_weights(&self) -> (f32, f32) {
        (self.first_weight, self.last_weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF_HZ: f64 = 22050.0 / 2048.0;

    #[test]
    fn seed_band_at_22k_and_44k_is_librosas_bins_2_to_11() {
        let band = KickBand::new(20.0, 120.0, REF_HZ, 1025);
        assert_eq!(band.bins(), 2..12);
        assert_eq!(band.edge_weights(), (1.0, 1.0));
        let swapped = KickBand::new(120.0, 20.0, REF_HZ, 1025);
        assert_eq!(swapped, band);
        // 44.1 kHz with a 4096-point FFT has the same grid.
        assert_eq!(KickBand::new(20.0, 120.0, 44100.0 / 4096.0, 2049), band);
        assert_eq!(band.energy(&[1.0; 1025]), 10.0);
    }

    #[test]
    fn other_grids_sum_the_same_range_in_hz() {
        // The band covers [1.5, 11.5] reference bins = [16.15, 123.82] Hz, 107.67 Hz wide; on a
        // flat spectrum the weighted bin count times the bin width is that width.
        for (sr, n_fft) in [(48000.0, 4608usize), (96000.0, 9216), (32000.0, 3072)] {
            let bin_hz = sr / n_fft as f64;
            let band = KickBand::new(20.0, 120.0, bin_hz, n_fft / 2 + 1);
            let width = f64::from(band.energy(&vec![1.0; n_fft / 2 + 1])) * bin_hz;
            assert!((width - 10.0 * REF_HZ).abs() < 1e-3, "{sr}: {width}");
        }
    }

    #[test]
    fn narrow_empty_and_invalid_bands() {
        // No reference bin centre in 45..50 Hz: the one nearest the middle (43.1 Hz, bin 4) is
        // used.
        let narrow = KickBand::new(45.0, 50.0, REF_HZ, 1025);
        assert_eq!(narrow.bins(), 4..5);
        let beyond = KickBand::new(900.0, 5000.0, REF_HZ, 50);
        assert_eq!(beyond.energy(&[1.0; 50]), 0.0);
        let invalid = KickBand::new(f32::NAN, 1.0, REF_HZ, 100);
        assert_eq!(invalid.energy(&[1.0; 100]), 0.0);
    }
}
