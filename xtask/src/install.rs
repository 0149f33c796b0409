//! Installing the built bundles into the user's plugin folders.
//!
//! A bundle is a folder (VST3 everywhere, CLAP on macOS) or a single file (CLAP on Linux and
//! Windows). Each is first copied under a hidden staging name next to its destination, then
//! swapped in with renames, so a host scanning the folder sees the old bundle or the new one,
//! never a half-copied one.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The bundles' base name, as `bundler.toml` sets it for the `deep_visualizer` package.
pub const BUNDLE_NAME: &str = "Deep Visualizer";

/// The command that builds the bundles, for error messages.
const BUNDLE_COMMAND: &str = "cargo xtask bundle deep_visualizer --release";

/// Where each plugin format goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDirs {
    /// The folder for `.vst3` bundles.
    pub vst3: PathBuf,
    /// The folder for `.clap` bundles.
    pub clap: PathBuf,
}

impl PluginDirs {
    /// The per-user plugin folders hosts scan on this operating system.
    pub fn for_home(home: &Path) -> Self {
        if cfg!(target_os = "macos") {
            let plug_ins = home.join("Library/Audio/Plug-Ins");
            Self {
                vst3: plug_ins.join("VST3"),
                clap: plug_ins.join("CLAP"),
            }
        } else if cfg!(windows) {
            // %LOCALAPPDATA%\Programs\Common is where both formats' specs put per-user plugins.
            let common = home
                .join("AppData")
                .join("Local")
                .join("Programs")
                .join("Common");
            Self {
                vst3: common.join("VST3"),
                clap: common.join("CLAP"),
            }
        } else {
            Self {
                vst3: home.join(".vst3"),
                clap: home.join(".clap"),
            }
        }
    }
}

/// The user's home folder from the environment.
pub fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// Installs both bundles from `bundled_dir` into `dirs`; returns the installed paths.
///
/// Both bundles are checked before anything is copied, so a missing one leaves the plugin
/// folders as they were.
pub fn install_bundles(bundled_dir: &Path, dirs: &PluginDirs) -> anyhow::Result<Vec<PathBuf>> {
    let bundles = [
        (bundled_dir.join(format!("{BUNDLE_NAME}.vst3")), &dirs.vst3),
        (bundled_dir.join(format!("{BUNDLE_NAME}.clap")), &dirs.clap),
    ];
    for (bundle, _) in &bundles {
        if !bundle.exists() {
            anyhow::bail!(
                "{} does not exist: build the bundles first with `{BUNDLE_COMMAND}`",
                bundle.display()
            );
        }
    }
    bundles
        .iter()
        .map(|(bundle, dest_dir)| install_bundle(bundle, dest_dir))
        .collect()
}

/// Copies one bundle (file or folder) into `dest_dir`, replacing an older copy.
pub fn install_bundle(bundle: &Path, dest_dir: &Path) -> anyhow::Result<PathBuf> {
    let name = bundle
        .file_name()
        .with_context(|| format!("{} has no file name", bundle.display()))?;
    let name = name.to_string_lossy();
    std::fs::create_dir_all(dest_dir)
        .with_context(|| format!("creating {}", dest_dir.display()))?;
    let dest = dest_dir.join(&*name);
    let staging = dest_dir.join(format!(".{name}.installing"));
    let replaced = dest_dir.join(format!(".{name}.replaced"));
    // Leftovers of an interrupted earlier run.
    remove_any(&staging)?;
    remove_any(&replaced)?;

    copy_recursively(bundle, &staging)
        .with_context(|| format!("copying {} to {}", bundle.display(), staging.display()))?;
    let old_exists = dest.symlink_metadata().is_ok();
    let replace_in_one_step = old_exists && !is_real_dir(&dest) && !is_real_dir(&staging);
    if old_exists && !replace_in_one_step {
        // A folder cannot be renamed over another: move the old one aside first.
        std::fs::rename(&dest, &replaced)
            .with_context(|| format!("moving the old {} aside", dest.display()))?;
    }
    if let Err(err) = std::fs::rename(&staging, &dest) {
        if old_exists && !replace_in_one_step {
            // Put the old bundle back so the host keeps a working plugin.
            let _ = std::fs::rename(&replaced, &dest);
        }
        let _ = remove_any(&staging);
        return Err(err).with_context(|| format!("moving the new bundle to {}", dest.display()));
    }
    remove_any(&replaced)?;
    Ok(dest)
}

/// Whether `path` is a folder itself (not a link to one).
fn is_real_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|meta| meta.is_dir())
}

