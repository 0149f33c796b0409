//! The Analyzer: kick, loudness, onset and harmony of the audio, one [`FeatureFrame`] per hop,
//! computed on the audio thread without allocating, locking or waiting.
//!
//! One module per job:
//!
//! | module | job |
//! |---|---|
//! | [`hop`] | mono ring of the newest window, Hann-windowed power spectrum |
//! | [`fft`] | real FFTs that compute only the bins the features read |
//! | [`kick`] | kick-band energy (default 20–120 Hz) |
//! | [`mel`] | 128-band mel power up to 8 kHz (the seed's `melspectrogram`) |
//! | [`onset`] | log-mel spectral flux |
//! | [`chroma`] / [`decimate`] | streaming multirate constant-Q chroma matching `chroma_cqt` |
//! | [`normalize`] | live (causal) and song (two-pass, the seed's) mapping to 0..1 |
//! | [`tuning`] | offline tuning estimate (librosa's `estimate_tuning`) for the CLI's song mode |
//! | [`offline`] | the same Analyzer over a whole decoded file, frames aligned to librosa's |
//! | [`decode`] | audio files to samples (symphonia, or the system ffmpeg) |
//!
//! # Timing
//!
//! Frames come at a fixed feature rate (default the seed's 22050 / 512 ≈ 43.07 Hz) whatever the
//! sample rate: `hop = round(sample_rate / feature_rate)`. A frame is emitted each time another
//! `hop` samples have arrived. Its spectral features describe the Hann window of the last
//! `≈ 4 · hop` samples (the seed's 2048 / 512; exactly 4 hops at 22.05 and 44.1 kHz, the nearest
//! fast FFT size elsewhere, see [`hop`]), centred half a window (`≈ 2 · hop`) before the frame's
//! end; its chroma describes constant-Q windows centred `chroma_latency_hops() · hop` before the
//! end (about 0.84 s: the bass filters are 1.6 s long). Both offsets travel in every frame.
//!
//! Everything is computed per sample or per hop, never per host block, so the frames do not
//! depend on the host's block sizes (a test checks 1, 64, 511 and 4096 give identical frames).
//!
//! # Inputs
//!
//! The main input is mixed to mono (the channel mean, as `librosa.to_mono`); so is the sidechain.
//! Kick and the tonal features (power, onset, chroma) each come from the input their
//! [`Source`] selects. The plugin wrappers hand an unconnected sidechain over as digital silence,
//! with no flag saying so, so **a sidechain counts as connected while it has carried a non-zero
//! sample within the last 10 seconds**; otherwise a feature set to the sidechain falls back to
//! the main input. (A kick bus that is silent for longer than that, e.g. in a breakdown, falls
//! back too, which shows the main mix's low end instead of nothing.) Which input was used is
//! decided at the start of each hop and recorded in the frame.
//!
//! Non-finite input samples (a host bug) are read as 0, so one NaN cannot poison the analysis.

pub mod chroma;
pub mod decimate;
pub mod decode;
pub mod fft;
pub mod hop;
pub mod kick;
pub mod mel;
pub mod normalize;
pub mod offline;
pub mod onset;
pub mod resample;
pub mod tuning;

use rustfft::FftPlanner;

use crate::bridge::{FeatureFrame, NUM_CHROMA};
use chroma::ConstantQChroma;
use hop::{analysis_window_len, HopRing, PowerSpectrum};
use kick::KickBand;
use mel::{MelBank, NUM_MEL_BANDS};
use normalize::LiveNormalizer;
use onset::OnsetDetector;

/// The seed's feature rate: one frame per 512 samples at 22.05 kHz.
pub const DEFAULT_FEATURE_RATE_HZ: f64 = 22050.0 / 512.0;
/// Lowest sample rate the Analyzer accepts (the constant-Q top octave reaches 4.2 kHz).
pub const MIN_SAMPLE_RATE_HZ: f32 = 16_000.0;
/// Highest sample rate the Analyzer accepts.
pub const MAX_SAMPLE_RATE_HZ: f32 = 768_000.0;
/// How long a sidechain stays "connected" after its last non-zero sample.
pub const SIDECHAIN_HOLD_S: f64 = 10.0;
/// Samples processed at a time inside a block; fixes the size of every scratch buffer.
const CHUNK_SAMPLES: usize = 256;

