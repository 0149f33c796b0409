//! Real-time chroma matching librosa's `chroma_cqt`: a multirate constant-Q transform folded
//! into 12 pitch classes.
//!
//! librosa's `chroma_cqt(y, sr, hop_length)` takes the magnitude of a 7-octave constant-Q
//! transform from C1 (32.7 Hz) with 36 bins per octave, Hann-windowed filters with
//! `Q = 1 / (2^(1/18) - 1)·(2^(1/18) + 1) ≈ 51.9` (1.6 s long at C1), sums the three bins around
//! each semitone into its pitch class and divides each frame by its largest class. The same is
//! done here, in the same way librosa computes it, but streaming:
//!
//! * **Octave ladder.** The input is first halved (by [`super::decimate`]) until its rate is below
//!   44.1 kHz (44.1 kHz → 22.05 kHz, 48 kHz → 24 kHz, 96 kHz → 24 kHz), which is the top octave's
//!   rate; each lower octave runs at half the rate of the one above, so every octave's filters
//!   are about 550 samples long and fit a 1024-point FFT (librosa does the same with soxr
//!   resampling).
//! * **Kernels.** Per octave, each bin's filter (librosa's `filters.wavelet`: a Hann-windowed
//!   complex exponential normalised to unit L1 norm, centred in the FFT frame) is transformed once
//!   at activation, scaled by `sqrt(Q · 22050 / f) / n_fft` (librosa's `scale=True` length
//!   normalisation, referred to 22.05 kHz so values do not depend on the sample rate) and made
//!   sparse by dropping the smallest coefficients that hold 1 % of the L1 mass (librosa's
//!   `sparsify_rows(quantile=0.01)`). A frame's bin is then `|sum_k K[k] · X[k]|` over the
//!   non-negative FFT bins of that octave's frame, as librosa's `__cqt_response`.
//! * **Alignment.** librosa centres every octave's window on the frame time. Here every octave's
//!   window is centred on the same past time, `latency_hops()` hops before the newest sample,
//!   so the 12 classes of one frame describe one moment (as in librosa) rather than mixing the
//!   bass of 0.8 s ago with the treble of now. The latency (36 hops ≈ 0.84 s at the default
//!   rate) is half the longest filter plus the decimators' delay; it travels in every
//!   `FeatureFrame`, and offline consumers shift it away. Samples after each octave's longest
//!   filter are not waited for: they are zeros in the frame, as the filters are zero there.
//! * **Tuning.** librosa's `chroma_cqt` estimates the tuning from the whole signal; a live
//!   analyzer cannot, so the plugin's reference is A440. The configuration's `tuning_cents`
//!   shifts every bin; the CLI's song mode sets it from [`super::tuning::estimate_tuning`], the
//!   seed's estimate, and then matches the seed's chroma (cosine 1.000 on the test excerpts).

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::decimate::{HalfBandDecimator, CENTRE_IDX};
use crate::bridge::NUM_CHROMA;

/// Constant-Q bins per octave (librosa's `chroma_cqt` default).
pub const BINS_PER_OCTAVE: usize = 36;
/// Octaves analysed, from C1 (librosa's `n_octaves`).
pub const NUM_OCTAVES: usize = 7;
/// All constant-Q bins.
pub const NUM_CQ_BINS: usize = BINS_PER_OCTAVE * NUM_OCTAVES;
/// C1, the lowest bin at A440 tuning (`librosa.note_to_hz("C1")`).
pub const C1_HZ: f64 = 32.703_195_662_574_83;
/// The rate the top octave runs at is the input rate halved until it is below twice this.
const TOP_OCTAVE_MIN_RATE_HZ: f64 = 22050.0;
/// Fraction of each kernel's L1 mass dropped to make it sparse.
const SPARSITY_QUANTILE: f64 = 0.01;
/// The rate the length normalisation refers to (the seed's).
const REFERENCE_RATE_HZ: f64 = 22050.0;

