//! The render service: the plugin's model thread.
//!
//! It starts when the plugin activates (not when the editor opens) and stops and is joined when
//! the plugin deactivates or is dropped. It owns the model device and the models, loads the
//! weights in the background, consumes the feature queue, steps the causal Director through every
//! video frame the audio reaches and draws the newest one only, so nothing queues up. Finished
//! frames go to the editor through a triple buffer ([`LiveHub::read_frame`]); the service's state
//! (loading, ready, missing weights, failures, the device, frames per second, latency) through
//! [`LiveHub::status`].
//!
//! The DAW comes first: the audio thread never waits for this thread (the feature queue is
//! lock-free and drops, counted, when full); the models run in a rayon pool of their own, capped
//! at [`ServiceConfig::num_threads`] (all cores but one by default), whose threads run at a lower
//! OS priority; a panic in model code is caught, shown and logged, and the service falls back to
//! the CPU backend and retries.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::live::LiveClock;
use crate::bridge::FeatureConsumer;
use crate::director::{BigGanDirector, BigGanSettings, FrameLatents, HarmonyMode};
use crate::dream::picture::load_rgb8;
use crate::dream::{dream_settings, DreamEngine, Dreamer};
use crate::models::biggan::exec::ExecOptions;
use crate::models::biggan::{to_rgb8, BigGan};
use crate::models::device::{ComputeBackend, ComputeDevice, DevicePreference};
use crate::models::inception::{InceptionV1, Preprocess};
use crate::params::DeepVisualizerParams;
use crate::render::models::{biggan_model_id, GOOGLENET_MODEL_ID};
use crate::settings::{EngineKind, VisualSettings};
use crate::weights::{self, DownloadPolicy, FileRole, InstallProgress, WeightsError};

/// What the models are doing, in words the editor shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    /// The service has not started (the plugin is not active).
    Stopped,
    /// Loading weights onto the device.
    Loading(String),
    /// Downloading a model the user asked for.
    Downloading {
        /// The model.
        model_id: String,
        /// The file on its way.
        file: String,
        /// Bytes so far.
        done_bytes: u64,
        /// Its length, when the server said.
        total_bytes: Option<u64>,
    },
    /// Drawing.
    Ready,
    /// The weights are not installed; the editor offers to download them.
    Missing {
        /// The model to download.
        model_id: String,
        /// What is missing and what to do.
        message: String,
    },
    /// The weights are there but do not load.
    Damaged(String),
    /// Something failed; the message says what to do. The service retries.
    Failed(String),
}

/// The service's state for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// What the models are doing.
    pub model: ModelState,
    /// The device the models run on, in words.
    pub device: String,
    /// Frames drawn per second, averaged over about a second.
    pub achieved_fps: f32,
    /// From the newest audio a frame shows being heard to the frame being ready, in ms.
    pub latency_ms: f32,
    /// Frames drawn since the service started.
    pub num_frames_drawn: u64,
    /// A detail worth showing (DeepDream preparing its depths, a fallback).
    pub note: Option<String>,
}

impl Default for ServiceStatus {
    fn default() -> Self {
        Self {
            model: ModelState::Stopped,
            device: String::new(),
            achieved_fps: 0.0,
            latency_ms: 0.0,
            num_frames_drawn: 0,
            note: None,
        }
    }
}

/// One finished live frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFrame {
    /// RGBA8, row-major.
    pub rgba: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Audio-clock time the frame shows, in seconds.
    pub time_s: f64,
    /// Latency when it was published, in ms.
    pub latency_ms: f32,
    /// 1, 2, 3, … per published frame; 0 before the first.
    pub serial: u64,
}

/// What the plugin, its render service and its editor share. It lives as long as the plugin
/// instance, across activations and editor windows.
pub struct LiveHub {
    /// The service's state.
    status: Mutex<ServiceStatus>,
    /// The editor's end of the newest-frame triple buffer.
    frames_out: Mutex<triple_buffer::Output<LiveFrame>>,
    /// The service's end, while no service holds it.
    frames_in: Mutex<Option<triple_buffer::Input<LiveFrame>>>,
    /// The editor asked to download the missing model.
    download_requested: AtomicBool,
    /// The editor asked to stop the download.
    download_cancel: Arc<AtomicBool>,
}

