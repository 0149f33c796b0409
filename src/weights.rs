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

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::models::checkpoint::Checkpoint;

/// The manifest, as committed in `weights/manifest.toml`.
pub const MANIFEST_TOML: &str = include_str!("../weights/manifest.toml");

/// The environment variable that overrides the default weights folder.
pub const WEIGHTS_DIR_ENV: &str = "DEEP_VISUALIZER_WEIGHTS";

/// The manifest schema this build understands.
const SCHEMA_VERSION: u32 = 1;

/// Bytes read or written per step while hashing and downloading: large enough that syscalls
/// do not dominate, small enough to update a progress bar often.
const CHUNK_BYTES: usize = 256 * 1024;

/// How long to wait for a TCP (and TLS) connection before trying the next source.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read may stall before the download counts as broken. No total limit: a slow
/// line may take many minutes for a 200 MB checkpoint and that is fine.
const READ_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong finding, checking or downloading weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
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

/// What the program does with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// Tensors, read by [`Checkpoint`].
    Checkpoint,
    /// A JSON object describing the network's shape.
    Config,
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Checkpoint => "checkpoint",
            Self::Config => "config",
        })
    }
}

/// Which engine a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// BigGAN-deep generators.
    Biggan,
    /// The DeepDream classifier.
    Deepdream,
}

/// What the manifest knows about a file's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedSha256<'a> {
    /// The whole hash, lowercase hex.
    Full(&'a str),
    /// Only its first hex digits (e.g. from torch.hub's file name convention).
    Prefix(&'a str),
    /// Nothing.
    Unknown,
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The model it belongs to, which names its folder.
    pub model_id: String,
    /// What the program does with it.
    pub role: FileRole,
    /// Its name in the model's folder (the names the original loaders use, e.g. `config.json`).
    pub name: String,
    /// Where to get it, tried in order.
    pub urls: Vec<String>,
    /// Its exact length, when a source states it.
    pub size_bytes: Option<u64>,
    /// Its full SHA-256 in lowercase hex, when a source states it.
    pub sha256: Option<String>,
    /// The start of its SHA-256 in lowercase hex, when only that is known.
    pub sha256_prefix: Option<String>,
}

impl FileEntry {
    /// The strongest hash knowledge the manifest has for this file.
    pub fn expected_sha256(&self) -> ExpectedSha256<'_> {
        match (&self.sha256, &self.sha256_prefix) {
            (Some(full), _) => ExpectedSha256::Full(full),
            (None, Some(prefix)) => ExpectedSha256::Prefix(prefix),
            (None, None) => ExpectedSha256::Unknown,
        }
    }

    /// Where this file lives: `<weights_dir>/<model id>/<name>`.
    pub fn path_in(&self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(&self.model_id).join(&self.name)
    }
}

/// One model: the files it needs and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    /// Its name on the command line, e.g. `biggan-deep-128`.
    pub id: String,
    /// The engine that uses it.
    pub engine: Engine,
    /// One line for listings.
    pub description: String,
    /// The licence situation as far as the sources state it.
    pub licence: String,
    /// Its files, at most one per role.
    pub files: Vec<FileEntry>,
}

impl ModelEntry {
    /// The model's folder: `<weights_dir>/<model id>`, holding all its files (and whatever a
    /// loader derives from them, such as a converted checkpoint).
    pub fn dir_in(&self, weights_dir: &Path) -> PathBuf {
        weights_dir.join(&self.id)
    }

    /// The file with `role`, if the model has one.
    pub fn file(&self, role: FileRole) -> Option<&FileEntry> {
        self.files.iter().find(|file| file.role == role)
    }
}

/// The list of model files this build knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The models, in manifest order.
    models: Vec<ModelEntry>,
}

/// `manifest.toml` as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    /// Must equal [`SCHEMA_VERSION`].
    schema: u32,
    /// The `[[models]]` tables.
    models: Vec<RawModel>,
}

/// One `[[models]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    /// See [`ModelEntry::id`].
    id: String,
    /// See [`ModelEntry::engine`].
    engine: Engine,
    /// See [`ModelEntry::description`].
    description: String,
    /// See [`ModelEntry::licence`].
    licence: String,
    /// The `[[models.files]]` tables.
    files: Vec<RawFile>,
}