/// Filter quality factor: librosa's `filter_scale / alpha` with `alpha` the relative bandwidth
/// of equally spaced bins, `(2^(2/B) - 1) / (2^(2/B) + 1)`.
pub fn quality_factor() -> f64 {
    let ratio = 2f64.powf(2.0 / BINS_PER_OCTAVE as f64);
    (ratio + 1.0) / (ratio - 1.0)
}

/// Pitch class of constant-Q bin `bin_idx` (0 = C1): librosa's `cq_to_chroma`, which gives
/// each class the bin on its semitone and the bins a third of a semitone either side.
pub fn pitch_class_of_bin(bin_idx: usize) -> usize {
    let per_class = BINS_PER_OCTAVE / NUM_CHROMA;
    ((bin_idx % BINS_PER_OCTAVE + per_class / 2) / per_class) % NUM_CHROMA
}

/// One octave: its decimated signal, its FFT and its sparse kernels.
struct Octave {
    /// The newest decimated samples, circularly.
    ring: Vec<f32>,
    /// Where the next sample goes in `ring`.
    write_pos: usize,
    /// Samples written since reset.
    num_written: u64,
    /// Original-rate sample position of this octave's sample 0 (its decimator delay).
    origin_samples: i64,
    /// Original-rate samples per octave sample.
    step_samples: i64,
    /// FFT size (a power of two holding the longest filter, as librosa).
    fft_len: usize,
    /// How many samples after the frame centre the longest filter reaches.
    future_samples: usize,
    /// The planned transform.
    fft: Arc<dyn RealToComplex<f32>>,
    /// Frame samples (then scratch for the transform).
    fft_input: Vec<f32>,
    /// Transform output.
    spectrum: Vec<Complex<f32>>,
    /// Transform scratch.
    scratch: Vec<Complex<f32>>,
    /// Where each bin's kernel starts in `kernel_bins`/`kernel_values` (and the end).
    kernel_offsets: [usize; BINS_PER_OCTAVE + 1],
    /// FFT bin index of each kernel coefficient.
    kernel_bins: Vec<u32>,
    /// Kernel coefficients.
    kernel_values: Vec<Complex<f32>>,
    /// Global constant-Q index of this octave's lowest bin.
    first_cq_bin: usize,
}

/// Samples of `freq_hz` analysed at `rate_hz`: librosa's `wavelet` filter, before padding.
fn wavelet(freq_hz: f64, rate_hz: f64, q: f64) -> Vec<Complex<f64>> {
    let len = q * rate_hz / freq_hz;
    // `np.arange(-ilen // 2, ilen // 2)` on a float length.
    let first = (-len / 2.0).floor() as i64;
    let end = (len / 2.0).floor() as i64;
    let num = (end - first) as usize;
    let mut sig: Vec<Complex<f64>> = (0..num)
        .map(|n| {
            let window = 0.5 - 0.5 * (2.0 * PI * n as f64 / num as f64).cos();
            let phase = 2.0 * PI * freq_hz * (first + n as i64) as f64 / rate_hz;
            Complex::from_polar(window, phase)
        })
        .collect();
    let l1: f64 = sig.iter().map(|c| c.norm()).sum();
    if l1 > 0.0 {
        for c in &mut sig {
            *c /= l1;
        }
    }
    sig
}

