//! Downloading one file: its sources in order, streamed into a hidden temporary file while
//! hashing, checked, and only then renamed into place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::check::{judge, to_hex};
use super::{Assurance, FailedAttempt, FetchError, FileEntry, Mismatch, WeightsError, CHUNK_BYTES};

/// How long to wait for a TCP (and TLS) connection before trying the next source.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read may stall before the download counts as broken. No total limit: a slow
/// line may take many minutes for a 200 MB checkpoint and that is fine.
const READ_STALL_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// Set by another thread to stop a download (the editor's Cancel); `None` never stops.
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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
            cancel: None,
        }
    }

    /// The same client, stopping with [`WeightsError::Cancelled`] (and leaving nothing behind)
    /// once `cancel` is set.
    pub fn with_cancel(mut self, cancel: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
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
            // Acquire: pairs with the canceller's Release store.
            if self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Acquire))
            {
                return Err(WeightsError::Cancelled);
            }
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
