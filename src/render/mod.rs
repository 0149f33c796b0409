//! The one render pipeline: a song or a take becomes a music video.
//!
//! A [`RenderJob`] says what to render (a [`RenderSource`] and a span of it), with which
//! [`VisualSettings`], on which device and with which weights, into which outputs (the MP4, PNG
//! frames, the BigGAN vectors files). [`render`] runs it, reporting [`Progress`] through a
//! callback and stopping when its cancel flag is set; every error is a [`RenderError`] that says
//! what to do. The CLI's `render`, the plugin's take renderer and the benches all call it.
//!
//! The steps: read the audio (a song decodes; a take is laid onto the transport axis, so a song
//! is a take with one segment at 0) and analyse all of it; write the span's audio to a temporary
//! WAV beside the output and let go of the samples; then the Director steps through the frames,
//! the engine draws them a batch at a time, and each batch goes straight to ffmpeg (and the
//! frames folder), so no frame outlives its batch. Frame `k` covers transport time
//! `[origin + start + k/fps, origin + start + (k+1)/fps)`, where `origin` is the transport time
//! of the source's first sample: the video is in sync with the transport by construction.

pub mod live;
pub mod models;
pub mod service;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;

pub use models::ModelPaths;
pub use source::{Analysed, Harmony, RenderSource, SourceAudio};

use crate::analysis::decode::DecodeError;
use crate::analysis::AnalysisError;
use crate::director::input::{mean_chroma, FeatureSample, FrameInputs};
use crate::director::{BigGanDirector, BigGanSettings, DirectorError, FrameLatents, HarmonyMode};
use crate::dream::picture::load_rgb8;
use crate::dream::{dream_settings, DreamEngine, DreamError, Dreamer};
use crate::engine::biggan::{
    BigGanFrames, DirectedLatents, LatentSource, PreviousLatents, Recorded, VectorFiles,
    VectorsMeta, VectorsRecorder,
};
use crate::engine::deepdream::DreamFrames;
use crate::engine::{EngineError, FrameSource};
use crate::export::png::write_png;
use crate::export::{find_ffmpeg, ExportError, Ffmpeg, PendingFile, VideoEncoder, VideoSpec};
use crate::models::biggan::{BigGan, BigGanError};
use crate::models::device::{ComputeDevice, DeviceError, DevicePreference};
use crate::models::inception::InceptionError;
use crate::settings::{EngineKind, FrameRate, PictureSize, SettingsError, VisualSettings};
use crate::take::TakeError;
use crate::weights::WeightsError;

/// What to render and where.
#[derive(Debug, Clone)]
pub struct RenderJob {
    /// The song or take.
    pub source: RenderSource,
    /// Every visual setting.
    pub settings: VisualSettings,
    /// Seconds from the source's first sample to the first frame.
    pub start_s: f64,
    /// Seconds to render; `None` to the end.
    pub duration_s: Option<f64>,
    /// Song-wide (the seed's) or causal (the plugin's live) feature mapping.
    pub harmony: Harmony,
    /// Frames the model draws at once.
    pub batch_size: usize,
    /// Where the weights come from and where the models run.
    pub models: ModelPaths,
    /// Where the model runs; `None` reads `$DEEP_VISUALIZER_DEVICE`, else auto.
    pub device: Option<DevicePreference>,
    /// The MP4 to write (H.264 with the span's audio as AAC).
    pub video: PathBuf,
    /// Also write every frame as `frame_NNNNNN.png` into this folder.
    pub frames_dir: Option<PathBuf>,
    /// BigGAN: reuse the classes recorded beside `video` by an earlier render.
    pub use_previous_classes: bool,
    /// BigGAN: reuse the noise and class vectors recorded beside `video` by an earlier render.
    pub use_previous_vectors: bool,
    /// The ffmpeg program to encode with; `None` looks it up
    /// ([`crate::export::ffmpeg_program`]).
    pub ffmpeg: Option<PathBuf>,
}

