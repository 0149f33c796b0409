//! The Analyzer over a whole decoded file, for the CLI and the tests.
//!
//! The audio is fed through [`Analyzer::process`] in blocks exactly as a host would feed the
//! plugin (same mono mix, same code), so [`SongAnalysis::frames`] are the frames the plugin
//! would emit for the same audio, sample rate and block boundaries. After the file, silence is
//! fed until the last frame's chroma is complete (librosa pads the end with zeros too).
//!
//! [`SongAnalysis::timeline`] then re-aligns the frames to librosa's frame grid: row `t` is the
//! analysis centred on sample `t · hop` (librosa's `center=True` frames, `1 + len / hop` of them),
//! taking the spectral features from the frame emitted `spectral_latency_hops` later and the
//! chroma from the one emitted `chroma_latency_hops` later.

use super::normalize::{song_max_scale, song_min_ptp, song_rise};
use super::tuning::{estimate_tuning, tuning_bins_to_cents};
use super::{AnalysisError, Analyzer, AnalyzerConfig, TransportInfo};
use crate::bridge::{FeatureFrame, NUM_CHROMA};

/// How kick, power, rise and onset are mapped to 0..1 in [`SongAnalysis::rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalisation {
    /// Two passes over the whole song, the seed's formulas (the CLI's default).
    #[default]
    Song,
    /// The plugin's causal, adaptive mapping, as it was live at each frame.
    Live,
}

/// Every frame the Analyzer emitted for a song, with what is needed to align them.
#[derive(Debug, Clone)]
pub struct SongAnalysis {
    /// Sample rate of the analysed audio.
    pub sample_rate_hz: f32,
    /// Samples per frame.
    pub hop_samples: usize,
    /// Length of the song in samples (without the silence fed after it).
    pub num_samples: usize,
    /// Hops from a frame's spectral window centre to its end.
    pub spectral_latency_hops: usize,
    /// Hops from a frame's chroma window centre to its end.
    pub chroma_latency_hops: usize,
    /// The frames as emitted, in order (what the plugin would have sent).
    pub frames: Vec<FeatureFrame>,
}

/// The raw features on librosa's frame grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Frame centre times in seconds (`t · hop / sr`).
    pub time_s: Vec<f64>,
    /// Kick-band energy per frame.
    pub kick_energy: Vec<f32>,
    /// Mean mel power per frame.
    pub mel_power: Vec<f32>,
    /// Onset strength per frame (dB of mean flux).
    pub onset: Vec<f32>,
    /// Max-normalised chroma per frame.
    pub chroma: Vec<[f32; NUM_CHROMA]>,
    /// The live 0..1 levels of each row's spectral frame.
    pub live: Vec<crate::bridge::LiveLevels>,
}

/// One CSV row: normalised features at one frame time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureRow {
    /// Frame centre time in seconds.
    pub time_s: f64,
    /// Kick, 0..1.
    pub kick: f32,
    /// Power, 0..1.
    pub power: f32,
    /// Power rise, 0..1.
    pub power_rise: f32,
    /// Onset strength, 0..1.
    pub onset: f32,
    /// Chroma C..B, max-normalised.
    pub chroma: [f32; NUM_CHROMA],
}

/// The channel mean, as the Analyzer mixes (and `librosa.to_mono`).
pub fn mono_mix<C: AsRef<[f32]>>(channels: &[C]) -> Vec<f32> {
    let len = channels.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
    match channels {
        [] => Vec::new(),
        [only] => only.as_ref()[..len].to_vec(),
        [left, right] => left.as_ref()[..len]
            .iter()
            .zip(&right.as_ref()[..len])
            .map(|(a, b)| (a + b) * 0.5)
            .collect(),
        many => (0..len)
            .map(|i| many.iter().map(|c| c.as_ref()[i]).sum::<f32>() / many.len() as f32)
            .collect(),
    }
}

/// The song's tuning in cents from A440, estimated over the whole file as the seed's
/// `chroma_cqt` does (see [`super::tuning`]).
pub fn estimate_song_tuning_cents<C: AsRef<[f32]>>(channels: &[C], sample_rate_hz: f32) -> f32 {
    tuning_bins_to_cents(estimate_tuning(
        &mono_mix(channels),
        f64::from(sample_rate_hz),
    ))
}

