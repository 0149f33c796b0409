//! The take renderer: renders each closed take to `NAME.mp4` beside it, at the take's own
//! settings, one at a time, with progress and cancel in the takes panel.
//!
//! It runs on a thread of its own (the live preview keeps drawing; on a CPU both share the
//! cores), with a capped, low-priority model thread pool like the render service's, and lives as
//! long as the plugin instance, so a take still renders while the host re-activates the plugin.
//! When it starts it looks through the output folder for takes that were never rendered (the
//! host unloaded the plugin mid-render, ffmpeg or the weights were missing, a crash cut a take
//! off) and renders them. Two instances never render the same take: a render holds
//! `render.lock` in the take folder, and a finished one leaves `render.json`.

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::status::{RenderRequest, TakeState, TakesHub};
use crate::models::device::DevicePreference;
use crate::params::DeepVisualizerParams;
use crate::render::models::{biggan_model_id, ModelPaths, GOOGLENET_MODEL_ID};
use crate::render::service::{installed, ModelState};
use crate::render::{render, Progress, RenderError, RenderJob, RenderSource};
use crate::settings::{EngineKind, VisualSettings};
use crate::take::{
    adopt_partial, take_name, video_path, RenderRecord, TakeManifest, PARTIAL_SUFFIX,
    TAKE_EXTENSION,
};
use crate::weights::DownloadPolicy;
use crate::weights::FileRole;

/// Held (locked) in a take folder while a render of it runs.
pub const RENDER_LOCK_FILE: &str = "render.lock";

/// Frames drawn per model call: small, so a cancel (or the host unloading the plugin) is heard
/// within a frame or two.
const BATCH_SIZE: usize = 2;

/// How the renderer runs.
#[derive(Clone)]
pub struct RendererConfig {
    /// Threads the models may use.
    pub num_threads: usize,
    /// Where the models run.
    pub device: DevicePreference,
    /// Look for unrendered takes in this folder when starting.
    pub scan_dir: Option<PathBuf>,
    /// The instance's settings, read at each render: the ffmpeg the user set in the editor.
    pub params: Arc<DeepVisualizerParams>,
}

