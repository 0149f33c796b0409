//! Bringing a model's files into place: one file at a time for `weights download`, and a whole
//! model on first use, before a render loads it (as the original `from_pretrained` does).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{
    check_file, resolve_weights_dir, CheckDepth, Downloaded, Downloader, FileEntry, FileStatus,
    Manifest, Mismatch, NeededFile, NotInstalledReason, Progress, WeightsError,
};

/// The environment variable that forbids downloads on first use, as `--no-download` does: any
/// value other than empty or `0` (so `=0` in a one-liner turns it back off).
pub const NO_DOWNLOAD_ENV: &str = "DEEP_VISUALIZER_NO_DOWNLOAD";

/// Whether a model that is not installed may be downloaded when it is first needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadPolicy {
    /// Download what is missing, with the manifest's checks.
    Allowed,
    /// Never touch the network: a missing model is an error that says how to install it.
    Forbidden,
}

impl DownloadPolicy {
    /// [`Forbidden`](Self::Forbidden) when `no_download_flag` is set (`--no-download`) or
    /// [`NO_DOWNLOAD_ENV`] holds anything other than empty or `0`; else
    /// [`Allowed`](Self::Allowed).
    pub fn from_env(no_download_flag: bool) -> Self {
        Self::from_flag_and_env(no_download_flag, std::env::var_os(NO_DOWNLOAD_ENV))
    }

    /// [`from_env`](Self::from_env) with the variable's value passed in.
    pub fn from_flag_and_env(no_download_flag: bool, env_value: Option<OsString>) -> Self {
        let env_forbids = env_value.is_some_and(|value| !value.is_empty() && value != "0");
        if no_download_flag || env_forbids {
            Self::Forbidden
        } else {
            Self::Allowed
        }
    }
}

/// Which present files [`install_file`] downloads again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Only a file that is missing or fails a check this deep.
    IfNeeded(CheckDepth),
    /// Every file, even one that verifies (`weights download --force`).
    Always,
}

/// What [`install_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileInstall {
    /// The present copy passed the check and was kept.
    Kept(FileStatus),
    /// A fresh copy was downloaded, checked and moved into place.
    Downloaded(Downloaded),
}

/// Progress of installing a model's files, reported as it happens, so a CLI progress bar or an
/// editor can show which file is on its way and how much of it has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallProgress<'a> {
    /// A present file passed the check and stays.
    Kept {
        /// The file.
        file: &'a FileEntry,
        /// What the check found.
        status: &'a FileStatus,
    },
    /// A present file is not the expected one; a download replaces it.
    Replacing {
        /// The file.
        file: &'a FileEntry,
        /// How the present copy differs.
        mismatch: &'a Mismatch,
    },
    /// A source answered; the file's bytes follow. A failed source may be followed by another
    /// `Started` for the same file, from the next source, with the count back at zero.
    Started {
        /// The file.
        file: &'a FileEntry,
        /// The source.
        url: &'a str,
        /// The announced length, if the server sent one.
        total_bytes: Option<u64>,
    },
    /// More of the file arrived.
    Received {
        /// The file.
        file: &'a FileEntry,
        /// Bytes so far from this source.
        done_bytes: u64,
        /// The announced length, if the server sent one (repeated from `Started`, so a
        /// listener needs no state of its own).
        total_bytes: Option<u64>,
    },
    /// The file was downloaded, checked and moved into place.
    Installed {
        /// The file.
        file: &'a FileEntry,
        /// Where it went and what the check could vouch for.
        downloaded: &'a Downloaded,
    },
}

