//! Model weights: the manifest of files the models need, the folder they live in, checking them
//! and downloading them.
//!
//! The manifest (`weights/manifest.toml`) is compiled in, so the CLI, `cargo xtask weights` and
//! the plugin agree on file names, sources and hashes. Each model has its own folder in the
//! weights folder (`<weights>/biggan-deep-128/config.json`, `.../pytorch_model.bin`), so a model's
//! loader can be pointed at one folder. A file is checked against what the
//! manifest knows about it: its full SHA-256 when pinned, else a known prefix of it, plus its
//! size when known; a file nothing is pinned for must at least parse as what its role says
//! (a checkpoint, or a JSON config). Downloads stream into a hidden temporary file in the
//! destination folder while hashing, are checked, and only then renamed into place, so a failed
//! or mismatching download leaves nothing behind.
//!
//! One job per module: [`manifest`] (the list of files), [`folder`] (where they live),
//! [`check`] (is a copy the right file), [`download`] (fetching one file) and [`install`]
//! (bringing a whole model into place, e.g. on first use). The errors of all of them are here,
//! and everything public is re-exported, so callers write `weights::Downloader`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod check;
pub mod download;
pub mod folder;
pub mod install;
pub mod manifest;

pub use check::{check_file, hash_file, Assurance, CheckDepth, FileStatus};
pub use download::{download_file, Downloaded, Downloader, Progress};
pub use folder::{
    locate, locate_in, locate_model_dir, resolve_weights_dir, resolve_weights_dir_from, WeightsDir,
    WeightsDirSource, WEIGHTS_DIR_ENV,
};
pub use install::{
    ensure_model_installed, ensure_model_installed_in, install_file, DownloadPolicy, FileInstall,
    InstallProgress, Refresh, NO_DOWNLOAD_ENV,
};
pub use manifest::{
    Engine, ExpectedSha256, FileEntry, FileRole, Manifest, ModelEntry, MANIFEST_TOML,
};

/// Bytes read or written per step while hashing and downloading: large enough that syscalls
/// do not dominate, small enough to update a progress bar often.
const CHUNK_BYTES: usize = 256 * 1024;

/// What can go wrong finding, checking or downloading weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The user stopped the download; nothing was kept of the file on its way.
    #[error("the download was cancelled")]
    Cancelled,
    /// The manifest text is not valid; for the embedded one this is a bug in this build.
    #[error("the weights manifest is invalid: {reason}")]
    InvalidManifest {
        /// What is wrong, with the model or file it concerns.
        reason: String,
    },
    /// A model name that the manifest does not list.
    #[error("no model named `{name}`; the known models are: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The manifest's model ids, comma-separated.
        known: String,
    },
    /// Neither an explicit folder, nor the environment variable, nor a user data folder.
    #[error(
        "cannot tell where model weights live: this system has no user data folder; set \
         {WEIGHTS_DIR_ENV} to a folder (or pass --dir)"
    )]
    NoWeightsDir,
    /// A file the caller needs has not been downloaded.
    #[error(
        "{path} is missing: run `deep-visualizer weights download {model}` (or download it by \
         hand as weights/README.md describes)"
    )]
    NotDownloaded {
        /// The model the file belongs to.
        model: String,
        /// Where the file was expected.
        path: PathBuf,
    },
    /// Local file-system trouble (permissions, full disk, a folder where a file should be).
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "create the folder".
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Every source for a file failed; nothing was written.
    #[error("{}", describe_download_failure(file, dir, attempts))]
    DownloadFailed {
        /// The file's name in the weights folder.
        file: String,
        /// The weights folder it was meant for.
        dir: PathBuf,
        /// One entry per source tried, in order.
        attempts: Vec<FailedAttempt>,
    },
    /// A model needed now is not installed, and was not (or could not be) downloaded.
    #[error(
        "{}",
        describe_not_installed(model, weights_dir, model_dir, files, reason)
    )]
    NotInstalled {
        /// The model's id.
        model: String,
        /// The weights folder it was looked for in.
        weights_dir: PathBuf,
        /// The model's folder in it, where its files belong.
        model_dir: PathBuf,
        /// The files that are missing or wrong, in manifest order.
        files: Vec<NeededFile>,
        /// Why they were not downloaded.
        reason: NotInstalledReason,
    },
}

/// A file of a model that is needed but not (correctly) installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededFile {
    /// Its name in the model's folder, as the manifest gives it.
    pub name: String,
    /// What the check found: missing, or the wrong file.
    pub status: FileStatus,
}

/// Why a model that is needed now was not installed.
#[derive(Debug)]
pub enum NotInstalledReason {
    /// Downloads are forbidden (`--no-download` or [`NO_DOWNLOAD_ENV`]).
    DownloadForbidden,
    /// A download failed: offline, every source failed, or local trouble saving it.
    DownloadFailed(Box<WeightsError>),
}