impl RenderJob {
    /// A job with the defaults for everything but what to render and where.
    pub fn new(source: RenderSource, settings: VisualSettings, video: PathBuf) -> Self {
        Self {
            source,
            settings,
            start_s: 0.0,
            duration_s: None,
            harmony: Harmony::Song,
            batch_size: 30,
            models: ModelPaths::default(),
            device: None,
            video,
            frames_dir: None,
            use_previous_classes: false,
            use_previous_vectors: false,
            ffmpeg: None,
        }
    }
}

/// How far a render has come.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<'a> {
    /// Reading the audio.
    Reading {
        /// The song or take.
        path: &'a Path,
    },
    /// Analysing it.
    Analysing {
        /// Samples analysed.
        done_samples: usize,
        /// Samples in all.
        total_samples: usize,
    },
    /// Something the user should know; the render goes on.
    Warning(String),
    /// Getting a model ready (downloading it on first use, loading it).
    Model(String),
    /// Drawing and encoding frames.
    Frames {
        /// Frames written.
        done: u64,
        /// Frames in the video.
        total: u64,
        /// The device, in words.
        device: &'a str,
    },
    /// ffmpeg is finishing the file.
    Finishing,
}

/// Why a render failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A setting or option does not fit; `name` is the CLI flag (without dashes).
    #[error("invalid value{} for '--{name}': {reason}", value.as_ref().map(|v| format!(" '{v}'")).unwrap_or_default())]
    Invalid {
        /// The flag or setting.
        name: String,
        /// The rejected value, when there is one.
        value: Option<String>,
        /// Why, and what would work.
        reason: String,
    },
    /// The audio file could not be read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The take could not be read.
    #[error(transparent)]
    Take(#[from] TakeError),
    /// The audio could not be analysed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The weights are missing or could not be fetched.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A model could not be loaded from its weights.
    #[error("loading the {model} weights {}: {reason}", path.display())]
    ModelLoad {
        /// Which model.
        model: &'static str,
        /// The weights.
        path: PathBuf,
        /// Why, and what to pass instead.
        reason: String,
    },
    /// The device could not be used.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A DeepDream base picture could not be read.
    #[error("--image: {0}")]
    Picture(DreamError),
    /// Drawing failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing the video or its companions failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The cancel flag was set; nothing was written.
    #[error("the render was cancelled; nothing was written")]
    Cancelled,
}

impl From<SettingsError> for RenderError {
    fn from(err: SettingsError) -> Self {
        let name = match &err {
            SettingsError::OutOfRange { name, .. } => (*name).to_owned(),
            SettingsError::Resolution(_) => "resolution".to_owned(),
            SettingsError::ClassCount { .. } | SettingsError::ClassIndex(_) => "classes".to_owned(),
            SettingsError::KickBand { .. } => "kick_low".to_owned(),
            SettingsError::Version(_) => "settings".to_owned(),
        };
        let value = match &err {
            SettingsError::OutOfRange { value, .. } => Some(value.clone()),
            SettingsError::Resolution(r) => Some(r.to_string()),
            _ => None,
        };
        RenderError::Invalid {
            name,
            value,
            reason: err.to_string(),
        }
    }
}

impl From<DirectorError> for RenderError {
    fn from(err: DirectorError) -> Self {
        match &err {
            DirectorError::OutOfRange { name, value, .. } => RenderError::Invalid {
                name: (*name).to_owned(),
                value: Some(value.clone()),
                reason: err.to_string(),
            },
            DirectorError::ClassCount { .. } | DirectorError::ClassIndex { .. } => {
                RenderError::Invalid {
                    name: "classes".to_owned(),
                    value: None,
                    reason: err.to_string(),
                }
            }
        }
    }
}

impl From<BigGanError> for RenderError {
    fn from(err: BigGanError) -> Self {
        RenderError::Engine(EngineError::Model(err))
    }
}

impl From<DreamError> for RenderError {
    fn from(err: DreamError) -> Self {
        RenderError::Engine(EngineError::Dream(err))
    }
}

impl From<InceptionError> for RenderError {
    fn from(err: InceptionError) -> Self {
        RenderError::Engine(EngineError::Dream(DreamError::Inception(err)))
    }
}

