//! Streaming half-band decimation by 2, the octave ladder under the constant-Q chroma.
//!
//! Each stage is a linear-phase Kaiser-windowed half-band FIR (23 taps, β = 9) evaluated on every
//! second input sample. The constant-Q transform only needs each octave's band (at most 0.19 of
//! the stage's input Nyquist) kept, and only the aliases that would land in that band removed
//! (input above 0.81 of Nyquist), so this short filter is enough: passband ripple below
//! 0.001 dB, stopband below -90 dB (a unit test measures both).
//!
//! Samples are processed in any chunking with bit-identical output: every output sample is the
//! same dot product over the same inputs, whatever the block boundaries.

use std::f64::consts::PI;

/// Taps of the half-band filter; `4k + 3` so that every even offset from the centre is a zero.
pub const NUM_TAPS: usize = 23;
/// Centre tap index, which is also the group delay in input samples.
pub const CENTRE_IDX: usize = (NUM_TAPS - 1) / 2;
/// Number of symmetric non-zero tap pairs (odd offsets 1, 3, …, 11 from the centre).
const NUM_PAIRS: usize = CENTRE_IDX.div_ceil(2);
/// Kaiser window shape: trades transition width for stopband depth.
const KAISER_BETA: f64 = 9.0;

/// Zeroth-order modified Bessel function of the first kind, by its power series (converges fast
/// for the arguments a Kaiser window uses).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half_x_sq = (x / 2.0) * (x / 2.0);
    for k in 1..64 {
        term *= half_x_sq / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The full impulse response (all `NUM_TAPS` taps, normalised to unit DC gain).
pub fn half_band_taps() -> [f64; NUM_TAPS] {
    let mut taps = [0.0; NUM_TAPS];
    let centre = CENTRE_IDX as f64;
    for (n, tap) in taps.iter_mut().enumerate() {
        let offset = n as f64 - centre;
        let sinc = if n == CENTRE_IDX {
            1.0
        } else if (n as isize - CENTRE_IDX as isize) % 2 == 0 {
            // A half-band sinc is exactly zero at even offsets; computing sin(πk) would leave
            // rounding noise there instead.
            0.0
        } else {
            (0.5 * PI * offset).sin() / (0.5 * PI * offset)
        };
        let ratio = 2.0 * n as f64 / (NUM_TAPS - 1) as f64 - 1.0;
        let window =
            bessel_i0(KAISER_BETA * (1.0 - ratio * ratio).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
        *tap = 0.5 * sinc * window;
    }
    let dc: f64 = taps.iter().sum();
    taps.map(|t| t / dc)
}

/// One decimate-by-2 stage with its history, processing chunks of at most `max_chunk` samples.
pub struct HalfBandDecimator {
    /// The centre tap (about 0.5).
    centre_tap: f32,
    /// Tap values at odd offsets 1, 3, … from the centre (the filter is symmetric).
    pair_taps: [f32; NUM_PAIRS],
    /// The last `NUM_TAPS - 1` inputs followed by the current chunk.
    work: Vec<f32>,
    /// Whether the next input sample has an odd index (outputs are taken at odd inputs).
    next_input_odd: bool,
}

impl HalfBandDecimator {
    /// A stage accepting chunks of up to `max_chunk` samples; allocates.
    pub fn new(max_chunk: usize) -> Self {
        let taps = half_band_taps();
        let mut pair_taps = [0.0; NUM_PAIRS];
        for (pair_idx, tap) in pair_taps.iter_mut().enumerate() {
            *tap = taps[CENTRE_IDX + 1 + 2 * pair_idx] as f32;
        }
        Self {
            centre_tap: taps[CENTRE_IDX] as f32,
            pair_taps,
            work: vec![0.0; NUM_TAPS - 1 + max_chunk],
            next_input_odd: false,
        }
    }

    /// Clears the history, as if the stage had only ever seen silence.
    pub fn reset(&mut self) {
        self.work.fill(0.0);
        self.next_input_odd = false;
    }

    /// Filters `input` and writes one output per odd-indexed input sample to the front of
    /// `output`; returns how many were written (at most `input.len() / 2 + 1`).
    ///
    /// Input sample `i` (counted since reset) yields output `(i - 1) / 2` when `i` is odd:
    /// `y[m] = sum_l h[l] x[2m + 1 - l]`, centred on input `2m + 1 - CENTRE_IDX`.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        let history = NUM_TAPS - 1;
        let len = input.len().min(self.work.len() - history);
        self.work[history..history + len].copy_from_slice(&input[..len]);
        let mut num_out = 0;
        let mut odd = self.next_input_odd;
        for pos in history..history + len {
            if odd {
                let centre = pos - CENTRE_IDX;
                let mut acc = self.centre_tap * self.work[centre];
                for (pair_idx, tap) in self.pair_taps.iter().enumerate() {
                    let dist = 1 + 2 * pair_idx;
                    acc += tap * (self.work[centre - dist] + self.work[centre + dist]);
                }
                if let Some(slot) = output.get_mut(num_out) {
                    *slot = acc;
                    num_out += 1;
                }
            }
            odd = !odd;
        }
        self.next_input_odd = odd;
        // Keep the newest `history` samples for the next chunk.
        self.work.copy_within(len..len + history, 0);
        num_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Magnitude response in dB at `freq` (fraction of the input Nyquist frequency).
    fn response_db(taps: &[f64], freq: f64) -> f64 {
        let omega = PI * freq;
        let (re, im) = taps
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(re, im), (n, &h)| {
                (
                    re + h * (omega * n as f64).cos(),
                    im - h * (omega * n as f64).sin(),
                )
            });
        20.0 * (re * re + im * im).sqrt().log10()
    }

    #[test]
    fn passband_is_flat_and_aliasing_band_is_below_minus_90_db() {
        let taps = half_band_taps();
        let mut worst_pass: f64 = 0.0;
        let mut worst_stop = f64::NEG_INFINITY;
        for step in 0..=1000 {
            let freq = step as f64 / 1000.0;
            let db = response_db(&taps, freq);
            if freq <= 0.19 {
                worst_pass = worst_pass.max(db.abs());
            }
            if freq >= 0.81 {
                worst_stop = worst_stop.max(db);
            }
        }
        assert!(worst_pass < 0.001, "passband ripple {worst_pass} dB");
        assert!(worst_stop < -90.0, "stopband {worst_stop} dB");
    }

    #[test]
    fn output_does_not_depend_on_chunking() {
        let signal: Vec<f32> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut whole = HalfBandDecimator::new(1000);
        let mut out_whole = vec![0.0; 600];
        let n_whole = whole.process(&signal, &mut out_whole);
        assert_eq!(n_whole, 500);

        let mut chunked = HalfBandDecimator::new(64);
        let mut out_chunked = Vec::new();
        let mut buf = [0.0; 64];
        let mut start = 0;
        for (i, len) in [1usize, 2, 3, 64, 63, 5].iter().cycle().enumerate() {
            if start >= signal.len() || i > 10_000 {
                break;
            }
            let end = (start + len).min(signal.len());
            let n = chunked.process(&signal[start..end], &mut buf);
            out_chunked.extend_from_slice(&buf[..n]);
            start = end;
        }
        assert_eq!(out_chunked, out_whole[..n_whole]);
    }

    #[test]
    fn dc_passes_with_unit_gain_and_output_is_centred() {
        let mut stage = HalfBandDecimator::new(256);
        let ones = [1.0f32; 256];
        let mut out = [0.0f32; 129];
        let n = stage.process(&ones, &mut out);
        assert_eq!(n, 128);
        // Once the history is full of ones the output is the DC gain.
        assert!((out[n - 1] - 1.0).abs() < 1e-6, "{}", out[n - 1]);

        // An impulse at input i = 2m + 1 - CENTRE_IDX lands on the centre tap of output m.
        let mut stage = HalfBandDecimator::new(256);
        let mut impulse = [0.0f32; 64];
        let m = 10;
        impulse[2 * m + 1 - CENTRE_IDX] = 1.0;
        let n = stage.process(&impulse, &mut out);
        let peak = (0..n)
            .max_by(|&a, &b| out[a].abs().total_cmp(&out[b].abs()))
            .unwrap();
        assert_eq!(peak, m);
    }
}
