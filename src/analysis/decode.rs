//! Audio files to samples: WAV, MP3, FLAC, Ogg/Vorbis and AAC/M4A with symphonia; anything
//! symphonia does not read (e.g. Sun `.au`, Opus, WMA) through the system `ffmpeg`.
//!
//! Samples come out as `f32` per channel at the file's own rate, scaled as libsndfile and
//! ffmpeg scale them (16-bit `x / 32768`, 24-bit `x / 8388608`), so the analysis sees what
//! librosa would load before its resampling.
//!
//! Encoder delay is removed as ffmpeg (and so librosa) removes it: MP3 and Ogg through
//! symphonia's gapless mode, and MP4/M4A by skipping the first edit-list entry's `media_time`
//! (the AAC priming samples), which symphonia 0.5 reads but does not apply. Like ffmpeg, the
//! padding at the end of an AAC stream is kept.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A decoded file.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Sample rate of the file.
    pub sample_rate_hz: u32,
    /// One vector per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
    /// Packets symphonia could not decode and skipped (a damaged file); 0 for ffmpeg.
    pub num_corrupt_packets: usize,
    /// Which decoder read the file.
    pub decoder: Decoder,
    /// What was wrong with a file that decoded only in part or with errors (a header that
    /// promises more than the file holds, errors ffmpeg reported), with how much was read;
    /// `None` for a sound file.
    pub damage: Option<String>,
}

/// Which decoder read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// The built-in symphonia decoders.
    Symphonia,
    /// The system `ffmpeg`.
    Ffmpeg,
}

impl DecodedAudio {
    /// Samples per channel.
    pub fn num_frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.num_frames() as f64 / f64::from(self.sample_rate_hz.max(1))
    }
}

/// Why a file could not be decoded. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Neither symphonia nor ffmpeg could make sense of the file.
    #[error("cannot decode {path}: {reason}")]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// What went wrong, and what to do.
        reason: String,
    },
    /// The file decoded to no samples.
    #[error("{path} contains no audio samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Decodes `path` with symphonia, or with the system ffmpeg when symphonia does not support
/// the format or codec.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, DecodeError> {
    let invalid = |reason: String| DecodeError::Undecodable {
        path: path.to_owned(),
        reason,
    };
    // A header with impossible values must fail here: decoders panic on a 0 Hz WAV and try to
    // allocate for billions of samples per second.
    let header_damage = check_wav_header(path).map_err(invalid)?;
    // The decoders are foreign code; a panic on a file nobody foresaw is an error, not a crash.
    // A panic there means only that the built-in decoders cannot read the file: ffmpeg may.
    let outcome = crate::panic_guard::catch(|| decode_with_symphonia(path)).unwrap_or_else(|_| {
        Err(SymphoniaFailure::Unsupported(
            "the built-in decoder failed on it".to_owned(),
        ))
    });
    let audio = match outcome {
        Ok(audio) => audio,
        Err(SymphoniaFailure::Io(source)) => {
            return Err(DecodeError::Io {
                path: path.to_owned(),
                source,
            })
        }
        Err(SymphoniaFailure::Unsupported(why)) => {
            decode_with_ffmpeg(path).map_err(|ffmpeg_reason| DecodeError::Undecodable {
                path: path.to_owned(),
                reason: format!(
                    "the built-in decoders do not read it ({why}), and ffmpeg failed: \
                     {ffmpeg_reason}"
                ),
            })?
        }
        Err(SymphoniaFailure::Broken(why)) => {
            return Err(DecodeError::Undecodable {
                path: path.to_owned(),
                reason: format!("{why}; the file may be truncated or damaged"),
            })
        }
    };
    if audio.num_frames() == 0 {
        return Err(DecodeError::Empty {
            path: path.to_owned(),
        });
    }
    let mut audio = audio;
    let damage: Vec<String> = [header_damage, audio.damage.take()]
        .into_iter()
        .flatten()
        .collect();
    if !damage.is_empty() {
        audio.damage = Some(format!(
            "{} is damaged ({}): read {:.2} s of audio",
            path.display(),
            damage.join("; "),
            audio.duration_s()
        ));
    }
    Ok(audio)
}

/// The most sample frames per second a file may claim: above any real recording, below what
/// makes a decoder allocate without bound.
const MAX_FILE_RATE_HZ: u32 = 1_000_000;

