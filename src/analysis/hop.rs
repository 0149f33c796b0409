//! STFT framing: a ring holding the newest window of mono samples, and the windowed power
//! spectrum of that window.
//!
//! The window is a periodic Hann of four hops (2048 samples at the seed's 22.05 kHz / 512-sample
//! hop, about 93 ms at any rate), zero-padded to an FFT size with only the factors 2, 3 and 5.
//! The power spectrum is scaled by `2048 · 22050 / (n_fft · sample_rate)`, the change in bin
//! density and in the DFT's gain between this rate and the seed's, so that band sums (the kick
//! energy, the mel bands) of the same sound come out the same at every sample rate and equal
//! librosa's `|stft(n_fft=2048)|**2` sums at 22.05 kHz.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// The seed's sample rate, the reference for the spectrum's scale.
pub const REFERENCE_SAMPLE_RATE_HZ: f64 = 22050.0;
/// The seed's FFT size at the reference rate.
pub const REFERENCE_FFT_SIZE: usize = 2048;
/// Window length in hops (the seed's 2048 / 512).
pub const WINDOW_HOPS: usize = 4;

/// The smallest length `>= n` whose only prime factors are 2, 3 and 5, and which is even (the
/// sizes rustfft transforms fastest).
pub fn next_fast_fft_len(n: usize) -> usize {
    let mut candidate = n.max(2);
    loop {
        let mut rest = candidate;
        for factor in [2, 3, 5] {
            while rest.is_multiple_of(factor) {
                rest /= factor;
            }
        }
        if rest == 1 && candidate.is_multiple_of(2) {
            return candidate;
        }
        candidate += 1;
    }
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
    /// The planned forward transform of `fft_input.len()` points.
    fft: Arc<dyn RealToComplex<f32>>,
    /// Windowed samples followed by zero padding.
    fft_input: Vec<f32>,
    /// FFT output, bins 0..=n_fft/2.
    spectrum: Vec<Complex<f32>>,
    /// Scratch space for the transform.
    scratch: Vec<Complex<f32>>,
    /// `|X_k|^2` times `scale`, bins 0..=n_fft/2.
    power: Vec<f32>,
    /// Makes band sums independent of the sample rate (see the module docs).
    scale: f32,
    /// Frequency spacing of the bins.
    bin_hz: f64,
}

impl PowerSpectrum {
    /// Plans the transform for windows of `window_len` samples at `sample_rate_hz`; allocates.
    pub fn new(window_len: usize, sample_rate_hz: f64, planner: &mut RealFftPlanner<f32>) -> Self {
        let n_fft = next_fast_fft_len(window_len);
        let fft = planner.plan_fft_forward(n_fft);
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
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft_input: vec![0.0; n_fft],
            fft,
            power: vec![0.0; n_fft / 2 + 1],
            scale: scale as f32,
            bin_hz: sample_rate_hz / n_fft as f64,
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
        // The transform uses its input as scratch, so the padding is rewritten every time.
        self.fft_input[ring.len()..].fill(0.0);
        // The buffers were sized by this plan, so the length checks inside cannot fail.
        let transformed = self.fft.process_with_scratch(
            &mut self.fft_input,
            &mut self.spectrum,
            &mut self.scratch,
        );
        debug_assert!(transformed.is_ok());
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
    fn fast_fft_lengths() {
        assert_eq!(next_fast_fft_len(2048), 2048);
        assert_eq!(next_fast_fft_len(4460), 4500);
        assert_eq!(next_fast_fft_len(2049), 2160);
        assert_eq!(next_fast_fft_len(1), 2);
        assert_eq!(next_fast_fft_len(7), 8);
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
        let mut planner = RealFftPlanner::new();
        let mut sums = Vec::new();
        for sr in [22050.0f64, 44100.0, 48000.0, 96000.0] {
            let hop = (sr / (22050.0 / 512.0)).round() as usize;
            let len = WINDOW_HOPS * hop;
            let mut ring = HopRing::new(len);
            let signal: Vec<f32> = (0..len)
                .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 100.0 * n as f64 / sr).sin() as f32)
                .collect();
            ring.push(&signal);
            let mut spec = PowerSpectrum::new(len, sr, &mut planner);
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
