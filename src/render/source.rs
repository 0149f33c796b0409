//! What a render draws from: the audio of a song file or of a take, on the transport axis, and
//! its features.

use std::path::{Path, PathBuf};

use super::RenderError;
use crate::analysis::decode::{decode_file, Decoder};
use crate::analysis::hop::analysis_window_len;
use crate::analysis::offline::{analyze_channels, estimate_song_tuning_cents, Normalisation};
use crate::analysis::AnalyzerConfig;
use crate::director::input::FeatureSample;
use crate::export::wav::WavWriter;
use crate::settings::VisualSettings;
use crate::take::Take;

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderSource {
    /// An audio file: a take with one segment that starts at transport time 0.
    Song(PathBuf),
    /// A take folder (`NAME.take`, or a `NAME.take.partial` cut off while recording).
    Take(PathBuf),
}

impl RenderSource {
    /// The file or folder.
    pub fn path(&self) -> &Path {
        match self {
            RenderSource::Song(path) | RenderSource::Take(path) => path,
        }
    }
}

/// Audio laid onto the transport axis.
#[derive(Debug, Clone)]
pub struct SourceAudio {
    /// Sample rate.
    pub sample_rate_hz: u32,
    /// One vector per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
    /// Transport time of the first sample, in seconds (0 for a song).
    pub origin_s: f64,
    /// Things the user should know (damaged packets, a take cut off, lost samples).
    pub warnings: Vec<String>,
    /// The settings a take was recorded with; `None` for a song.
    pub recorded_settings: Option<VisualSettings>,
}

impl SourceAudio {
    /// Samples per channel.
    pub fn num_frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.num_frames() as f64 / f64::from(self.sample_rate_hz.max(1))
    }
}

/// Reads `source`'s audio.
pub fn load_audio(source: &RenderSource) -> Result<SourceAudio, RenderError> {
    match source {
        RenderSource::Song(path) => {
            let audio = decode_file(path)?;
            let mut warnings = Vec::new();
            if audio.num_corrupt_packets > 0 {
                warnings.push(format!(
                    "skipped {} damaged packets in {}",
                    audio.num_corrupt_packets,
                    path.display()
                ));
            }
            if let Some(damage) = &audio.damage {
                warnings.push(damage.clone());
            }
            if audio.decoder == Decoder::Ffmpeg {
                warnings.push(format!("decoded {} with the system ffmpeg", path.display()));
            }
            let (audio, resampled) = crate::analysis::resample::for_analysis(audio, path)?;
            warnings.extend(resampled);
            Ok(SourceAudio {
                sample_rate_hz: audio.sample_rate_hz,
                channels: audio.channels,
                origin_s: 0.0,
                warnings,
                recorded_settings: None,
            })
        }
        RenderSource::Take(dir) => {
            let take = Take::open(dir)?;
            let mut warnings = Vec::new();
            if !take.manifest.complete {
                warnings.push(format!(
                    "{} was cut off while recording: rendering its {:.2} s up to the last \
                     complete block",
                    dir.display(),
                    take.num_frames() as f64 / f64::from(take.manifest.sample_rate_hz)
                ));
            }
            if take.manifest.num_lost_frames > 0 {
                warnings.push(format!(
                    "{} is incomplete: {} samples were lost while recording (the disk fell \
                     behind)",
                    dir.display(),
                    take.manifest.num_lost_frames
                ));
            }
            let flat = take.flatten()?;
            Ok(SourceAudio {
                sample_rate_hz: flat.sample_rate_hz,
                origin_s: flat.start_samples as f64 / f64::from(flat.sample_rate_hz),
                channels: flat.channels,
                warnings,
                recorded_settings: Some(take.manifest.settings),
            })
        }
    }
}

/// How the features are mapped to 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Harmony {
    /// Over the whole source, as the seed (the CLI's default, and takes).
    #[default]
    Song,
    /// Causally, as the plugin does live (`--live`).
    Live,
}

