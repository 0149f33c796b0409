//! The weights folder: choosing it, and finding a model's files in it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{FileRole, Manifest, ModelEntry, WeightsError};

/// The environment variable that overrides the default weights folder.
pub const WEIGHTS_DIR_ENV: &str = "DEEP_VISUALIZER_WEIGHTS";

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
}