/// Removes a file, link or folder tree if it exists.
fn remove_any(path: &Path) -> anyhow::Result<()> {
    let result = match path.symlink_metadata() {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.with_context(|| format!("removing {}", path.display()))
}

/// Copies a file, link or folder tree; links are copied as links.
fn copy_recursively(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = from.symlink_metadata()?;
    if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_recursively(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if meta.file_type().is_symlink() {
        copy_link(from, to)
    } else {
        // Copies the permission bits too, so the plugin library stays executable.
        std::fs::copy(from, to).map(|_| ())
    }
}

/// Recreates the link at `from` as `to`.
#[cfg(unix)]
fn copy_link(from: &Path, to: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
}

/// Copies what the link at `from` points to (links need privileges on Windows).
#[cfg(not(unix))]
fn copy_link(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::copy(from, to).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `target/bundled` with a folder bundle and a file bundle holding `version`.
    fn make_bundles(bundled: &Path, version: &str) {
        let library_dir = bundled.join(format!("{BUNDLE_NAME}.vst3/Contents/x86_64-linux"));
        std::fs::create_dir_all(&library_dir).unwrap();
        std::fs::write(library_dir.join(format!("{BUNDLE_NAME}.so")), version).unwrap();
        std::fs::write(bundled.join(format!("{BUNDLE_NAME}.clap")), version).unwrap();
    }

    /// Every name in `dir`, hidden ones included, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn installs_into_a_fresh_home_then_replaces_older_copies() {
        let root = tempfile::tempdir().unwrap();
        let bundled = root.path().join("target/bundled");
        let home = root.path().join("home");
        let dirs = PluginDirs::for_home(&home);
        let installed_library = dirs.vst3.join(format!(
            "{BUNDLE_NAME}.vst3/Contents/x86_64-linux/{BUNDLE_NAME}.so"
        ));
        let installed_clap = dirs.clap.join(format!("{BUNDLE_NAME}.clap"));

        make_bundles(&bundled, "v1");
        let installed = install_bundles(&bundled, &dirs).unwrap();
        assert_eq!(
            installed,
            [
                dirs.vst3.join(format!("{BUNDLE_NAME}.vst3")),
                installed_clap.clone()
            ]
        );
        assert_eq!(std::fs::read_to_string(&installed_library).unwrap(), "v1");
        assert_eq!(std::fs::read_to_string(&installed_clap).unwrap(), "v1");

        // A file only the old copy has must not survive: the bundle is replaced, not merged.
        let stale = dirs
            .vst3
            .join(format!("{BUNDLE_NAME}.vst3/Contents/stale.txt"));
        std::fs::write(&stale, "old").unwrap();
        make_bundles(&bundled, "v2");
        install_bundles(&bundled, &dirs).unwrap();
        assert_eq!(std::fs::read_to_string(&installed_library).unwrap(), "v2");
        assert_eq!(std::fs::read_to_string(&installed_clap).unwrap(), "v2");
        assert!(!stale.exists());
        // No staging or replaced copies are left for hosts to trip over.
        assert_eq!(names(&dirs.vst3), [format!("{BUNDLE_NAME}.vst3")]);
        assert_eq!(names(&dirs.clap), [format!("{BUNDLE_NAME}.clap")]);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_library_executable() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let bundled = root.path().join("bundled");
        make_bundles(&bundled, "v1");
        let clap = bundled.join(format!("{BUNDLE_NAME}.clap"));
        std::fs::set_permissions(&clap, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dirs = PluginDirs::for_home(&root.path().join("home"));
        install_bundles(&bundled, &dirs).unwrap();
        let mode = std::fs::metadata(dirs.clap.join(format!("{BUNDLE_NAME}.clap")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn missing_bundles_install_nothing_and_say_how_to_build_them() {
        let root = tempfile::tempdir().unwrap();
        let bundled = root.path().join("target/bundled");
        std::fs::create_dir_all(&bundled).unwrap();
        // Only the CLAP bundle was built.
        std::fs::write(bundled.join(format!("{BUNDLE_NAME}.clap")), "v1").unwrap();
        let dirs = PluginDirs::for_home(&root.path().join("home"));
        let err = install_bundles(&bundled, &dirs).unwrap_err().to_string();
        assert!(err.contains(BUNDLE_COMMAND), "{err}");
        assert!(err.contains(".vst3"), "{err}");
        assert!(!dirs.clap.exists());
        assert!(!dirs.vst3.exists());
    }

    #[test]
    fn bundle_name_matches_bundler_toml() {
        let bundler_toml =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundler.toml"))
                .unwrap();
        assert!(
            bundler_toml.contains(&format!("name = \"{BUNDLE_NAME}\"")),
            "{bundler_toml}"
        );
    }
}