/// Reads a RIFF/WAVE file's header (other files pass): refuses a sample rate of 0 or over
/// [`MAX_FILE_RATE_HZ`], or no channels, in words for the user; returns a warning when the
/// `data` chunk promises more bytes than the file holds (a cut-off file).
fn check_wav_header(path: &Path) -> Result<Option<String>, String> {
    let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut head = [0u8; 4096];
    let len = File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..len];
    if len < 12 || &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut fmt_checked = false;
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes([head[at + 4], head[at + 5], head[at + 6], head[at + 7]]);
        if id == b"fmt " {
            let Some(fmt) = head.get(at + 8..at + 16) else {
                return Err("its WAV header is cut short".to_owned());
            };
            let num_channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate_hz = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            if num_channels == 0 {
                return Err("its WAV header says it has 0 channels; the file is damaged".into());
            }
            if rate_hz == 0 || rate_hz > MAX_FILE_RATE_HZ {
                return Err(format!(
                    "its WAV header says the sample rate is {rate_hz} Hz (a recording has 1 Hz to \
                     1 MHz); the file is damaged"
                ));
            }
            fmt_checked = true;
        } else if id == b"data" && fmt_checked {
            let promised = (at + 8) as u64 + u64::from(size);
            if promised > file_bytes {
                return Ok(Some(format!(
                    "its header promises {} bytes of audio, the file holds {}",
                    size,
                    file_bytes.saturating_sub((at + 8) as u64)
                )));
            }
            return Ok(None);
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    Ok(None)
}

/// How symphonia failed: the file is unreadable, of a kind it does not support, or broken.
enum SymphoniaFailure {
    /// Opening or reading the file failed.
    Io(std::io::Error),
    /// Not a container or codec symphonia reads.
    Unsupported(String),
    /// A supported format whose data is invalid.
    Broken(String),
}

fn decode_with_symphonia(path: &Path) -> Result<DecodedAudio, SymphoniaFailure> {
    let file = File::open(path).map_err(SymphoniaFailure::Io)?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &format_options, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                SymphoniaFailure::Io(io)
            }
            other => SymphoniaFailure::Unsupported(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| SymphoniaFailure::Unsupported("no audio track it can decode".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| SymphoniaFailure::Unsupported(e.to_string()))?;
    let mut sample_rate_hz = params.sample_rate.unwrap_or(0);
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    let mut num_corrupt_packets = 0;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            // A chained stream with new parameters: keep what was decoded so far.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(SymphoniaFailure::Broken(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(_)) => {
                num_corrupt_packets += 1;
                continue;
            }
            Err(SymphoniaError::Unsupported(what)) => {
                return Err(SymphoniaFailure::Unsupported(what.to_string()))
            }
            Err(e) => return Err(SymphoniaFailure::Broken(e.to_string())),
        };
        let spec = *decoded.spec();
        if sample_rate_hz == 0 {
            sample_rate_hz = spec.rate;
        }
        let num_channels = spec.channels.count();
        if channels.is_empty() {
            channels = vec![Vec::new(); num_channels];
        }
        if decoded.frames() == 0 || num_channels != channels.len() {
            continue;
        }
        let needed = decoded.capacity() as u64;
        if interleaved
            .as_ref()
            .is_none_or(|buf| (buf.capacity() as u64) < needed * num_channels as u64)
        {
            interleaved = Some(SampleBuffer::new(needed, spec));
        }
        if let Some(buffer) = interleaved.as_mut() {
            buffer.copy_interleaved_ref(decoded);
            for frame in buffer.samples().chunks_exact(num_channels) {
                for (channel, &x) in channels.iter_mut().zip(frame) {
                    channel.push(x);
                }
            }
        }
    }
    if sample_rate_hz == 0 {
        return Err(SymphoniaFailure::Broken(
            "the stream does not state its sample rate".into(),
        ));
    }
    if params.codec == symphonia::core::codecs::CODEC_TYPE_AAC {
        if let Some(skip) = mp4_priming_samples(path, sample_rate_hz) {
            for channel in &mut channels {
                channel.drain(..skip.min(channel.len()));
            }
        }
    }
    Ok(DecodedAudio {
        sample_rate_hz,
        channels,
        num_corrupt_packets,
        decoder: Decoder::Symphonia,
        damage: None,
    })
}

/// Decodes with the system ffmpeg (`ffprobe` for the layout, `ffmpeg -f f32le` for the samples).
/// The error is a sentence for the user.
fn decode_with_ffmpeg(path: &Path) -> Result<DecodedAudio, String> {
    let probe = Command::new(crate::export::ffprobe_program())
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["stream=sample_rate,channels", "-of", "json"])
        .arg(path)
        .output()
        .map_err(|e| {
            format!("could not run ffprobe ({e}); install ffmpeg and make sure it is on PATH")
        })?;
    if !probe.status.success() {
        return Err(last_line(&probe.stderr, "ffprobe could not read it"));
    }
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout)
        .map_err(|e| format!("ffprobe printed something unexpected ({e})"))?;
    let stream = info
        .get("streams")
        .and_then(|s| s.get(0))
        .ok_or_else(|| "it has no audio stream".to_string())?;
    let sample_rate_hz: u32 = stream
        .get("sample_rate")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .filter(|&sr| sr > 0)
        .ok_or_else(|| "ffprobe reports no sample rate for its audio".to_string())?;
    let num_channels = stream
        .get("channels")
        .and_then(|v| v.as_u64())
        .filter(|&c| c > 0)
        .ok_or_else(|| "ffprobe reports no channel count for its audio".to_string())?
        as usize;
    let output = Command::new(crate::export::ffmpeg_program())
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-"])
        .output()
        .map_err(|e| {
            format!("could not run ffmpeg ({e}); install ffmpeg and make sure it is on PATH")
        })?;
    if !output.status.success() {
        return Err(last_line(&output.stderr, "ffmpeg could not decode it"));
    }
    // `-v error` prints only errors: any line means ffmpeg skipped or guessed part of the file.
    let damage = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| format!("ffmpeg reported \"{l}\""));
    let mut channels = vec![Vec::new(); num_channels];
    for frame in output.stdout.chunks_exact(4 * num_channels) {
        for (channel, bytes) in channels.iter_mut().zip(frame.chunks_exact(4)) {
            channel.push(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        }
    }
    Ok(DecodedAudio {
        sample_rate_hz,
        channels,
        num_corrupt_packets: 0,
        decoder: Decoder::Ffmpeg,
        damage,
    })
}

