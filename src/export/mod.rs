//! Everything that leaves the process as a file: the H.264 MP4 (through the system ffmpeg),
//! PNG frames, the temporary WAV of the audio to mux, and the latent vectors of a render.
//!
//! Nothing is left half-written: every file is written under a temporary name in its final
//! folder and renamed when complete ([`PendingFile`]). None of this depends on the CLI, so the
//! plugin's take renderer uses the same writers.

pub mod npy;
pub mod pending;
pub mod png;
pub mod video;
pub mod wav;

pub use pending::{write_atomically, write_atomically_with, Durability, PendingFile};
pub use video::{
    ffmpeg_program, ffprobe_program, find_ffmpeg, Ffmpeg, VideoEncoder, VideoSpec, FFMPEG_ENV,
};

use std::path::PathBuf;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No ffmpeg binary could be run.
    #[error(
        "ffmpeg was not found (tried `{}`): install it and make sure it is on PATH \
         (Debian/Ubuntu: `sudo apt install ffmpeg`; Fedora: `sudo dnf install ffmpeg`; \
         macOS: `brew install ffmpeg`; Windows: `winget install ffmpeg`)",
        path.display()
    )]
    FfmpegMissing {
        /// The program that was tried.
        path: PathBuf,
    },
    /// ffmpeg exists but `ffmpeg -version` failed.
    #[error("`{} -version` failed ({reason}): check that this ffmpeg works", path.display())]
    FfmpegUnusable {
        /// The program that was tried.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// ffmpeg runs but was built without the H.264 encoder.
    #[error(
        "{} has no H.264 encoder (libx264): install a full ffmpeg (Debian/Ubuntu: `sudo apt \
         install ffmpeg`; macOS: `brew install ffmpeg`) or point ${} at one",
        path.display(),
        video::FFMPEG_ENV
    )]
    FfmpegWithoutH264 {
        /// The program that was tried.
        path: PathBuf,
    },
    /// The video settings cannot be encoded.
    #[error("cannot encode this video: {0}")]
    BadSpec(String),
    /// A frame of the wrong size was handed to the encoder.
    #[error("frame {frame_idx} has {got_bytes} bytes, expected {expected_bytes} (RGB, row-major)")]
    FrameSize {
        /// Index of the offending frame.
        frame_idx: u64,
        /// Bytes expected per frame.
        expected_bytes: usize,
        /// Bytes received.
        got_bytes: usize,
    },
    /// ffmpeg stopped or failed; `log` holds its last warnings and errors.
    #[error("ffmpeg failed ({status}) writing {}: {log}", path.display())]
    FfmpegFailed {
        /// The output being written.
        path: PathBuf,
        /// Exit status or what stopped it.
        status: String,
        /// The last lines ffmpeg logged at warning level or above.
        log: String,
    },
    /// A file operation failed.
    #[error("{what} {}: {source}{}", path.display(), io_hint(source))]
    Io {
        /// What was being done, e.g. "creating".
        what: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file read back (e.g. a vectors file) is not what this program writes.
    #[error("{} is not a usable file: {reason}", path.display())]
    BadFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// What to do about the I/O errors users can fix themselves, after the system's words.
pub fn io_hint(error: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            " (the disk is full: free some space or choose another folder; nothing was left \
             half-written)"
        }
        ErrorKind::FileTooLarge => {
            " (the file is larger than this folder's file system or a size limit allows: \
             choose another folder; nothing was left half-written)"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            " (this folder cannot be written: choose another folder or change its permissions)"
        }
        _ => "",
    }
}

impl ExportError {
    /// An I/O error with what was being done and the file.
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExportError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