/// One `[[models.files]]` table as written; empty strings mean "unknown".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// See [`FileEntry::role`].
    role: FileRole,
    /// See [`FileEntry::name`].
    name: String,
    /// See [`FileEntry::urls`].
    urls: Vec<String>,
    /// See [`FileEntry::size_bytes`].
    size_bytes: Option<u64>,
    /// See [`FileEntry::sha256`]; "" when unknown.
    sha256: String,
    /// See [`FileEntry::sha256_prefix`]; "" when unknown.
    sha256_prefix: String,
}

/// Whether `text` is non-empty lowercase hex of at most `max_len` digits.
fn is_lower_hex(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A file or folder name that cannot escape the weights folder or hide in it.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && name.chars().all(|c| !c.is_control())
}

impl Manifest {
    /// The manifest compiled into this build.
    pub fn embedded() -> Result<&'static Manifest, WeightsError> {
        static EMBEDDED: OnceLock<Result<Manifest, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| Manifest::parse(MANIFEST_TOML).map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|reason| WeightsError::InvalidManifest {
                reason: reason.clone(),
            })
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Manifest, WeightsError> {
        let invalid = |reason: String| WeightsError::InvalidManifest { reason };
        let raw: RawManifest = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
        if raw.schema != SCHEMA_VERSION {
            return Err(invalid(format!(
                "schema {} is not supported (this build reads schema {SCHEMA_VERSION})",
                raw.schema
            )));
        }
        let mut models = Vec::with_capacity(raw.models.len());
        for raw_model in raw.models {
            let id = raw_model.id;
            if !is_plain_file_name(&id) || models.iter().any(|model: &ModelEntry| model.id == id) {
                return Err(invalid(format!(
                    "model id `{id}` is repeated or not usable as a folder name"
                )));
            }
            if raw_model.files.is_empty() {
                return Err(invalid(format!("model `{id}` lists no files")));
            }
            let mut files: Vec<FileEntry> = Vec::with_capacity(raw_model.files.len());
            for raw_file in raw_model.files {
                let name = raw_file.name;
                let context = format!("file `{name}` of model `{id}`");
                if !is_plain_file_name(&name) {
                    return Err(invalid(format!("{context}: not a plain file name")));
                }
                if files.iter().any(|file| file.name == name) {
                    return Err(invalid(format!("{context}: the name is used twice")));
                }
                if files.iter().any(|file| file.role == raw_file.role) {
                    return Err(invalid(format!(
                        "{context}: a second {} file for the model",
                        raw_file.role
                    )));
                }
                if raw_file.urls.is_empty() {
                    return Err(invalid(format!("{context}: no urls")));
                }
                if let Some(url) = raw_file
                    .urls
                    .iter()
                    .find(|url| !url.starts_with("https://") && !url.starts_with("http://"))
                {
                    return Err(invalid(format!("{context}: `{url}` is not an HTTP(S) URL")));
                }
                let sha256 = (!raw_file.sha256.is_empty()).then_some(raw_file.sha256);
                let sha256_prefix =
                    (!raw_file.sha256_prefix.is_empty()).then_some(raw_file.sha256_prefix);
                if let Some(full) = &sha256 {
                    if full.len() != 64 || !is_lower_hex(full, 64) {
                        return Err(invalid(format!(
                            "{context}: sha256 must be 64 lowercase hex digits"
                        )));
                    }
                }
                if let Some(prefix) = &sha256_prefix {
                    if !is_lower_hex(prefix, 64) {
                        return Err(invalid(format!(
                            "{context}: sha256_prefix must be lowercase hex digits"
                        )));
                    }
                    if sha256
                        .as_ref()
                        .is_some_and(|full| !full.starts_with(prefix))
                    {
                        return Err(invalid(format!(
                            "{context}: sha256 does not start with sha256_prefix"
                        )));
                    }
                }
                files.push(FileEntry {
                    model_id: id.clone(),
                    role: raw_file.role,
                    name,
                    urls: raw_file.urls,
                    size_bytes: raw_file.size_bytes,
                    sha256,
                    sha256_prefix,
                });
            }
            models.push(ModelEntry {
                id,
                engine: raw_model.engine,
                description: raw_model.description,
                licence: raw_model.licence,
                files,
            });
        }
        Ok(Manifest { models })
    }

    /// Every model, in manifest order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The model called `id`.
    pub fn model(&self, id: &str) -> Result<&ModelEntry, WeightsError> {
        self.models
            .iter()
            .find(|model| model.id == id)
            .ok_or_else(|| WeightsError::UnknownModel {
                name: id.to_owned(),
                known: self
                    .models
                    .iter()
                    .map(|model| model.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// How the weights folder was chosen, so listings can say how to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsDirSource {
    /// Given by the caller (`--dir`).
    Explicit,
    /// From [`WEIGHTS_DIR_ENV`].
    Environment,
    /// The user's data folder, e.g. `~/.local/share/deep-visualizer/weights`.
    Default,
}

/// The folder model files are read from and downloaded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsDir {
    /// The folder (it need not exist yet).
    pub path: PathBuf,
    /// Why this folder.
    pub source: WeightsDirSource,
}

/// Picks the weights folder: `explicit` if given, else `$DEEP_VISUALIZER_WEIGHTS` if set and not
/// empty, else `deep-visualizer/weights` in the user's data folder (`$XDG_DATA_HOME` or
/// `~/.local/share` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
pub fn resolve_weights_dir(explicit: Option<&Path>) -> Result<WeightsDir, WeightsError> {
    resolve_weights_dir_from(
        explicit,
        std::env::var_os(WEIGHTS_DIR_ENV),
        dirs::data_dir(),
    )
}

/// [`resolve_weights_dir`] with the environment and the data folder passed in.
pub fn resolve_weights_dir_from(
    explicit: Option<&Path>,
    env_value: Option<OsString>,
    data_dir: Option<PathBuf>,
) -> Result<WeightsDir, WeightsError> {
    if let Some(path) = explicit {
        return Ok(WeightsDir {
            path: path.to_owned(),
            source: WeightsDirSource::Explicit,
        });
    }
    if let Some(value) = env_value.filter(|value| !value.is_empty()) {
        return Ok(WeightsDir {
            path: PathBuf::from(value),
            source: WeightsDirSource::Environment,
        });
    }
    let data_dir = data_dir.ok_or(WeightsError::NoWeightsDir)?;
    Ok(WeightsDir {
        path: data_dir.join("deep-visualizer").join("weights"),
        source: WeightsDirSource::Default,
    })
}

/// The path of a model's file in the default weights folder, if it has been downloaded.
///
/// This only checks that the file exists; loaders report a damaged file when they parse it, and
/// `deep-visualizer weights list` checks hashes.
pub fn locate(model_id: &str, role: FileRole) -> Result<PathBuf, WeightsError> {
    let manifest = Manifest::embedded()?;
    let model = manifest.model(model_id)?;
    let dir = resolve_weights_dir(None)?;
    locate_in(model, role, &dir.path)
}

/// The folder of model `model_id` in the default weights folder, if it exists; loaders that
/// take a model folder (config and checkpoint side by side) start here.
pub fn locate_model_dir(model_id: &str) -> Result<PathBuf, WeightsError> {
    let manifest = Manifest::embedded()?;
    let model = manifest.model(model_id)?;
    let dir = model.dir_in(&resolve_weights_dir(None)?.path);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(WeightsError::NotDownloaded {
            model: model.id.clone(),
            path: dir,
        })
    }
}

/// [`locate`] in a given weights folder.
pub fn locate_in(
    model: &ModelEntry,
    role: FileRole,
    weights_dir: &Path,
) -> Result<PathBuf, WeightsError> {
    let file = model
        .file(role)
        .ok_or_else(|| WeightsError::InvalidManifest {
            reason: format!("model `{}` has no {role} file", model.id),
        })?;
    let path = file.path_in(weights_dir);
    if path.is_file() {
        Ok(path)
    } else {
        Err(WeightsError::NotDownloaded {
            model: model.id.clone(),
            path,
        })
    }
}

/// How thoroughly to check files that are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDepth {
    /// Existence and size only: instant, for start-up.
    Quick,
    /// Hash every byte and, where nothing is pinned, parse the file.
    Full,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Not in the folder.
    Missing,
    /// Present and the size matches (or is not pinned); not hashed ([`CheckDepth::Quick`]).
    Present,
    /// The full pinned SHA-256 (and size, if pinned) match.
    Verified {
        /// The file's SHA-256.
        sha256: String,
    },
    /// The known start of the SHA-256 (and size, if pinned) match, and the file parses.
    PrefixVerified {
        /// The file's full SHA-256, to pin in the manifest once checked.
        sha256: String,
    },
    /// Nothing is pinned; the file parses as its role says, which is all that can be told.
    Unpinned {
        /// The file's SHA-256, to pin in the manifest once checked.
        sha256: String,
    },
    /// Present but not the expected file.
    Corrupt(Mismatch),
}