impl LiveHub {
    /// A hub with no frame yet.
    pub fn new() -> Arc<Self> {
        let (input, output) = triple_buffer::triple_buffer(&LiveFrame::default());
        Arc::new(Self {
            status: Mutex::new(ServiceStatus::default()),
            frames_out: Mutex::new(output),
            frames_in: Mutex::new(Some(input)),
            download_requested: AtomicBool::new(false),
            download_cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The service's state now.
    pub fn status(&self) -> ServiceStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut ServiceStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Calls `f` with the newest frame (serial 0 before the first).
    pub fn read_frame<T>(&self, f: impl FnOnce(&LiveFrame) -> T) -> T {
        let mut output = self
            .frames_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(output.read())
    }

    /// Asks the service to download the missing model.
    pub fn request_download(&self) {
        // Release/Acquire: the flag only asks; the service reads the rest under the status lock.
        self.download_cancel.store(false, Ordering::Release);
        self.download_requested.store(true, Ordering::Release);
    }

    /// Asks the service to stop a download.
    pub fn cancel_download(&self) {
        self.download_cancel.store(true, Ordering::Release);
    }
}

/// How the service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Threads the models may use.
    pub num_threads: usize,
    /// Where the models run.
    pub device: DevicePreference,
    /// The weights folder; `None` is `$DEEP_VISUALIZER_WEIGHTS`, else the user's data folder.
    pub weights_dir: Option<PathBuf>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        let num_cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            // The DAW keeps a core for its own audio and UI threads.
            num_threads: num_cores.saturating_sub(1).max(1),
            device: DevicePreference::resolve(None).unwrap_or(DevicePreference::Auto),
            weights_dir: None,
        }
    }
}

/// The running service; dropping it stops and joins the thread.
pub struct RenderService {
    /// Set to stop the thread.
    stop: Arc<AtomicBool>,
    /// The thread; it hands the feature queue back when it ends.
    thread: Option<JoinHandle<FeatureConsumer>>,
}