/// Where a group of features is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The main input, mixed to mono.
    #[default]
    Main,
    /// The sidechain, mixed to mono (the main input while the sidechain is silent).
    Sidechain,
}

/// What an [`Analyzer`] is built for. Changing any of these means building a new Analyzer
/// (off the audio thread); the kick band and the sources can change at run time.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerConfig {
    /// Input sample rate, 16 kHz to 768 kHz.
    pub sample_rate_hz: f32,
    /// Frames per second (default the seed's 22050 / 512).
    pub feature_rate_hz: f64,
    /// Lower edge of the kick band.
    pub kick_low_hz: f32,
    /// Upper edge of the kick band.
    pub kick_high_hz: f32,
    /// Tuning of the chroma's reference A4 relative to 440 Hz, in cents.
    pub tuning_cents: f32,
    /// STFT window length in samples; `None` is the fast length nearest four hops (the seed's
    /// 2048 / 512). A render sets the seed's window with a shorter hop, to place sounds on the
    /// timeline more finely with the same spectra.
    pub window_len_samples: Option<usize>,
}

impl AnalyzerConfig {
    /// The defaults (seed feature rate, 20–120 Hz kick band, A440) at `sample_rate_hz`.
    pub fn new(sample_rate_hz: f32) -> Self {
        Self {
            sample_rate_hz,
            feature_rate_hz: DEFAULT_FEATURE_RATE_HZ,
            kick_low_hz: kick::DEFAULT_KICK_LOW_HZ,
            kick_high_hz: kick::DEFAULT_KICK_HIGH_HZ,
            tuning_cents: 0.0,
            window_len_samples: None,
        }
    }
}

/// Why an Analyzer could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The sample rate is outside what the analysis supports.
    #[error(
        "sample rate {0} Hz is not supported for analysis; use a rate between 16 kHz and 768 kHz \
         (e.g. 44.1, 48 or 96 kHz)"
    )]
    UnsupportedSampleRate(f32),
    /// The feature rate leaves fewer than 16 samples per hop or is not a positive number.
    #[error(
        "feature rate {rate_hz} Hz is invalid at {sample_rate_hz} Hz: it must be positive and \
         leave at least 16 samples per frame"
    )]
    InvalidFeatureRate {
        /// The rejected feature rate.
        rate_hz: f64,
        /// The sample rate it was combined with.
        sample_rate_hz: f32,
    },
    /// The tuning is not within a semitone of A440.
    #[error("tuning of {0} cents is invalid; use a value between -100 and 100 cents")]
    InvalidTuning(f32),
}

/// The host's transport at the start of a block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransportInfo {
    /// Song position of the block's first sample, if the host reports one.
    pub position_samples: Option<i64>,
    /// Tempo in beats per minute, if the host reports one.
    pub tempo_bpm: Option<f64>,
    /// Whether the transport is playing.
    pub playing: bool,
}