/// Runs an Analyzer built from `config` over `channels` (all the same length, at
/// `config.sample_rate_hz`), fed in blocks of `block_samples`, reporting progress as
/// `(samples done, samples total)`.
pub fn analyze_channels<C: AsRef<[f32]>>(
    channels: &[C],
    config: &AnalyzerConfig,
    block_samples: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<SongAnalysis, AnalysisError> {
    let mut analyzer = Analyzer::new(config)?;
    let num_samples = channels.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
    let hop = analyzer.hop_samples();
    let num_rows = 1 + num_samples / hop;
    // Row t's chroma comes from frame index t + chroma_latency - 1, emitted after
    // (t + chroma_latency) hops.
    let needed_samples = (num_rows - 1 + analyzer.chroma_latency_hops()) * hop;
    let total = needed_samples.max(num_samples);
    let block_samples = block_samples.max(1);
    let mut frames = Vec::with_capacity(total / hop + 1);
    let silence = vec![0.0f32; block_samples];
    let mut position = 0usize;
    while position < total {
        let len = block_samples.min(total - position);
        let transport = TransportInfo {
            position_samples: Some(position as i64),
            tempo_bpm: None,
            playing: true,
        };
        if position + len <= num_samples {
            let block: Vec<&[f32]> = channels
                .iter()
                .map(|c| &c.as_ref()[position..position + len])
                .collect();
            analyzer.process(&block, None::<&[&[f32]]>, &transport, |f| frames.push(*f));
        } else {
            // The song ends inside this block: its tail, then silence.
            let mut padded: Vec<Vec<f32>> = Vec::with_capacity(channels.len().max(1));
            for c in channels {
                let mut v = c.as_ref()[position.min(num_samples)..num_samples].to_vec();
                v.resize(len, 0.0);
                padded.push(v);
            }
            if padded.is_empty() {
                padded.push(silence[..len].to_vec());
            }
            analyzer.process(&padded, None::<&[&[f32]]>, &transport, |f| frames.push(*f));
        }
        position += len;
        progress(position.min(num_samples), num_samples);
    }
    Ok(SongAnalysis {
        sample_rate_hz: config.sample_rate_hz,
        hop_samples: hop,
        num_samples,
        spectral_latency_hops: analyzer.spectral_latency_hops(),
        chroma_latency_hops: analyzer.chroma_latency_hops(),
        frames,
    })
}

impl SongAnalysis {
    /// Rows on librosa's grid: `1 + num_samples / hop`.
    pub fn num_rows(&self) -> usize {
        1 + self.num_samples / self.hop_samples
    }

    /// The raw features re-aligned to librosa's frame grid (see the module docs).
    pub fn timeline(&self) -> Timeline {
        let rows = self.num_rows();
        let mut timeline = Timeline::default();
        for t in 0..rows {
            let spectral = self
                .frames
                .get(t + self.spectral_latency_hops - 1)
                .copied()
                .unwrap_or_default();
            let harmonic = self
                .frames
                .get(t + self.chroma_latency_hops - 1)
                .copied()
                .unwrap_or_default();
            timeline
                .time_s
                .push((t * self.hop_samples) as f64 / f64::from(self.sample_rate_hz));
            timeline.kick_energy.push(spectral.kick_energy);
            timeline.mel_power.push(spectral.mel_power);
            timeline.onset.push(spectral.onset);
            timeline.live.push(spectral.live);
            timeline.chroma.push(harmonic.chroma);
        }
        timeline
    }

    /// One normalised row per frame time: song mode applies the seed's two-pass formulas to
    /// the whole timeline, live mode takes the plugin's causal levels.
    pub fn rows(&self, mode: Normalisation) -> Vec<FeatureRow> {
        let timeline = self.timeline();
        let (kick, power, rise, onset) = match mode {
            Normalisation::Song => (
                song_min_ptp(&timeline.kick_energy),
                song_min_ptp(&timeline.mel_power),
                song_rise(&timeline.mel_power),
                song_max_scale(&timeline.onset),
            ),
            Normalisation::Live => (
                timeline.live.iter().map(|l| l.kick).collect(),
                timeline.live.iter().map(|l| l.power).collect(),
                timeline.live.iter().map(|l| l.power_rise).collect(),
                timeline.live.iter().map(|l| l.onset).collect::<Vec<_>>(),
            ),
        };
        (0..timeline.time_s.len())
            .map(|t| FeatureRow {
                time_s: timeline.time_s[t],
                kick: kick[t],
                power: power[t],
                power_rise: rise[t],
                onset: onset[t],
                chroma: timeline.chroma[t],
            })
            .collect()
    }
}
