//! BigGAN-deep (Brock et al., 2018) as `pytorch_pretrained_biggan` 0.1.1 implements it, for the
//! published biggan-deep-128/256/512 checkpoints.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use deep_visualizer::models::biggan::{truncated_noise_sample, BigGan};
//! use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
//!
//! let device = ComputeDevice::select(DevicePreference::Auto)?;
//! let model = BigGan::load("weights/biggan-deep-128".as_ref(), device.device())?;
//! let z = truncated_noise_sample(1, model.config().z_dim, 0.4, 7);
//! let mut y = vec![0.0; model.config().num_classes];
//! y[207] = 1.0; // golden retriever
//! let images = model.generate_from_slices(&z, &y, 1, 0.4)?; // [1, 3, 128, 128] in (-1, 1)
//! let frames = deep_visualizer::models::biggan::to_rgb8(images)?;
//! # Ok(()) }
//! ```
//!
//! Files: a weights directory holds `config.json` and `pytorch_model.bin` (as published, torch's
//! legacy format; torch's zip format and `model.safetensors` work too), and after
//! `deep-visualizer weights convert DIR` also `biggan.bpk`, burn's own format, which loads
//! several times faster and is preferred when present.

mod config;
pub mod exec;
pub mod load;
pub mod model;
mod noise;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::tensor::{Device, Tensor, TensorData};
use burn_store::{BurnpackStore, ModuleSnapshot};

pub use config::{BigGanConfig, LayerSpec};
pub use model::{Observer, StatsRow, Trace};
pub use noise::{truncated_noise_sample, TRUNCATION_BOUND};

use crate::models::checkpoint::{Checkpoint, CheckpointError};
use exec::{ExecOptions, Plan};
use model::{BigGanModule, Normalizations};

/// The configuration file in a weights directory.
pub const CONFIG_FILE: &str = "config.json";
/// The checkpoint name the published weights use.
pub const PYTORCH_FILE: &str = "pytorch_model.bin";
/// A safetensors conversion of the same state dict.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// Burn's format, written by `weights convert`.
pub const BURNPACK_FILE: &str = "biggan.bpk";

/// Metadata key holding the configuration JSON inside a `.bpk` file.
const BURNPACK_CONFIG_KEY: &str = "deep_visualizer.biggan.config";
/// Metadata key holding [`BURNPACK_LAYOUT`].
const BURNPACK_LAYOUT_KEY: &str = "deep_visualizer.biggan.layout";
/// The module layout this code writes and reads; bumped when [`BigGanModule`] changes shape.
const BURNPACK_LAYOUT: &str = "1";

/// What can go wrong loading or running BigGAN-deep.
#[derive(Debug, thiserror::Error)]
pub enum BigGanError {
    /// A file or directory could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// `config.json` is missing, not JSON, or describes no valid generator.
    #[error("{path} is not a usable BigGAN-deep config.json: {reason}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A weights directory without any weights file we know.
    #[error(
        "{dir} holds no BigGAN-deep weights: expected {BURNPACK_FILE}, {PYTORCH_FILE} or \
         {SAFETENSORS_FILE} next to {CONFIG_FILE}"
    )]
    NoWeights {
        /// The directory.
        dir: PathBuf,
    },
    /// The checkpoint is unreadable, or lacks or misshapes a tensor.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A spectral-normed weight whose stored u and v give no usable sigma.
    #[error(
        "tensor `{key}` in {path} has spectral norm sigma = {sigma} from its weight_u/weight_v: \
         the checkpoint is damaged; download it again"
    )]
    BadSpectralNorm {
        /// The checkpoint.
        path: PathBuf,
        /// The `weight_orig` key.
        key: String,
        /// The value found.
        sigma: f32,
    },
    /// A `.bpk` file that is not a BigGAN-deep conversion made by this version.
    #[error("{path} is not a usable BigGAN-deep burnpack file ({reason}); convert the PyTorch checkpoint again with `deep-visualizer weights convert`")]
    Burnpack {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `generate` was given inputs of the wrong size or a truncation outside (0, 1].
    #[error("invalid BigGAN input: {0}")]
    BadInput(String),
    /// The device failed to compute or return the result.
    #[error("BigGAN computation failed on the device: {0}")]
    Device(String),
}

/// A loaded BigGAN-deep generator on one device.
#[derive(Debug)]
pub struct BigGan {
    /// The hyper-parameters.
    config: BigGanConfig,
    /// Weights, spectral norms folded.
    module: BigGanModule,
    /// The convolutions in the form they run in, derived from `module`.
    plan: Plan,
    /// The batch-norm normalisations of the last truncation used, with its bits: the
    /// Director rarely changes the truncation, so most frames reuse them.
    norms: Mutex<Option<(u64, Arc<Normalizations>)>>,
    /// Where the weights live.
    device: Device,
}

