//! STFT framing: a ring holding the newest window of mono samples, and the windowed power
//! spectrum of that window.
//!
//! The window is a periodic Hann of about four hops (the seed's 2048 samples at 22.05 kHz with
//! its 512-sample hop, about 93 ms at any rate): the length nearest `4 · hop` whose prime factors
//! are all at most 11, so the FFT is fast (48 kHz: 4480 for 4460; 96 kHz: 8910 for 8916) and
//! needs no zero padding. Zero padding would move the bin grid away from the seed's, and band
//! sums near a band edge then change by several per cent (an orchestral excerpt's 123 Hz cello
//! against the 120 Hz kick edge lost 3 % of correlation with librosa at 96 kHz).
//!
//! The power spectrum is scaled by `2048 · 22050 / (n_fft · sample_rate)`, the change in bin
//! density and in the DFT's gain between this rate and the seed's, so that band sums (the kick
//! energy, the mel bands) of the same sound come out the same at every sample rate and equal
//! librosa's `|stft(n_fft=2048)|**2` sums at 22.05 kHz.

use realfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::fft::PartialRealFft;

/// The seed's sample rate, the reference for the spectrum's scale.
pub const REFERENCE_SAMPLE_RATE_HZ: f64 = 22050.0;
/// The seed's FFT size at the reference rate.
pub const REFERENCE_FFT_SIZE: usize = 2048;
/// Window length in hops (the seed's 2048 / 512), before rounding to a fast FFT size.
pub const WINDOW_HOPS: usize = 4;

/// Whether `n` is even and has no prime factor above 11 (a size rustfft transforms quickly).
fn is_fast_even_len(n: usize) -> bool {
    if n < 2 || !n.is_multiple_of(2) {
        return false;
    }
    let mut rest = n;
    for factor in [2, 3, 5, 7, 11] {
        while rest.is_multiple_of(factor) {
            rest /= factor;
        }
    }
    rest == 1
}

/// The even length nearest `target` with no prime factor above 11 (the shorter one on a tie).
pub fn nearest_fast_len(target: usize) -> usize {
    let target = target.max(2);
    for distance in 0..target {
        if is_fast_even_len(target - distance) {
            return target - distance;
        }
        if is_fast_even_len(target + distance) {
            return target + distance;
        }
    }
    2
}

/// The STFT window (and FFT) length for a hop of `hop_samples`: the fast length nearest four
/// hops.
pub fn analysis_window_len(hop_samples: usize) -> usize {
    nearest_fast_len(WINDOW_HOPS * hop_samples)
}

/// A circular buffer holding the newest `len` mono samples (zeros before the first push).
pub struct HopRing {
    /// The samples; `write_idx` is where the next one goes (and where the oldest one is).
    samples: Vec<f32>,
    /// Position of the oldest sample, which the next push overwrites.
    write_idx: usize,
}

impl HopRing {
    /// A ring of `len` zeros; allocates.
    pub fn new(len: usize) -> Self {
        Self {
            samples: vec![0.0; len.max(1)],
            write_idx: 0,
        }
    }

    /// Back to all zeros.
    pub fn reset(&mut self) {
        self.samples.fill(0.0);
        self.write_idx = 0;
    }

    /// Appends `input`, dropping the oldest samples.
    pub fn push(&mut self, input: &[f32]) {
        let len = self.samples.len();
        let input = &input[input.len().saturating_sub(len)..];
        let first = input.len().min(len - self.write_idx);
        self.samples[self.write_idx..self.write_idx + first].copy_from_slice(&input[..first]);
        let rest = input.len() - first;
        self.samples[..rest].copy_from_slice(&input[first..]);
        self.write_idx = (self.write_idx + input.len()) % len;
    }

    /// Number of samples the ring holds.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the ring holds no samples (never: it holds at least one).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The ring's contents, oldest first, as two slices.
    pub fn as_slices(&self) -> (&[f32], &[f32]) {
        let (newer, older) = self.samples.split_at(self.write_idx);
        (older, newer)
    }
}

/// Windowed, zero-padded FFT of a [`HopRing`] and its scaled power spectrum.
pub struct PowerSpectrum {
    /// Periodic Hann window, one value per ring sample.
    window: Vec<f32>,
    /// The planned forward transform of `fft_input.len()` points (the low bins only).
    fft: PartialRealFft,
    /// Windowed samples followed by zero padding.
    fft_input: Vec<f32>,
    /// FFT output, the bins up to the highest frequency needed.
    spectrum: Vec<Complex<f32>>,
    /// `|X_k|^2` times `scale`, bins 0..=n_fft/2; bins above the highest frequency needed stay 0.
    power: Vec<f32>,
    /// Makes band sums independent of the sample rate (see the module docs).
    scale: f32,
    /// Frequency spacing of the bins.
    bin_hz: f64,
}

