//! Real-input FFTs that compute only the bins the features read.
//!
//! Both use the standard packing tricks on rustfft's complex transform:
//!
//! * [`PartialRealFft`]: a real signal of even length `N` as the complex signal
//!   `z[m] = x[2m] + i·x[2m+1]` of length `N/2`; then with `Z = FFT(z)`, `Zc[k] = conj(Z[N/2-k])`:
//!   `X[k] = (Z[k] + Zc[k]) / 2 - i·e^(-2πik/N)·(Z[k] - Zc[k]) / 2`. Only bins below the
//!   highest one a feature reads (8 kHz for the mel bank) are unpacked.
//! * [`PairedRealFft`]: two real signals `a`, `b` of length `N` as `a + i·b`; then
//!   `A[k] = (Z[k] + conj(Z[N-k])) / 2` and `B[k] = -i·(Z[k] - conj(Z[N-k])) / 2`, unpacked only
//!   over the range of bins the constant-Q kernels touch.
//!
//! A general-purpose real FFT finishes every bin; the analysis needs a third of the STFT's bins
//! (at 48 kHz) and a fifth of each constant-Q octave's, and pairing the octaves halves the number
//! of transforms: together about a third less work for the whole Analyzer.

use std::sync::Arc;

use realfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Forward FFT of a real signal of even length, evaluated for the first `num_bins` bins only.
pub struct PartialRealFft {
    /// Complex transform of half the length.
    fft: Arc<dyn Fft<f32>>,
    /// Packed input, transformed in place.
    buffer: Vec<Complex<f32>>,
    /// Scratch for the transform.
    scratch: Vec<Complex<f32>>,
    /// `-i·e^(-2πik/N) / 2` for each output bin.
    twiddles: Vec<Complex<f32>>,
}

