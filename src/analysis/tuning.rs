//! Offline tuning estimate: librosa's `estimate_tuning`, which the seed's `chroma_cqt` runs on
//! the whole song before its constant-Q transform.
//!
//! A live analyzer cannot look at the whole song, so the plugin analyses at A440; the CLI's song
//! mode estimates the tuning first, as the seed does, and hands it to the same Analyzer.
//!
//! The estimate (librosa's `piptrack` + `pitch_tuning`): for every frame of a Hann-windowed
//! magnitude STFT (2048 samples at 22.05 kHz, hop a quarter of that, centred frames), the local
//! maxima between 150 Hz and 4 kHz that exceed a tenth of the frame's largest magnitude are
//! refined by parabolic interpolation; peaks weaker than the median peak are dropped; each
//! remaining frequency's offset from the nearest constant-Q bin (36 per octave, relative to
//! A440) goes into a histogram of 0.01-bin cells from -0.5 to 0.5, and the left edge of the
//! fullest cell is the tuning, in fractions of a bin.

use realfft::RealFftPlanner;

use super::hop::{next_fast_fft_len, REFERENCE_FFT_SIZE, REFERENCE_SAMPLE_RATE_HZ};

/// Constant-Q bins per octave the estimate is expressed in (`chroma_cqt`'s 36).
pub const TUNING_BINS_PER_OCTAVE: f32 = 36.0;
/// Lowest peak frequency considered (librosa's `piptrack` default).
const FMIN_HZ: f64 = 150.0;
/// Highest peak frequency considered, exclusive.
const FMAX_HZ: f64 = 4000.0;
/// Peaks below this fraction of the frame's largest magnitude are ignored.
const PEAK_THRESHOLD: f32 = 0.1;
/// Width of a histogram cell, in bins.
const RESOLUTION_BINS: f64 = 0.01;

/// Converts a tuning in fractions of a 36-per-octave bin to cents.
pub fn tuning_bins_to_cents(tuning_bins: f32) -> f32 {
    tuning_bins * 1200.0 / TUNING_BINS_PER_OCTAVE
}