impl FileStatus {
    /// Whether a loader can use the file as far as this check can tell.
    pub fn is_usable(&self) -> bool {
        !matches!(self, Self::Missing | Self::Corrupt(_))
    }
}

/// How far a download or a full check could vouch for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    /// The full pinned hash matched.
    Pinned,
    /// The pinned hash prefix matched.
    Prefix,
    /// Nothing pinned; the file parsed.
    Unpinned,
}

/// Compares a file's size and hash with the manifest, then parses it when the hash alone cannot
/// vouch for it.
fn judge(
    file: &FileEntry,
    path: &Path,
    actual_bytes: u64,
    actual_sha256: &str,
) -> Result<Assurance, Mismatch> {
    if let Some(expected_bytes) = file.size_bytes {
        if expected_bytes != actual_bytes {
            return Err(Mismatch::Size {
                expected_bytes,
                actual_bytes,
            });
        }
    }
    let assurance = match file.expected_sha256() {
        ExpectedSha256::Full(expected) => {
            if expected != actual_sha256 {
                return Err(Mismatch::Sha256 {
                    expected: expected.to_owned(),
                    actual: actual_sha256.to_owned(),
                });
            }
            // A matching full hash says everything; parsing would only cost time.
            return Ok(Assurance::Pinned);
        }
        ExpectedSha256::Prefix(prefix) => {
            if !actual_sha256.starts_with(prefix) {
                return Err(Mismatch::Sha256Prefix {
                    expected_prefix: prefix.to_owned(),
                    actual: actual_sha256.to_owned(),
                });
            }
            Assurance::Prefix
        }
        ExpectedSha256::Unknown => Assurance::Unpinned,
    };
    check_format(file.role, path)?;
    Ok(assurance)
}