/// Streaming feature extractor: feed it blocks of any size, get a frame per hop.
pub struct Analyzer {
    /// Input sample rate.
    sample_rate_hz: f32,
    /// Samples per hop.
    hop_samples: usize,
    /// Main input mixed to mono, one chunk.
    main_mono: Vec<f32>,
    /// Sidechain mixed to mono, one chunk.
    side_mono: Vec<f32>,
    /// Newest analysis window of the main input.
    main_ring: HopRing,
    /// Newest analysis window of the sidechain.
    side_ring: HopRing,
    /// Power spectrum of the tonal source (and of the kick source when it is the same).
    tonal_spectrum: PowerSpectrum,
    /// Power spectrum of the kick source when it differs from the tonal source.
    kick_spectrum: PowerSpectrum,
    /// The kick band's bins.
    kick_band: KickBand,
    /// Current kick band edges, to notice changes.
    kick_edges_hz: (f32, f32),
    /// The mel filter bank.
    mel: MelBank,
    /// Mel energies of the current frame.
    mel_bands: [f32; NUM_MEL_BANDS],
    /// Onset detector state.
    onset: OnsetDetector,
    /// Constant-Q chroma of the tonal source.
    chroma: ConstantQChroma,
    /// Live 0..1 mapping.
    live: LiveNormalizer,
    /// Mel power of the previous frame, for the rise.
    prev_mel_power: Option<f32>,
    /// Source requested for the kick.
    kick_source: Source,
    /// Source requested for the tonal features.
    tonal_source: Source,
    /// Whether the current hop takes the kick from the sidechain.
    hop_kick_from_side: bool,
    /// Whether the current hop takes the tonal features from the sidechain.
    hop_tonal_from_side: bool,
    /// Samples of the current hop received so far.
    samples_in_hop: usize,
    /// Samples received since reset.
    num_samples: u64,
    /// Index (since reset) of the sidechain's last non-zero sample.
    last_side_signal_idx: Option<u64>,
    /// [`SIDECHAIN_HOLD_S`] in samples.
    side_hold_samples: u64,
    /// Frames emitted since reset.
    num_frames: u64,
}

