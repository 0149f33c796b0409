//! Checking a copy of a file against the manifest: its size, its hash and, where nothing is
//! pinned, whether it parses as what its role says.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ExpectedSha256, FileEntry, FileRole, Mismatch, WeightsError, CHUNK_BYTES};
use crate::models::checkpoint::Checkpoint;

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
pub(super) fn judge(
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
pub(super) fn to_hex(bytes: &[u8]) -> String {
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