/// One source that did not yield a good file.
#[derive(Debug)]
pub struct FailedAttempt {
    /// The URL tried.
    pub url: String,
    /// Why it failed.
    pub error: FetchError,
}

/// Why one source failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered, but not with the file.
    #[error("the server answered HTTP {status}{}", status_hint(*status))]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
    },
    /// No answer: DNS, connection, TLS, proxy or protocol trouble.
    #[error("no usable answer: {reason}")]
    Connection {
        /// The HTTP client's description.
        reason: String,
    },
    /// The transfer broke off part way.
    #[error("the transfer broke off after {received_bytes} bytes: {reason}")]
    Interrupted {
        /// How much had arrived.
        received_bytes: u64,
        /// The HTTP client's description.
        reason: String,
    },
    /// The file arrived but is not the one the manifest describes.
    #[error("{0}")]
    Mismatch(Mismatch),
}

/// How a file differs from what the manifest expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Wrong length.
    #[error("it is {actual_bytes} bytes long, the manifest says {expected_bytes}")]
    Size {
        /// What the manifest pins.
        expected_bytes: u64,
        /// What was found.
        actual_bytes: u64,
    },
    /// Wrong content.
    #[error("its SHA-256 is {actual}, the manifest pins {expected}")]
    Sha256 {
        /// The pinned hash.
        expected: String,
        /// The file's hash.
        actual: String,
    },
    /// Wrong content, judged by the known start of the hash.
    #[error(
        "its SHA-256 is {actual}, which does not start with {expected_prefix} as the manifest says"
    )]
    Sha256Prefix {
        /// The known start of the hash.
        expected_prefix: String,
        /// The file's hash.
        actual: String,
    },
    /// Not even the right kind of file (an HTML error page, a cut-off checkpoint, ...).
    #[error("it is not a valid {role} file: {reason}")]
    Format {
        /// What the file should have been.
        role: FileRole,
        /// What the parser found wrong.
        reason: String,
    },
}

/// A short hint for the statuses users meet when a source moves or blocks them.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (access denied: the source no longer serves this file publicly)",
        404 | 410 => " (not found: the file has moved or been removed)",
        429 => " (too many requests: wait a while and try again)",
        500..=599 => " (the server has trouble: try again later)",
        _ => "",
    }
}

/// The message for [`WeightsError::DownloadFailed`]: every source's failure, then what to do.
fn describe_download_failure(file: &str, dir: &Path, attempts: &[FailedAttempt]) -> String {
    let mut text = format!("could not download {file} into {}:", dir.display());
    for attempt in attempts {
        let _ = write!(text, "\n  - {}: {}", attempt.url, attempt.error);
    }
    let any_mismatch = attempts
        .iter()
        .any(|attempt| matches!(attempt.error, FetchError::Mismatch(_)));
    text.push_str("\nNothing was written to that folder. ");
    if any_mismatch {
        text.push_str(
            "A source sent a file that is not the one this version of Deep Visualizer expects, \
             and it was discarded. Try again later; if it persists, the source has changed the \
             file: see \"When a check fails\" in weights/README.md.",
        );
    } else {
        text.push_str(
            "Check the internet connection (and HTTPS_PROXY if you need a proxy) and try again, \
             or download the file by hand as weights/README.md describes and put it in that \
             folder.",
        );
    }
    text
}

/// The message for [`WeightsError::NotInstalled`]: what happened, then the three ways out (the
/// command, the files by hand, `--weights`).
fn describe_not_installed(
    model: &str,
    weights_dir: &Path,
    model_dir: &Path,
    files: &[NeededFile],
    reason: &NotInstalledReason,
) -> String {
    let mut text = match reason {
        NotInstalledReason::DownloadForbidden => format!(
            "the model `{model}` is not installed, and downloads are off (--no-download, or \
             ${NO_DOWNLOAD_ENV} is set)."
        ),
        NotInstalledReason::DownloadFailed(err) => {
            format!("the model `{model}` is not installed, and downloading it failed: {err}")
        }
    };
    let _ = write!(
        text,
        "\nTo install it, run `deep-visualizer weights download {model}`, or put these files in \
         {} (the model's folder in the weights folder {}):",
        model_dir.display(),
        weights_dir.display()
    );
    for file in files {
        let _ = match &file.status {
            FileStatus::Corrupt(mismatch) => {
                write!(
                    text,
                    "\n  - {} (the present copy is wrong: {mismatch})",
                    file.name
                )
            }
            _ => write!(text, "\n  - {} (missing)", file.name),
        };
    }
    text.push_str("\nOr pass --weights to use model files from somewhere else.");
    text
}