/// The running renderer; dropping it cancels the render in progress (the take stays
/// unrendered and renders the next time the plugin loads) and joins the thread.
pub struct TakeRenderer {
    /// Shared with the recorder and the editor.
    hub: Arc<TakesHub>,
    /// Set to stop the thread.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl TakeRenderer {
    /// Starts the renderer thread.
    pub fn start(hub: Arc<TakesHub>, config: RendererConfig) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_hub, thread_stop) = (hub.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("deep-visualizer-take-render".to_owned())
            .spawn(move || run(&thread_hub, &config, &thread_stop))?;
        Ok(Self {
            hub,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TakeRenderer {
    fn drop(&mut self) {
        // Release: pairs with the thread's Acquire loads.
        self.stop.store(true, Ordering::Release);
        self.hub.cancel_render();
        self.hub.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The renderer thread.
fn run(hub: &Arc<TakesHub>, config: &RendererConfig, stop: &AtomicBool) {
    crate::render::service::lower_thread_priority();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.num_threads.max(1))
        .thread_name(|i| format!("deep-visualizer-take-model-{i}"))
        .start_handler(|_| {
            crate::render::service::lower_thread_priority();
            crate::models::subnormals::flush_subnormals_on_this_thread();
        })
        .build();
    let work = || {
        crate::models::subnormals::flush_subnormals_on_this_thread();
        if let Some(dir) = &config.scan_dir {
            for take in unrendered_takes(dir) {
                if hub.knows(&take) {
                    continue;
                }
                let length_s = take_length_s(&take);
                let id = hub.add(take.clone(), take_name(&take), length_s, TakeState::Waiting);
                hub.request_render(RenderRequest {
                    id,
                    dir: take,
                    resolution_px: None,
                });
            }
        }
        // Acquire: pairs with the Release store in `drop`.
        while !stop.load(Ordering::Acquire) {
            if let Some(request) = hub.next_request(Duration::from_millis(200)) {
                render_take(hub, &request, config, stop);
            }
        }
    };
    match pool {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// Takes in `dir` that have no `render.json`, oldest name first; takes cut off by a crash
/// (`NAME.take.partial` that no writer holds) are closed first.
pub fn unrendered_takes(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut takes = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(PARTIAL_SUFFIX) {
            match adopt_partial(&path) {
                Ok(Some(adopted)) => takes.push(adopted),
                Ok(None) => {}
                Err(err) => nice_plug::nice_log!("a take cut off while recording: {err}"),
            }
        } else if name.ends_with(&format!(".{TAKE_EXTENSION}")) && !RenderRecord::exists(&path) {
            takes.push(path);
        }
    }
    takes.sort();
    takes
}

/// The take's length in seconds from its manifest (0 when unreadable).
fn take_length_s(dir: &Path) -> f64 {
    TakeManifest::read(dir).map_or(0.0, |m| {
        m.num_frames as f64 / f64::from(m.sample_rate_hz.max(1))
    })
}

/// The installed models a take's settings need, found as the live preview finds them (present
/// in the weights folder); the plugin downloads only when the user presses Download.
fn installed_models(settings: &VisualSettings) -> Result<ModelPaths, String> {
    let in_words = |state: ModelState| match state {
        ModelState::Missing { model_id, message } => {
            format!("{model_id} is not installed. {message}")
        }
        other => format!("{other:?}"),
    };
    let biggan_dir = || {
        installed(
            &biggan_model_id(settings.resolution_px),
            FileRole::Config,
            None,
        )
        .map(|config| config.parent().map(Path::to_owned).unwrap_or_default())
        .map_err(in_words)
    };
    let (weights, biggan_weights) = match settings.engine {
        EngineKind::Biggan => (biggan_dir()?, None),
        EngineKind::Deepdream => {
            let googlenet =
                installed(GOOGLENET_MODEL_ID, FileRole::Checkpoint, None).map_err(in_words)?;
            // The base picture is a BigGAN-deep frame unless the take names a picture.
            let base = match settings.dream.image {
                Some(_) => None,
                None => Some(biggan_dir()?),
            };
            (googlenet, base)
        }
    };
    Ok(ModelPaths {
        weights: Some(weights),
        biggan_weights,
        download: DownloadPolicy::Forbidden,
        resolution_from_weights: false,
    })
}

/// Renders one take and records the outcome in the panel (and `render.json`).
fn render_take(
    hub: &TakesHub,
    request: &RenderRequest,
    config: &RendererConfig,
    stop: &AtomicBool,
) {
    let id = request.id;
    let set = |state: TakeState| hub.update(id, |e| e.state = state);
    let lock_path = request.dir.join(RENDER_LOCK_FILE);
    let lock = match File::create(&lock_path) {
        Ok(file) if file.try_lock().is_ok() => file,
        Ok(_) => {
            set(TakeState::Failed(
                "another Deep Visualizer is rendering this take".to_owned(),
            ));
            return;
        }
        Err(err) => {
            set(TakeState::Failed(format!(
                "cannot render into {}: {err}. Make the folder writable, then Render again",
                request.dir.display()
            )));
            return;
        }
    };
    let default_video = video_path(&request.dir);
    if request.resolution_px.is_none() && RenderRecord::exists(&request.dir) {
        // Another instance finished it while this one waited for the lock.
        set(TakeState::Rendered {
            video: default_video,
        });
        return;
    }
    let manifest = match TakeManifest::read(&request.dir) {
        Ok(manifest) => manifest,
        Err(err) => {
            set(TakeState::Failed(err.to_string()));
            return;
        }
    };
    let mut settings = manifest.settings.clone();
    let video = match request.resolution_px {
        Some(side) if side != settings.resolution_px => {
            settings.resolution_px = side;
            default_video.with_file_name(format!("{}-{side}px.mp4", take_name(&request.dir)))
        }
        _ => default_video,
    };
    let mut job = RenderJob::new(RenderSource::Take(request.dir.clone()), settings, video);
    job.batch_size = BATCH_SIZE;
    job.models = match installed_models(&job.settings) {
        Ok(models) => models,
        Err(message) => {
            set(TakeState::Failed(format!(
                "{message} The take is kept and renders once the model is installed (the next \
                 time the plugin loads, or Render again)"
            )));
            return;
        }
    };
    job.device = Some(config.device);
    job.ffmpeg = config
        .params
        .session
        .read()
        .ok()
        .and_then(|session| session.ffmpeg_path.clone());
    let cancel = hub.cancel_flag();
    cancel.store(false, Ordering::Release);
    set(TakeState::Rendering {
        stage: "starting".to_owned(),
        fraction: 0.0,
    });
    let mut progress = |event: Progress<'_>| {
        let (stage, fraction) = match event {
            Progress::Reading { .. } => ("reading the take".to_owned(), 0.0),
            Progress::Analysing {
                done_samples,
                total_samples,
            } => (
                "analysing".to_owned(),
                0.05 * done_samples as f32 / total_samples.max(1) as f32,
            ),
            Progress::Warning(message) => {
                nice_plug::nice_log!("{message}");
                return;
            }
            Progress::Model(message) => (message, 0.05),
            Progress::Frames { done, total, .. } => (
                format!("frame {done} of {total}"),
                0.05 + 0.95 * done as f32 / total.max(1) as f32,
            ),
            Progress::Finishing => ("finishing the video".to_owned(), 1.0),
        };
        set(TakeState::Rendering { stage, fraction });
    };
    let outcome =
        crate::panic_guard::catch(AssertUnwindSafe(|| render(&job, &mut progress, &cancel)));
    let keep = format!(
        "The take is kept: it renders the next time the plugin loads, or run \
         `deep-visualizer render --take \"{}\"`",
        request.dir.display()
    );
    match outcome {
        Ok(Ok(summary)) => {
            let record = RenderRecord::new(
                Some(summary.video.clone()),
                job.settings.resolution_px,
                summary.num_frames,
            );
            if request.resolution_px.is_none() {
                if let Err(err) = record.write(&request.dir) {
                    nice_plug::nice_log!("{err}");
                }
            }
            set(TakeState::Rendered {
                video: summary.video,
            });
        }
        Ok(Err(RenderError::Cancelled)) if stop.load(Ordering::Acquire) => {
            // The host unloads the plugin: render it next time.
            set(TakeState::Waiting);
        }
        Ok(Err(RenderError::Cancelled)) => {
            if request.resolution_px.is_none() && !RenderRecord::exists(&request.dir) {
                let record = RenderRecord::new(None, job.settings.resolution_px, 0);
                if let Err(err) = record.write(&request.dir) {
                    nice_plug::nice_log!("{err}");
                }
            }
            set(TakeState::Cancelled);
        }
        Ok(Err(err)) => {
            let message = format!("{err}. {keep}");
            nice_plug::nice_log!("rendering {}: {message}", request.dir.display());
            set(TakeState::Failed(message));
        }
        Err(panic) => {
            let message = format!("the renderer failed ({panic}). {keep}");
            nice_plug::nice_log!("rendering {}: {message}", request.dir.display());
            set(TakeState::Failed(message));
        }
    }
    // Removed while still held: an instance that opened it meanwhile locks the old file, then
    // sees `render.json`.
    let _ = std::fs::remove_file(&lock_path);
    drop(lock);
}
