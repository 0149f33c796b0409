//! Kick-drum energy: the power spectrum summed over a low band (default 20–120 Hz).
//!
//! The bins counted are those whose centre frequency `k · sr / n_fft` lies in
//! `[low_hz, high_hz]`, the same selection as `(freqs >= low) & (freqs <= high)` on librosa's
//! `fft_frequencies`. The seed's DeepDream visualiser summed a spectrogram over 0–120 Hz; the DC
//! bin and sub-sonic rumble are left out by the 20 Hz default.

/// Default lower edge of the kick band.
pub const DEFAULT_KICK_LOW_HZ: f32 = 20.0;
/// Default upper edge of the kick band.
pub const DEFAULT_KICK_HIGH_HZ: f32 = 120.0;

/// The bins of one band of a power spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KickBand {
    /// First bin in the band.
    first_bin_idx: usize,
    /// One past the last bin in the band (equal to `first_bin_idx` for an empty band).
    end_bin_idx: usize,
}

impl KickBand {
    /// The bins of `[low_hz, high_hz]` (edges swapped if given high first) in a spectrum of
    /// `num_bins` bins spaced `bin_hz` apart. Allocation-free, so it can follow a parameter on
    /// the audio thread.
    pub fn new(low_hz: f32, high_hz: f32, bin_hz: f64, num_bins: usize) -> Self {
        let (low, high) = if low_hz <= high_hz {
            (low_hz as f64, high_hz as f64)
        } else {
            (high_hz as f64, low_hz as f64)
        };
        if !(low.is_finite() && high.is_finite() && bin_hz > 0.0) {
            return Self {
                first_bin_idx: 0,
                end_bin_idx: 0,
            };
        }
        // Compare bin centres exactly as librosa does rather than trusting a rounded division.
        let mut first = (low / bin_hz).floor().max(0.0) as usize;
        while first < num_bins && (first as f64) * bin_hz < low {
            first += 1;
        }
        let mut end = first;
        while end < num_bins && (end as f64) * bin_hz <= high {
            end += 1;
        }
        Self {
            first_bin_idx: first.min(num_bins),
            end_bin_idx: end,
        }
    }

    /// Sum of `power` over the band.
    pub fn energy(&self, power: &[f32]) -> f32 {
        power
            .get(self.first_bin_idx..self.end_bin_idx)
            .map_or(0.0, |band| band.iter().sum())
    }

    /// The band's bins as a half-open range.
    pub fn bins(&self) -> std::ops::Range<usize> {
        self.first_bin_idx..self.end_bin_idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_band_at_22k_is_bins_2_to_11() {
        let band = KickBand::new(20.0, 120.0, 22050.0 / 2048.0, 1025);
        assert_eq!(band.bins(), 2..12);
        let swapped = KickBand::new(120.0, 20.0, 22050.0 / 2048.0, 1025);
        assert_eq!(swapped, band);
    }

    #[test]
    fn band_edges_are_inclusive_and_clamped() {
        // Bin 3 sits exactly on 30 Hz.
        let band = KickBand::new(30.0, 30.0, 10.0, 100);
        assert_eq!(band.bins(), 3..4);
        let beyond = KickBand::new(900.0, 5000.0, 10.0, 100);
        assert_eq!(beyond.bins(), 90..100);
        let empty = KickBand::new(f32::NAN, 1.0, 10.0, 100);
        assert_eq!(empty.energy(&[1.0; 100]), 0.0);
        assert_eq!(KickBand::new(0.0, 25.0, 10.0, 100).energy(&[1.0; 100]), 3.0);
    }
}
