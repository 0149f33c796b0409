//! Takes: what is needed to render a DAW performance later, anywhere.
//!
//! A take is the audio that passed through the plugin, exactly as it arrived (32-bit float,
//! lossless), with the transport position of every sample, the sample rate, the visual settings
//! and seed in force, and the program version. Features are recomputed from the audio by the same
//! Analyzer when the take renders, so nothing else is needed.
//!
//! On disk a take is a folder `NAME.take`:
//! - `manifest.json`: [`TakeManifest`] (format version, program version, sample rate, channels,
//!   settings, whether the take is complete, how many samples were lost).
//! - `audio.blocks`: blocks as they arrived, each a 24-byte header (`DVTB`, the number of sample
//!   frames `u32`, the transport position of the first frame in samples `i64`, an FNV-1a checksum
//!   of the payload `u32`, reserved `u32`; little-endian) followed by the interleaved samples
//!   (`f32` little-endian). The positions say where each block sits on the transport, so a take
//!   can start at bar 17, stop, jump and loop: consecutive blocks form a segment, a jump starts a
//!   new one.
//!
//! While it is written the folder is `NAME.take.partial`; it is renamed to `NAME.take` when
//! complete. A take cut off by a crash is still readable up to its last complete block
//! ([`Take::open`] accepts either name), so nothing recorded is lost.
//!
//! To render, the take is laid onto the transport axis ([`Take::flatten`]): from its earliest
//! position to its latest end, each sample at its position, a re-played position (a loop)
//! replacing the earlier one, and a gap left as silence so that later audio keeps its transport
//! time.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::export::Durability;
use crate::settings::VisualSettings;

/// The take format this build writes.
pub const TAKE_FORMAT_VERSION: u32 = 1;
/// What `manifest.json`'s `format` says, so a stray JSON file is not mistaken for a take.
pub const TAKE_FORMAT_NAME: &str = "deep-visualizer-take";
/// The extension of a complete take folder.
pub const TAKE_EXTENSION: &str = "take";
/// The suffix of a take folder still being written (or cut off).
pub const PARTIAL_SUFFIX: &str = ".take.partial";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The audio's file name.
pub const AUDIO_FILE: &str = "audio.blocks";

/// First bytes of every block header.
const BLOCK_MAGIC: [u8; 4] = *b"DVTB";
/// Bytes in a block header.
const BLOCK_HEADER_BYTES: usize = 24;
/// Largest block a reader accepts, in sample frames: a corrupt length cannot make it allocate
/// more than this.
const MAX_BLOCK_FRAMES: u32 = 1 << 20;
/// A take folder still named `.take.partial` is adopted only when its audio is this old and not
/// locked: a writer that is alive syncs far more often.
pub const ADOPT_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
/// Most channels a take may have.
pub const MAX_CHANNELS: u16 = 64;
/// The most silence (in bytes of samples) a take's forward jumps may add when it is laid onto
/// the transport, beyond as much as the take holds: 1 GiB, over an hour of 48 kHz stereo.
const MAX_SILENCE_BYTES: u64 = 1 << 30;

/// Why a take could not be written or read; each message names the take and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    /// The file system refused.
    #[error("cannot {action} {}: {source}{}", path.display(), crate::export::io_hint(source))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The folder is not a take, or its manifest is damaged.
    #[error("{} is not a readable take: {reason}", path.display())]
    BadManifest {
        /// The take folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The take was written by a newer Deep Visualizer.
    #[error(
        "{} is take format {version}, newer than this Deep Visualizer reads ({TAKE_FORMAT_VERSION}): \
         update Deep Visualizer",
        path.display()
    )]
    NewerFormat {
        /// The take folder.
        path: PathBuf,
        /// Its format version.
        version: u32,
    },
    /// The take holds no audio.
    #[error("{} holds no audio: record while the transport plays", path.display())]
    Empty {
        /// The take folder.
        path: PathBuf,
    },
    /// A block does not fit the take.
    #[error("cannot add to the take {}: {reason}", path.display())]
    BadBlock {
        /// The take folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl TakeError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakeManifest {
    /// Always [`TAKE_FORMAT_NAME`].
    pub format: String,
    /// The take format version.
    pub version: u32,
    /// The Deep Visualizer version that recorded it.
    pub program_version: String,
    /// Sample rate of the audio.
    pub sample_rate_hz: u32,
    /// Interleaved channels per sample frame.
    pub num_channels: u16,
    /// The visual settings and seed in force when recording started.
    pub settings: VisualSettings,
    /// Whether the take was closed properly (false while recording, or after a crash).
    pub complete: bool,
    /// Sample frames that could not be kept (the disk fell behind); 0 when nothing was lost.
    pub num_lost_frames: u64,
    /// Sample frames written.
    pub num_frames: u64,
}