impl Octave {
    /// Builds the kernels of the octave whose lowest constant-Q bin is `first_cq_bin`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        first_cq_bin: usize,
        fmin_hz: f64,
        rate_hz: f64,
        origin_samples: i64,
        step_samples: i64,
        ring_len: usize,
        planner32: &mut RealFftPlanner<f32>,
        planner64: &mut RealFftPlanner<f64>,
    ) -> Self {
        let q = quality_factor();
        let freqs: Vec<f64> = (0..BINS_PER_OCTAVE)
            .map(|b| fmin_hz * 2f64.powf((first_cq_bin + b) as f64 / BINS_PER_OCTAVE as f64))
            .collect();
        let longest = q * rate_hz / freqs[0];
        let fft_len = (longest.log2().ceil().exp2() as usize).max(2);

        let fft64 = planner64.plan_fft_forward(fft_len);
        let mut re_in = fft64.make_input_vec();
        let mut im_in = fft64.make_input_vec();
        let mut re_out = fft64.make_output_vec();
        let mut im_out = fft64.make_output_vec();
        let mut kernel_offsets = [0; BINS_PER_OCTAVE + 1];
        let mut kernel_bins = Vec::new();
        let mut kernel_values = Vec::new();
        let mut future_samples = 0;
        for (b, &freq) in freqs.iter().enumerate() {
            let sig = wavelet(freq, rate_hz, q);
            let pad = (fft_len - sig.len().min(fft_len)) / 2;
            // The kernel multiplies X[k] unconjugated, i.e. it correlates with the frame read
            // backwards, so frame index `fft_len - pad - n` meets filter sample `n`: the filter
            // reaches `fft_len / 2 - pad` samples past the frame centre.
            future_samples = future_samples.max(fft_len / 2 - pad);
            re_in.fill(0.0);
            im_in.fill(0.0);
            for (n, c) in sig.iter().enumerate().take(fft_len - pad) {
                re_in[pad + n] = c.re;
                im_in[pad + n] = c.im;
            }
            // FFT(re + i·im) = FFT(re) + i·FFT(im) on the non-negative bins the kernel uses.
            // Buffers come from this plan, so the transforms cannot fail.
            let _ = fft64.process(&mut re_in, &mut re_out);
            let _ = fft64.process(&mut im_in, &mut im_out);
            let scale = (q * REFERENCE_RATE_HZ / freq).sqrt() / fft_len as f64;
            let kernel: Vec<Complex<f64>> = re_out
                .iter()
                .zip(&im_out)
                .map(|(r, i)| (r + Complex::new(-i.im, i.re)) * scale)
                .collect();

            // librosa's sparsify_rows: drop the smallest magnitudes that sum to the quantile.
            let mags: Vec<f64> = kernel.iter().map(|c| c.norm()).collect();
            let total: f64 = mags.iter().sum();
            let mut sorted = mags.clone();
            sorted.sort_by(f64::total_cmp);
            let mut cumulative = 0.0;
            let mut threshold = sorted.last().copied().unwrap_or(0.0);
            for &m in &sorted {
                cumulative += m / total;
                if cumulative >= SPARSITY_QUANTILE {
                    threshold = m;
                    break;
                }
            }
            for (k, (c, m)) in kernel.iter().zip(&mags).enumerate() {
                if *m >= threshold && *m > 0.0 {
                    kernel_bins.push(k as u32);
                    kernel_values.push(Complex::new(c.re as f32, c.im as f32));
                }
            }
            kernel_offsets[b + 1] = kernel_bins.len();
        }

        let fft = planner32.plan_fft_forward(fft_len);
        Self {
            ring: vec![0.0; ring_len],
            write_pos: 0,
            num_written: 0,
            origin_samples,
            step_samples,
            fft_len,
            future_samples,
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft_input: vec![0.0; fft_len],
            fft,
            kernel_offsets,
            kernel_bins,
            kernel_values,
            first_cq_bin,
        }
    }

    fn reset(&mut self) {
        self.ring.fill(0.0);
        self.write_pos = 0;
        self.num_written = 0;
    }

    fn append(&mut self, samples: &[f32]) {
        let len = self.ring.len();
        let samples = &samples[samples.len().saturating_sub(len)..];
        let first = samples.len().min(len - self.write_pos);
        self.ring[self.write_pos..self.write_pos + first].copy_from_slice(&samples[..first]);
        self.ring[..samples.len() - first].copy_from_slice(&samples[first..]);
        self.write_pos = (self.write_pos + samples.len()) % len;
        self.num_written += samples.len() as u64;
    }

    /// Computes this octave's constant-Q magnitudes for the frame centred at original-rate
    /// sample `centre_samples`, into `out` (36 values).
    fn analyse(&mut self, centre_samples: i64, out: &mut [f32]) {
        // Nearest octave sample to the centre, rounding halves up.
        let offset = centre_samples - self.origin_samples;
        let centre_idx = (2 * offset + self.step_samples).div_euclid(2 * self.step_samples);
        let half = (self.fft_len / 2) as i64;
        let first_idx = centre_idx - half;
        let last_needed = centre_idx + self.future_samples as i64;
        let ring_len = self.ring.len() as i64;
        let newest = self.num_written as i64 - 1;
        debug_assert!(
            last_needed <= newest,
            "frame needs samples not yet decimated"
        );
        debug_assert!(first_idx > newest - ring_len);
        // Samples before the start are silence, as are those after the longest filter.
        let lo = first_idx.max(0).max(newest + 1 - ring_len);
        let hi = last_needed
            .min(newest)
            .min(first_idx + self.fft_len as i64 - 1);
        self.fft_input.fill(0.0);
        if lo <= hi {
            let count = (hi - lo + 1) as usize;
            let dst_start = (lo - first_idx) as usize;
            // Ring position of sample `lo`: the newest sample sits just before `write_pos`.
            let src_start =
                (self.write_pos as i64 - (newest + 1 - lo)).rem_euclid(ring_len) as usize;
            let first = count.min(self.ring.len() - src_start);
            self.fft_input[dst_start..dst_start + first]
                .copy_from_slice(&self.ring[src_start..src_start + first]);
            self.fft_input[dst_start + first..dst_start + count]
                .copy_from_slice(&self.ring[..count - first]);
        }
        // Buffers come from this plan, so the transform cannot fail.
        let transformed = self.fft.process_with_scratch(
            &mut self.fft_input,
            &mut self.spectrum,
            &mut self.scratch,
        );
        debug_assert!(transformed.is_ok());
        for (b, slot) in out.iter_mut().enumerate().take(BINS_PER_OCTAVE) {
            let range = self.kernel_offsets[b]..self.kernel_offsets[b + 1];
            let mut acc = Complex::new(0.0f32, 0.0);
            for (&k, w) in self.kernel_bins[range.clone()]
                .iter()
                .zip(&self.kernel_values[range])
            {
                acc += w * self.spectrum[k as usize];
            }
            *slot = acc.norm();
        }
    }
}