/// Whether the file at `path` parses as `role` says.
fn check_format(role: FileRole, path: &Path) -> Result<(), Mismatch> {
    let format_error = |reason: String| Mismatch::Format { role, reason };
    match role {
        FileRole::Checkpoint => {
            let checkpoint = Checkpoint::open(path).map_err(|err| format_error(err.to_string()))?;
            if checkpoint.keys().next().is_none() {
                return Err(format_error("it holds no tensors".into()));
            }
        }
        FileRole::Config => {
            let bytes = std::fs::read(path).map_err(|err| format_error(err.to_string()))?;
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|err| format_error(err.to_string()))?;
            if !value.is_object() {
                return Err(format_error("it is JSON but not an object".into()));
            }
        }
    }
    Ok(())
}

/// Lowercase hex of a digest.
fn to_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The SHA-256 (lowercase hex) and length of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), WeightsError> {
    let io_err = |source| WeightsError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut num_bytes = 0u64;
    loop {
        let num_read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(num_read) => num_read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_err(err)),
        };
        hasher.update(&buffer[..num_read]);
        num_bytes += num_read as u64;
    }
    Ok((to_hex(&hasher.finalize()), num_bytes))
}

/// Checks the copy of `file` in `weights_dir` (that is, in its model's folder there).
///
/// Errors are local trouble (a file that cannot be read); a wrong file is a
/// [`FileStatus::Corrupt`], not an error.
pub fn check_file(
    file: &FileEntry,
    weights_dir: &Path,
    depth: CheckDepth,
) -> Result<FileStatus, WeightsError> {
    let path = file.path_in(weights_dir);
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(FileStatus::Missing),
        Err(source) => {
            return Err(WeightsError::Io {
                action: "inspect",
                path,
                source,
            })
        }
    };
    if !metadata.is_file() {
        return Err(WeightsError::Io {
            action: "use",
            path,
            source: std::io::Error::other("it is not a regular file"),
        });
    }
    if depth == CheckDepth::Quick {
        return Ok(match file.size_bytes {
            Some(expected_bytes) if expected_bytes != metadata.len() => {
                FileStatus::Corrupt(Mismatch::Size {
                    expected_bytes,
                    actual_bytes: metadata.len(),
                })
            }
            _ => FileStatus::Present,
        });
    }
    let (sha256, num_bytes) = hash_file(&path)?;
    Ok(match judge(file, &path, num_bytes, &sha256) {
        Ok(Assurance::Pinned) => FileStatus::Verified { sha256 },
        Ok(Assurance::Prefix) => FileStatus::PrefixVerified { sha256 },
        Ok(Assurance::Unpinned) => FileStatus::Unpinned { sha256 },
        Err(mismatch) => FileStatus::Corrupt(mismatch),
    })
}

/// Download progress, reported as bytes arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A source answered; the body follows.
    Started {
        /// The source.
        url: &'a str,
        /// The announced length, if the server sent one.
        total_bytes: Option<u64>,
    },
    /// More of the body arrived.
    Received {
        /// Bytes so far from this source.
        done_bytes: u64,
    },
}