impl RenderError {
    /// A bad option, named by its CLI flag.
    pub fn invalid(name: &str, value: Option<String>, reason: impl Into<String>) -> Self {
        RenderError::Invalid {
            name: name.to_owned(),
            value,
            reason: reason.into(),
        }
    }
}

/// What a finished render wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSummary {
    /// The video.
    pub video: PathBuf,
    /// Frames in it.
    pub num_frames: u64,
    /// Seconds of audio in it.
    pub duration_s: f64,
    /// Its frame rate.
    pub fps: FrameRate,
    /// Frame width and height in pixels.
    pub size_px: (u32, u32),
    /// Transport time of its first frame, in seconds.
    pub start_transport_s: f64,
    /// The device, in words.
    pub device: String,
}

/// Frames to render and to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Frames in the video: round(duration × fps).
    pub num_frames: u64,
    /// Frames from the start to the source's end: the vectors files' length.
    pub num_vector_frames: u64,
    /// Seconds of audio in the video.
    pub duration_s: f64,
}

/// The frames of a render of `duration_s` seconds from `start_s` of a source of `source_s`
/// seconds, at `fps`.
pub fn span_of(
    start_s: f64,
    duration_s: Option<f64>,
    fps: FrameRate,
    source_s: f64,
) -> Result<Span, RenderError> {
    if start_s >= source_s {
        return Err(RenderError::invalid(
            "start",
            Some(start_s.to_string()),
            format!("the song lasts {source_s:.2} s"),
        ));
    }
    let remaining_s = source_s - start_s;
    let frame_s = 1.0 / fps.hz();
    let duration_s = match duration_s {
        // Half a frame of slack: `--duration 30` on a song of 29.99 s is what the user means.
        Some(d) if d > remaining_s + 0.5 * frame_s => {
            return Err(RenderError::invalid(
                "duration",
                Some(d.to_string()),
                format!("the song has {remaining_s:.2} s from --start {start_s}"),
            ))
        }
        Some(d) => d.min(remaining_s),
        None => remaining_s,
    };
    let num_frames = (duration_s * fps.hz()).round() as u64;
    if num_frames == 0 {
        return Err(RenderError::invalid(
            "duration",
            Some(duration_s.to_string()),
            format!("shorter than one frame at {:.3} fps", fps.hz()),
        ));
    }
    Ok(Span {
        num_frames,
        num_vector_frames: ((remaining_s * fps.hz()).round() as u64).max(num_frames),
        duration_s,
    })
}

/// What both engines need once the audio is analysed.
struct Prepared<'a> {
    /// The job.
    job: &'a RenderJob,
    /// The video frame rate.
    fps: FrameRate,
    /// The analysed source.
    analysed: Analysed,
    /// The frames to render.
    span: Span,
    /// Where the models run.
    device: ComputeDevice,
    /// The ffmpeg to encode with.
    ffmpeg: Ffmpeg,
    /// The span's audio.
    wav_path: PathBuf,
}

impl Prepared<'_> {
    /// The per-frame features of the span.
    fn frame_inputs(&self, samples: Vec<FeatureSample>) -> FrameInputs {
        FrameInputs::new(
            samples,
            self.analysed.feature_hz,
            self.job.start_s,
            self.fps.num,
            self.fps.den,
            self.job.harmony == Harmony::Live,
        )
    }

    /// A fresh BigGAN Director over the source's features.
    fn director(&self, settings: &BigGanSettings) -> Result<BigGanDirector, RenderError> {
        let mode = match self.job.harmony {
            Harmony::Live => HarmonyMode::Live,
            Harmony::Song => HarmonyMode::Song {
                mean_chroma: mean_chroma(&self.analysed.samples),
            },
        };
        Ok(BigGanDirector::new(settings, mode)?)
    }
}

