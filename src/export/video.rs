//! H.264 MP4 encoding through the system ffmpeg (`ffmpeg-sidecar`, no download).
//!
//! Raw RGB frames go to ffmpeg's stdin from a writer thread behind a bounded channel, so the
//! producer (the model) and the encoder overlap while at most [`QUEUED_FRAMES`] frames wait in
//! memory. A second thread drains ffmpeg's log so it never blocks on a full pipe and keeps the
//! last warnings and errors for the error message. The output is written under a temporary
//! name and renamed only after ffmpeg exits successfully with every frame.
//!
//! The command: `ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -framerate N/D -i - [-i audio.wav]
//! -map 0:v:0 [-map 1:a:0] -c:v libx264 -preset P -crf C -pix_fmt yuv420p [-c:a aac -b:a 192k]
//! -movflags +faststart -f mp4 TEMP`. The frame rate is a ratio, so 22050/512 stays exact.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};

use super::{ExportError, PendingFile};

/// Frames that may wait between the producer and ffmpeg.
pub const QUEUED_FRAMES: usize = 4;
/// Log lines kept for error messages.
const LOG_TAIL_LINES: usize = 12;

/// A working ffmpeg: where it is and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ffmpeg {
    /// The program to run.
    pub path: PathBuf,
    /// Its version as `ffmpeg -version` reports it, e.g. `5.1.6-0+deb12u1`.
    pub version: String,
}

/// Names the ffmpeg program to use instead of the one on `PATH` (a DAW's `PATH` is often not
/// the shell's).
pub const FFMPEG_ENV: &str = "DEEP_VISUALIZER_FFMPEG";

/// The ffmpeg program every part of Deep Visualizer runs: `$DEEP_VISUALIZER_FFMPEG`, else the one
/// `ffmpeg-sidecar` picks (next to this executable, else `ffmpeg` on `PATH`).
pub fn ffmpeg_program() -> PathBuf {
    match std::env::var_os(FFMPEG_ENV).filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => ffmpeg_sidecar::paths::ffmpeg_path(),
    }
}

/// The ffprobe beside [`ffmpeg_program`] (same folder, `ffmpeg` in its name replaced), else
/// `ffprobe` on `PATH`.
pub fn ffprobe_program() -> PathBuf {
    let ffmpeg = ffmpeg_program();
    let name = ffmpeg
        .file_name()
        .map(|n| n.to_string_lossy().replace("ffmpeg", "ffprobe"));
    match (ffmpeg.parent(), name) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() && dir.join(&name).is_file() => {
            dir.join(name)
        }
        _ => PathBuf::from("ffprobe"),
    }
}

/// Finds ffmpeg and checks that it runs and has the H.264 encoder the videos need: `path`, or
/// [`ffmpeg_program`].
pub fn find_ffmpeg(path: Option<&Path>) -> Result<Ffmpeg, ExportError> {
    let path = path.map_or_else(ffmpeg_program, Path::to_owned);
    // Spawn it once ourselves to tell "not installed" from "broken".
    match std::process::Command::new(&path)
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ExportError::FfmpegMissing { path });
        }
        Err(e) => {
            return Err(ExportError::FfmpegUnusable {
                path,
                reason: e.to_string(),
            })
        }
        Ok(_) => {}
    }
    let version = ffmpeg_sidecar::version::ffmpeg_version_with_path(&path).map_err(|e| {
        ExportError::FfmpegUnusable {
            path: path.clone(),
            reason: format!("{e:#}"),
        }
    })?;
    // Before any long work: an ffmpeg built without x264 fails only at the first frame.
    let encoders = std::process::Command::new(&path)
        .args(["-hide_banner", "-encoders"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ExportError::FfmpegUnusable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if !String::from_utf8_lossy(&encoders.stdout).contains(" libx264 ") {
        return Err(ExportError::FfmpegWithoutH264 { path });
    }
    Ok(Ffmpeg { path, version })
}

/// What to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpec {
    /// Frame width in pixels (even, for yuv420p).
    pub width_px: u32,
    /// Frame height in pixels (even).
    pub height_px: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// x264 constant rate factor: 0 lossless … 51 worst; 18 is visually lossless.
    pub crf: u8,
    /// x264 preset, e.g. `medium`.
    pub preset: String,
    /// A WAV file to mux as AAC; it should last as long as the video.
    pub audio_wav: Option<PathBuf>,
}