impl Analyzer {
    /// Sizes every buffer and plans every FFT for `config`; allocates, so call it off the
    /// audio thread (the plugin does in `activate()`).
    pub fn new(config: &AnalyzerConfig) -> Result<Self, AnalysisError> {
        let sr = config.sample_rate_hz;
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sr) {
            return Err(AnalysisError::UnsupportedSampleRate(sr));
        }
        let hop_f = f64::from(sr) / config.feature_rate_hz;
        if !(hop_f.is_finite() && hop_f >= 16.0) {
            return Err(AnalysisError::InvalidFeatureRate {
                rate_hz: config.feature_rate_hz,
                sample_rate_hz: sr,
            });
        }
        if !(-100.0..=100.0).contains(&config.tuning_cents) {
            return Err(AnalysisError::InvalidTuning(config.tuning_cents));
        }
        let hop_samples = hop_f.round() as usize;
        let window_len = config
            .window_len_samples
            .unwrap_or_else(|| analysis_window_len(hop_samples))
            .max(hop_samples);
        let hop_s = hop_samples as f64 / f64::from(sr);
        let mut planner = FftPlanner::new();
        // Nothing reads the spectrum above the mel bank's 8 kHz.
        let max_hz = mel::MEL_FMAX_HZ;
        let tonal_spectrum = PowerSpectrum::new(window_len, f64::from(sr), max_hz, &mut planner);
        let kick_spectrum = PowerSpectrum::new(window_len, f64::from(sr), max_hz, &mut planner);
        let num_bins = tonal_spectrum.power().len();
        let bin_hz = tonal_spectrum.bin_hz();
        Ok(Self {
            sample_rate_hz: sr,
            hop_samples,
            main_mono: vec![0.0; CHUNK_SAMPLES],
            side_mono: vec![0.0; CHUNK_SAMPLES],
            main_ring: HopRing::new(window_len),
            side_ring: HopRing::new(window_len),
            kick_band: KickBand::new(config.kick_low_hz, config.kick_high_hz, bin_hz, num_bins),
            kick_edges_hz: (config.kick_low_hz, config.kick_high_hz),
            mel: MelBank::new(bin_hz, num_bins),
            mel_bands: [0.0; NUM_MEL_BANDS],
            onset: OnsetDetector::new(hop_s),
            chroma: ConstantQChroma::new(
                f64::from(sr),
                hop_samples,
                CHUNK_SAMPLES,
                f64::from(config.tuning_cents),
                &mut planner,
            ),
            live: LiveNormalizer::new(hop_s),
            tonal_spectrum,
            kick_spectrum,
            prev_mel_power: None,
            kick_source: Source::Main,
            tonal_source: Source::Main,
            hop_kick_from_side: false,
            hop_tonal_from_side: false,
            samples_in_hop: 0,
            num_samples: 0,
            last_side_signal_idx: None,
            side_hold_samples: (SIDECHAIN_HOLD_S * f64::from(sr)) as u64,
            num_frames: 0,
        })
    }

    /// Samples per hop (one frame per hop).
    pub fn hop_samples(&self) -> usize {
        self.hop_samples
    }

    /// The sample rate this Analyzer was built for.
    pub fn sample_rate_hz(&self) -> f32 {
        self.sample_rate_hz
    }

    /// Samples from the centre of the spectral window to the frame's end (half the window).
    pub fn spectral_latency_samples(&self) -> usize {
        self.main_ring.len() / 2
    }

    /// [`spectral_latency_samples`](Self::spectral_latency_samples) in whole hops (2: the
    /// window is within half a percent of four hops).
    pub fn spectral_latency_hops(&self) -> usize {
        (self.spectral_latency_samples() as f64 / self.hop_samples as f64).round() as usize
    }

    /// Hops from the centre of the chroma's windows to the frame's end.
    pub fn chroma_latency_hops(&self) -> usize {
        self.chroma.latency_hops()
    }

    /// Sets the kick band; allocation-free, for the audio thread (takes effect at the next
    /// frame). The spectrum is computed up to 8 kHz, the mel bank's top, so a band reaching
    /// higher counts only its part below.
    pub fn set_kick_band(&mut self, low_hz: f32, high_hz: f32) {
        if (low_hz, high_hz) != self.kick_edges_hz {
            let num_bins = self.tonal_spectrum.power().len();
            self.kick_band = KickBand::new(low_hz, high_hz, self.tonal_spectrum.bin_hz(), num_bins);
            self.kick_edges_hz = (low_hz, high_hz);
        }
    }

    /// Chooses where the kick and the tonal features are measured (from the next hop on).
    pub fn set_sources(&mut self, kick: Source, tonal: Source) {
        self.kick_source = kick;
        self.tonal_source = tonal;
    }

    /// Back to the state right after construction (silence before this point). Allocation-free.
    pub fn reset(&mut self) {
        self.main_ring.reset();
        self.side_ring.reset();
        self.onset.reset();
        self.chroma.reset();
        self.live.reset();
        self.prev_mel_power = None;
        self.samples_in_hop = 0;
        self.num_samples = 0;
        self.last_side_signal_idx = None;
        self.num_frames = 0;
    }

    /// Whether the sidechain has carried signal recently enough to count as connected.
    pub fn sidechain_active(&self) -> bool {
        self.last_side_signal_idx
            .is_some_and(|idx| self.num_samples - idx <= self.side_hold_samples)
    }

    /// Analyses one block: `main` and `sidechain` are the channels of each input (any count, of
    /// equal length; a missing sidechain is `None`). Calls `emit` for each completed frame.
    /// Never allocates, locks or blocks.
    pub fn process<M: AsRef<[f32]>, S: AsRef<[f32]>>(
        &mut self,
        main: &[M],
        sidechain: Option<&[S]>,
        transport: &TransportInfo,
        mut emit: impl FnMut(&FeatureFrame),
    ) {
        let num_samples = match main.first() {
            Some(channel) => main
                .iter()
                .map(|c| c.as_ref().len())
                .min()
                .unwrap_or(channel.as_ref().len()),
            None => sidechain
                .and_then(|side| side.iter().map(|c| c.as_ref().len()).min())
                .unwrap_or(0),
        };
        let mut offset = 0;
        while offset < num_samples {
            if self.samples_in_hop == 0 {
                self.start_hop();
            }
            let len = (num_samples - offset)
                .min(CHUNK_SAMPLES)
                .min(self.hop_samples - self.samples_in_hop);
            mix_to_mono(main, offset, &mut self.main_mono[..len]);
            match sidechain {
                Some(side) if !side.is_empty() => {
                    mix_to_mono(side, offset, &mut self.side_mono[..len])
                }
                _ => self.side_mono[..len].fill(0.0),
            }
            if let Some(last) = self.side_mono[..len].iter().rposition(|&x| x != 0.0) {
                self.last_side_signal_idx = Some(self.num_samples + last as u64);
            }
            self.main_ring.push(&self.main_mono[..len]);
            self.side_ring.push(&self.side_mono[..len]);
            let tonal = if self.hop_tonal_from_side {
                &self.side_mono[..len]
            } else {
                &self.main_mono[..len]
            };
            self.chroma.push(tonal);
            self.samples_in_hop += len;
            self.num_samples += len as u64;
            offset += len;
            if self.samples_in_hop == self.hop_samples {
                self.samples_in_hop = 0;
                let end_position = match transport.position_samples {
                    Some(pos) => pos.saturating_add(offset as i64),
                    None => self.num_samples as i64,
                };
                let frame = self.finish_hop(end_position, transport);
                emit(&frame);
            }
        }
    }

    /// Decides the sources for the hop that starts now, from the signal before it.
    fn start_hop(&mut self) {
        let side_active = self.sidechain_active();
        self.hop_kick_from_side = self.kick_source == Source::Sidechain && side_active;
        self.hop_tonal_from_side = self.tonal_source == Source::Sidechain && side_active;
    }

    /// Computes the frame of the hop that just completed.
    fn finish_hop(&mut self, end_position_samples: i64, transport: &TransportInfo) -> FeatureFrame {
        let tonal_ring = if self.hop_tonal_from_side {
            &self.side_ring
        } else {
            &self.main_ring
        };
        let power = self.tonal_spectrum.compute(tonal_ring);
        let kick_energy = if self.hop_kick_from_side == self.hop_tonal_from_side {
            self.kick_band.energy(power)
        } else {
            let kick_ring = if self.hop_kick_from_side {
                &self.side_ring
            } else {
                &self.main_ring
            };
            self.kick_band.energy(self.kick_spectrum.compute(kick_ring))
        };
        let mel_power = self
            .mel
            .apply(self.tonal_spectrum.power(), &mut self.mel_bands);
        let onset = self.onset.process(&self.mel_bands);
        let power_rise = self
            .prev_mel_power
            .map_or(0.0, |prev| (mel_power - prev).max(0.0));
        self.prev_mel_power = Some(mel_power);
        self.num_frames += 1;
        let mut chroma = [0.0; NUM_CHROMA];
        self.chroma.chroma(self.num_frames, &mut chroma);
        let live = self.live.update(kick_energy, mel_power, power_rise, onset);
        FeatureFrame {
            frame_idx: self.num_frames - 1,
            end_position_samples,
            position_from_host: transport.position_samples.is_some(),
            playing: transport.playing,
            tempo_bpm: transport.tempo_bpm.unwrap_or(0.0) as f32,
            sample_rate_hz: self.sample_rate_hz,
            hop_samples: self.hop_samples as u32,
            spectral_latency_samples: self.spectral_latency_samples() as u32,
            chroma_latency_samples: (self.chroma_latency_hops() * self.hop_samples) as u32,
            kick_from_sidechain: self.hop_kick_from_side,
            tonal_from_sidechain: self.hop_tonal_from_side,
            kick_energy,
            mel_power,
            power_rise,
            onset,
            chroma,
            live,
        }
    }
}