fn last_line(stderr: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or_else(|| fallback.to_string(), |l| l.trim().to_string())
}

/// The number of leading samples an MP4's first sound track's edit list skips (the encoder
/// priming), converted to `sample_rate_hz`; `None` if the file has no such edit.
pub fn mp4_priming_samples(path: &Path, sample_rate_hz: u32) -> Option<usize> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let moov = find_top_level_box(&mut file, file_len, *b"moov")?;
    for (kind, trak) in BoxIter::new(&moov) {
        if kind != *b"trak" {
            continue;
        }
        let mdia = child(trak, *b"mdia")?;
        let handler = child(mdia, *b"hdlr")?;
        // version/flags (4), pre_defined (4), handler_type (4)
        if handler.get(8..12)? != b"soun" {
            continue;
        }
        let mdhd = child(mdia, *b"mdhd")?;
        let timescale = match mdhd.first()? {
            0 => be_u32(mdhd.get(12..16)?),
            1 => be_u32(mdhd.get(20..24)?),
            _ => return None,
        };
        let elst = child(child(trak, *b"edts")?, *b"elst")?;
        let version = *elst.first()?;
        let num_entries = be_u32(elst.get(4..8)?);
        let entry_len = if version == 1 { 20 } else { 12 };
        // The first edit that is not an empty (media_time -1) edit.
        for entry_idx in 0..num_entries as usize {
            let entry = elst.get(8 + entry_idx * entry_len..8 + (entry_idx + 1) * entry_len)?;
            let media_time = if version == 1 {
                i64::from_be_bytes(entry.get(8..16)?.try_into().ok()?)
            } else {
                i64::from(be_u32(entry.get(4..8)?) as i32)
            };
            if media_time >= 0 {
                if timescale == 0 {
                    return None;
                }
                let skip = media_time as u128 * u128::from(sample_rate_hz) / u128::from(timescale);
                return usize::try_from(skip).ok();
            }
        }
        return None;
    }
    None
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Reads the payload of the first top-level box of type `kind` (a `moov` is small; the media
/// data is skipped by seeking).
fn find_top_level_box(file: &mut File, file_len: u64, kind: [u8; 4]) -> Option<Vec<u8>> {
    let mut pos = 0u64;
    while pos + 8 <= file_len {
        file.seek(SeekFrom::Start(pos)).ok()?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8]).ok()?;
        let size32 = u64::from(be_u32(&header[..4]));
        let (size, header_len) = match size32 {
            0 => (file_len - pos, 8),
            1 => {
                file.read_exact(&mut header[8..16]).ok()?;
                (u64::from_be_bytes(header[8..16].try_into().ok()?), 16)
            }
            n => (n, 8),
        };
        if size < header_len || pos + size > file_len {
            return None;
        }
        if header[4..8] == kind {
            // A moov over 64 MiB is not a real file's; refuse rather than allocate it.
            if size > 64 << 20 {
                return None;
            }
            let mut payload = vec![0u8; (size - header_len) as usize];
            file.read_exact(&mut payload).ok()?;
            return Some(payload);
        }
        pos += size;
    }
    None
}

/// Iterates over the boxes in a container box's payload as `(type, payload)`.
struct BoxIter<'a> {
    /// The remaining bytes.
    rest: &'a [u8],
}

impl<'a> BoxIter<'a> {
    fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }
}

impl<'a> Iterator for BoxIter<'a> {
    type Item = ([u8; 4], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 8 {
            return None;
        }
        let size32 = be_u32(&self.rest[..4]) as u64;
        let kind: [u8; 4] = self.rest[4..8].try_into().ok()?;
        let (size, header_len) = match size32 {
            0 => (self.rest.len() as u64, 8),
            1 => (
                u64::from_be_bytes(self.rest.get(8..16)?.try_into().ok()?),
                16,
            ),
            n => (n, 8),
        };
        if size < header_len || size > self.rest.len() as u64 {
            return None;
        }
        let payload = &self.rest[header_len as usize..size as usize];
        self.rest = &self.rest[size as usize..];
        Some((kind, payload))
    }
}

fn child(payload: &[u8], kind: [u8; 4]) -> Option<&[u8]> {
    BoxIter::new(payload)
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| p)
}