/// Checks what can be checked before any long work.
fn check_job(job: &RenderJob) -> Result<(), RenderError> {
    job.settings.validate()?;
    if job.settings.engine == EngineKind::Biggan {
        if job.settings.dream.image.is_some() {
            return Err(RenderError::invalid(
                "image",
                None,
                "a base picture is for --engine deepdream",
            ));
        }
        if job.models.biggan_weights.is_some() {
            return Err(RenderError::invalid(
                "biggan_weights",
                None,
                "they draw DeepDream's base picture; with --engine biggan give the weights with \
                 --weights",
            ));
        }
    }
    if !(job.start_s.is_finite() && job.start_s >= 0.0) {
        return Err(RenderError::invalid(
            "start",
            Some(job.start_s.to_string()),
            "use a time in seconds, 0 or more",
        ));
    }
    Ok(())
}

/// Renders `job` (see the module docs). `cancel` is read between batches.
pub fn render(
    job: &RenderJob,
    progress: &mut dyn FnMut(Progress<'_>),
    cancel: &AtomicBool,
) -> Result<RenderSummary, RenderError> {
    check_job(job)?;
    let fps = job.settings.frame_rate();
    // Before any long work: the encoder, the output folder, the base picture.
    let ffmpeg = find_ffmpeg(job.ffmpeg.as_deref())?;
    PendingFile::new(&job.video)?;
    let base_picture = match (&job.settings.dream.image, job.settings.engine) {
        (Some(path), EngineKind::Deepdream) => Some(load_rgb8(path).map_err(RenderError::Picture)?),
        _ => None,
    };

    progress(Progress::Reading {
        path: job.source.path(),
    });
    let audio = source::load_audio(&job.source)?;
    for warning in &audio.warnings {
        progress(Progress::Warning(warning.clone()));
    }
    let span = span_of(job.start_s, job.duration_s, fps, audio.duration_s())?;
    let analysed = source::analyse(&audio, &job.settings, job.harmony, &mut |done, total| {
        progress(Progress::Analysing {
            done_samples: done,
            total_samples: total,
        })
    })?;
    let wav = PendingFile::new(&job.video.with_extension("audio.wav"))?;
    source::write_span_wav(&audio, job.start_s, span.duration_s, wav.temp_path())?;
    let origin_s = audio.origin_s;
    drop(audio);

    let preference = DevicePreference::resolve(job.device)?;
    crate::models::subnormals::flush_subnormals_on_model_threads();
    let prepared = Prepared {
        job,
        fps,
        analysed,
        span,
        device: ComputeDevice::select(preference)?,
        ffmpeg,
        wav_path: wav.temp_path().to_owned(),
    };
    let device = prepared.device.to_string();
    let (size_px, video) = match job.settings.engine {
        EngineKind::Biggan => render_biggan(prepared, progress, cancel)?,
        EngineKind::Deepdream => render_deepdream(prepared, base_picture, progress, cancel)?,
    };
    drop(wav);
    Ok(RenderSummary {
        video,
        num_frames: span.num_frames,
        duration_s: span.duration_s,
        fps,
        size_px,
        start_transport_s: origin_s + job.start_s,
        device,
    })
}

/// Where the latents come from: the Director (recorded into the vectors files) or a previous
/// render's vectors.
enum Latents {
    /// Fresh latents, recorded beside the video.
    Directed(Box<Recorded<DirectedLatents>>),
    /// Read back from a previous render.
    Previous(PreviousLatents),
}

impl LatentSource for Latents {
    fn next_latents(&mut self) -> Result<Option<FrameLatents>, EngineError> {
        match self {
            Latents::Directed(source) => source.next_latents(),
            Latents::Previous(source) => source.next_latents(),
        }
    }
}

/// The BigGAN-deep music video; returns the frame size and the video's path.
fn render_biggan(
    mut prepared: Prepared<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
    cancel: &AtomicBool,
) -> Result<((u32, u32), PathBuf), RenderError> {
    let job = prepared.job;
    let files = VectorFiles::beside(&job.video);
    let mut settings = job.settings.clone();
    if job.use_previous_classes && settings.classes.is_none() {
        let meta = VectorsMeta::read(&files.meta).map_err(|err| {
            RenderError::invalid(
                "use_previous_classes",
                None,
                format!(
                    "it reuses the classes of the last render to {}, but its vectors file could \
                     not be read ({err}): render once without it",
                    job.video.display()
                ),
            )
        })?;
        settings.classes = Some(meta.classes);
    }
    let model = models::load_biggan(
        job,
        job.models.weights.as_deref(),
        &prepared.device,
        progress,
    )?;
    let director_settings = biggan_settings(&settings, prepared.fps, &model);
    let latents = if job.use_previous_vectors {
        let (previous, _) = PreviousLatents::open(
            &files,
            director_settings.z_dim,
            director_settings.class_dim,
            (prepared.fps.num, prepared.fps.den),
            job.start_s,
            prepared.span.num_frames,
        )
        .map_err(|err| RenderError::invalid("use_previous_vectors", None, err.to_string()))?;
        Latents::Previous(previous)
    } else {
        let director = prepared.director(&director_settings)?;
        let meta = VectorsMeta {
            fps_num: prepared.fps.num,
            fps_den: prepared.fps.den,
            start_s: job.start_s,
            num_frames: 0,
            z_dim: director_settings.z_dim,
            class_dim: director_settings.class_dim,
            truncation: settings.biggan.truncation,
            seed: settings.seed,
            classes: director.classes().to_vec(),
            song: job.source.path().display().to_string(),
        };
        // The source's features move into the frame inputs; nothing after this reads them.
        let samples = std::mem::take(&mut prepared.analysed.samples);
        let inputs = prepared.frame_inputs(samples);
        let source = DirectedLatents::new(director, inputs, prepared.span.num_vector_frames);
        let recorder = VectorsRecorder::create(&files, meta)?;
        Latents::Directed(Box::new(Recorded::new(source, recorder)))
    };
    let mut frames = BigGanFrames::new(
        &model,
        latents,
        settings.biggan.truncation,
        prepared.span.num_frames,
    );
    let out = encode(
        &prepared,
        &mut frames,
        job.batch_size.max(1),
        progress,
        cancel,
    )?;
    if let Latents::Directed(recorded) = frames.into_source() {
        recorded.finish()?;
    }
    Ok(out)
}

/// The Director's settings for `settings` with `model`.
fn biggan_settings(settings: &VisualSettings, fps: FrameRate, model: &BigGan) -> BigGanSettings {
    BigGanSettings::from_visual(
        settings,
        fps.hz(),
        model.config().z_dim,
        model.config().num_classes,
    )
}

/// The DeepDream video: `picture` (or a BigGAN-deep frame) dreamed as deep as the kick says.
fn render_deepdream(
    mut prepared: Prepared<'_>,
    picture: Option<RgbImage>,
    progress: &mut dyn FnMut(Progress<'_>),
    cancel: &AtomicBool,
) -> Result<((u32, u32), PathBuf), RenderError> {
    let job = prepared.job;
    let base = match picture {
        Some(picture) => {
            let side = match job.settings.dream.picture_size {
                PictureSize::Resolution => Some(job.settings.resolution_px),
                PictureSize::Own => None,
            };
            fit_picture(picture, side)
        }
        None => biggan_base_picture(&prepared, progress)?,
    };
    let model = models::load_googlenet(job, &prepared.device, progress)?;
    let (dream_settings, engine_settings) = dream_settings(&job.settings);
    let dreamer = Dreamer::new(model, dream_settings)?;
    let size = base.dimensions();
    let engine = DreamEngine::new(dreamer, &base, engine_settings);
    let samples = std::mem::take(&mut prepared.analysed.samples);
    let inputs = prepared.frame_inputs(samples);
    let mut frames = DreamFrames::new(engine, inputs, prepared.span.num_frames, size);
    encode(&prepared, &mut frames, 1, progress, cancel)
}

/// The first frame the BigGAN-deep render of the same settings would draw: DeepDream's base when
/// no picture is given.
fn biggan_base_picture(
    prepared: &Prepared<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<RgbImage, RenderError> {
    let job = prepared.job;
    let model = models::load_biggan(
        job,
        job.models.biggan_weights.as_deref(),
        &prepared.device,
        progress,
    )?;
    let settings = biggan_settings(&job.settings, prepared.fps, &model);
    let director = prepared.director(&settings)?;
    let inputs = prepared.frame_inputs(prepared.analysed.samples.clone());
    let latents = DirectedLatents::new(director, inputs, 1);
    let mut frames = BigGanFrames::new(&model, latents, job.settings.biggan.truncation, 1);
    let mut drawn = Vec::with_capacity(1);
    frames.next_frames(1, &mut drawn)?;
    let (width, height) = frames.frame_size_px();
    drawn
        .pop()
        .and_then(|rgb| RgbImage::from_raw(width, height, rgb))
        .ok_or_else(|| {
            RenderError::Engine(EngineError::Model(BigGanError::BadInput(
                "BigGAN-deep drew no frame of its size".to_owned(),
            )))
        })
}

/// `picture` scaled so its longer side is `side` (when given), with even sides as H.264's 4:2:0
/// needs (the odd last row or column is cropped).
pub fn fit_picture(picture: RgbImage, side: Option<u32>) -> RgbImage {
    let picture = match side {
        Some(side) => {
            let (w, h) = picture.dimensions();
            let scale = f64::from(side) / f64::from(w.max(h));
            let (w, h) = (
                ((f64::from(w) * scale).round() as u32).max(2),
                ((f64::from(h) * scale).round() as u32).max(2),
            );
            image::imageops::resize(&picture, w, h, image::imageops::FilterType::Lanczos3)
        }
        None => picture,
    };
    let (w, h) = picture.dimensions();
    let (even_w, even_h) = ((w & !1).max(2), (h & !1).max(2));
    if (even_w, even_h) == (w, h) {
        picture
    } else {
        image::imageops::crop_imm(&picture, 0, 0, even_w.min(w), even_h.min(h)).to_image()
    }
}

/// Streams every frame of `frames` to the encoder (and the frames folder), `batch_size` at a
/// time; returns the frame size and the finished video's path.
fn encode(
    prepared: &Prepared<'_>,
    frames: &mut dyn FrameSource,
    batch_size: usize,
    progress: &mut dyn FnMut(Progress<'_>),
    cancel: &AtomicBool,
) -> Result<((u32, u32), PathBuf), RenderError> {
    let job = prepared.job;
    let (width, height) = frames.frame_size_px();
    let mut spec = VideoSpec::new(width, height, prepared.fps.num, prepared.fps.den);
    spec.audio_wav = Some(prepared.wav_path.clone());
    let mut encoder = VideoEncoder::start(&prepared.ffmpeg, &job.video, &spec)?;
    if let Some(dir) = &job.frames_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| ExportError::io("creating the frames folder", dir, e))?;
    }
    let device = prepared.device.to_string();
    let total = prepared.span.num_frames;
    let mut batch = Vec::with_capacity(batch_size);
    let mut frame_idx = 0u64;
    progress(Progress::Frames {
        done: 0,
        total,
        device: &device,
    });
    loop {
        // Relaxed: a flag polled between batches; no data is published through it.
        if cancel.load(Ordering::Relaxed) {
            return Err(RenderError::Cancelled);
        }
        batch.clear();
        if frames.next_frames(batch_size, &mut batch)? == 0 {
            break;
        }
        for rgb in batch.drain(..) {
            if let Some(dir) = &job.frames_dir {
                write_png(
                    &dir.join(format!("frame_{frame_idx:06}.png")),
                    &rgb,
                    width,
                    height,
                )?;
            }
            encoder.push_frame(rgb)?;
            frame_idx += 1;
        }
        progress(Progress::Frames {
            done: frame_idx,
            total,
            device: &device,
        });
    }
    if frame_idx != total {
        return Err(RenderError::Engine(EngineError::VectorsMismatch {
            path: job.video.display().to_string(),
            reason: format!("the engine ran out after {frame_idx} of {total} frames"),
        }));
    }
    progress(Progress::Finishing);
    let out = encoder.finish()?;
    Ok(((width, height), out))
}