/// Estimates the tuning of mono `samples` at `sample_rate_hz`, in fractions of a
/// 36-per-octave bin (-0.5 to 0.49), as `librosa.estimate_tuning(y, sr, bins_per_octave=36)`.
/// 0 when the signal has no pitched peaks.
pub fn estimate_tuning(samples: &[f32], sample_rate_hz: f64) -> f32 {
    // The seed's 2048-point window at 22.05 kHz, the same duration at other rates.
    let window_len = ((REFERENCE_FFT_SIZE as f64 * sample_rate_hz / REFERENCE_SAMPLE_RATE_HZ)
        .round() as usize)
        .max(16);
    let fft_len = next_fast_fft_len(window_len);
    let hop = window_len / 4;
    let window: Vec<f32> = (0..window_len)
        .map(|n| {
            (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / window_len as f64).cos()) as f32
        })
        .collect();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_len);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let num_bins = fft_len / 2 + 1;
    let bin_hz = sample_rate_hz / fft_len as f64;
    let first_bin = (FMIN_HZ / bin_hz).ceil() as usize;
    let end_bin = ((FMAX_HZ.min(sample_rate_hz / 2.0) / bin_hz).ceil() as usize).min(num_bins);
    let mut mag = vec![0.0f32; num_bins];
    let mut thresholded = vec![0.0f32; num_bins];
    let mut peaks: Vec<(f32, f32)> = Vec::new();

    let num_frames = 1 + samples.len() / hop;
    for frame in 0..num_frames {
        // Centred frames over a zero-padded signal, as librosa's `center=True`.
        let start = (frame * hop) as isize - (window_len / 2) as isize;
        input.fill(0.0);
        for (n, (dst, &w)) in input.iter_mut().zip(&window).enumerate() {
            let idx = start + n as isize;
            if idx >= 0 && (idx as usize) < samples.len() {
                *dst = samples[idx as usize] * w;
            }
        }
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            continue;
        }
        for (m, c) in mag.iter_mut().zip(&spectrum) {
            *m = c.norm();
        }
        let max = mag.iter().copied().fold(0.0f32, f32::max);
        let ref_value = PEAK_THRESHOLD * max;
        for (t, &m) in thresholded.iter_mut().zip(&mag) {
            *t = if m > ref_value { m } else { 0.0 };
        }
        for k in first_bin.max(1)..end_bin.min(num_bins - 1) {
            let (prev, here, next) = (thresholded[k - 1], thresholded[k], thresholded[k + 1]);
            if !(here > prev && here >= next) {
                continue;
            }
            // Parabolic interpolation on the unthresholded magnitudes.
            let a = mag[k + 1] + mag[k - 1] - 2.0 * mag[k];
            let b = (mag[k + 1] - mag[k - 1]) / 2.0;
            let shift = if b.abs() >= a.abs() { 0.0 } else { -b / a };
            let slope = (mag[k + 1] - mag[k - 1]) / 2.0;
            let pitch = ((k as f64 + f64::from(shift)) * bin_hz) as f32;
            let peak_mag = mag[k] + 0.5 * slope * shift;
            if pitch > 0.0 {
                peaks.push((pitch, peak_mag));
            }
        }
    }
    if peaks.is_empty() {
        return 0.0;
    }
    let mut mags: Vec<f32> = peaks.iter().map(|p| p.1).collect();
    mags.sort_by(f32::total_cmp);
    let mid = mags.len() / 2;
    let median = if mags.len().is_multiple_of(2) {
        (mags[mid - 1] + mags[mid]) / 2.0
    } else {
        mags[mid]
    };

    let num_cells = (1.0 / RESOLUTION_BINS).ceil() as usize;
    let mut counts = vec![0usize; num_cells];
    for &(pitch, m) in &peaks {
        if m < median {
            continue;
        }
        let octaves = (pitch / (440.0 / 16.0)).log2();
        let mut residual = (TUNING_BINS_PER_OCTAVE * octaves).rem_euclid(1.0);
        if residual >= 0.5 {
            residual -= 1.0;
        }
        // np.histogram over linspace(-0.5, 0.5, 101): half-open cells, the last one closed.
        let cell = ((f64::from(residual) + 0.5) / RESOLUTION_BINS).floor() as isize;
        let cell = cell.clamp(0, num_cells as isize - 1) as usize;
        counts[cell] += 1;
    }
    let best = (0..num_cells)
        .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
        .unwrap_or(num_cells / 2);
    (-0.5 + best as f64 * RESOLUTION_BINS) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq_hz: f64, sr: f64, seconds: f64) -> Vec<f32> {
        (0..(sr * seconds) as usize)
            .map(|n| (0.5 * (2.0 * std::f64::consts::PI * freq_hz * n as f64 / sr).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_sharp_tone_reads_sharp_as_librosa_reads_it() {
        // 10 cents sharp of A4 is 0.3 of a 1/3-semitone bin; parabolic interpolation on Hann
        // magnitudes is biased towards the bin centre, and librosa 0.11 reads
        // `estimate_tuning(y=tone, sr=22050, bins_per_octave=36)` as 0.26 (and A440 as 0.03).
        let sharp = 440.0 * 2f64.powf(10.0 / 1200.0);
        let tuning = estimate_tuning(&tone(sharp, 22050.0, 2.0), 22050.0);
        assert!((tuning - 0.26).abs() <= 0.005, "{tuning}");
        let tuning = estimate_tuning(&tone(440.0, 22050.0, 2.0), 22050.0);
        assert!((tuning - 0.03).abs() <= 0.005, "{tuning}");
        let tuning = estimate_tuning(&tone(sharp, 48000.0, 2.0), 48000.0);
        assert!((0.15..0.45).contains(&tuning), "{tuning}");
        assert!((tuning_bins_to_cents(0.3) - 10.0).abs() < 1e-4);
        assert_eq!(estimate_tuning(&[0.0; 10_000], 22050.0), 0.0);
    }
}