impl PartialRealFft {
    /// Plans a transform of `len` (even) real samples returning bins `0..num_bins` (at most
    /// `len / 2 + 1`); allocates.
    pub fn new(len: usize, num_bins: usize, planner: &mut FftPlanner<f32>) -> Self {
        let len = len.max(2) & !1;
        let half = len / 2;
        let fft = planner.plan_fft_forward(half);
        let num_bins = num_bins.min(half + 1);
        let twiddles = (0..num_bins)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / len as f64;
                // -i/2 · e^(iθ) = (sin θ / 2, -cos θ / 2)
                Complex::new((angle.sin() / 2.0) as f32, (-angle.cos() / 2.0) as f32)
            })
            .collect();
        Self {
            buffer: vec![Complex::new(0.0, 0.0); half],
            scratch: vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            fft,
            twiddles,
        }
    }

    /// Real samples this transform takes.
    pub fn len(&self) -> usize {
        2 * self.buffer.len()
    }

    /// Whether the transform is of zero length (never).
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Transforms `input` (`len()` samples; missing ones count as 0) into `output` (the first
    /// `num_bins` bins; extra output slots are left alone).
    pub fn process(&mut self, input: &[f32], output: &mut [Complex<f32>]) {
        let half = self.buffer.len();
        let pairs = input.chunks_exact(2);
        let num_pairs = pairs.len().min(half);
        for (z, pair) in self.buffer.iter_mut().zip(pairs) {
            *z = Complex::new(pair[0], pair[1]);
        }
        // An odd or short input: the last sample, then silence.
        if num_pairs < half {
            let last = input.get(2 * num_pairs).copied().unwrap_or(0.0);
            self.buffer[num_pairs] = Complex::new(last, 0.0);
            self.buffer[num_pairs + 1..].fill(Complex::new(0.0, 0.0));
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let num_bins = output.len().min(self.twiddles.len());
        // Bins 0 and N/2 pair Z[0] with itself; bins 1..N/2 pair Z[k] with Z[N/2 - k].
        let finish = |z: Complex<f32>, zc: Complex<f32>, twiddle: Complex<f32>| {
            (z + zc) * 0.5 + (z - zc) * twiddle
        };
        let z0 = self.buffer[0];
        if let Some(out) = output.first_mut() {
            *out = finish(z0, z0.conj(), self.twiddles[0]);
        }
        let inner_end = num_bins.min(half);
        if inner_end > 1 {
            let mirrored = self.buffer[half + 1 - inner_end..].iter().rev();
            for (((out, z), zc), twiddle) in output[1..inner_end]
                .iter_mut()
                .zip(&self.buffer[1..inner_end])
                .zip(mirrored)
                .zip(&self.twiddles[1..inner_end])
            {
                *out = finish(*z, zc.conj(), *twiddle);
            }
        }
        if num_bins > half {
            output[half] = finish(z0, z0.conj(), self.twiddles[half]);
        }
    }
}

/// Forward FFTs of two real signals of the same length in one complex transform, evaluated over
/// one range of bins.
pub struct PairedRealFft {
    /// Complex transform of the full length.
    fft: Arc<dyn Fft<f32>>,
    /// `a + i·b`, transformed in place.
    buffer: Vec<Complex<f32>>,
    /// Scratch for the transform.
    scratch: Vec<Complex<f32>>,
}

impl PairedRealFft {
    /// Plans transforms of `len` real samples; allocates.
    pub fn new(len: usize, planner: &mut FftPlanner<f32>) -> Self {
        let len = len.max(1);
        let fft = planner.plan_fft_forward(len);
        Self {
            buffer: vec![Complex::new(0.0, 0.0); len],
            scratch: vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            fft,
        }
    }

    /// Samples per signal.
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether the transform is of zero length (never).
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The packed input: write signal `a` to the real parts and `b` to the imaginary parts.
    pub fn input_mut(&mut self) -> &mut [Complex<f32>] {
        &mut self.buffer
    }

    /// Transforms the packed input and writes bins `first_bin..first_bin + a_out.len()` of each
    /// signal's spectrum to `a_out` and `b_out`.
    pub fn process(
        &mut self,
        first_bin: usize,
        a_out: &mut [Complex<f32>],
        b_out: &mut [Complex<f32>],
    ) {
        let len = self.buffer.len();
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let unpack = |z: Complex<f32>, zc: Complex<f32>| {
            let diff = z - zc;
            ((z + zc) * 0.5, Complex::new(diff.im * 0.5, -diff.re * 0.5))
        };
        let count = a_out.len().min(b_out.len());
        let mut k = first_bin % len;
        let mut i = 0;
        // Bin 0 pairs with itself.
        if k == 0 && count > 0 {
            (a_out[0], b_out[0]) = unpack(self.buffer[0], self.buffer[0].conj());
            i = 1;
            k = 1;
        }
        // Bins k..len pair with len - k, walking down from the top.
        let run = (count - i).min(len - k);
        let mirrored = self.buffer[len + 1 - k - run..=len - k].iter().rev();
        for (((a, b), z), zc) in a_out[i..i + run]
            .iter_mut()
            .zip(&mut b_out[i..i + run])
            .zip(&self.buffer[k..k + run])
            .zip(mirrored)
        {
            (*a, *b) = unpack(*z, zc.conj());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dft(x: &[f32], k: usize) -> Complex<f64> {
        let n = x.len() as f64;
        x.iter()
            .enumerate()
            .fold(Complex::new(0.0, 0.0), |acc, (j, &v)| {
                let angle = -2.0 * std::f64::consts::PI * (k * j) as f64 / n;
                acc + Complex::from_polar(f64::from(v), angle)
            })
    }

    fn signal(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|j| {
                (((j as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32
                    / 500.0
                    - 1.0
            })
            .collect()
    }

    #[test]
    fn partial_real_fft_matches_the_dft() {
        let mut planner = FftPlanner::new();
        // Some bins, all bins up to Nyquist (even and odd half lengths), and the STFT's size.
        for (len, num_bins) in [(16usize, 9usize), (18, 6), (18, 10), (4608, 1536)] {
            let x = signal(len, 1);
            let mut fft = PartialRealFft::new(len, num_bins, &mut planner);
            let mut out = vec![Complex::new(0.0, 0.0); len / 2 + 1];
            fft.process(&x, &mut out);
            let step = if len > 100 { 7 } else { 1 };
            for k in (0..num_bins).step_by(step) {
                let expected = dft(&x, k);
                let got = Complex::new(f64::from(out[k].re), f64::from(out[k].im));
                assert!(
                    (got - expected).norm() < 1e-3 * (1.0 + expected.norm()),
                    "{len} bin {k}: {got} vs {expected}"
                );
            }
            if num_bins < len / 2 + 1 {
                assert_eq!(out[num_bins], Complex::new(0.0, 0.0));
            }
        }
    }

    #[test]
    fn paired_real_fft_matches_two_dfts() {
        let mut planner = FftPlanner::new();
        let len = 64;
        let (a, b) = (signal(len, 2), signal(len, 3));
        let mut fft = PairedRealFft::new(len, &mut planner);
        for first_bin in [0usize, 5, 44] {
            for (z, (&x, &y)) in fft.input_mut().iter_mut().zip(a.iter().zip(&b)) {
                *z = Complex::new(x, y);
            }
            let mut a_out = vec![Complex::new(0.0, 0.0); 20];
            let mut b_out = vec![Complex::new(0.0, 0.0); 20];
            fft.process(first_bin, &mut a_out, &mut b_out);
            for i in 0..20 {
                let k = first_bin + i;
                for (out, x) in [(a_out[i], &a), (b_out[i], &b)] {
                    let expected = dft(x, k);
                    let got = Complex::new(f64::from(out.re), f64::from(out.im));
                    assert!(
                        (got - expected).norm() < 1e-3,
                        "bin {k}: {got} vs {expected}"
                    );
                }
            }
        }
    }
}