impl RenderService {
    /// Starts the service thread on `features`.
    pub fn start(
        hub: Arc<LiveHub>,
        params: Arc<DeepVisualizerParams>,
        features: FeatureConsumer,
        config: ServiceConfig,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("deep-visualizer-render".to_owned())
            .spawn(move || run(hub, params, features, config, &thread_stop))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread, waits for it and returns the feature queue's reading end.
    pub fn stop(mut self) -> Option<FeatureConsumer> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Option<FeatureConsumer> {
        // Release: the thread's Acquire load sees everything before the stop.
        self.stop.store(true, Ordering::Release);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for RenderService {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Lowers the calling thread's OS priority, so model work yields to the DAW's threads.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// The service thread.
fn run(
    hub: Arc<LiveHub>,
    params: Arc<DeepVisualizerParams>,
    mut features: FeatureConsumer,
    config: ServiceConfig,
    stop: &AtomicBool,
) -> FeatureConsumer {
    lower_thread_priority();
    let frames_in = hub
        .frames_in
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(mut frames_in) = frames_in else {
        // Another service of this instance still holds the frame buffer; nothing to draw into.
        return features;
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.num_threads.max(1))
        .thread_name(|i| format!("deep-visualizer-model-{i}"))
        .start_handler(|_| {
            lower_thread_priority();
            crate::models::subnormals::flush_subnormals_on_this_thread();
        })
        .build();
    let mut work = || {
        crate::models::subnormals::flush_subnormals_on_this_thread();
        let mut service = Service::new(hub.clone(), config.clone());
        // Acquire: pairs with the Release store in `stop`.
        while !stop.load(Ordering::Acquire) {
            let busy = crate::panic_guard::catch(AssertUnwindSafe(|| {
                service.step(&params, &mut features, &mut frames_in)
            }));
            match busy {
                Ok(true) => {}
                Ok(false) => std::thread::sleep(Duration::from_millis(4)),
                Err(panic) => service.recover(&panic),
            }
        }
    };
    match pool {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
    *hub.frames_in.lock().unwrap_or_else(PoisonError::into_inner) = Some(frames_in);
    hub.update(|s| *s = ServiceStatus::default());
    features
}

/// Which loaded model a cache entry is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    /// The weights.
    path: PathBuf,
    /// The backend they are on.
    backend: &'static str,
}

/// A model shared by every instance in the process that uses it.
enum Shared {
    /// A generator.
    BigGan(Arc<BigGan>),
    /// A GoogLeNet; clones share the weights.
    GoogLeNet(Arc<InceptionV1>),
}

/// The process-wide cache of loaded models: two instances that use the same model load it once;
/// it is freed when the last user lets go.
fn cache() -> &'static Mutex<HashMap<CacheKey, SharedWeak>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, SharedWeak>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A cache entry that does not keep its model alive.
enum SharedWeak {
    /// A generator.
    BigGan(Weak<BigGan>),
    /// A GoogLeNet.
    GoogLeNet(Weak<InceptionV1>),
}

impl SharedWeak {
    /// Whether an instance still uses the model.
    fn is_alive(&self) -> bool {
        match self {
            SharedWeak::BigGan(w) => w.strong_count() > 0,
            SharedWeak::GoogLeNet(w) => w.strong_count() > 0,
        }
    }
}

/// `load` unless the cache has the model already.
fn cached(key: CacheKey, load: impl FnOnce() -> Result<Shared, String>) -> Result<Shared, String> {
    let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    cache.retain(|_, weak| weak.is_alive());
    let hit = cache.get(&key).and_then(|weak| match weak {
        SharedWeak::BigGan(w) => w.upgrade().map(Shared::BigGan),
        SharedWeak::GoogLeNet(w) => w.upgrade().map(Shared::GoogLeNet),
    });
    if let Some(model) = hit {
        return Ok(model);
    }
    // Loading under the lock: a second instance asking for the same model waits for this load
    // instead of starting its own.
    let model = load()?;
    let weak = match &model {
        Shared::BigGan(m) => SharedWeak::BigGan(Arc::downgrade(m)),
        Shared::GoogLeNet(m) => SharedWeak::GoogLeNet(Arc::downgrade(m)),
    };
    cache.insert(key, weak);
    Ok(model)
}

/// How many loaded models from below `folder` the process holds now (for tests and logs).
pub fn num_cached_models(folder: &std::path::Path) -> usize {
    let cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    cache
        .iter()
        .filter(|(key, _)| key.path.starts_with(folder))
        .map(|(_, weak)| weak)
        .filter(|weak| weak.is_alive())
        .count()
}

/// What draws the live frames.
enum Engine {
    /// BigGAN-deep with the causal Director.
    BigGan {
        /// The shared generator.
        model: Arc<BigGan>,
        /// The dynamics (boxed: the Director's state dwarfs the dream's handle).
        director: Box<BigGanDirector>,
        /// The settings the Director was built with.
        director_settings: BigGanSettings,
        /// The newest latents, drawn when a frame is due.
        latents: Option<FrameLatents>,
    },
    /// DeepDream driven by the kick.
    Dream {
        /// The dream and its kick envelope.
        engine: Box<DreamEngine>,
    },
}

/// The service's state between steps.
struct Service {
    /// Shared with the plugin and the editor.
    hub: Arc<LiveHub>,
    /// Threads and device.
    config: ServiceConfig,
    /// The device, once chosen.
    device: Option<ComputeDevice>,
    /// The loaded engine and the settings it was built for.
    engine: Option<(Engine, VisualSettings)>,
    /// The live timeline.
    clock: LiveClock,
    /// When a failure may be retried.
    retry_at: Option<Instant>,
    /// When the newest feature frame arrived.
    newest_arrival: Instant,
    /// Frame times of the last second, for the achieved rate.
    drawn_at: std::collections::VecDeque<Instant>,
    /// Serial of the next published frame.
    next_serial: u64,
}

/// The model a setting needs, and whether `settings` and `loaded` need the same one.
fn same_model(a: &VisualSettings, b: &VisualSettings) -> bool {
    a.engine == b.engine
        && a.resolution_px == b.resolution_px
        && (a.engine == EngineKind::Biggan || (a.dream == b.dream && a.seed == b.seed))
}

impl Service {
    fn new(hub: Arc<LiveHub>, config: ServiceConfig) -> Self {
        Self {
            hub,
            config,
            device: None,
            engine: None,
            clock: LiveClock::new(crate::settings::FrameRate::BIGGAN_SEED),
            retry_at: None,
            newest_arrival: Instant::now(),
            drawn_at: std::collections::VecDeque::new(),
            next_serial: 1,
        }
    }

    /// After a panic in model code: show it, log it, fall back to the CPU, retry in a second.
    fn recover(&mut self, message: &str) {
        let text = format!(
            "the model failed ({message}); retrying on the CPU. If it keeps failing, choose \
             another resolution or engine, or reinstall the weights"
        );
        log::error!("deep visualizer render service: {text}");
        self.engine = None;
        self.device = Some(ComputeDevice::cpu());
        self.config.device = DevicePreference::Cpu;
        self.retry_at = Some(Instant::now() + Duration::from_secs(1));
        self.hub.update(|s| {
            s.model = ModelState::Failed(text);
            s.device = "CPU".to_owned();
        });
    }

    /// One round: downloads, (re)loading, drawing. Returns whether there was work.
    fn step(
        &mut self,
        params: &DeepVisualizerParams,
        features: &mut FeatureConsumer,
        frames_in: &mut triple_buffer::Input<LiveFrame>,
    ) -> bool {
        // Acquire: pairs with the editor's Release store.
        if self.hub.download_requested.swap(false, Ordering::AcqRel) {
            self.download(params);
            return true;
        }
        let settings = params.visual_settings();
        let mut arrived = false;
        for frame in features.by_ref() {
            self.clock.push(&frame);
            arrived = true;
        }
        if arrived {
            self.newest_arrival = Instant::now();
        }
        if self.clock.fps() != settings.frame_rate() {
            self.clock = LiveClock::new(settings.frame_rate());
        }
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let needs_load = self
            .engine
            .as_ref()
            .is_none_or(|(_, loaded)| !same_model(loaded, &settings));
        if needs_load {
            self.engine = None;
            match self.load(&settings) {
                Ok(engine) => {
                    self.engine = Some((engine, settings.clone()));
                    self.retry_at = None;
                    self.hub.update(|s| s.model = ModelState::Ready);
                }
                Err(state) => {
                    self.hub.update(|s| s.model = state);
                    // Missing weights stay missing until the user acts; look again now and then.
                    self.retry_at = Some(Instant::now() + Duration::from_secs(2));
                    return false;
                }
            }
            return true;
        }
        self.draw(&settings, frames_in)
    }

    /// Chooses the device (once) and loads the engine `settings` need.
    fn load(&mut self, settings: &VisualSettings) -> Result<Engine, ModelState> {
        let device = match &self.device {
            Some(device) => device.clone(),
            None => {
                let device = ComputeDevice::select(self.config.device)
                    .unwrap_or_else(|_| ComputeDevice::cpu());
                self.device = Some(device.clone());
                device
            }
        };
        let device_name = device.to_string();
        self.hub.update(|s| s.device = device_name.clone());
        let backend = match device.backend() {
            ComputeBackend::Cpu => "cpu",
            ComputeBackend::Wgpu => "wgpu",
        };
        let weights_dir = self.config.weights_dir.as_deref();
        let biggan = |hub: &LiveHub| -> Result<Arc<BigGan>, ModelState> {
            let model_id = biggan_model_id(settings.resolution_px);
            let config = installed(&model_id, FileRole::Config, weights_dir)?;
            let dir = config.parent().map(PathBuf::from).unwrap_or_default();
            hub.update(|s| s.model = ModelState::Loading(format!("loading {model_id}")));
            let key = CacheKey {
                path: dir.clone(),
                backend,
            };
            match cached(key, || {
                let model = BigGan::load(&dir, device.device()).map_err(|e| e.to_string())?;
                // Live draws one frame at a time: no batch parts.
                let options = ExecOptions {
                    parallel_samples: 1,
                    ..model.exec_options()
                };
                Ok(Shared::BigGan(Arc::new(model.with_exec_options(options))))
            }) {
                Ok(Shared::BigGan(model)) => Ok(model),
                Ok(Shared::GoogLeNet(_)) => Err(ModelState::Failed("model cache mix-up".into())),
                Err(message) => Err(ModelState::Damaged(format!(
                    "{model_id} in {} does not load: {message}. Download it again from the \
                     editor or with `deep-visualizer weights download {model_id}`",
                    dir.display()
                ))),
            }
        };
        match settings.engine {
            EngineKind::Biggan => {
                let model = biggan(&self.hub)?;
                let fps = settings.frame_rate();
                let director_settings = BigGanSettings::from_visual(
                    settings,
                    fps.hz(),
                    model.config().z_dim,
                    model.config().num_classes,
                );
                let director = BigGanDirector::new(&director_settings, HarmonyMode::Live)
                    .map_err(|e| ModelState::Failed(e.to_string()))?;
                Ok(Engine::BigGan {
                    model,
                    director: Box::new(director),
                    director_settings,
                    latents: None,
                })
            }
            EngineKind::Deepdream => {
                let checkpoint = installed(GOOGLENET_MODEL_ID, FileRole::Checkpoint, weights_dir)?;
                self.hub
                    .update(|s| s.model = ModelState::Loading("loading GoogLeNet".into()));
                let key = CacheKey {
                    path: checkpoint.clone(),
                    backend,
                };
                let network = match cached(key, || {
                    InceptionV1::load(&checkpoint, Preprocess::Pretrained, device.device())
                        .map(|m| Shared::GoogLeNet(Arc::new(m)))
                        .map_err(|e| e.to_string())
                }) {
                    Ok(Shared::GoogLeNet(model)) => model,
                    Ok(Shared::BigGan(_)) => {
                        return Err(ModelState::Failed("model cache mix-up".into()))
                    }
                    Err(message) => {
                        return Err(ModelState::Damaged(format!(
                            "GoogLeNet ({}) does not load: {message}",
                            checkpoint.display()
                        )))
                    }
                };
                let base = self.base_picture(settings, &biggan)?;
                let (dream, engine_settings) = dream_settings(settings);
                let dreamer = Dreamer::new((*network).clone(), dream)
                    .map_err(|e| ModelState::Failed(e.to_string()))?;
                Ok(Engine::Dream {
                    engine: Box::new(DreamEngine::new(dreamer, &base, engine_settings)),
                })
            }
        }
    }

    /// DeepDream's live base: the chosen picture, else a BigGAN-deep frame, else a soft gradient.
    fn base_picture(
        &self,
        settings: &VisualSettings,
        biggan: &dyn Fn(&LiveHub) -> Result<Arc<BigGan>, ModelState>,
    ) -> Result<RgbImage, ModelState> {
        let side = settings.resolution_px;
        if let Some(path) = &settings.dream.image {
            let picture = load_rgb8(path).map_err(|e| {
                ModelState::Failed(format!(
                    "the DeepDream picture cannot be used ({e}); choose another or none"
                ))
            })?;
            return Ok(super::fit_picture(picture, Some(side)));
        }
        if let Ok(model) = biggan(&self.hub) {
            let z = crate::models::biggan::truncated_noise_sample(
                1,
                model.config().z_dim,
                settings.biggan.truncation as f32,
                settings.seed,
            );
            let classes = BigGanSettings::from_visual(
                settings,
                settings.frame_rate().hz(),
                model.config().z_dim,
                model.config().num_classes,
            )
            .resolved_classes();
            let mut y = vec![0.0f32; model.config().num_classes];
            if let Some(&class) = classes.first() {
                let last = y.len() - 1;
                y[usize::from(class).min(last)] = 1.0;
            }
            let drawn = model
                .generate_from_slices(&z, &y, 1, settings.biggan.truncation)
                .and_then(to_rgb8)
                .map_err(|e| ModelState::Failed(e.to_string()))?;
            if let Some(picture) = drawn.into_iter().next() {
                return Ok(picture);
            }
        }
        Ok(RgbImage::from_fn(side, side, |x, y| {
            let (u, v) = (x as f32 / side as f32, y as f32 / side as f32);
            image::Rgb([
                (90.0 + 100.0 * u) as u8,
                (110.0 + 60.0 * v) as u8,
                (150.0 - 60.0 * u * v) as u8,
            ])
        }))
    }

    /// Steps the engine through the frames the audio reached and draws the newest.
    fn draw(
        &mut self,
        settings: &VisualSettings,
        frames_in: &mut triple_buffer::Input<LiveFrame>,
    ) -> bool {
        let Some((engine, loaded)) = &mut self.engine else {
            return false;
        };
        let Some(advance) = self.clock.advance() else {
            // Nothing new to show: use the time to dream the static depths ahead.
            if let Engine::Dream { engine } = engine {
                return match engine.prepare_static_depth() {
                    Ok(Some((ready, max))) if ready < max => {
                        self.hub.update(|s| {
                            s.note = Some(format!("DeepDream: depths 0–{ready} of {max} ready"))
                        });
                        true
                    }
                    Ok(_) => {
                        self.hub.update(|s| s.note = None);
                        false
                    }
                    Err(e) => {
                        self.hub
                            .update(|s| s.model = ModelState::Failed(e.to_string()));
                        false
                    }
                };
            }
            return false;
        };
        let picture = match engine {
            Engine::BigGan {
                model,
                director,
                director_settings,
                latents,
            } => {
                let fresh = BigGanSettings::from_visual(
                    settings,
                    settings.frame_rate().hz(),
                    director_settings.z_dim,
                    director_settings.class_dim,
                );
                if fresh != *director_settings {
                    // An automated setting moved: carry the picture on from where it is.
                    let z = latents.as_ref().map(|l| l.z.clone());
                    let rebuilt = match z {
                        Some(z) => BigGanDirector::with_initial_noise(&fresh, HarmonyMode::Live, z),
                        None => BigGanDirector::new(&fresh, HarmonyMode::Live),
                    };
                    if let Ok(rebuilt) = rebuilt {
                        **director = rebuilt;
                        *director_settings = fresh;
                    }
                }
                for input in &advance.inputs {
                    director.push(input);
                    while let Some(next) = director.pop() {
                        *latents = Some(next);
                    }
                }
                let Some(current) = latents.as_ref() else {
                    return true;
                };
                model
                    .generate_from_slices(&current.z, &current.y, 1, settings.biggan.truncation)
                    .and_then(to_rgb8)
                    .map_err(|e| e.to_string())
                    .map(|mut images| images.pop())
            }
            Engine::Dream { engine } => {
                for input in &advance.inputs {
                    engine.advance(input.kick);
                }
                engine
                    .draw_live()
                    .map(|(picture, _)| Some(picture))
                    .map_err(|e| e.to_string())
            }
        };
        *loaded = settings.clone();
        match picture {
            Ok(Some(picture)) => {
                self.publish(&picture, advance.newest_time_s, frames_in);
                true
            }
            Ok(None) => true,
            Err(message) => {
                self.hub.update(|s| s.model = ModelState::Failed(message));
                self.retry_at = Some(Instant::now() + Duration::from_secs(1));
                self.engine = None;
                false
            }
        }
    }

    fn publish(
        &mut self,
        picture: &RgbImage,
        time_s: f64,
        frames_in: &mut triple_buffer::Input<LiveFrame>,
    ) {
        let now = Instant::now();
        let latency_ms = now.duration_since(self.newest_arrival).as_secs_f32() * 1000.0;
        let frame = frames_in.input_buffer_mut();
        frame.width = picture.width();
        frame.height = picture.height();
        frame.rgba.clear();
        frame
            .rgba
            .extend(picture.pixels().flat_map(|p| [p[0], p[1], p[2], 255]));
        frame.time_s = time_s;
        frame.latency_ms = latency_ms;
        frame.serial = self.next_serial;
        self.next_serial += 1;
        frames_in.publish();
        self.drawn_at.push_back(now);
        while self
            .drawn_at
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
        {
            self.drawn_at.pop_front();
        }
        let fps = self.drawn_at.len() as f32;
        self.hub.update(|s| {
            s.achieved_fps = fps;
            s.latency_ms = latency_ms;
            s.num_frames_drawn += 1;
            if !matches!(s.model, ModelState::Ready) {
                s.model = ModelState::Ready;
            }
        });
    }

    /// Downloads the model the current settings need, reporting progress, until done or
    /// cancelled.
    fn download(&mut self, params: &DeepVisualizerParams) {
        let settings = params.visual_settings();
        let mut model_ids = vec![match settings.engine {
            EngineKind::Biggan => biggan_model_id(settings.resolution_px),
            EngineKind::Deepdream => GOOGLENET_MODEL_ID.to_owned(),
        }];
        if settings.engine == EngineKind::Deepdream && settings.dream.image.is_none() {
            model_ids.push(biggan_model_id(settings.resolution_px));
        }
        let hub = self.hub.clone();
        let cancel = hub.download_cancel.clone();
        for model_id in model_ids {
            let mut report = |event: InstallProgress<'_>| {
                let (file, done_bytes, total_bytes) = match event {
                    InstallProgress::Started {
                        file, total_bytes, ..
                    } => (file, 0, total_bytes),
                    InstallProgress::Received {
                        file,
                        done_bytes,
                        total_bytes,
                    } => (file, done_bytes, total_bytes),
                    _ => return,
                };
                hub.update(|s| {
                    s.model = ModelState::Downloading {
                        model_id: model_id.clone(),
                        file: file.name.clone(),
                        done_bytes,
                        total_bytes,
                    }
                });
            };
            let result = weights::Manifest::embedded().and_then(|manifest| {
                let root = weights::resolve_weights_dir(self.config.weights_dir.as_deref())?;
                weights::ensure_model_installed_in(
                    manifest,
                    &root.path,
                    &model_id,
                    DownloadPolicy::Allowed,
                    &weights::Downloader::new().with_cancel(cancel.clone()),
                    &mut report,
                )
            });
            if let Err(err) = result {
                let message = match &err {
                    WeightsError::Cancelled => "the download was cancelled".to_owned(),
                    other => other.to_string(),
                };
                hub.update(|s| {
                    s.model = ModelState::Missing {
                        model_id: model_id.clone(),
                        message,
                    }
                });
                self.retry_at = Some(Instant::now() + Duration::from_secs(3600));
                return;
            }
        }
        self.engine = None;
        self.retry_at = None;
    }
}

/// The installed file of `role` of `model_id` in the weights folder `weights_dir` (the default
/// one when `None`), or the state saying it is missing. Only its presence is checked: a file
/// that does not load shows as damaged when it is loaded.
pub(crate) fn installed(
    model_id: &str,
    role: FileRole,
    weights_dir: Option<&std::path::Path>,
) -> Result<PathBuf, ModelState> {
    let missing = |message: String| ModelState::Missing {
        model_id: model_id.to_owned(),
        message,
    };
    let manifest = weights::Manifest::embedded().map_err(|e| missing(e.to_string()))?;
    let root = weights::resolve_weights_dir(weights_dir).map_err(|e| missing(e.to_string()))?;
    let model = manifest
        .model(model_id)
        .map_err(|e| missing(e.to_string()))?;
    weights::locate_in(model, role, &root.path).map_err(|_| {
        missing(format!(
            "Its files go in {}. Press Download, or run `deep-visualizer weights download \
             {model_id}`, or set DEEP_VISUALIZER_WEIGHTS to a folder that has it.",
            model.dir_in(&root.path).display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_shareable_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<BigGan>();
        shareable::<InceptionV1>();
        shareable::<LiveHub>();
    }
}
