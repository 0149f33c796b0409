//! Which device the models run on: the GPU through wgpu when an adapter exists (a software
//! Vulkan such as lavapipe counts), else burn's pure-Rust CPU backend (`flex`).
//!
//! Both engines take a [`ComputeDevice`] from [`ComputeDevice::select`]. Probing never panics:
//! burn's lazy wgpu start-up panics when there is no adapter, so wgpu is initialised explicitly
//! (and fallibly) once per process and the outcome is remembered.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::Device;

/// The environment variable that overrides the device choice: `cpu`, `gpu` or `auto`.
pub const DEVICE_ENV_VAR: &str = "DEEP_VISUALIZER_DEVICE";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    /// The GPU through wgpu if a hardware adapter exists, else the CPU (a software adapter such
    /// as lavapipe is slower than the CPU backend, so auto passes it over).
    #[default]
    Auto,
    /// The CPU backend, even when a GPU exists (reproducible results, or a GPU that misbehaves).
    Cpu,
    /// The GPU through wgpu; failing is an error rather than a silent fall-back.
    Gpu,
}

impl DevicePreference {
    /// The preference named by [`DEVICE_ENV_VAR`], or `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<Self>, DeviceError> {
        match std::env::var(DEVICE_ENV_VAR) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => value.parse().map(Some),
            Err(_) => Ok(None),
        }
    }

    /// `explicit` if given, else [`DEVICE_ENV_VAR`], else [`DevicePreference::Auto`].
    pub fn resolve(explicit: Option<Self>) -> Result<Self, DeviceError> {
        match explicit {
            Some(preference) => Ok(preference),
            None => Ok(Self::from_env()?.unwrap_or_default()),
        }
    }
}

impl FromStr for DevicePreference {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" | "wgpu" => Ok(Self::Gpu),
            _ => Err(DeviceError::UnknownPreference(text.to_owned())),
        }
    }
}

impl fmt::Display for DevicePreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        })
    }
}

/// What can go wrong choosing a device.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeviceError {
    /// A device name that is not one of ours.
    #[error("unknown device `{0}`: use `auto`, `cpu` or `gpu` (also in ${DEVICE_ENV_VAR})")]
    UnknownPreference(String),
    /// The GPU was required but wgpu found no usable adapter.
    #[error(
        "no GPU is usable through wgpu ({0}); install a Vulkan driver (on Linux, mesa's lavapipe \
         gives a software one) or choose the CPU with `cpu` / {DEVICE_ENV_VAR}=cpu"
    )]
    NoGpu(String),
}

/// Which backend a [`ComputeDevice`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeBackend {
    /// burn's wgpu backend (a hardware GPU, or a software rasteriser such as lavapipe).
    Wgpu,
    /// burn's `flex` CPU backend.
    Cpu,
}

/// A device a model runs on, with a description for logs and the UI.
#[derive(Clone)]
pub struct ComputeDevice {
    /// The burn device tensors and modules are created on.
    device: Device,
    /// The backend behind `device`.
    backend: ComputeBackend,
    /// One line saying what the device is, e.g. `GPU (wgpu, Vulkan): llvmpipe (software)`.
    description: String,
    /// Why the GPU is not used, when [`DevicePreference::Auto`] fell back to the CPU.
    fallback_reason: Option<String>,
    /// The wgpu handles burn runs on, for sharing the device with a renderer.
    wgpu_setup: Option<WgpuSetup>,
}

impl fmt::Debug for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComputeDevice")
            .field("backend", &self.backend)
            .field("description", &self.description)
            .field("fallback_reason", &self.fallback_reason)
            .finish()
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)?;
        if let Some(reason) = &self.fallback_reason {
            write!(f, " (no GPU: {reason})")?;
        }
        Ok(())
    }
}

/// The outcome of the one wgpu initialisation a process may do.
struct WgpuProbe {
    /// The device and its setup, or why there is none.
    result: Result<(Device, WgpuSetup, String), String>,
}

/// burn registers a wgpu runtime once per process; a second `init` fails, so the first
/// outcome is kept and shared.
static WGPU: OnceLock<WgpuProbe> = OnceLock::new();

fn probe_wgpu() -> &'static WgpuProbe {
    WGPU.get_or_init(|| {
        // wgpu and the drivers below it are foreign code; a panic there must not take the
        // host down, it only means "no GPU".
        let outcome = crate::panic_guard::catch(|| Device::wgpu_options().init_with_setup());
        let result = match outcome {
            Ok(Ok((device, setup))) => {
                let info = setup.adapter.get_info();
                let kind = match info.device_type {
                    burn::tensor::wgpu::wgpu::DeviceType::Cpu => " (software)",
                    burn::tensor::wgpu::wgpu::DeviceType::DiscreteGpu => " (discrete)",
                    burn::tensor::wgpu::wgpu::DeviceType::IntegratedGpu => " (integrated)",
                    burn::tensor::wgpu::wgpu::DeviceType::VirtualGpu => " (virtual)",
                    burn::tensor::wgpu::wgpu::DeviceType::Other => "",
                };
                let description = format!("GPU (wgpu, {:?}): {}{kind}", info.backend, info.name);
                Ok((device, setup, description))
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(panic) => Err(format!("the wgpu driver panicked while starting: {panic}")),
        };
        WgpuProbe { result }
    })
}