/// The streaming constant-Q chroma of one mono signal.
pub struct ConstantQChroma {
    /// Decimation stages: first those bringing the input down to the top octave's rate, then
    /// one per lower octave.
    stages: Vec<HalfBandDecimator>,
    /// Output buffers of the stages.
    stage_out: Vec<Vec<f32>>,
    /// How many stages come before the top octave.
    num_pre_stages: usize,
    /// The octaves, top (highest pitches) first.
    octaves: Vec<Octave>,
    /// Samples per hop at the input rate.
    hop_samples: usize,
    /// Hops between the newest sample and the centre of the frame analysed.
    latency_hops: usize,
    /// Largest chunk `push` accepts.
    max_chunk: usize,
    /// Constant-Q magnitudes of the last frame, C1 first.
    cq_magnitudes: [f32; NUM_CQ_BINS],
}

impl ConstantQChroma {
    /// Plans everything for input at `sample_rate_hz`, one frame per `hop_samples`, chunks of up
    /// to `max_chunk` samples, tuned `tuning_cents` from A440; allocates.
    pub fn new(
        sample_rate_hz: f64,
        hop_samples: usize,
        max_chunk: usize,
        tuning_cents: f64,
        planner32: &mut RealFftPlanner<f32>,
    ) -> Self {
        let mut planner64 = RealFftPlanner::<f64>::new();
        let mut num_pre_stages = 0;
        while sample_rate_hz / 2f64.powi(num_pre_stages as i32 + 1) >= TOP_OCTAVE_MIN_RATE_HZ {
            num_pre_stages += 1;
        }
        let num_stages = num_pre_stages + NUM_OCTAVES - 1;
        let fmin_hz = C1_HZ * 2f64.powf(tuning_cents / 1200.0);

        // Time map of each signal in the ladder (see `HalfBandDecimator::process`): sample `j` of
        // signal `s` sits at original sample `origin + j * step` and is produced once original
        // sample `step * j + arrival` has been pushed.
        let mut origin = 0i64;
        let mut step = 1i64;
        let mut arrival = 0i64;
        let mut maps = Vec::with_capacity(num_stages + 1);
        for _ in 0..=num_stages {
            maps.push((origin, step, arrival));
            origin += (1 - CENTRE_IDX as i64) * step;
            arrival += step;
            step *= 2;
        }

        // Build the octaves once to learn their FFT sizes and reach; the latency follows, and
        // then the rings can be sized.
        let mut octaves: Vec<Octave> = (0..NUM_OCTAVES)
            .map(|k| {
                let (origin, step, _) = maps[num_pre_stages + k];
                Octave::new(
                    NUM_CQ_BINS - BINS_PER_OCTAVE * (k + 1),
                    fmin_hz,
                    sample_rate_hz / step as f64,
                    origin,
                    step,
                    1,
                    &mut *planner32,
                    &mut planner64,
                )
            })
            .collect();

        // Frame emitted after `m * hop` samples is centred at `(m - latency) * hop`; its last
        // needed sample `centre_idx + future` (with `centre_idx <= (centre - origin) / step + 1/2`)
        // must have arrived: `step * (centre_idx + future) + arrival <= m * hop - 1`.
        let hop = hop_samples as i64;
        let mut latency_hops = 0i64;
        for (k, octave) in octaves.iter().enumerate() {
            let (origin, step, arrival) = maps[num_pre_stages + k];
            let needed_x2 =
                step * (2 * octave.future_samples as i64 + 1) + 2 * (arrival - origin + 1);
            latency_hops = latency_hops.max((needed_x2 + 2 * hop - 1) / (2 * hop));
        }
        for (k, octave) in octaves.iter_mut().enumerate() {
            let (origin, step, arrival) = maps[num_pre_stages + k];
            // Span from the oldest sample a frame reads to the newest one written.
            let span =
                (latency_hops * hop - 1 - arrival + origin) / step + octave.fft_len as i64 / 2 + 4;
            octave.ring = vec![0.0; span.max(octave.fft_len as i64) as usize];
        }

        let chunk_out = max_chunk / 2 + 1;
        Self {
            stages: (0..num_stages)
                .map(|_| HalfBandDecimator::new(max_chunk))
                .collect(),
            stage_out: (0..num_stages).map(|_| vec![0.0; chunk_out]).collect(),
            num_pre_stages,
            octaves,
            hop_samples,
            latency_hops: latency_hops as usize,
            max_chunk,
            cq_magnitudes: [0.0; NUM_CQ_BINS],
        }
    }

