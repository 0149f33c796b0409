//! Which weights a render loads, downloading the default models on first use.

use std::path::{Path, PathBuf};

use super::{Progress, RenderError, RenderJob};
use crate::models::biggan::exec::ExecOptions;
use crate::models::biggan::{BigGan, BURNPACK_FILE, CONFIG_FILE};
use crate::models::device::{ComputeBackend, ComputeDevice};
use crate::models::inception::{InceptionV1, Preprocess};
use crate::weights::{self, DownloadPolicy, FileRole, InstallProgress};

/// The manifest's id of torchvision's GoogLeNet checkpoint.
pub const GOOGLENET_MODEL_ID: &str = "googlenet";

/// The manifest's id of the BigGAN-deep model of `resolution_px`.
pub fn biggan_model_id(resolution_px: u32) -> String {
    format!("biggan-deep-{resolution_px}")
}

/// Where a render's weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// The engine's weights; `None` uses the installed model (BigGAN-deep of the resolution, or
    /// GoogLeNet).
    pub weights: Option<PathBuf>,
    /// BigGAN-deep weights for DeepDream's base picture when it has none; `None` uses the
    /// installed model.
    pub biggan_weights: Option<PathBuf>,
    /// Whether a default model that is not installed may be downloaded first.
    pub download: DownloadPolicy,
    /// The resolution was not chosen (the CLI without `--resolution`): weights given with
    /// `weights` draw at their own size instead of being checked against it.
    pub resolution_from_weights: bool,
}

impl Default for ModelPaths {
    fn default() -> Self {
        Self {
            weights: None,
            biggan_weights: None,
            download: DownloadPolicy::from_env(false),
            resolution_from_weights: false,
        }
    }
}

/// The folder of the installed model `model_id`, downloaded first when missing and allowed.
fn installed_model(
    model_id: &str,
    policy: DownloadPolicy,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf, RenderError> {
    let mut report = |event: InstallProgress<'_>| {
        let message = match event {
            InstallProgress::Started {
                file, total_bytes, ..
            } => format!(
                "downloading {model_id}: {}{}",
                file.name,
                total_bytes.map_or(String::new(), |b| format!(" ({:.1} MB)", b as f64 / 1e6))
            ),
            InstallProgress::Received {
                file,
                done_bytes,
                total_bytes,
            } => match total_bytes {
                Some(total) if total > 0 => format!(
                    "downloading {model_id}: {} {:.0} %",
                    file.name,
                    100.0 * done_bytes as f64 / total as f64
                ),
                _ => format!(
                    "downloading {model_id}: {} {:.1} MB",
                    file.name,
                    done_bytes as f64 / 1e6
                ),
            },
            InstallProgress::Installed { file, .. } => {
                format!("downloaded {model_id}: {}", file.name)
            }
            InstallProgress::Kept { .. } | InstallProgress::Replacing { .. } => return,
        };
        progress(Progress::Model(message));
    };
    Ok(weights::ensure_model_installed(
        model_id,
        policy,
        &mut report,
    )?)
}

/// The installed GoogLeNet checkpoint, downloaded first when missing and `policy` allows.
pub fn installed_googlenet(
    policy: DownloadPolicy,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf, RenderError> {
    installed_model(GOOGLENET_MODEL_ID, policy, progress)?;
    Ok(weights::locate(GOOGLENET_MODEL_ID, FileRole::Checkpoint)?)
}

/// Loads BigGAN-deep from `weights` (else the installed model of the job's resolution) and
/// checks its size against the resolution.
pub fn load_biggan(
    job: &RenderJob,
    weights: Option<&Path>,
    device: &ComputeDevice,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<BigGan, RenderError> {
    let resolution = job.settings.resolution_px;
    let size_is_free = job.models.resolution_from_weights && weights.is_some();
    let weights = match weights {
        Some(path) => path.to_owned(),
        None => {
            let model_id = biggan_model_id(resolution);
            match weights::locate_model_dir(&model_id) {
                // A converted model loads without the checkpoint it came from, which the user
                // may have deleted to save space: nothing to download then.
                Ok(dir) if dir.join(BURNPACK_FILE).is_file() && dir.join(CONFIG_FILE).is_file() => {
                    dir
                }
                _ => installed_model(&model_id, job.models.download, progress)?,
            }
        }
    };
    progress(Progress::Model(format!(
        "loading BigGAN-deep from {}",
        weights.display()
    )));
    let model = BigGan::load(&weights, device.device()).map_err(|err| RenderError::ModelLoad {
        model: "BigGAN-deep",
        path: weights.clone(),
        reason: format!(
            "{err} (give the folder with config.json and pytorch_model.bin with --weights)"
        ),
    })?;
    let model = if device.backend() == ComputeBackend::Cpu {
        // One part of each batch per core: burn's CPU backend leaves a core idle otherwise.
        let num_cores = std::thread::available_parallelism().map_or(1, usize::from);
        let options = ExecOptions {
            parallel_samples: num_cores,
            ..model.exec_options()
        };
        model.with_exec_options(options)
    } else {
        model
    };
    if model.resolution() != resolution as usize && !size_is_free {
        let actual = model.resolution();
        return Err(RenderError::invalid(
            "resolution",
            Some(resolution.to_string()),
            format!(
                "the weights in {} draw {actual}×{actual} images; pass --resolution {actual} or \
                 other --weights",
                weights.display()
            ),
        ));
    }
    Ok(model)
}

/// Loads GoogLeNet from the job's weights, else the installed checkpoint.
pub fn load_googlenet(
    job: &RenderJob,
    device: &ComputeDevice,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<InceptionV1, RenderError> {
    let weights = match &job.models.weights {
        Some(path) => path.clone(),
        None => installed_googlenet(job.models.download, progress)?,
    };
    progress(Progress::Model(format!(
        "loading GoogLeNet from {}",
        weights.display()
    )));
    InceptionV1::load(&weights, Preprocess::Pretrained, device.device()).map_err(|err| {
        RenderError::ModelLoad {
            model: "GoogLeNet",
            path: weights.clone(),
            reason: err.to_string(),
        }
    })
}