impl PowerSpectrum {
    /// Plans the transform for windows of `window_len` samples (even; the FFT has the same
    /// length) at `sample_rate_hz`, computing the bins up to `max_hz` (the rest of `power()`
    /// stays 0); allocates.
    pub fn new(
        window_len: usize,
        sample_rate_hz: f64,
        max_hz: f64,
        planner: &mut FftPlanner<f32>,
    ) -> Self {
        let window_len = window_len.max(2) & !1;
        let n_fft = window_len;
        let bin_hz = sample_rate_hz / n_fft as f64;
        let num_bins = ((max_hz / bin_hz).floor() as usize + 2).min(n_fft / 2 + 1);
        let fft = PartialRealFft::new(n_fft, num_bins, planner);
        let window = (0..window_len)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / window_len as f64).cos())
                    as f32
            })
            .collect();
        let scale = (REFERENCE_FFT_SIZE as f64 * REFERENCE_SAMPLE_RATE_HZ)
            / (n_fft as f64 * sample_rate_hz);
        Self {
            window,
            spectrum: vec![Complex::new(0.0, 0.0); num_bins],
            fft_input: vec![0.0; n_fft],
            fft,
            power: vec![0.0; n_fft / 2 + 1],
            scale: scale as f32,
            bin_hz,
        }
    }

    /// FFT size (window plus zero padding).
    pub fn fft_len(&self) -> usize {
        self.fft_input.len()
    }

    /// Frequency spacing of the bins in Hz.
    pub fn bin_hz(&self) -> f64 {
        self.bin_hz
    }

    /// The last computed power spectrum, bins 0..=n_fft/2.
    pub fn power(&self) -> &[f32] {
        &self.power
    }

    /// Computes the power spectrum of the ring's current window.
    pub fn compute(&mut self, ring: &HopRing) -> &[f32] {
        let (older, newer) = ring.as_slices();
        let (win_older, win_newer) = self.window.split_at(older.len());
        for ((dst, &x), &w) in self.fft_input.iter_mut().zip(older).zip(win_older) {
            *dst = x * w;
        }
        for ((dst, &x), &w) in self.fft_input[older.len()..]
            .iter_mut()
            .zip(newer)
            .zip(win_newer)
        {
            *dst = x * w;
        }
        self.fft.process(&self.fft_input, &mut self.spectrum);
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr() * self.scale;
        }
        &self.power
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_lengths_are_fast_and_close_to_four_hops() {
        // (hop, window): 22.05, 44.1, 48, 96, 192 and 32 kHz at the seed's feature rate.
        for (hop, window) in [
            (512, 2048),
            (1024, 4096),
            (1115, 4480),
            (2229, 8910),
            (4458, 17820),
            (743, 2970),
        ] {
            let len = analysis_window_len(hop);
            assert_eq!(len, window, "hop {hop}");
            assert!(
                (len as f64 / (4 * hop) as f64 - 1.0).abs() < 0.005,
                "hop {hop}"
            );
        }
        assert_eq!(nearest_fast_len(1), 2);
        assert_eq!(nearest_fast_len(13 * 2), 24);
    }

    #[test]
    fn ring_keeps_the_newest_samples_in_order() {
        let mut ring = HopRing::new(5);
        ring.push(&[1.0, 2.0, 3.0]);
        ring.push(&[4.0, 5.0, 6.0, 7.0]);
        let (a, b) = ring.as_slices();
        let all: Vec<f32> = a.iter().chain(b).copied().collect();
        assert_eq!(all, vec![3.0, 4.0, 5.0, 6.0, 7.0]);
        ring.push(&[8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0]);
        let (a, b) = ring.as_slices();
        let all: Vec<f32> = a.iter().chain(b).copied().collect();
        assert_eq!(all, vec![10.0, 11.0, 12.0, 13.0, 14.0]);
    }

    #[test]
    fn sine_power_is_the_same_at_every_sample_rate() {
        // A 100 Hz sine at amplitude 0.5: the band sum around it must not depend on the rate.
        let mut planner = FftPlanner::new();
        let mut sums = Vec::new();
        for sr in [22050.0f64, 44100.0, 48000.0, 96000.0] {
            let hop = (sr / (22050.0 / 512.0)).round() as usize;
            let len = analysis_window_len(hop);
            let mut ring = HopRing::new(len);
            let signal: Vec<f32> = (0..len)
                .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 100.0 * n as f64 / sr).sin() as f32)
                .collect();
            ring.push(&signal);
            let mut spec = PowerSpectrum::new(len, sr, 8000.0, &mut planner);
            let bin_hz = spec.bin_hz();
            let power = spec.compute(&ring);
            let sum: f32 = power
                .iter()
                .enumerate()
                .filter(|(k, _)| (*k as f64 * bin_hz - 100.0).abs() < 60.0)
                .map(|(_, p)| p)
                .sum();
            sums.push(sum);
        }
        for sum in &sums {
            assert!((sum / sums[0] - 1.0).abs() < 0.01, "{sums:?}");
        }
    }
}