    /// Hops between the newest sample and the centre of the frame [`chroma`](Self::chroma)
    /// describes.
    pub fn latency_hops(&self) -> usize {
        self.latency_hops
    }

    /// Largest chunk [`push`](Self::push) accepts.
    pub fn max_chunk(&self) -> usize {
        self.max_chunk
    }

    /// The rate of the top octave (the input rate halved until below 44.1 kHz).
    pub fn top_octave_rate_hz(&self, sample_rate_hz: f64) -> f64 {
        sample_rate_hz / 2f64.powi(self.num_pre_stages as i32)
    }

    /// Forgets all input.
    pub fn reset(&mut self) {
        for stage in &mut self.stages {
            stage.reset();
        }
        for octave in &mut self.octaves {
            octave.reset();
        }
        self.cq_magnitudes = [0.0; NUM_CQ_BINS];
    }

    /// Feeds up to `max_chunk` input samples through the octave ladder.
    pub fn push(&mut self, input: &[f32]) {
        debug_assert!(input.len() <= self.max_chunk);
        let input = &input[..input.len().min(self.max_chunk)];
        if self.num_pre_stages == 0 {
            self.octaves[0].append(input);
        }
        let mut len = self.stages[0].process(input, &mut self.stage_out[0]);
        for signal in 1..=self.stages.len() {
            if signal >= self.num_pre_stages {
                self.octaves[signal - self.num_pre_stages]
                    .append(&self.stage_out[signal - 1][..len]);
            }
            if signal < self.stages.len() {
                let (done, rest) = self.stage_out.split_at_mut(signal);
                len = self.stages[signal].process(&done[signal - 1][..len], &mut rest[0]);
            }
        }
    }