/// The analysed audio: one feature sample per analysis hop, times in seconds from the audio's
/// first sample.
#[derive(Debug, Clone)]
pub struct Analysed {
    /// Feature samples of the whole source, in time order.
    pub samples: Vec<FeatureSample>,
    /// Their rate per second.
    pub feature_hz: f64,
}

/// Feature samples per seed step (1/43.07 s) in a render. Frames at 60 fps are shorter than the
/// seed's hop (16.7 ms against 23.2 ms), so with one sample per seed hop a sound inside a frame
/// that holds no sample cannot move that frame; four samples per hop, each over the seed's
/// window, place every sound within 6 ms with the same spectra.
pub const RENDER_OVERSAMPLING: f64 = 4.0;

/// How far after its analysis window's centre a feature sample is placed on the timeline, as a
/// fraction of the window (2.3 ms at 44.1 kHz). Measured on a click track (`tests/sync.rs`): at
/// this offset the frame where the motion and the dream depth jump is the click's own for every
/// click but those within a millisecond of a frame boundary; a quarter window (where the Hann
/// window's flank is steepest) came a frame late for a third of the clicks, the bare centre a
/// frame early for some.
pub const RESPONSE_DELAY_WINDOWS: f64 = 0.025;

/// Analyses `audio` with `settings`' analysis band (tuning estimated over the audio in song
/// mode, A440 live, as `deep-visualizer features`).
pub fn analyse(
    audio: &SourceAudio,
    settings: &VisualSettings,
    harmony: Harmony,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Analysed, RenderError> {
    let mut config = AnalyzerConfig::new(audio.sample_rate_hz as f32);
    let seed_hop_samples = (f64::from(audio.sample_rate_hz) / config.feature_rate_hz).round();
    let window_len = analysis_window_len(seed_hop_samples as usize);
    config.window_len_samples = Some(window_len);
    config.feature_rate_hz *= RENDER_OVERSAMPLING;
    config.kick_low_hz = settings.analysis.kick_low_hz;
    config.kick_high_hz = settings.analysis.kick_high_hz;
    if harmony == Harmony::Song {
        config.tuning_cents = estimate_song_tuning_cents(&audio.channels, config.sample_rate_hz);
    }
    let analysis = analyze_channels(&audio.channels, &config, 512, |done, total| {
        progress(done, total)
    })?;
    let mode = match harmony {
        Harmony::Song => Normalisation::Song,
        Harmony::Live => Normalisation::Live,
    };
    let delay_s = RESPONSE_DELAY_WINDOWS * window_len as f64 / f64::from(audio.sample_rate_hz);
    let samples = analysis
        .rows(mode)
        .iter()
        .map(|row| FeatureSample {
            time_s: row.time_s + delay_s,
            kick: row.kick,
            power: row.power,
            power_rise: row.power_rise,
            chroma: row.chroma,
        })
        .collect();
    Ok(Analysed {
        samples,
        feature_hz: config.feature_rate_hz,
    })
}

/// Writes `audio` from `start_s` for `duration_s` seconds to `path` as a WAV (the video's sound).
pub fn write_span_wav(
    audio: &SourceAudio,
    start_s: f64,
    duration_s: f64,
    path: &Path,
) -> Result<(), RenderError> {
    let rate = f64::from(audio.sample_rate_hz);
    let first = ((start_s * rate).round() as usize).min(audio.num_frames());
    let last = (((start_s + duration_s) * rate).round() as usize).min(audio.num_frames());
    let num_channels = audio.channels.len().max(1);
    let mut wav = WavWriter::create(path, audio.sample_rate_hz, num_channels as u16)?;
    let mut interleaved = Vec::with_capacity(64 * 1024);
    for chunk_start in (first..last).step_by(8192) {
        interleaved.clear();
        for i in chunk_start..(chunk_start + 8192).min(last) {
            interleaved.extend(audio.channels.iter().map(|c| c[i]));
        }
        wav.write(&interleaved)?;
    }
    wav.finish()?;
    Ok(())
}