impl BigGan {
    /// Loads from a weights directory (see the module docs), a `.bpk` file, or a checkpoint
    /// file with `config.json` beside it.
    pub fn load(path: &Path, device: &Device) -> Result<Self, BigGanError> {
        let io = |source| BigGanError::Io {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io)?;
        if metadata.is_dir() {
            let burnpack = path.join(BURNPACK_FILE);
            if burnpack.is_file() {
                return Self::load_burnpack(&burnpack, device);
            }
            for name in [PYTORCH_FILE, SAFETENSORS_FILE] {
                let file = path.join(name);
                if file.is_file() {
                    let config = read_config(&path.join(CONFIG_FILE))?;
                    return Self::load_checkpoint(&file, config, device);
                }
            }
            return Err(BigGanError::NoWeights {
                dir: path.to_owned(),
            });
        }
        if is_burnpack(path)? {
            return Self::load_burnpack(path, device);
        }
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let config = read_config(&dir.join(CONFIG_FILE))?;
        Self::load_checkpoint(path, config, device)
    }

    /// Loads a PyTorch (legacy or zip) or safetensors checkpoint for `config`.
    pub fn load_checkpoint(
        file: &Path,
        config: BigGanConfig,
        device: &Device,
    ) -> Result<Self, BigGanError> {
        config.validate().map_err(|reason| BigGanError::Config {
            path: file.to_owned(),
            reason,
        })?;
        let checkpoint = Checkpoint::open(file)?;
        let module = load::module_from_source(&checkpoint, &config, device)?;
        Ok(Self::from_module(config, module, device))
    }