/// Writes the mean of `channels[..][offset..offset + out.len()]` to `out`; non-finite samples
/// count as 0 and missing samples (a shorter channel) as silence.
fn mix_to_mono<C: AsRef<[f32]>>(channels: &[C], offset: usize, out: &mut [f32]) {
    let len = out.len();
    match channels {
        [] => out.fill(0.0),
        [only] => {
            let src = only.as_ref().get(offset..offset + len).unwrap_or(&[]);
            out.fill(0.0);
            for (dst, &x) in out.iter_mut().zip(src) {
                *dst = x;
            }
        }
        [left, right] => {
            let l = left.as_ref().get(offset..offset + len).unwrap_or(&[]);
            let r = right.as_ref().get(offset..offset + len).unwrap_or(&[]);
            out.fill(0.0);
            for ((dst, &a), &b) in out.iter_mut().zip(l).zip(r) {
                // (a + b) / 2, as numpy's mean of two float32 values.
                *dst = (a + b) * 0.5;
            }
        }
        many => {
            out.fill(0.0);
            for channel in many {
                let src = channel.as_ref().get(offset..offset + len).unwrap_or(&[]);
                for (dst, &x) in out.iter_mut().zip(src) {
                    *dst += x;
                }
            }
            let scale = 1.0 / many.len() as f32;
            for dst in out.iter_mut() {
                *dst *= scale;
            }
        }
    }
    for x in out.iter_mut() {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_for(
        analyzer: &mut Analyzer,
        signal: &[f32],
        block: usize,
        side: Option<&[f32]>,
    ) -> Vec<FeatureFrame> {
        let mut frames = Vec::new();
        let mut start = 0;
        while start < signal.len() {
            let end = (start + block).min(signal.len());
            let main = [&signal[start..end]];
            let side_block = side.map(|s| [&s[start..end]]);
            analyzer.process(
                &main,
                side_block.as_ref().map(|s| &s[..]),
                &TransportInfo::default(),
                |f| frames.push(*f),
            );
            start = end;
        }
        frames
    }

    #[test]
    fn rejects_unsupported_configurations() {
        assert!(matches!(
            Analyzer::new(&AnalyzerConfig::new(8000.0)),
            Err(AnalysisError::UnsupportedSampleRate(_))
        ));
        assert!(Analyzer::new(&AnalyzerConfig::new(f32::NAN)).is_err());
        let mut config = AnalyzerConfig::new(48000.0);
        config.feature_rate_hz = 0.0;
        assert!(Analyzer::new(&config).is_err());
        config.feature_rate_hz = 10_000.0;
        assert!(Analyzer::new(&config).is_err());
    }

    #[test]
    fn hop_follows_the_feature_rate() {
        for (sr, hop) in [
            (22050.0, 512),
            (44100.0, 1024),
            (48000.0, 1115),
            (96000.0, 2229),
        ] {
            let analyzer = Analyzer::new(&AnalyzerConfig::new(sr)).unwrap();
            assert_eq!(analyzer.hop_samples(), hop, "{sr}");
        }
    }

    #[test]
    fn one_frame_per_hop_with_positions_at_the_hop_end() {
        let mut analyzer = Analyzer::new(&AnalyzerConfig::new(22050.0)).unwrap();
        let signal = vec![0.1f32; 512 * 5 + 100];
        let frames = frames_for(&mut analyzer, &signal, 300, None);
        assert_eq!(frames.len(), 5);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.frame_idx, i as u64);
            assert_eq!(f.end_position_samples, 512 * (i as i64 + 1));
            assert!(!f.position_from_host);
        }
    }

    #[test]
    fn silent_sidechain_falls_back_to_main_and_signal_selects_it() {
        let mut analyzer = Analyzer::new(&AnalyzerConfig::new(22050.0)).unwrap();
        analyzer.set_sources(Source::Sidechain, Source::Main);
        let main: Vec<f32> = (0..22050)
            .map(|n| (2.0 * std::f32::consts::PI * 60.0 * n as f32 / 22050.0).sin())
            .collect();
        let silence = vec![0.0f32; main.len()];
        let frames = frames_for(&mut analyzer, &main, 512, Some(&silence));
        assert!(frames.iter().all(|f| !f.kick_from_sidechain));
        assert!(frames.last().unwrap().kick_energy > 1.0);

        let quiet_side = vec![1e-3f32; main.len()];
        let frames = frames_for(&mut analyzer, &main, 512, Some(&quiet_side));
        assert!(frames[1..].iter().all(|f| f.kick_from_sidechain));
        assert!(frames.iter().all(|f| !f.tonal_from_sidechain));
        // A DC sidechain has no energy at 20-120 Hz once the window is full of it.
        assert!(frames.last().unwrap().kick_energy < 1e-6);
    }
}