impl TakeManifest {
    /// A manifest for a new take.
    pub fn new(sample_rate_hz: u32, num_channels: u16, settings: VisualSettings) -> Self {
        Self {
            format: TAKE_FORMAT_NAME.to_owned(),
            version: TAKE_FORMAT_VERSION,
            program_version: env!("CARGO_PKG_VERSION").to_owned(),
            sample_rate_hz,
            num_channels,
            settings,
            complete: false,
            num_lost_frames: 0,
            num_frames: 0,
        }
    }

    /// Reads and checks `dir/manifest.json` of the take in `dir`.
    pub fn read(dir: &Path) -> Result<Self, TakeError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let bad = |reason: String| TakeError::BadManifest {
            path: dir.to_owned(),
            reason,
        };
        if !dir.is_dir() {
            return Err(bad(
                "no such folder (a take is a folder NAME.take with manifest.json and audio.blocks)"
                    .to_owned(),
            ));
        }
        let text = std::fs::read(&manifest_path)
            .map_err(|e| bad(format!("cannot read {MANIFEST_FILE}: {e}")))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("{MANIFEST_FILE}: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(TAKE_FORMAT_NAME) {
            return Err(bad(format!("{MANIFEST_FILE} is not a take manifest")));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(TAKE_FORMAT_VERSION) {
            return Err(TakeError::NewerFormat {
                path: dir.to_owned(),
                version: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let manifest: TakeManifest =
            serde_json::from_value(value).map_err(|e| bad(format!("{MANIFEST_FILE}: {e}")))?;
        if manifest.num_channels == 0 || manifest.num_channels > MAX_CHANNELS {
            return Err(bad(format!(
                "{} channels (1 to {MAX_CHANNELS})",
                manifest.num_channels
            )));
        }
        if !(1_000..=1_000_000).contains(&manifest.sample_rate_hz) {
            return Err(bad(format!(
                "sample rate {} Hz (1 kHz to 1 MHz)",
                manifest.sample_rate_hz
            )));
        }
        Ok(manifest)
    }
}

/// FNV-1a over `bytes`: catches a block whose tail never reached the disk.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Writes `manifest` to `dir/manifest.json` through a temporary file, synced, then renamed.
fn write_manifest(dir: &Path, manifest: &TakeManifest) -> Result<(), TakeError> {
    write_manifest_with(dir, manifest, Durability::Synced)
}

/// [`write_manifest`], pushed to the disk or not as `durability` says.
fn write_manifest_with(
    dir: &Path,
    manifest: &TakeManifest,
    durability: Durability,
) -> Result<(), TakeError> {
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| TakeError::BadManifest {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    write_file(dir, MANIFEST_FILE, &json, durability)
}

/// Writes `bytes` to `dir/name` through the one atomic writer (temporary, renamed; synced when
/// `durability` says so).
fn write_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), TakeError> {
    let path = dir.join(name);
    crate::export::write_atomically_with(&path, durability, |writer| writer.write_all(bytes))
        .map(drop)
        .map_err(|err| TakeError::io("write", &path, std::io::Error::other(err.to_string())))
}

/// Writes a take as it is recorded (see the module docs).
pub struct TakeWriter {
    /// The folder being written (`NAME.take.partial`).
    partial_dir: PathBuf,
    /// Where the finished take goes, without a collision suffix.
    parent: PathBuf,
    /// The take's base name.
    name: String,
    /// The audio file.
    audio: BufWriter<File>,
    /// What the manifest will say.
    manifest: TakeManifest,
    /// Reused block bytes.
    bytes: Vec<u8>,
}

impl TakeWriter {
    /// Starts a take named `name` in `parent` (created if needed). The name gets a `-2`, `-3`, …
    /// suffix when a take (complete or partial) of that name exists, also one another instance
    /// is writing at this moment.
    pub fn create(parent: &Path, name: &str, manifest: TakeManifest) -> Result<Self, TakeError> {
        if manifest.num_channels == 0 || manifest.num_channels > MAX_CHANNELS {
            return Err(TakeError::BadBlock {
                path: parent.join(name),
                reason: format!("{} channels (1 to {MAX_CHANNELS})", manifest.num_channels),
            });
        }
        std::fs::create_dir_all(parent)
            .map_err(|e| TakeError::io("create the folder", parent, e))?;
        let mut idx = 1u32;
        let (name, partial_dir) = loop {
            let candidate = if idx == 1 {
                name.to_owned()
            } else {
                format!("{name}-{idx}")
            };
            let finished = parent.join(format!("{candidate}.{TAKE_EXTENSION}"));
            let partial = parent.join(format!("{candidate}{PARTIAL_SUFFIX}"));
            if !finished.exists() {
                // `create_dir` fails when the folder exists: the reservation is atomic, so two
                // instances never write into one take.
                match std::fs::create_dir(&partial) {
                    Ok(()) => break (candidate, partial),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(TakeError::io("create the take folder", &partial, e)),
                }
            }
            idx += 1;
        };
        // Not waited for: the first sync pushes it to the disk, and a take starting in a
        // bounce must not wait for a disk that another program keeps busy.
        write_manifest_with(&partial_dir, &manifest, Durability::Cached)?;
        let audio_path = partial_dir.join(AUDIO_FILE);
        let audio =
            File::create(&audio_path).map_err(|e| TakeError::io("create", &audio_path, e))?;
        // Held until the writer drops: tells a later scan (`adopt_partial`) that the take is
        // still being written. Advisory; a file system without locks just loses that check.
        let _ = audio.try_lock();
        Ok(Self {
            partial_dir,
            parent: parent.to_owned(),
            name,
            audio: BufWriter::with_capacity(1 << 20, audio),
            manifest,
            bytes: Vec::new(),
        })
    }

    /// The folder being written.
    pub fn partial_dir(&self) -> &Path {
        &self.partial_dir
    }

    /// The manifest as it stands.
    pub fn manifest(&self) -> &TakeManifest {
        &self.manifest
    }

    /// Appends interleaved samples whose first frame sat at transport `position_samples`.
    pub fn write_block(
        &mut self,
        position_samples: i64,
        interleaved: &[f32],
    ) -> Result<(), TakeError> {
        let num_channels = usize::from(self.manifest.num_channels);
        if !interleaved.len().is_multiple_of(num_channels) {
            return Err(TakeError::BadBlock {
                path: self.partial_dir.clone(),
                reason: format!(
                    "{} samples are not whole frames of {num_channels} channels",
                    interleaved.len()
                ),
            });
        }
        let chunk_len = MAX_BLOCK_FRAMES as usize * num_channels;
        for (chunk_idx, chunk) in interleaved.chunks(chunk_len).enumerate() {
            let position_samples =
                position_samples + (chunk_idx * MAX_BLOCK_FRAMES as usize) as i64;
            let num_frames = chunk.len() / num_channels;
            self.bytes.clear();
            if cfg!(target_endian = "little") {
                // The file's byte order: one copy, where a loop per sample would cost a bounce
                // at 100× real time a good part of a core in an unoptimised build.
                self.bytes.extend_from_slice(bytemuck::cast_slice(chunk));
            } else {
                self.bytes
                    .extend(chunk.iter().flat_map(|s| s.to_le_bytes()));
            }
            let mut header = [0u8; BLOCK_HEADER_BYTES];
            header[..4].copy_from_slice(&BLOCK_MAGIC);
            header[4..8].copy_from_slice(&(num_frames as u32).to_le_bytes());
            header[8..16].copy_from_slice(&position_samples.to_le_bytes());
            header[16..20].copy_from_slice(&checksum(&self.bytes).to_le_bytes());
            let path = &self.partial_dir;
            self.audio
                .write_all(&header)
                .and_then(|()| self.audio.write_all(&self.bytes))
                .map_err(|e| TakeError::io("write the take's audio in", path, e))?;
            self.manifest.num_frames += num_frames as u64;
        }
        Ok(())
    }

    /// Counts `num_frames` sample frames that could not be kept.
    pub fn add_lost_frames(&mut self, num_frames: u64) {
        self.manifest.num_lost_frames += num_frames;
    }

    /// Pushes what was written to the disk and updates the manifest, so a crash after this loses
    /// nothing written before it.
    pub fn sync(&mut self) -> Result<(), TakeError> {
        let path = &self.partial_dir;
        self.audio
            .flush()
            .and_then(|()| self.audio.get_ref().sync_data())
            .map_err(|e| TakeError::io("write the take's audio in", path, e))?;
        write_manifest(&self.partial_dir, &self.manifest)
    }

    /// Closes the take and renames it to `NAME.take`; returns its folder.
    pub fn finish(mut self) -> Result<PathBuf, TakeError> {
        self.manifest.complete = true;
        self.sync()?;
        // Renaming an open file's folder is fine; the lock goes with the file when it drops.
        rename_into_place(&self.partial_dir, &self.parent, &self.name)
    }
}

/// Renames the take folder `partial_dir` to `parent/NAME.take` (`NAME-2.take`, … when taken);
/// returns the new folder.
fn rename_into_place(partial_dir: &Path, parent: &Path, name: &str) -> Result<PathBuf, TakeError> {
    let mut idx = 1u32;
    loop {
        let candidate = if idx == 1 {
            name.to_owned()
        } else {
            format!("{name}-{idx}")
        };
        let finished = parent.join(format!("{candidate}.{TAKE_EXTENSION}"));
        if !finished.exists() {
            match std::fs::rename(partial_dir, &finished) {
                Ok(()) => return Ok(finished),
                // Another writer took the name in between (a non-empty folder is never
                // replaced): try the next one.
                Err(_) if finished.exists() => {}
                Err(e) => return Err(TakeError::io("rename the finished take to", &finished, e)),
            }
        }
        idx += 1;
    }
}

/// The take's name: its folder name without `.take` or `.take.partial` (`take` when empty).
pub fn take_name(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(PARTIAL_SUFFIX)
        .or_else(|| name.strip_suffix(".take"))
        .unwrap_or(&name);
    if stem.is_empty() {
        "take".to_owned()
    } else {
        stem.to_owned()
    }
}

/// Where a take's video goes by default: `NAME.mp4` beside the take folder.
pub fn video_path(dir: &Path) -> PathBuf {
    dir.with_file_name(format!("{}.mp4", take_name(dir)))
}

/// A take cut off while recording (`NAME.take.partial` left by a crash or a full disk) becomes
/// `NAME.take`, still marked incomplete, with its manifest counting what is readable. Returns
/// `None` when another writer (this process or another) still has it open or wrote it in the
/// last [`ADOPT_AFTER`], or when no audio of it reached the disk.
pub fn adopt_partial(dir: &Path) -> Result<Option<PathBuf>, TakeError> {
    let audio_path = dir.join(AUDIO_FILE);
    let audio = match File::open(&audio_path) {
        Ok(file) => file,
        // Being created this instant, or cut off before any audio: nothing to adopt.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TakeError::io("read", &audio_path, e)),
    };
    // The writer holds an exclusive lock on its audio file until it finishes (the OS drops it
    // when the writer's process dies), and writes at least every few seconds while it records.
    let recently_written = audio
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age < ADOPT_AFTER);
    if recently_written || audio.try_lock().is_err() {
        return Ok(None);
    }
    let take = Take::open(dir)?;
    if take.blocks.is_empty() {
        return Ok(None);
    }
    let mut manifest = take.manifest.clone();
    manifest.num_frames = take.num_frames();
    manifest.complete = false;
    write_manifest(dir, &manifest)?;
    let parent = dir.parent().unwrap_or(Path::new("."));
    let finished = rename_into_place(dir, parent, &take_name(dir))?;
    drop(audio);
    Ok(Some(finished))
}

/// The file in a take folder that says it was rendered (or that its render was cancelled), so
/// the plugin does not render it again when it next loads.
pub const RENDER_RECORD_FILE: &str = "render.json";

/// `render.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderRecord {
    /// The video written, or `None` when the user cancelled the render.
    pub video: Option<PathBuf>,
    /// Its size in pixels (longer side).
    pub resolution_px: u32,
    /// Frames in it.
    pub num_frames: u64,
    /// The Deep Visualizer version that rendered it.
    pub program_version: String,
}

impl RenderRecord {
    /// A record of this build's render: `video`, or `None` when it was cancelled.
    pub fn new(video: Option<PathBuf>, resolution_px: u32, num_frames: u64) -> Self {
        Self {
            video,
            resolution_px,
            num_frames,
            program_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Writes `dir/render.json` through a temporary file, synced, then renamed.
    pub fn write(&self, dir: &Path) -> Result<(), TakeError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| TakeError::BadManifest {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?;
        write_file(dir, RENDER_RECORD_FILE, &json, Durability::Synced)
    }

    /// Whether the take in `dir` was rendered (or its render cancelled).
    pub fn exists(dir: &Path) -> bool {
        dir.join(RENDER_RECORD_FILE).is_file()
    }
}

/// A run of blocks without a jump: audio that played continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Transport position of its first sample frame.
    pub start_samples: i64,
    /// Its length in sample frames.
    pub num_frames: u64,
}

/// One block read back.
#[derive(Debug, Clone)]
struct Block {
    /// Transport position of its first frame.
    position_samples: i64,
    /// Interleaved samples.
    samples: Vec<f32>,
}

/// A take read back from disk.
#[derive(Debug, Clone)]
pub struct Take {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: TakeManifest,
    /// The blocks in the order they were recorded.
    blocks: Vec<Block>,
    /// Bytes at the end of the audio file that did not form a complete block (a take cut off
    /// while writing); 0 for a complete take.
    pub num_trailing_bytes: u64,
}

/// The take's audio on the transport axis (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatAudio {
    /// Transport position of the first sample frame.
    pub start_samples: i64,
    /// Sample rate.
    pub sample_rate_hz: u32,
    /// One vector per channel.
    pub channels: Vec<Vec<f32>>,
}

impl Take {
    /// Reads the take in `dir` (`NAME.take`, or a `NAME.take.partial` cut off while recording,
    /// read up to its last complete block).
    pub fn open(dir: &Path) -> Result<Self, TakeError> {
        let manifest = TakeManifest::read(dir)?;
        let audio_path = dir.join(AUDIO_FILE);
        let file = File::open(&audio_path).map_err(|e| TakeError::io("read", &audio_path, e))?;
        let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let num_channels = usize::from(manifest.num_channels);
        let mut blocks = Vec::new();
        let mut done_bytes = 0u64;
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; BLOCK_HEADER_BYTES];
            if read_full(&mut reader, &mut header)
                .map_err(|e| TakeError::io("read", &audio_path, e))?
                < BLOCK_HEADER_BYTES
            {
                break;
            }
            let num_frames = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
            if header[..4] != BLOCK_MAGIC || num_frames == 0 || num_frames > MAX_BLOCK_FRAMES {
                break;
            }
            let num_bytes = num_frames as usize * num_channels * 4;
            if done_bytes + (BLOCK_HEADER_BYTES + num_bytes) as u64 > file_bytes {
                break;
            }
            payload.resize(num_bytes, 0);
            if read_full(&mut reader, &mut payload)
                .map_err(|e| TakeError::io("read", &audio_path, e))?
                < num_bytes
            {
                break;
            }
            let sum = u32::from_le_bytes(header[16..20].try_into().unwrap_or_default());
            if checksum(&payload) != sum {
                break;
            }
            blocks.push(Block {
                position_samples: i64::from_le_bytes(header[8..16].try_into().unwrap_or_default()),
                samples: payload
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            });
            done_bytes += (BLOCK_HEADER_BYTES + num_bytes) as u64;
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
            blocks,
            num_trailing_bytes: file_bytes - done_bytes,
        })
    }

    /// Sample frames read.
    pub fn num_frames(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| (b.samples.len() / usize::from(self.manifest.num_channels)) as u64)
            .sum()
    }

    /// The runs of audio without a jump, in recording order.
    pub fn segments(&self) -> Vec<Segment> {
        let num_channels = usize::from(self.manifest.num_channels);
        let mut segments: Vec<Segment> = Vec::new();
        for block in &self.blocks {
            let num_frames = (block.samples.len() / num_channels) as u64;
            match segments.last_mut() {
                Some(last)
                    if last.start_samples.saturating_add(last.num_frames as i64)
                        == block.position_samples =>
                {
                    last.num_frames += num_frames;
                }
                _ => segments.push(Segment {
                    start_samples: block.position_samples,
                    num_frames,
                }),
            }
        }
        segments
    }

    /// The audio laid onto the transport axis (see the module docs).
    pub fn flatten(&self) -> Result<FlatAudio, TakeError> {
        let num_channels = usize::from(self.manifest.num_channels);
        let segments = self.segments();
        let (Some(start), Some(end)) = (
            segments.iter().map(|s| s.start_samples).min(),
            segments
                .iter()
                .map(|s| s.start_samples.saturating_add(s.num_frames as i64))
                .max(),
        ) else {
            return Err(TakeError::Empty {
                path: self.dir.clone(),
            });
        };
        // A take's span is what it holds plus the silence of forward jumps (a click ahead in
        // the timeline while recording). Damaged positions would ask for terabytes of silence:
        // allow as much silence as the take holds audio, or MAX_SILENCE_BYTES, whichever is more.
        let span = u64::try_from(i128::from(end) - i128::from(start)).unwrap_or(u64::MAX);
        let silence_bytes = span
            .saturating_sub(self.num_frames())
            .saturating_mul(num_channels as u64 * 4);
        let held_bytes = self.num_frames() * num_channels as u64 * 4;
        if silence_bytes > held_bytes.max(MAX_SILENCE_BYTES) {
            return Err(TakeError::BadManifest {
                path: self.dir.clone(),
                reason: format!(
                    "its blocks span {span} samples of transport but hold {} (a gap of over {} \
                     hours): the block positions are damaged",
                    self.num_frames(),
                    span.saturating_sub(self.num_frames())
                        / (u64::from(self.manifest.sample_rate_hz) * 3600).max(1)
                ),
            });
        }
        let mut channels = vec![vec![0.0f32; span as usize]; num_channels];
        for block in &self.blocks {
            let offset = (block.position_samples - start) as usize;
            for (i, frame) in block.samples.chunks_exact(num_channels).enumerate() {
                for (c, &s) in frame.iter().enumerate() {
                    channels[c][offset + i] = s;
                }
            }
        }
        Ok(FlatAudio {
            start_samples: start,
            sample_rate_hz: self.manifest.sample_rate_hz,
            channels,
        })
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes `channels` (all the same length) at 0 as a complete take named `name` in `parent`:
/// a song as a take, for tests and for rendering a file through the take path.
pub fn write_take(
    parent: &Path,
    name: &str,
    manifest: TakeManifest,
    start_samples: i64,
    channels: &[Vec<f32>],
    block_frames: usize,
) -> Result<PathBuf, TakeError> {
    let mut writer = TakeWriter::create(parent, name, manifest)?;
    let len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let mut interleaved = Vec::new();
    for begin in (0..len).step_by(block_frames.max(1)) {
        let end = (begin + block_frames.max(1)).min(len);
        interleaved.clear();
        for i in begin..end {
            interleaved.extend(channels.iter().map(|c| c[i]));
        }
        writer.write_block(start_samples + begin as i64, &interleaved)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    fn manifest(num_channels: u16) -> TakeManifest {
        TakeManifest::new(48_000, num_channels, VisualSettings::default())
    }

    #[test]
    fn blocks_round_trip_with_segments_loops_and_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TakeWriter::create(dir.path(), "song", manifest(2)).unwrap();
        // 40 s in: two contiguous blocks, a jump forward, then a loop back over the start.
        let at = 40 * 48_000;
        w.write_block(at, &[1.0, -1.0, 2.0, -2.0]).unwrap();
        w.write_block(at + 2, &[3.0, -3.0]).unwrap();
        w.write_block(at + 10, &[4.0, -4.0]).unwrap();
        w.write_block(at + 1, &[5.0, -5.0]).unwrap();
        let path = w.finish().unwrap();
        assert!(path.ends_with("song.take"), "{}", path.display());
        let take = Take::open(&path).unwrap();
        assert!(take.manifest.complete);
        assert_eq!(take.manifest.num_frames, 5);
        assert_eq!(
            take.segments(),
            vec![
                Segment {
                    start_samples: at,
                    num_frames: 3
                },
                Segment {
                    start_samples: at + 10,
                    num_frames: 1
                },
                Segment {
                    start_samples: at + 1,
                    num_frames: 1
                },
            ]
        );
        let flat = take.flatten().unwrap();
        assert_eq!(flat.start_samples, at);
        // The loop replaced sample 1; the gap 3..10 is silence; sample 10 keeps its position.
        let mut left = vec![1.0, 5.0, 3.0];
        left.extend([0.0; 7]);
        left.push(4.0);
        assert_eq!(flat.channels[0], left);
        assert_eq!(flat.channels[1][1], -5.0);
    }

    #[test]
    fn damaged_positions_are_an_error_not_terabytes_of_silence() {
        for far in [i64::MAX - 1, i64::MIN, 48_000 * 3600 * 24 * 365] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = TakeWriter::create(dir.path(), "far", manifest(2)).unwrap();
            w.write_block(0, &[1.0, -1.0]).unwrap();
            w.write_block(far, &[2.0, -2.0]).unwrap();
            let take = Take::open(&w.finish().unwrap()).unwrap();
            let err = take.flatten().unwrap_err().to_string();
            assert!(err.contains("block positions are damaged"), "{err}");
        }
        // A click ahead in the timeline while recording: 10 minutes of silence are kept.
        let dir = tempfile::tempdir().unwrap();
        let mut w = TakeWriter::create(dir.path(), "jump", manifest(1)).unwrap();
        w.write_block(0, &[1.0]).unwrap();
        w.write_block(48_000 * 600, &[2.0]).unwrap();
        let flat = Take::open(&w.finish().unwrap()).unwrap().flatten().unwrap();
        assert_eq!(flat.channels[0].len(), 48_000 * 600 + 1);
        assert_eq!(flat.channels[0][48_000 * 600], 2.0);
    }

    #[test]
    fn names_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let a = TakeWriter::create(dir.path(), "t", manifest(1)).unwrap();
        let b = TakeWriter::create(dir.path(), "t", manifest(1)).unwrap();
        assert_ne!(a.partial_dir(), b.partial_dir());
        let (mut a, mut b) = (a, b);
        a.write_block(0, &[1.0]).unwrap();
        b.write_block(0, &[2.0]).unwrap();
        let pb = b.finish().unwrap();
        let pa = a.finish().unwrap();
        assert_ne!(pa, pb);
        assert_eq!(
            Take::open(&pa).unwrap().flatten().unwrap().channels[0],
            vec![1.0]
        );
        assert_eq!(
            Take::open(&pb).unwrap().flatten().unwrap().channels[0],
            vec![2.0]
        );
        let c = TakeWriter::create(dir.path(), "t", manifest(1)).unwrap();
        assert!(c.partial_dir().ends_with("t-3.take.partial"));
    }

    #[test]
    fn a_take_cut_off_reads_up_to_its_last_complete_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TakeWriter::create(dir.path(), "crash", manifest(1)).unwrap();
        w.write_block(0, &[1.0; 100]).unwrap();
        w.write_block(100, &[2.0; 100]).unwrap();
        w.sync().unwrap();
        let partial = w.partial_dir().to_owned();
        // The process dies here: no finish. Half of a third block reached the disk.
        std::mem::forget(w);
        let audio = partial.join(AUDIO_FILE);
        let mut file = OpenOptions::new().append(true).open(&audio).unwrap();
        file.write_all(&BLOCK_MAGIC).unwrap();
        file.write_all(&[7, 0, 0, 0, 1, 2]).unwrap();
        drop(file);
        let take = Take::open(&partial).unwrap();
        assert!(!take.manifest.complete);
        assert_eq!(take.num_frames(), 200);
        assert_eq!(take.num_trailing_bytes, 10);
        // A flipped byte inside the last block: that block is dropped, the first one kept.
        let mut bytes = std::fs::read(&audio).unwrap();
        bytes.truncate(bytes.len() - 10);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&audio, &bytes).unwrap();
        assert_eq!(Take::open(&partial).unwrap().num_frames(), 100);
    }

    #[test]
    fn a_partial_take_is_adopted_only_when_no_writer_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TakeWriter::create(dir.path(), "cut", manifest(1)).unwrap();
        w.write_block(480, &[0.5; 300]).unwrap();
        w.sync().unwrap();
        let partial = w.partial_dir().to_owned();
        let age = |path: &Path| {
            let old = std::time::SystemTime::now() - ADOPT_AFTER * 2;
            File::options()
                .write(true)
                .open(path.join(AUDIO_FILE))
                .unwrap()
                .set_modified(old)
                .unwrap();
        };
        // Recently written: a live writer.
        assert_eq!(adopt_partial(&partial).unwrap(), None);
        // Old but still locked by a writer of this process.
        age(&partial);
        assert_eq!(adopt_partial(&partial).unwrap(), None);
        // The writer is gone without finishing (a crash): adopted, still marked incomplete.
        drop(w);
        age(&partial);
        let adopted = adopt_partial(&partial).unwrap().expect("adopted");
        assert!(adopted.ends_with("cut.take"), "{}", adopted.display());
        assert!(!partial.exists());
        let take = Take::open(&adopted).unwrap();
        assert!(!take.manifest.complete);
        assert_eq!(take.manifest.num_frames, 300);
        assert_eq!(take.segments()[0].start_samples, 480);
    }

    #[test]
    fn bad_manifests_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Take::open(&dir.path().join("missing.take")).unwrap_err();
        assert!(err.to_string().contains("a take is a folder"), "{err}");
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{\"format\": \"other\"}").unwrap();
        std::fs::write(dir.path().join(AUDIO_FILE), b"").unwrap();
        let err = Take::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a take manifest"), "{err}");
        let mut m = serde_json::to_value(manifest(2)).unwrap();
        m["version"] = serde_json::json!(TAKE_FORMAT_VERSION + 1);
        std::fs::write(dir.path().join(MANIFEST_FILE), m.to_string()).unwrap();
        let err = Take::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("update Deep Visualizer"), "{err}");
        let mut m = serde_json::to_value(manifest(2)).unwrap();
        m["num_channels"] = serde_json::json!(0);
        std::fs::write(dir.path().join(MANIFEST_FILE), m.to_string()).unwrap();
        assert!(Take::open(dir.path()).is_err());
        // A valid manifest with no audio: readable, but nothing to render.
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            serde_json::to_string(&manifest(2)).unwrap(),
        )
        .unwrap();
        let take = Take::open(dir.path()).unwrap();
        assert!(matches!(take.flatten(), Err(TakeError::Empty { .. })));
    }
}