impl ComputeDevice {
    /// Chooses the device for `preference`. Only [`DevicePreference::Gpu`] can fail; `Auto`
    /// falls back to the CPU and says why in [`Self::fallback_reason`].
    pub fn select(preference: DevicePreference) -> Result<Self, DeviceError> {
        match preference {
            DevicePreference::Cpu => Ok(Self::cpu()),
            DevicePreference::Gpu => Self::gpu(),
            DevicePreference::Auto => match Self::gpu() {
                // A software rasteriser (lavapipe/llvmpipe) runs the models several times
                // slower than the CPU backend on the same cores: only `gpu` asks for it.
                Ok(device) if device.is_software() => {
                    let mut cpu = Self::cpu();
                    cpu.fallback_reason = Some(format!(
                        "the only wgpu adapter, {}, is a software one; the CPU backend is faster",
                        device.description
                    ));
                    Ok(cpu)
                }
                Ok(device) => Ok(device),
                Err(DeviceError::NoGpu(reason)) => {
                    let mut device = Self::cpu();
                    device.fallback_reason = Some(reason);
                    Ok(device)
                }
                Err(other) => Err(other),
            },
        }
    }

    /// The CPU backend.
    pub fn cpu() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            device: Device::flex(),
            backend: ComputeBackend::Cpu,
            description: format!("CPU (burn flex, {threads} hardware threads)"),
            fallback_reason: None,
            wgpu_setup: None,
        }
    }

    /// The GPU through wgpu, initialised on first use.
    pub fn gpu() -> Result<Self, DeviceError> {
        match &probe_wgpu().result {
            Ok((device, setup, description)) => Ok(Self {
                device: device.clone(),
                backend: ComputeBackend::Wgpu,
                description: description.clone(),
                fallback_reason: None,
                wgpu_setup: Some(setup.clone()),
            }),
            Err(reason) => Err(DeviceError::NoGpu(reason.clone())),
        }
    }

    /// Whether this is a wgpu adapter that runs on the CPU (a software rasteriser).
    pub fn is_software(&self) -> bool {
        self.wgpu_setup.as_ref().is_some_and(|setup| {
            setup.adapter.get_info().device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu
        })
    }

    /// The burn device to create tensors and modules on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The backend behind [`Self::device`].
    pub fn backend(&self) -> ComputeBackend {
        self.backend
    }

    /// Why the GPU is not used, when `Auto` fell back to the CPU.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The wgpu instance, adapter, device and queue burn runs on (wgpu devices only), so a
    /// renderer can share them instead of opening a second device.
    pub fn wgpu_setup(&self) -> Option<&WgpuSetup> {
        self.wgpu_setup.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_parse_case_insensitively_and_reject_others() {
        assert_eq!(
            "CPU".parse::<DevicePreference>().unwrap(),
            DevicePreference::Cpu
        );
        assert_eq!(
            " gpu ".parse::<DevicePreference>().unwrap(),
            DevicePreference::Gpu
        );
        assert_eq!(
            "wgpu".parse::<DevicePreference>().unwrap(),
            DevicePreference::Gpu
        );
        assert_eq!(
            "auto".parse::<DevicePreference>().unwrap(),
            DevicePreference::Auto
        );
        let err = "cuda".parse::<DevicePreference>().unwrap_err();
        assert!(err.to_string().contains("`cuda`"), "{err}");
    }

    #[test]
    fn explicit_preference_wins_over_the_environment() {
        assert_eq!(
            DevicePreference::resolve(Some(DevicePreference::Cpu)).unwrap(),
            DevicePreference::Cpu
        );
    }

    #[test]
    fn cpu_device_describes_itself_and_computes() {
        let device = ComputeDevice::select(DevicePreference::Cpu).unwrap();
        assert_eq!(device.backend(), ComputeBackend::Cpu);
        assert!(device.to_string().starts_with("CPU"), "{device}");
        let sum = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], device.device())
            .sum()
            .into_scalar::<f32>();
        assert_eq!(sum, 3.0);
    }

    #[test]
    fn auto_passes_over_a_software_adapter() {
        let auto = ComputeDevice::select(DevicePreference::Auto).unwrap();
        assert!(!auto.is_software(), "{auto}");
        // With lavapipe installed (as in CI) this is the path a GPU-less desktop takes.
        if let Ok(gpu) = ComputeDevice::gpu() {
            if gpu.is_software() {
                assert_eq!(auto.backend(), ComputeBackend::Cpu);
                let reason = auto.fallback_reason().unwrap_or_default();
                assert!(reason.contains("software"), "{reason}");
            }
        }
    }
}