impl VideoSpec {
    /// A spec with the defaults: crf 18, preset `medium`, no audio.
    pub fn new(width_px: u32, height_px: u32, fps_num: u32, fps_den: u32) -> Self {
        Self {
            width_px,
            height_px,
            fps_num,
            fps_den,
            crf: 18,
            preset: "medium".to_owned(),
            audio_wav: None,
        }
    }

    /// Bytes of one RGB frame.
    pub fn frame_bytes(&self) -> usize {
        self.width_px as usize * self.height_px as usize * 3
    }

    fn validate(&self) -> Result<(), ExportError> {
        if self.width_px == 0 || self.height_px == 0 {
            return Err(ExportError::BadSpec("the frame size is zero".to_owned()));
        }
        if !self.width_px.is_multiple_of(2) || !self.height_px.is_multiple_of(2) {
            return Err(ExportError::BadSpec(format!(
                "{}×{} frames: H.264 in yuv420p needs even sizes",
                self.width_px, self.height_px
            )));
        }
        if self.fps_num == 0 || self.fps_den == 0 {
            return Err(ExportError::BadSpec(format!(
                "frame rate {}/{} is not positive",
                self.fps_num, self.fps_den
            )));
        }
        if self.crf > 51 {
            return Err(ExportError::BadSpec(format!(
                "crf {} is above 51",
                self.crf
            )));
        }
        Ok(())
    }
}

/// An MP4 being written. Push frames in order, then [`finish`](Self::finish); dropping it
/// unfinished stops ffmpeg and deletes the partial file.
pub struct VideoEncoder {
    /// The frame queue to the writer thread; `None` once closed.
    frames_tx: Option<SyncSender<Vec<u8>>>,
    /// The thread writing frames to ffmpeg's stdin.
    writer: Option<JoinHandle<std::io::Result<()>>>,
    /// The thread draining ffmpeg's log; returns the kept lines.
    log_drain: Option<JoinHandle<VecDeque<String>>>,
    /// The ffmpeg process.
    child: FfmpegChild,
    /// The output under its temporary name.
    output: Option<PendingFile>,
    /// Bytes per frame.
    frame_bytes: usize,
    /// Frames accepted so far.
    num_frames: u64,
}

impl std::fmt::Debug for VideoEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoEncoder")
            .field("output", &self.output)
            .field("num_frames", &self.num_frames)
            .finish_non_exhaustive()
    }
}