/// Makes sure `file` is in its model's folder in `weights_dir`: keeps a present copy that passes
/// the check `refresh` asks for, else downloads it with `downloader` (its sources in order, with
/// every check the manifest allows; see [`Downloader::download`]).
///
/// Errors are local trouble (a file that cannot be read or written) and downloads that failed
/// from every source; nothing half-downloaded is left behind.
pub fn install_file(
    file: &FileEntry,
    weights_dir: &Path,
    refresh: Refresh,
    downloader: &Downloader,
    progress: &mut dyn FnMut(InstallProgress<'_>),
) -> Result<FileInstall, WeightsError> {
    if let Refresh::IfNeeded(depth) = refresh {
        match check_file(file, weights_dir, depth)? {
            FileStatus::Missing => {}
            FileStatus::Corrupt(mismatch) => progress(InstallProgress::Replacing {
                file,
                mismatch: &mismatch,
            }),
            status => {
                progress(InstallProgress::Kept {
                    file,
                    status: &status,
                });
                return Ok(FileInstall::Kept(status));
            }
        }
    }
    let mut announced_bytes = None;
    let downloaded = downloader.download(file, weights_dir, &mut |event| match event {
        Progress::Started { url, total_bytes } => {
            announced_bytes = total_bytes;
            progress(InstallProgress::Started {
                file,
                url,
                total_bytes,
            });
        }
        Progress::Received { done_bytes } => progress(InstallProgress::Received {
            file,
            done_bytes,
            total_bytes: announced_bytes,
        }),
    })?;
    progress(InstallProgress::Installed {
        file,
        downloaded: &downloaded,
    });
    Ok(FileInstall::Downloaded(downloaded))
}

/// The folder of model `model_id` in the default weights folder (see [`resolve_weights_dir`]),
/// downloading the model's missing files first when `policy` allows, with the embedded manifest;
/// see [`ensure_model_installed_in`].
pub fn ensure_model_installed(
    model_id: &str,
    policy: DownloadPolicy,
    progress: &mut dyn FnMut(InstallProgress<'_>),
) -> Result<PathBuf, WeightsError> {
    let manifest = Manifest::embedded()?;
    let weights_dir = resolve_weights_dir(None)?;
    ensure_model_installed_in(
        manifest,
        &weights_dir.path,
        model_id,
        policy,
        &Downloader::new(),
        progress,
    )
}

/// The folder of model `model_id` in `weights_dir`, once every file `manifest` lists for it is
/// there: present files are kept, missing (or wrongly sized) ones are downloaded with
/// `downloader` when `policy` allows.
///
/// Files count as present after a quick check (existence and size): hashing a 200 MB checkpoint
/// before every render would cost seconds, and the loaders report a damaged file when they
/// parse it. When the model is not installed and downloads are forbidden, or a download fails
/// (offline), the error is [`WeightsError::NotInstalled`], which names the command to run, the
/// folder and file names to put by hand, and `--weights`.
pub fn ensure_model_installed_in(
    manifest: &Manifest,
    weights_dir: &Path,
    model_id: &str,
    policy: DownloadPolicy,
    downloader: &Downloader,
    progress: &mut dyn FnMut(InstallProgress<'_>),
) -> Result<PathBuf, WeightsError> {
    let model = manifest.model(model_id)?;
    let mut needed = Vec::new();
    for file in &model.files {
        let status = check_file(file, weights_dir, CheckDepth::Quick)?;
        if !status.is_usable() {
            needed.push((file, status));
        }
    }
    let model_dir = model.dir_in(weights_dir);
    if needed.is_empty() {
        return Ok(model_dir);
    }
    let not_installed = |reason| WeightsError::NotInstalled {
        model: model.id.clone(),
        weights_dir: weights_dir.to_owned(),
        model_dir: model_dir.clone(),
        files: needed
            .iter()
            .map(|(file, status)| NeededFile {
                name: file.name.clone(),
                status: status.clone(),
            })
            .collect(),
        reason,
    };
    if policy == DownloadPolicy::Forbidden {
        return Err(not_installed(NotInstalledReason::DownloadForbidden));
    }
    for (file, _) in &needed {
        install_file(
            file,
            weights_dir,
            Refresh::IfNeeded(CheckDepth::Quick),
            downloader,
            progress,
        )
        .map_err(|err| match err {
            WeightsError::Cancelled => err,
            other => not_installed(NotInstalledReason::DownloadFailed(Box::new(other))),
        })?;
    }
    Ok(model_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_or_a_set_variable_forbids_downloads() {
        use DownloadPolicy::{Allowed, Forbidden};
        let policy = DownloadPolicy::from_flag_and_env;
        assert_eq!(policy(false, None), Allowed);
        assert_eq!(policy(true, None), Forbidden);
        // Empty is how shells unset things in one-liners; `0` reads as "off".
        assert_eq!(policy(false, Some("".into())), Allowed);
        assert_eq!(policy(false, Some("0".into())), Allowed);
        assert_eq!(policy(true, Some("0".into())), Forbidden);
        for value in ["1", "yes", "true", "00"] {
            assert_eq!(policy(false, Some(value.into())), Forbidden, "{value}");
        }
    }
}