/// A file that was downloaded, checked and moved into place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Where it is now.
    pub path: PathBuf,
    /// The source that delivered it.
    pub url: String,
    /// Its length.
    pub num_bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// How far the manifest could vouch for it.
    pub assurance: Assurance,
}

/// Fetches files over HTTP(S). One client is shared by all downloads of a run, so connections
/// to the same host are reused.
pub struct Downloader {
    /// The configured HTTP client.
    agent: ureq::Agent,
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of trying one source.
enum AttemptOutcome {
    /// The file is in place.
    Done(Downloaded),
    /// This source failed; another may work.
    Failed(FetchError),
}

impl Downloader {
    /// A client with connect and stall time-outs, redirects followed, proxies taken from the
    /// usual environment variables, and raw bytes (no transparent decompression, so hashes are
    /// of the file itself).
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(READ_STALL_TIMEOUT))
            // Statuses are answers we report ourselves, with a hint per status.
            .http_status_as_error(false)
            .user_agent(concat!("deep-visualizer/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: config.into(),
        }
    }

    /// Downloads `file` into its model's folder in `weights_dir` (created if needed), trying its
    /// sources in order.
    ///
    /// The bytes go to a hidden temporary file next to the destination and are hashed as they
    /// arrive; only a file that passes every check the manifest allows is renamed into place
    /// (replacing any older copy). Whatever fails, nothing is left behind.
    pub fn download(
        &self,
        file: &FileEntry,
        weights_dir: &Path,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Downloaded, WeightsError> {
        let dest = file.path_in(weights_dir);
        let dir = dest.parent().unwrap_or(weights_dir);
        std::fs::create_dir_all(dir).map_err(|source| WeightsError::Io {
            action: "create the folder",
            path: dir.to_owned(),
            source,
        })?;
        let mut attempts = Vec::new();
        for url in &file.urls {
            match self.try_source(file, &dest, url, progress)? {
                AttemptOutcome::Done(downloaded) => return Ok(downloaded),
                AttemptOutcome::Failed(error) => attempts.push(FailedAttempt {
                    url: url.clone(),
                    error,
                }),
            }
        }
        Err(WeightsError::DownloadFailed {
            file: file.name.clone(),
            dir: dir.to_owned(),
            attempts,
        })
    }

    /// One source, saving to `dest`. Local trouble (the disk) is an `Err`: another source would
    /// not help.
    fn try_source(
        &self,
        file: &FileEntry,
        dest: &Path,
        url: &str,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<AttemptOutcome, WeightsError> {
        let failed = |error| Ok(AttemptOutcome::Failed(error));
        let mut response = match self.agent.get(url).call() {
            Ok(response) => response,
            Err(err) => {
                return failed(FetchError::Connection {
                    reason: err.to_string(),
                })
            }
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return failed(FetchError::HttpStatus { status });
        }
        let total_bytes = response.body().content_length();
        if let (Some(expected_bytes), Some(actual_bytes)) = (file.size_bytes, total_bytes) {
            // The announced length already tells: don't fetch hundreds of MB to learn it.
            if expected_bytes != actual_bytes {
                return failed(FetchError::Mismatch(Mismatch::Size {
                    expected_bytes,
                    actual_bytes,
                }));
            }
        }
        progress(Progress::Started { url, total_bytes });

        let dir = dest.parent().unwrap_or(Path::new("."));
        let prefix = format!(".{}.", file.name);
        // Dropping `part` deletes it, so every early return below leaves nothing behind.
        let mut part = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|source| WeightsError::Io {
                action: "create a temporary file in",
                path: dir.to_owned(),
                source,
            })?;
        let write_err = |source| WeightsError::Io {
            action: "write",
            path: part_path_for_errors(dir, &prefix),
            source,
        };
        let mut reader = response.body_mut().as_reader();
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; CHUNK_BYTES];
        let mut done_bytes = 0u64;
        loop {
            let num_read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(num_read) => num_read,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    return failed(FetchError::Interrupted {
                        received_bytes: done_bytes,
                        reason: err.to_string(),
                    })
                }
            };
            let chunk = &buffer[..num_read];
            part.write_all(chunk).map_err(write_err)?;
            hasher.update(chunk);
            done_bytes += num_read as u64;
            if let Some(expected_bytes) = file.size_bytes {
                if done_bytes > expected_bytes {
                    return failed(FetchError::Mismatch(Mismatch::Size {
                        expected_bytes,
                        actual_bytes: done_bytes,
                    }));
                }
            }
            progress(Progress::Received { done_bytes });
        }
        if let Some(announced_bytes) = total_bytes {
            // ureq already refuses a body shorter than its Content-Length; this keeps the
            // guarantee independent of the client.
            if done_bytes != announced_bytes {
                return failed(FetchError::Interrupted {
                    received_bytes: done_bytes,
                    reason: format!("the server announced {announced_bytes} bytes"),
                });
            }
        }
        part.flush().map_err(write_err)?;
        // On disk before the rename, so a crash cannot leave a complete-looking empty file.
        part.as_file().sync_all().map_err(write_err)?;

        let sha256 = to_hex(&hasher.finalize());
        let assurance = match judge(file, part.path(), done_bytes, &sha256) {
            Ok(assurance) => assurance,
            Err(mismatch) => return failed(FetchError::Mismatch(mismatch)),
        };
        part.persist(dest).map_err(|err| WeightsError::Io {
            action: "move the download into place at",
            path: dest.to_owned(),
            source: err.error,
        })?;
        Ok(AttemptOutcome::Done(Downloaded {
            path: dest.to_owned(),
            url: url.to_owned(),
            num_bytes: done_bytes,
            sha256,
            assurance,
        }))
    }
}