    /// A model with plausible random weights (see [`load::RandomWeights`]), for benchmarks:
    /// it costs what a published checkpoint of the same `config` costs to run.
    pub fn with_random_weights(
        config: BigGanConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self, BigGanError> {
        config.validate().map_err(|reason| BigGanError::Config {
            path: PathBuf::from("<random weights>"),
            reason,
        })?;
        let module = load::module_from_source(&load::RandomWeights { seed }, &config, device)?;
        Ok(Self::from_module(config, module, device))
    }

    /// Loads a `.bpk` file written by [`BigGan::save_burnpack`].
    pub fn load_burnpack(file: &Path, device: &Device) -> Result<Self, BigGanError> {
        let bad = |reason: String| BigGanError::Burnpack {
            path: file.to_owned(),
            reason,
        };
        let reader = burn_store::burn_pack::Reader::from_file_exact(file)
            .map_err(|err| bad(err.to_string()))?;
        let metadata = reader.metadata();
        let layout = metadata.get(BURNPACK_LAYOUT_KEY).map(String::as_str);
        if layout != Some(BURNPACK_LAYOUT) {
            return Err(bad(match layout {
                Some(other) => format!("layout {other}, this version reads {BURNPACK_LAYOUT}"),
                None => "no BigGAN-deep metadata: it holds another model".to_owned(),
            }));
        }
        let config_json = metadata
            .get(BURNPACK_CONFIG_KEY)
            .ok_or_else(|| bad("no configuration inside".to_owned()))?;
        let config = BigGanConfig::from_json(config_json)
            .map_err(|reason| bad(format!("its configuration: {reason}")))?;
        drop(reader);
        let mut module = BigGanModule::zeros(&config, device);
        let mut store = BurnpackStore::from_file(file)
            .auto_extension(false)
            .validate(true);
        module
            .load_from(&mut store)
            .map_err(|err| bad(err.to_string()))?;
        Ok(Self::from_module(config, module, device))
    }

    /// Writes the model in burn's format (atomically: a temporary file, then a rename).
    pub fn save_burnpack(&self, file: &Path) -> Result<(), BigGanError> {
        let config_json =
            serde_json::to_string(&self.config).map_err(|err| BigGanError::Config {
                path: file.to_owned(),
                reason: err.to_string(),
            })?;
        let mut store = BurnpackStore::from_file(file)
            .auto_extension(false)
            .overwrite(true)
            .metadata(BURNPACK_LAYOUT_KEY, BURNPACK_LAYOUT)
            .metadata(BURNPACK_CONFIG_KEY, config_json);
        self.module
            .save_into(&mut store)
            .map_err(|err| BigGanError::Burnpack {
                path: file.to_owned(),
                reason: format!("writing failed: {err}"),
            })
    }

    fn from_module(config: BigGanConfig, module: BigGanModule, device: &Device) -> Self {
        let plan = Plan::new(&module, ExecOptions::default());
        Self {
            config,
            module,
            plan,
            norms: Mutex::new(None),
            device: device.clone(),
        }
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &BigGanConfig {
        &self.config
    }

    /// The device the weights live on; inputs must be created there.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The side of the square images in pixels.
    pub fn resolution(&self) -> usize {
        self.config.resolution()
    }

    /// Images for noise `z` (`[B, z_dim]`, already scaled by the truncation, as
    /// [`truncated_noise_sample`] makes it) and class vectors `y` (`[B, num_classes]`, one-hot
    /// or soft). `truncation` in (0, 1] only picks the batch-norm statistics, as in the
    /// original. Returns `[B, 3, R, R]` RGB in (-1, 1).
    pub fn generate(
        &self,
        z: Tensor<2>,
        y: Tensor<2>,
        truncation: f64,
    ) -> Result<Tensor<4>, BigGanError> {
        let row = self.check_inputs(&z, &y, truncation)?;
        let norms = self.normalizations(truncation, row);
        let batch = z.dims()[0];
        let num_workers = self.plan.options.parallel_samples.clamp(1, batch.max(1));
        if num_workers == 1 {
            return Ok(model::forward(
                &self.module,
                &self.config,
                &self.plan,
                &norms,
                z,
                y,
                None,
            ));
        }
        // Parts of the batch on their own threads: each thread's element-wise work then runs
        // beside the others' (see `ExecOptions::parallel_samples`).
        let per_worker = batch.div_ceil(num_workers);
        let parts = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..batch)
                .step_by(per_worker)
                .map(|start| {
                    let rows = per_worker.min(batch - start);
                    let z = z.clone().narrow(0, start, rows);
                    let y = y.clone().narrow(0, start, rows);
                    let norms = &norms;
                    scope.spawn(move || {
                        crate::models::subnormals::flush_subnormals_on_this_thread();
                        model::forward(&self.module, &self.config, &self.plan, norms, z, y, None)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        });
        Ok(Tensor::cat(parts, 0))
    }

    /// [`BigGan::generate`] from host slices (row-major `[batch, z_dim]` and
    /// `[batch, num_classes]`).
    pub fn generate_from_slices(
        &self,
        z: &[f32],
        y: &[f32],
        batch: usize,
        truncation: f64,
    ) -> Result<Tensor<4>, BigGanError> {
        let (z_dim, classes) = (self.config.z_dim, self.config.num_classes);
        if z.len() != batch * z_dim || y.len() != batch * classes {
            return Err(BigGanError::BadInput(format!(
                "for a batch of {batch} z needs {} values and y {} values, got {} and {}",
                batch * z_dim,
                batch * classes,
                z.len(),
                y.len()
            )));
        }
        let z = Tensor::from_data(TensorData::new(z.to_vec(), [batch, z_dim]), &self.device);
        let y = Tensor::from_data(TensorData::new(y.to_vec(), [batch, classes]), &self.device);
        self.generate(z, y, truncation)
    }

    /// [`BigGan::generate`], also returning the output of `gen_z` (after the NHWC permute) and
    /// of every `layers.{i}`, for parity tests and debugging.
    pub fn generate_traced(
        &self,
        z: Tensor<2>,
        y: Tensor<2>,
        truncation: f64,
    ) -> Result<(Tensor<4>, Trace), BigGanError> {
        let mut trace = Trace::new();
        let images = self.generate_observed(z, y, truncation, &mut |name, value| {
            if name.starts_with("gen_z") || name.starts_with("layers.") {
                trace.push((name.to_owned(), value.clone()));
            }
        })?;
        Ok((images, trace))
    }

    /// [`BigGan::generate`], calling `observer` with each stage's name and output as it is
    /// computed (`gen_z`, `layers.{i}`, `bn`, `image`): for profiling and debugging.
    pub fn generate_observed(
        &self,
        z: Tensor<2>,
        y: Tensor<2>,
        truncation: f64,
        observer: Observer<'_>,
    ) -> Result<Tensor<4>, BigGanError> {
        let row = self.check_inputs(&z, &y, truncation)?;
        let norms = self.normalizations(truncation, row);
        Ok(model::forward(
            &self.module,
            &self.config,
            &self.plan,
            &norms,
            z,
            y,
            Some(observer),
        ))
    }

    /// The same model computing its convolutions another way (see [`ExecOptions`]); the
    /// results agree up to float rounding. For checking and timing the formulations.
    pub fn with_exec_options(mut self, options: ExecOptions) -> Self {
        self.plan = Plan::new(&self.module, options);
        self
    }

    /// How the convolutions are computed.
    pub fn exec_options(&self) -> ExecOptions {
        self.plan.options
    }

    /// The batch-norm normalisations for `truncation`, reused while it does not change.
    fn normalizations(&self, truncation: f64, row: StatsRow) -> Arc<Normalizations> {
        let key = truncation.to_bits();
        // A poisoned lock only means another thread panicked mid-update; the cache is then
        // recomputed, so the guard is taken either way.
        let mut cache = self
            .norms
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((cached_key, norms)) = cache.as_ref() {
            if *cached_key == key {
                return norms.clone();
            }
        }
        let norms = Arc::new(Normalizations::new(&self.module, row, self.config.eps));
        *cache = Some((key, norms.clone()));
        norms
    }

    fn check_inputs(
        &self,
        z: &Tensor<2>,
        y: &Tensor<2>,
        truncation: f64,
    ) -> Result<StatsRow, BigGanError> {
        let [batch, z_dim] = z.dims();
        let [y_batch, classes] = y.dims();
        if batch == 0 || batch != y_batch {
            return Err(BigGanError::BadInput(format!(
                "z has {batch} rows and y {y_batch}; both need the same number, at least 1"
            )));
        }
        if z_dim != self.config.z_dim || classes != self.config.num_classes {
            return Err(BigGanError::BadInput(format!(
                "z must be [B, {}] and y [B, {}], got [{batch}, {z_dim}] and [{y_batch}, {classes}]",
                self.config.z_dim, self.config.num_classes
            )));
        }
        if !(truncation > 0.0 && truncation <= 1.0) {
            return Err(BigGanError::BadInput(format!(
                "truncation {truncation} is outside (0, 1]"
            )));
        }
        StatsRow::new(truncation, self.config.n_stats).ok_or_else(|| {
            BigGanError::BadInput(format!(
                "truncation {truncation} is outside the statistics grid"
            ))
        })
    }
}

/// The original's pixel mapping (`utils.convert_to_images`): `clip((x + 1) / 2 * 256, 0, 255)`
/// in f32, truncated to u8. `images` is `[B, 3, H, W]`; returns one RGB image per batch entry.
pub fn to_rgb8(images: Tensor<4>) -> Result<Vec<image::RgbImage>, BigGanError> {
    let [batch, channels, height, width] = images.dims();
    if channels != 3 {
        return Err(BigGanError::BadInput(format!(
            "expected 3 channels, got {channels}"
        )));
    }
    let values = images
        .try_into_data()
        .map_err(|err| BigGanError::Device(err.to_string()))?
        .try_into_vec::<f32>()
        .map_err(|err| BigGanError::Device(format!("{err:?}")))?;
    let plane = height * width;
    (0..batch)
        .map(|b| {
            let sample = &values[b * 3 * plane..(b + 1) * 3 * plane];
            let mut pixels = Vec::with_capacity(3 * plane);
            for idx in 0..plane {
                for c in 0..3 {
                    pixels.push(pixel_value(sample[c * plane + idx]));
                }
            }
            image::RgbImage::from_raw(width as u32, height as u32, pixels).ok_or_else(|| {
                BigGanError::BadInput(format!("a {width}×{height} image is too large"))
            })
        })
        .collect()
}

/// One channel value in (-1, 1) to a byte, exactly as numpy computes it on float32.
pub fn pixel_value(x: f32) -> u8 {
    (((x + 1.0) / 2.0) * 256.0).clamp(0.0, 255.0) as u8
}

fn read_config(path: &Path) -> Result<BigGanConfig, BigGanError> {
    let text = std::fs::read_to_string(path).map_err(|err| BigGanError::Config {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    BigGanConfig::from_json(&text).map_err(|reason| BigGanError::Config {
        path: path.to_owned(),
        reason,
    })
}

/// Whether `path` starts with burnpack's magic number.
fn is_burnpack(path: &Path) -> Result<bool, BigGanError> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|source| BigGanError::Io {
        path: path.to_owned(),
        source,
    })?;
    match file.read_exact(&mut magic) {
        Ok(()) => Ok(
            u32::from_le_bytes(magic) == burn_store::burn_pack::MAGIC_NUMBER
                || u32::from_be_bytes(magic) == burn_store::burn_pack::MAGIC_NUMBER,
        ),
        Err(_) => Ok(false),
    }
}