    /// The max-normalised chroma of the frame emitted after `num_hops` hops since reset (so
    /// centred `latency_hops()` hops earlier), written to `chroma`. All 0 when there is no
    /// energy at all.
    pub fn chroma(&mut self, num_hops: u64, chroma: &mut [f32; NUM_CHROMA]) {
        let centre = (num_hops as i64 - self.latency_hops as i64) * self.hop_samples as i64;
        for octave in &mut self.octaves {
            let first = octave.first_cq_bin;
            octave.analyse(
                centre,
                &mut self.cq_magnitudes[first..first + BINS_PER_OCTAVE],
            );
        }
        *chroma = [0.0; NUM_CHROMA];
        for (bin, &mag) in self.cq_magnitudes.iter().enumerate() {
            chroma[pitch_class_of_bin(bin)] += mag;
        }
        let max = chroma.iter().copied().fold(0.0f32, f32::max);
        if max > f32::MIN_POSITIVE && max.is_finite() {
            for c in chroma.iter_mut() {
                *c /= max;
            }
        } else {
            *chroma = [0.0; NUM_CHROMA];
        }
    }

    /// Constant-Q magnitudes of the last frame, C1 first (librosa's `|cqt|` scale).
    pub fn cq_magnitudes(&self) -> &[f32; NUM_CQ_BINS] {
        &self.cq_magnitudes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitch_classes_follow_librosa_cq_to_chroma() {
        // librosa.filters.cq_to_chroma(252, bins_per_octave=36): bins 35, 0 and 1 of each
        // octave are C; 2, 3, 4 are C#; 32, 33, 34 are B.
        assert_eq!(pitch_class_of_bin(0), 0);
        assert_eq!(pitch_class_of_bin(1), 0);
        assert_eq!(pitch_class_of_bin(35), 0);
        assert_eq!(pitch_class_of_bin(2), 1);
        assert_eq!(pitch_class_of_bin(4), 1);
        assert_eq!(pitch_class_of_bin(34), 11);
        assert_eq!(pitch_class_of_bin(36 * 4 + 27), 9);
    }

    #[test]
    fn quality_factor_matches_librosa() {
        // 1 / librosa.filters._relative_bandwidth(freqs=...) for 36 bins per octave.
        assert!(
            (quality_factor() - 51.943_439_342_838).abs() < 1e-9,
            "{}",
            quality_factor()
        );
    }

    #[test]
    fn latency_is_half_the_longest_filter_plus_decimator_delay() {
        let mut planner = RealFftPlanner::new();
        let cq = ConstantQChroma::new(22050.0, 512, 256, 0.0, &mut planner);
        assert_eq!(cq.latency_hops(), 36);
        let cq = ConstantQChroma::new(44100.0, 1024, 256, 0.0, &mut planner);
        assert_eq!(cq.latency_hops(), 36);
    }
}