impl VideoEncoder {
    /// Starts ffmpeg writing `out` (under a temporary name until [`finish`](Self::finish)).
    pub fn start(ffmpeg: &Ffmpeg, out: &Path, spec: &VideoSpec) -> Result<Self, ExportError> {
        spec.validate()?;
        if let Some(wav) = &spec.audio_wav {
            if !wav.is_file() {
                return Err(ExportError::io(
                    "reading the audio",
                    wav,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                ));
            }
        }
        let output = PendingFile::new(out)?;
        let mut command = FfmpegCommand::new_with_path(&ffmpeg.path);
        // `-nostdin` only turns off ffmpeg's keyboard commands; `-i -` still reads the frames.
        command.hide_banner().args([
            "-nostdin".to_owned(),
            "-f".to_owned(),
            "rawvideo".to_owned(),
            "-pix_fmt".to_owned(),
            "rgb24".to_owned(),
            "-s".to_owned(),
            format!("{}x{}", spec.width_px, spec.height_px),
            "-framerate".to_owned(),
            format!("{}/{}", spec.fps_num, spec.fps_den),
        ]);
        command.input("-");
        if let Some(wav) = &spec.audio_wav {
            command.input(wav.as_os_str());
        }
        command.args(["-map", "0:v:0"]);
        if spec.audio_wav.is_some() {
            command.args(["-map", "1:a:0"]);
        }
        command.args([
            "-c:v".to_owned(),
            "libx264".to_owned(),
            "-preset".to_owned(),
            spec.preset.clone(),
            "-crf".to_owned(),
            spec.crf.to_string(),
            "-pix_fmt".to_owned(),
            "yuv420p".to_owned(),
        ]);
        if spec.audio_wav.is_some() {
            command.args(["-c:a", "aac", "-b:a", "192k"]);
        }
        command
            .args(["-movflags", "+faststart", "-f", "mp4"])
            .overwrite()
            .output(output.temp_path().as_os_str());
        let mut child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ExportError::FfmpegMissing {
                    path: ffmpeg.path.clone(),
                }
            } else {
                ExportError::io("starting ffmpeg for", out, e)
            }
        })?;
        let stdin = child.take_stdin();
        let events = child.iter();
        let (Some(mut stdin), Ok(events)) = (stdin, events) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExportError::FfmpegFailed {
                path: out.to_owned(),
                status: "its pipes could not be opened".to_owned(),
                log: String::new(),
            });
        };
        let log_drain = std::thread::Builder::new()
            .name("ffmpeg-log".to_owned())
            .spawn(move || {
                let mut tail = VecDeque::with_capacity(LOG_TAIL_LINES);
                for event in events {
                    let line = match event {
                        FfmpegEvent::Log(
                            LogLevel::Warning | LogLevel::Error | LogLevel::Fatal,
                            l,
                        ) => l,
                        // The sidecar reports that our file output has no stream on stdout.
                        FfmpegEvent::Error(e) if !e.contains("streams found") => e,
                        _ => continue,
                    };
                    if tail.len() == LOG_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                tail
            })
            .map_err(|e| ExportError::io("starting the log thread for", out, e))?;
        let (frames_tx, frames_rx) = sync_channel::<Vec<u8>>(QUEUED_FRAMES);
        let writer = std::thread::Builder::new()
            .name("ffmpeg-stdin".to_owned())
            .spawn(move || {
                for frame in frames_rx {
                    stdin.write_all(&frame)?;
                }
                // Dropping stdin closes the pipe: ffmpeg sees the end of the video.
                stdin.flush()
            })
            .map_err(|e| ExportError::io("starting the writer thread for", out, e))?;
        Ok(Self {
            frames_tx: Some(frames_tx),
            writer: Some(writer),
            log_drain: Some(log_drain),
            child,
            output: Some(output),
            frame_bytes: spec.frame_bytes(),
            num_frames: 0,
        })
    }

    /// Queues the next frame (RGB8, row-major); waits while [`QUEUED_FRAMES`] are queued.
    pub fn push_frame(&mut self, rgb: Vec<u8>) -> Result<(), ExportError> {
        if rgb.len() != self.frame_bytes {
            return Err(ExportError::FrameSize {
                frame_idx: self.num_frames,
                expected_bytes: self.frame_bytes,
                got_bytes: rgb.len(),
            });
        }
        let sent = self.frames_tx.as_ref().map(|tx| tx.send(rgb).is_ok());
        if sent != Some(true) {
            // The writer thread ended early: ffmpeg closed its input.
            return Err(self.failure("it stopped reading frames"));
        }
        self.num_frames += 1;
        Ok(())
    }

    /// Frames accepted so far.
    pub fn num_frames(&self) -> u64 {
        self.num_frames
    }

    /// Closes the input, waits for ffmpeg, checks its exit status and renames the output into
    /// place. Returns the final path.
    pub fn finish(mut self) -> Result<PathBuf, ExportError> {
        self.frames_tx = None;
        let written = self.writer.take().map(|w| w.join());
        let status = self.child.wait();
        let log = self.log_tail();
        let path = self.final_path();
        let fail = |status: String| ExportError::FfmpegFailed {
            path: path.clone(),
            status,
            log: log.clone(),
        };
        match written {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => return Err(fail(format!("writing frames failed: {e}"))),
            _ => return Err(fail("the frame writer thread panicked".to_owned())),
        }
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(fail(s.to_string())),
            Err(e) => return Err(fail(format!("waiting for it failed: {e}"))),
        }
        match self.output.take() {
            Some(output) => output.commit(),
            None => Err(fail("the output was already closed".to_owned())),
        }
    }

    fn final_path(&self) -> PathBuf {
        self.output
            .as_ref()
            .map(|o| o.final_path().to_owned())
            .unwrap_or_default()
    }

    /// Stops ffmpeg and describes why, with its log.
    fn failure(&mut self, status: &str) -> ExportError {
        self.frames_tx = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        ExportError::FfmpegFailed {
            path: self.final_path(),
            status: status.to_owned(),
            log: self.log_tail(),
        }
    }

    fn log_tail(&mut self) -> String {
        let lines = self
            .log_drain
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if lines.is_empty() {
            "(no warnings or errors logged)".to_owned()
        } else {
            Vec::from(lines).join(" | ")
        }
    }
}

impl Drop for VideoEncoder {
    fn drop(&mut self) {
        if self.output.is_some() {
            // Unfinished: stop ffmpeg; the pending output deletes its partial file.
            self.frames_tx = None;
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(w) = self.writer.take() {
                let _ = w.join();
            }
            if let Some(h) = self.log_drain.take() {
                let _ = h.join();
            }
        }
    }
}