/// A readable stand-in for the temporary file's random name in error messages.
fn part_path_for_errors(dir: &Path, prefix: &str) -> PathBuf {
    dir.join(format!("{prefix}*.part"))
}

/// Downloads `file` into its model's folder in `weights_dir` with a fresh [`Downloader`]; see
/// [`Downloader::download`].
pub fn download_file(
    file: &FileEntry,
    weights_dir: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Downloaded, WeightsError> {
    Downloader::new().download(file, weights_dir, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_resolution_prefers_flag_then_env_then_data_dir() {
        let data = Some(PathBuf::from("/data"));
        let flag =
            resolve_weights_dir_from(Some(Path::new("/flag")), Some("/env".into()), data.clone())
                .unwrap();
        assert_eq!(flag.path, Path::new("/flag"));
        assert_eq!(flag.source, WeightsDirSource::Explicit);

        let env = resolve_weights_dir_from(None, Some("/env".into()), data.clone()).unwrap();
        assert_eq!(env.path, Path::new("/env"));
        assert_eq!(env.source, WeightsDirSource::Environment);

        // An empty variable is how shells unset things in one-liners: treat it as unset.
        let default = resolve_weights_dir_from(None, Some("".into()), data).unwrap();
        assert_eq!(default.path, Path::new("/data/deep-visualizer/weights"));
        assert_eq!(default.source, WeightsDirSource::Default);

        assert!(matches!(
            resolve_weights_dir_from(None, None, None),
            Err(WeightsError::NoWeightsDir)
        ));
    }

    #[test]
    fn manifest_validation_names_the_problem() {
        let file = |extra: &str| {
            format!(
                "schema = 1\n[[models]]\nid = \"m\"\nengine = \"biggan\"\ndescription = \"d\"\n\
                 licence = \"l\"\n[[models.files]]\nrole = \"config\"\nname = \"m.json\"\n\
                 urls = [\"https://example.invalid/m.json\"]\n{extra}"
            )
        };
        assert!(Manifest::parse(&file("sha256 = \"\"\nsha256_prefix = \"\"")).is_ok());
        let cases = [
            ("sha256 = \"ABC\"\nsha256_prefix = \"\"", "64 lowercase hex"),
            ("sha256 = \"\"\nsha256_prefix = \"xyz\"", "lowercase hex"),
            (
                "sha256 = \"b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9\"\n\
                 sha256_prefix = \"1378be20\"",
                "does not start with",
            ),
            ("sha256 = \"\"\nsha256_prefix = \"\"\ncolour = 1", "colour"),
        ];
        for (extra, expected) in cases {
            let err = Manifest::parse(&file(extra)).unwrap_err().to_string();
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
        let escaping = file("sha256 = \"\"\nsha256_prefix = \"\"").replace("m.json", "../m.json");
        let err = Manifest::parse(&escaping).unwrap_err().to_string();
        assert!(err.contains("plain file name"), "{err}");
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let manifest = Manifest::embedded().unwrap();
        let err = manifest.model("biggan-deep-1024").unwrap_err().to_string();
        assert!(
            err.contains("biggan-deep-128") && err.contains("googlenet"),
            "{err}"
        );
    }
}
