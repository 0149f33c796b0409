//! `deep-visualizer render --song SONG`: a song becomes a BigGAN (or DeepDream) music video.
//!
//! The seed's command line (`deep_visualizer.py`), with its flag names and defaults, plus
//! `--fps`, `--seed`, `--start`, `--weights`, `--out`, `--live`, `--frames-dir`, `--device` and
//! `--quiet`; `--engine deepdream` with `--image` and the DeepDream flags dreams a picture as
//! deep as the kick (the DeepDream seed), through the same analysis and export.
//!
//! The pipeline: decode the song and analyse all of it (song normalisation, as the seed, unless
//! `--live`); write the rendered span's audio to a temporary WAV beside the output and let go of
//! the decoded song; then the Director steps through the frames from `--start` to the song's
//! end, the model draws them `--batch_size` at a time, and each batch goes straight to ffmpeg
//! (and to `--frames-dir`), so no frame outlives its batch. The vectors files beside the video
//! cover the song from `--start` to its end, like the seed's, so a longer render can reuse them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::error::ErrorKind;
use deep_visualizer::analysis::decode::{decode_file, Decoder};
use deep_visualizer::analysis::offline::{
    analyze_channels, estimate_song_tuning_cents, Normalisation,
};
use deep_visualizer::analysis::AnalyzerConfig;
use deep_visualizer::director::input::{mean_chroma, FeatureSample, FrameInputs};
use deep_visualizer::director::FrameLatents;
use deep_visualizer::director::{BigGanDirector, BigGanSettings, DirectorError, HarmonyMode};
use deep_visualizer::dream::picture::load_rgb8;
use deep_visualizer::dream::{DreamEngine, DreamSettings, Dreamer, EngineSettings, FlowSettings};
use deep_visualizer::engine::biggan::{
    BigGanFrames, DirectedLatents, LatentSource, PreviousLatents, Recorded, VectorFiles,
    VectorsMeta, VectorsRecorder,
};
use deep_visualizer::engine::deepdream::DreamFrames;
use deep_visualizer::engine::{EngineError, FrameSource};
use deep_visualizer::export::png::write_png;
use deep_visualizer::export::wav::WavWriter;
use deep_visualizer::export::{find_ffmpeg, Ffmpeg, PendingFile, VideoEncoder, VideoSpec};
use deep_visualizer::models::biggan::exec::ExecOptions;
use deep_visualizer::models::biggan::BigGan;
use deep_visualizer::models::device::{ComputeBackend, ComputeDevice, DevicePreference};
use deep_visualizer::models::inception::{InceptionV1, Layer, Preprocess};
use deep_visualizer::params::DreamMode;
use deep_visualizer::weights;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

use super::dream::installed_googlenet;

/// Arguments of `render`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The audio file to visualise: wav, mp3, flac, ogg, m4a/aac (others through ffmpeg).
    #[arg(long)]
    pub song: PathBuf,

    /// Which engine draws: biggan (the seed's music video) or deepdream (each kick makes the
    /// picture dream deeper).
    #[arg(long, value_enum, default_value_t = EngineArg::Biggan)]
    pub engine: EngineArg,

    /// Image size in pixels: 128, 256 or 512 (each is its own BigGAN-deep model); with
    /// --engine deepdream and --image, the longer side the picture is scaled to [default: 128;
    /// DeepDream: the picture's own size].
    #[arg(long, value_parser = parse_resolution)]
    pub resolution: Option<u32>,

    /// Seconds of the song to render, from --start [default: to the end of the song].
    #[arg(long, value_parser = parse_positive_f64)]
    pub duration: Option<f64>,

    /// How slowly the classes follow the harmony: lower reacts faster (seed: > 2, 5–200
    /// recommended).
    #[arg(
        long = "pitch_sensitivity",
        visible_alias = "pitch-sensitivity",
        default_value_t = 50.0,
        value_parser = parse_positive_f32
    )]
    pub pitch_sensitivity: f32,

    /// How far loudness and its rise move the noise vector: higher moves more (0.05–0.3
    /// recommended).
    #[arg(
        long = "tempo_sensitivity",
        visible_alias = "tempo-sensitivity",
        default_value_t = 0.2,
        value_parser = parse_non_negative_f32
    )]
    pub tempo_sensitivity: f32,

    /// Largest class-vector value: near 1 gives thematically rich pictures, near 0 more
    /// "deep" structures (0.01–1).
    #[arg(long, default_value_t = 1.0, value_parser = parse_depth)]
    pub depth: f32,

    /// ImageNet class indices (0–999), one per pitch class C, C#, …, B: 12 of them, or
    /// --num_classes [default: 12 drawn at random from --seed].
    #[arg(long, num_args = 1.., value_parser = clap::value_parser!(u16).range(0..1000))]
    pub classes: Option<Vec<u16>>,

    /// How many pitch classes (and so classes) to use: the strongest over the song are kept.
    #[arg(
        long = "num_classes",
        visible_alias = "num-classes",
        default_value_t = 12,
        value_parser = clap::value_parser!(u8).range(1..=12)
    )]
    pub num_classes: u8,

    /// 1: give the strongest pitches the --classes in the order listed (priority order).
    #[arg(
        long = "sort_classes_by_power",
        visible_alias = "sort-classes-by-power",
        default_value = "0",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_flag
    )]
    pub sort_classes_by_power: bool,

    /// How much half of the noise units (redrawn every 100 seed frames) are slowed down, so
    /// repeated music does not repeat the pictures (0–1).
    #[arg(long, default_value_t = 0.5, value_parser = parse_unit_f32)]
    pub jitter: f32,

    /// Audio samples (at 22.05 kHz) per video frame, a multiple of 64: sets the frame rate
    /// 22050/frame_length unless --fps is given [default: 512, i.e. 43.07 fps; DeepDream: 30 fps
    /// as its seed, unless given].
    #[arg(
        long = "frame_length",
        visible_alias = "frame-length",
        value_parser = parse_frame_length
    )]
    pub frame_length: Option<u32>,

    /// BigGAN truncation: near 1 gives varied pictures, near 0 typical ones (0.02–1).
    #[arg(long, default_value_t = 1.0, value_parser = parse_truncation)]
    pub truncation: f64,

    /// Class-vector smoothing in seed frames (at 43.07 fps): longer is calmer.
    #[arg(
        long = "smooth_factor",
        visible_alias = "smooth-factor",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub smooth_factor: u32,

    /// Frames the model draws at once.
    #[arg(
        long = "batch_size",
        visible_alias = "batch-size",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=1024)
    )]
    pub batch_size: u32,

    /// 1: reuse the classes of the previous render to --out (its `.vectors.json`).
    #[arg(
        long = "use_previous_classes",
        visible_alias = "use-previous-classes",
        default_value = "0",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_flag
    )]
    pub use_previous_classes: bool,

    /// 1: reuse the noise and class vectors of the previous render to --out (the
    /// `.noise_vectors.npy` and `.class_vectors.npy` files written beside it).
    #[arg(
        long = "use_previous_vectors",
        visible_alias = "use-previous-vectors",
        default_value = "0",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_flag
    )]
    pub use_previous_vectors: bool,

    /// Video frame rate, e.g. 30, 29.97 or 30000/1001 [default: 22050/frame_length].
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<FrameRate>,

    /// Seed of every random choice (classes, noise, jitter): the same seed gives the same video.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Where in the song to start, in seconds.
    #[arg(long, default_value_t = 0.0, value_parser = parse_non_negative_f64)]
    pub start: f64,

    /// The engine's weights. BigGAN-deep: a folder with config.json and pytorch_model.bin (or a
    /// converted model) [default: the installed biggan-deep-RESOLUTION, see `deep-visualizer
    /// weights`]. DeepDream: the GoogLeNet checkpoint [default: the installed googlenet].
    #[arg(long)]
    pub weights: Option<PathBuf>,

    /// DeepDream's base picture, PNG or JPEG [default: the BigGAN-deep frame of the song's first
    /// moment, drawn with --biggan_weights and the BigGAN flags].
    #[arg(long)]
    pub image: Option<PathBuf>,

    /// BigGAN-deep weights for DeepDream's base picture when no --image is given [default: the
    /// installed biggan-deep-RESOLUTION].
    #[arg(long = "biggan_weights", visible_alias = "biggan-weights")]
    pub biggan_weights: Option<PathBuf>,

    /// DeepDream's settings (used with --engine deepdream).
    #[command(flatten)]
    pub dream: DreamFlags,

    /// The video to write (H.264 MP4 with the song's audio as AAC).
    #[arg(
        long,
        visible_alias = "output_file",
        short = 'o',
        default_value = "output.mp4"
    )]
    pub out: PathBuf,

    /// Normalise loudness causally and rank pitches by their running mean, as the plugin does
    /// live, instead of over the whole song.
    #[arg(long)]
    pub live: bool,

    /// Also write every frame as a PNG into this folder.
    #[arg(long = "frames-dir", visible_alias = "frames_dir")]
    pub frames_dir: Option<PathBuf>,

    /// Where the model runs: auto (the GPU through wgpu when there is one), cpu or gpu
    /// [default: $DEEP_VISUALIZER_DEVICE, else auto].
    #[arg(long)]
    pub device: Option<DevicePreference>,

    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--engine` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineArg {
    /// BigGAN-deep: harmony picks the classes, loudness moves the noise (the seed).
    Biggan,
    /// DeepDream (GoogLeNet): the kick sets how deep the picture dreams.
    Deepdream,
}

/// `--dream_mode` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DreamModeArg {
    /// The seed's: the base dreamed once per depth, each frame shows its kick's depth.
    Static,
    /// Each frame dreams on the previous one, zoomed and rotated: the picture travels.
    Flowing,
}

/// DeepDream's flags, named as the plugin's parameters; defaults are the seed's.
#[derive(clap::Args, Debug, Clone)]
pub struct DreamFlags {
    /// The GoogLeNet layer whose activations are amplified (conv1 … inception5b).
    #[arg(long, default_value = "inception4c", value_parser = super::dream::parse_layer)]
    pub layer: Layer,
    /// Number of scales, each --octave_scale times smaller than the next.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub octaves: u32,
    /// Size ratio between octaves (1.05–3).
    #[arg(
        long = "octave_scale",
        visible_alias = "octave-scale",
        default_value_t = 1.4,
        value_parser = parse_octave_scale
    )]
    pub octave_scale: f32,
    /// Gradient steps per octave at a full kick (the seed's expG range 1–20).
    #[arg(
        long = "max_depth",
        visible_alias = "max-depth",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..=200)
    )]
    pub max_depth: u32,
    /// Step length per iteration in pixel units (pixels span 0..1; the seed's 3/255).
    #[arg(
        long = "step_size",
        visible_alias = "step-size",
        default_value_t = 3.0 / 255.0,
        value_parser = parse_positive_f32
    )]
    pub step_size: f32,
    /// How much of the depth survives each frame without a stronger kick (0–1).
    #[arg(
        long = "kick_decay",
        visible_alias = "kick-decay",
        default_value_t = 0.93,
        value_parser = parse_unit_f32
    )]
    pub kick_decay: f32,
    /// Static (the seed's) or flowing.
    #[arg(
        long = "dream_mode",
        visible_alias = "dream-mode",
        value_enum,
        default_value_t = DreamModeArg::Static
    )]
    pub dream_mode: DreamModeArg,
    /// Flowing mode: zoom per frame about the centre (1 = none, 1.02 = 2 % closer per frame).
    #[arg(long, default_value_t = 1.02, value_parser = parse_zoom)]
    pub zoom: f32,
    /// Flowing mode: rotation per frame in degrees, counter-clockwise.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = parse_rotation)]
    pub rotation: f32,
}

impl DreamFlags {
    /// The dream and engine settings these flags describe.
    fn settings(&self, seed: u64) -> (DreamSettings, EngineSettings) {
        let dream = DreamSettings {
            layer: self.layer,
            num_octaves: self.octaves as usize,
            octave_scale: self.octave_scale,
            step_size: self.step_size,
            ..DreamSettings::default()
        };
        let engine = EngineSettings {
            mode: match self.dream_mode {
                DreamModeArg::Static => DreamMode::Static,
                DreamModeArg::Flowing => DreamMode::Flowing,
            },
            flow: FlowSettings {
                zoom_per_frame: self.zoom,
                rotation_deg_per_frame: self.rotation,
            },
            kick_decay: self.kick_decay,
            max_depth: self.max_depth,
            seed,
        };
        (dream, engine)
    }
}

/// A frame rate as an exact ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRate {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl FrameRate {
    /// Frames per second.
    pub fn hz(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `30`, `29.97` (up to 3 decimals) or `30000/1001`, between 1 and 240 fps.
fn parse_fps(s: &str) -> Result<FrameRate, String> {
    let bad = || format!("`{s}` is not a frame rate: use e.g. 30, 29.97 or 30000/1001");
    let (num, den): (u64, u64) = if let Some((n, d)) = s.split_once('/') {
        (
            n.trim().parse().map_err(|_| bad())?,
            d.trim().parse().map_err(|_| bad())?,
        )
    } else if let Some((whole, frac)) = s.split_once('.') {
        if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let den = 10u64.pow(frac.len() as u32);
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let frac: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        (whole * den + frac, den)
    } else {
        (s.trim().parse().map_err(|_| bad())?, 1)
    };
    if den == 0 {
        return Err(bad());
    }
    let hz = num as f64 / den as f64;
    if !(1.0..=240.0).contains(&hz) {
        return Err(format!("{hz} fps is outside 1–240"));
    }
    let g = gcd(num, den);
    Ok(FrameRate {
        num: u32::try_from(num / g).map_err(|_| bad())?,
        den: u32::try_from(den / g).map_err(|_| bad())?,
    })
}

fn parse_resolution(s: &str) -> Result<u32, String> {
    match s {
        "128" | "256" | "512" => Ok(s.parse().unwrap_or(128)),
        _ => Err(format!(
            "{s} is not a BigGAN-deep size: use 128, 256 or 512"
        )),
    }
}

fn parse_frame_length(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if n == 0 || !n.is_multiple_of(64) {
        return Err(format!(
            "{n} is not a positive multiple of 64 (e.g. 256, 512, 1024)"
        ));
    }
    Ok(n)
}

fn parse_flag(s: &str) -> Result<bool, String> {
    match s {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("`{s}` is not 0 or 1")),
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{s} is not a finite number"))
    }
}

fn parse_positive_f64(s: &str) -> Result<f64, String> {
    let v = parse_f64(s)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not above 0"))
    }
}

fn parse_non_negative_f64(s: &str) -> Result<f64, String> {
    let v = parse_f64(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is negative"))
    }
}

fn parse_positive_f32(s: &str) -> Result<f32, String> {
    parse_positive_f64(s).map(|v| v as f32)
}

fn parse_non_negative_f32(s: &str) -> Result<f32, String> {
    parse_non_negative_f64(s).map(|v| v as f32)
}

fn parse_unit_f32(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(format!("{v} is outside 0–1"))
    }
}

fn parse_depth(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    if v > 0.0 && v <= 1.0 {
        Ok(v as f32)
    } else {
        Err(format!("{v} is outside 0–1 (0 excluded)"))
    }
}

fn parse_octave_scale(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    if (1.05..=3.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(format!("{v} is outside 1.05–3"))
    }
}

fn parse_zoom(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    if (0.5..=2.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(format!("{v} is outside 0.5–2"))
    }
}

fn parse_rotation(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    if (-45.0..=45.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(format!("{v} is outside -45–45 degrees per frame"))
    }
}

fn parse_truncation(s: &str) -> Result<f64, String> {
    let v = parse_f64(s)?;
    // BigGAN-deep keeps batch-norm statistics for truncations 0.02, 0.04, …, 1.
    if (0.02..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.02–1"))
    }
}

/// A flag error found after parsing (a combination of flags, or a flag against the song):
/// formatted like clap's own errors with `render`'s usage; `main` exits with status 2.
fn flag_error(message: impl std::fmt::Display) -> anyhow::Error {
    use clap::Args as _;
    let mut command =
        Args::augment_args(clap::Command::new("render")).bin_name("deep-visualizer render");
    command.error(ErrorKind::ValueValidation, message).into()
}

/// The analysed song, ready for the Director.
struct Analysed {
    /// Feature samples of the whole song.
    samples: Vec<FeatureSample>,
    /// Their rate per second.
    feature_hz: f64,
    /// Song length in seconds.
    song_s: f64,
}

/// Frames to render and to record.
struct Span {
    /// Frames in the video: round(duration × fps).
    num_frames: u64,
    /// Frames from --start to the song's end: the vectors files' length.
    num_vector_frames: u64,
    /// Seconds of audio in the video.
    duration_s: f64,
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

/// What both engines need: the analysed song, the span, the encoder's inputs, the device.
struct Job<'a> {
    /// The command line.
    args: &'a Args,
    /// The video frame rate.
    fps: FrameRate,
    /// The analysed song.
    analysed: Analysed,
    /// The frames to render.
    span: Span,
    /// Where the models run.
    device: ComputeDevice,
    /// The ffmpeg to encode with.
    ffmpeg: Ffmpeg,
    /// The rendered span's audio.
    wav_path: PathBuf,
}

/// Renders the video (see the module docs).
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let fps = frame_rate(&args);
    check_flags(&args)?;
    // Before any long work: the encoder, the output folder, the base picture.
    let ffmpeg = find_ffmpeg(None)?;
    PendingFile::new(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    let base_picture = match (&args.image, args.engine) {
        (Some(path), EngineArg::Deepdream) => Some(load_rgb8(path).context("--image")?),
        _ => None,
    };

    let wav = PendingFile::new(&args.out.with_extension("audio.wav"))?;
    let analysed = analyse_song(&args, fps, wav.temp_path())?;
    let span = span_of(&args, fps, analysed.song_s)?;
    let preference = DevicePreference::resolve(args.device)?;
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let job = Job {
        args: &args,
        fps,
        analysed,
        span,
        device: ComputeDevice::select(preference)?,
        ffmpeg,
        wav_path: wav.temp_path().to_owned(),
    };
    let (num_frames, duration_s) = (job.span.num_frames, job.span.duration_s);
    let ((width, height), out) = match args.engine {
        EngineArg::Biggan => render_biggan(job)?,
        EngineArg::Deepdream => render_deepdream(job, base_picture)?,
    };
    drop(wav);
    if !args.quiet {
        eprintln!(
            "wrote {} ({num_frames} frames, {duration_s:.2} s at {:.3} fps, {width}×{height}) in \
             {:.1} s",
            out.display(),
            fps.hz(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The frame rate: --fps, else 22050/--frame_length, else the engine's seed's rate.
fn frame_rate(args: &Args) -> FrameRate {
    match (args.fps, args.frame_length, args.engine) {
        (Some(fps), _, _) => fps,
        (None, Some(frame_length), _) => reduce(22050, frame_length),
        (None, None, EngineArg::Biggan) => reduce(22050, DEFAULT_FRAME_LENGTH),
        // The DeepDream seed renders 30 frames per second.
        (None, None, EngineArg::Deepdream) => FrameRate { num: 30, den: 1 },
    }
}

/// The seed's --frame_length.
const DEFAULT_FRAME_LENGTH: u32 = 512;

/// The seed's --resolution.
const DEFAULT_RESOLUTION: u32 = 128;

/// Loads BigGAN-deep from `weights` (else the installed model of --resolution) and checks its
/// size against an explicit --resolution.
fn load_biggan(
    args: &Args,
    weights: Option<&Path>,
    device: &ComputeDevice,
) -> anyhow::Result<BigGan> {
    let resolution = args.resolution.unwrap_or(DEFAULT_RESOLUTION);
    let weights = match weights {
        Some(path) => path.to_owned(),
        None => default_biggan_weights(resolution)?,
    };
    let model = BigGan::load(&weights, device.device()).with_context(|| {
        format!(
            "loading the BigGAN-deep weights {} (give the folder with config.json and \
             pytorch_model.bin with --weights)",
            weights.display()
        )
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
    if args
        .resolution
        .is_some_and(|r| r as usize != model.resolution())
    {
        return Err(flag_error(format!(
            "invalid value '{resolution}' for '--resolution': the weights in {} draw {}×{} \
             images; pass --resolution {} or other --weights",
            weights.display(),
            model.resolution(),
            model.resolution(),
            model.resolution()
        )));
    }
    Ok(model)
}

/// The Director's settings from the flags, for `model`.
fn biggan_settings(
    args: &Args,
    fps: FrameRate,
    model: &BigGan,
    previous_classes: Option<Vec<u16>>,
) -> anyhow::Result<BigGanSettings> {
    let settings = BigGanSettings {
        tempo_sensitivity: args.tempo_sensitivity,
        pitch_sensitivity: args.pitch_sensitivity,
        depth: args.depth,
        jitter: args.jitter,
        truncation: args.truncation,
        num_classes: usize::from(args.num_classes),
        classes: args.classes.clone().or(previous_classes),
        sort_classes_by_power: args.sort_classes_by_power,
        smooth_factor: args.smooth_factor,
        seed: args.seed,
        fps: fps.hz(),
        z_dim: model.config().z_dim,
        class_dim: model.config().num_classes,
    };
    settings.validate().map_err(director_flag_error)?;
    Ok(settings)
}

/// A fresh Director over the song's features.
fn director(
    args: &Args,
    settings: &BigGanSettings,
    samples: &[FeatureSample],
) -> anyhow::Result<BigGanDirector> {
    let mode = if args.live {
        HarmonyMode::Live
    } else {
        HarmonyMode::Song {
            mean_chroma: mean_chroma(samples),
        }
    };
    BigGanDirector::new(settings, mode).map_err(director_flag_error)
}

/// The per-frame features of the rendered span.
fn frame_inputs(job: &Job, samples: Vec<FeatureSample>) -> FrameInputs {
    FrameInputs::new(
        samples,
        job.analysed.feature_hz,
        job.args.start,
        job.fps.num,
        job.fps.den,
        job.args.live,
    )
}

/// The BigGAN-deep music video; returns the frame size and the video's path.
fn render_biggan(mut job: Job) -> anyhow::Result<((u32, u32), PathBuf)> {
    let args = job.args;
    let files = VectorFiles::beside(&args.out);
    let previous_classes = if args.use_previous_classes && args.classes.is_none() {
        let meta = VectorsMeta::read(&files.meta).with_context(|| {
            format!(
                "--use_previous_classes reuses the classes of the last render to {}, but its \
                 vectors file could not be read: render once without it",
                args.out.display()
            )
        })?;
        Some(meta.classes)
    } else {
        None
    };
    let model = load_biggan(args, args.weights.as_deref(), &job.device)?;
    let settings = biggan_settings(args, job.fps, &model, previous_classes)?;
    let latents = if args.use_previous_vectors {
        let (previous, _) = PreviousLatents::open(
            &files,
            settings.z_dim,
            settings.class_dim,
            (job.fps.num, job.fps.den),
            args.start,
            job.span.num_frames,
        )
        .context("--use_previous_vectors")?;
        Latents::Previous(previous)
    } else {
        let director = director(args, &settings, &job.analysed.samples)?;
        let meta = VectorsMeta {
            fps_num: job.fps.num,
            fps_den: job.fps.den,
            start_s: args.start,
            num_frames: 0,
            z_dim: settings.z_dim,
            class_dim: settings.class_dim,
            truncation: args.truncation,
            seed: args.seed,
            classes: director.classes().to_vec(),
            song: args.song.display().to_string(),
        };
        // The song's features move into the frame inputs; nothing after this reads them.
        let samples = std::mem::take(&mut job.analysed.samples);
        let inputs = frame_inputs(&job, samples);
        let source = DirectedLatents::new(director, inputs, job.span.num_vector_frames);
        let recorder = VectorsRecorder::create(&files, meta)?;
        Latents::Directed(Box::new(Recorded::new(source, recorder)))
    };
    let mut frames = BigGanFrames::new(&model, latents, args.truncation, job.span.num_frames);
    let (size, out) = encode(&job, &mut frames, args.batch_size as usize)?;
    if let Latents::Directed(recorded) = frames.into_source() {
        recorded.finish().context("writing the vectors files")?;
    }
    Ok((size, out))
}

/// The DeepDream video: `picture` (or a BigGAN-deep frame) dreamed as deep as the kick says.
fn render_deepdream(
    mut job: Job,
    picture: Option<RgbImage>,
) -> anyhow::Result<((u32, u32), PathBuf)> {
    let args = job.args;
    let base = match picture {
        Some(picture) => fit_picture(picture, args.resolution),
        None => biggan_base_picture(&job)?,
    };
    let weights = match &args.weights {
        Some(path) => path.clone(),
        None => installed_googlenet()?,
    };
    let model = InceptionV1::load(&weights, Preprocess::Pretrained, job.device.device())
        .with_context(|| format!("loading the GoogLeNet weights {}", weights.display()))?;
    let (dream_settings, engine_settings) = args.dream.settings(args.seed);
    let dreamer = Dreamer::new(model, dream_settings)?;
    let size = base.dimensions();
    let engine = DreamEngine::new(dreamer, &base, engine_settings);
    let samples = std::mem::take(&mut job.analysed.samples);
    let inputs = frame_inputs(&job, samples);
    let mut frames = DreamFrames::new(engine, inputs, job.span.num_frames, size);
    encode(&job, &mut frames, 1)
}

/// The first frame the BigGAN-deep render of the same flags would draw: DeepDream's base when no
/// --image is given.
fn biggan_base_picture(job: &Job) -> anyhow::Result<RgbImage> {
    let args = job.args;
    let model = load_biggan(args, args.biggan_weights.as_deref(), &job.device)
        .context("DeepDream without --image dreams on a BigGAN-deep frame")?;
    let settings = biggan_settings(args, job.fps, &model, None)?;
    let director = director(args, &settings, &job.analysed.samples)?;
    let inputs = frame_inputs(job, job.analysed.samples.clone());
    let latents = DirectedLatents::new(director, inputs, 1);
    let mut frames = BigGanFrames::new(&model, latents, args.truncation, 1);
    let mut drawn = Vec::with_capacity(1);
    frames.next_frames(1, &mut drawn)?;
    let (width, height) = frames.frame_size_px();
    let rgb = drawn.pop().context("BigGAN-deep drew no frame")?;
    RgbImage::from_raw(width, height, rgb).context("BigGAN-deep drew a frame of the wrong size")
}

/// `picture` scaled so its longer side is `resolution` (when given), with even sides as
/// H.264's 4:2:0 needs (the odd last row or column is cropped).
fn fit_picture(picture: RgbImage, resolution: Option<u32>) -> RgbImage {
    let picture = match resolution {
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

/// Streams every frame of `frames` to the encoder (and --frames-dir), `batch_size` at a time;
/// returns the frame size and the finished video's path.
fn encode(
    job: &Job,
    frames: &mut dyn FrameSource,
    batch_size: usize,
) -> anyhow::Result<((u32, u32), PathBuf)> {
    let args = job.args;
    let (width, height) = frames.frame_size_px();
    let mut spec = VideoSpec::new(width, height, job.fps.num, job.fps.den);
    spec.audio_wav = Some(job.wav_path.clone());
    let mut encoder = VideoEncoder::start(&job.ffmpeg, &args.out, &spec)?;
    if let Some(dir) = &args.frames_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating --frames-dir {}", dir.display()))?;
    }
    let bar = progress_bar(args.quiet, job.span.num_frames, &format!("{}", job.device));
    let mut batch = Vec::with_capacity(batch_size);
    let mut frame_idx = 0u64;
    loop {
        batch.clear();
        if frames.next_frames(batch_size, &mut batch)? == 0 {
            break;
        }
        for rgb in batch.drain(..) {
            if let Some(dir) = &args.frames_dir {
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
        bar.set_position(frame_idx);
    }
    anyhow::ensure!(
        frame_idx == job.span.num_frames,
        "the engine ran out after {frame_idx} of {} frames",
        job.span.num_frames
    );
    bar.set_message("finishing the video");
    let out = encoder.finish()?;
    bar.finish_and_clear();
    Ok(((width, height), out))
}

/// Checks that need no file: the class list against --num_classes, flags of the other engine.
fn check_flags(args: &Args) -> anyhow::Result<()> {
    if args.engine == EngineArg::Biggan {
        if args.image.is_some() {
            return Err(flag_error(
                "invalid value for '--image': a base picture is for --engine deepdream",
            ));
        }
        if args.biggan_weights.is_some() {
            return Err(flag_error(
                "invalid value for '--biggan_weights': they draw DeepDream's base picture; with                  --engine biggan give the weights with --weights",
            ));
        }
    }
    if let Some(classes) = &args.classes {
        let n = usize::from(args.num_classes);
        if classes.len() != 12 && classes.len() != n {
            return Err(flag_error(format!(
                "invalid value for '--classes': {} classes given; give 12 (one per pitch class) \
                 or --num_classes ({n}) of them",
                classes.len()
            )));
        }
    }
    Ok(())
}

/// Decodes and analyses the whole song, writes the rendered span's audio to `wav_path`, and
/// drops the decoded audio.
fn analyse_song(args: &Args, fps: FrameRate, wav_path: &Path) -> anyhow::Result<Analysed> {
    let spinner = spinner(args.quiet, format!("decoding {}", args.song.display()));
    let audio = decode_file(&args.song)?;
    if audio.num_corrupt_packets > 0 {
        spinner.suspend(|| {
            eprintln!(
                "warning: skipped {} damaged packets in {}",
                audio.num_corrupt_packets,
                args.song.display()
            )
        });
    }
    if audio.decoder == Decoder::Ffmpeg && !args.quiet {
        spinner.suspend(|| eprintln!("decoded {} with the system ffmpeg", args.song.display()));
    }
    let song_s = audio.duration_s();
    let span = span_of(args, fps, song_s)?;

    spinner.set_message(format!("analysing {}", args.song.display()));
    let mut config = AnalyzerConfig::new(audio.sample_rate_hz as f32);
    // As `deep-visualizer features`: the song's own tuning in song mode, A440 live.
    if !args.live {
        config.tuning_cents = estimate_song_tuning_cents(&audio.channels, config.sample_rate_hz);
    }
    let analysis = analyze_channels(&audio.channels, &config, 512, |_, _| {})
        .with_context(|| format!("analysing {}", args.song.display()))?;
    let mode = if args.live {
        Normalisation::Live
    } else {
        Normalisation::Song
    };
    let samples = analysis
        .rows(mode)
        .iter()
        .map(|row| FeatureSample {
            time_s: row.time_s,
            kick: row.kick,
            power: row.power,
            power_rise: row.power_rise,
            chroma: row.chroma,
        })
        .collect();

    // The video's audio: exactly the rendered span, interleaved.
    let rate = f64::from(audio.sample_rate_hz);
    let first = ((args.start * rate).round() as usize).min(audio.num_frames());
    let last = (((args.start + span.duration_s) * rate).round() as usize).min(audio.num_frames());
    let num_channels = audio.channels.len().max(1);
    let mut wav = WavWriter::create(wav_path, audio.sample_rate_hz, num_channels as u16)?;
    let mut interleaved = Vec::with_capacity(64 * 1024);
    for chunk_start in (first..last).step_by(8192) {
        interleaved.clear();
        for i in chunk_start..(chunk_start + 8192).min(last) {
            interleaved.extend(audio.channels.iter().map(|c| c[i]));
        }
        wav.write(&interleaved)?;
    }
    wav.finish()?;
    spinner.finish_and_clear();
    Ok(Analysed {
        samples,
        feature_hz: config.feature_rate_hz,
        song_s,
    })
}

/// The frames of the render and of the vectors files, checking --start and --duration against
/// the song.
fn span_of(args: &Args, fps: FrameRate, song_s: f64) -> anyhow::Result<Span> {
    if args.start >= song_s {
        return Err(flag_error(format!(
            "invalid value '{}' for '--start': the song lasts {song_s:.2} s",
            args.start
        )));
    }
    let remaining_s = song_s - args.start;
    let frame_s = 1.0 / fps.hz();
    let duration_s = match args.duration {
        // Half a frame of slack: `--duration 30` on a song of 29.99 s is what the user means.
        Some(d) if d > remaining_s + 0.5 * frame_s => {
            return Err(flag_error(format!(
                "invalid value '{d}' for '--duration': the song has {remaining_s:.2} s from \
                 --start {}",
                args.start
            )))
        }
        Some(d) => d.min(remaining_s),
        None => remaining_s,
    };
    let num_frames = (duration_s * fps.hz()).round() as u64;
    if num_frames == 0 {
        return Err(flag_error(format!(
            "invalid value '{duration_s}' for '--duration': shorter than one frame at {:.3} fps",
            fps.hz()
        )));
    }
    Ok(Span {
        num_frames,
        num_vector_frames: ((remaining_s * fps.hz()).round() as u64).max(num_frames),
        duration_s,
    })
}

/// The installed `biggan-deep-RESOLUTION` (see `deep-visualizer weights`).
fn default_biggan_weights(resolution: u32) -> anyhow::Result<PathBuf> {
    weights::locate_model_dir(&format!("biggan-deep-{resolution}")).with_context(|| {
        format!(
            "no --weights given and BigGAN-deep {resolution} is not installed; run              `deep-visualizer weights download biggan-deep-{resolution}` or pass --weights DIR"
        )
    })
}

/// A Director setting error as a flag error (the settings carry the flags' names).
fn director_flag_error(err: DirectorError) -> anyhow::Error {
    match &err {
        DirectorError::OutOfRange { name, value, .. } => {
            flag_error(format!("invalid value '{value}' for '--{name}': {err}"))
        }
        DirectorError::ClassCount { .. } | DirectorError::ClassIndex { .. } => {
            flag_error(format!("invalid value for '--classes': {err}"))
        }
    }
}

fn reduce(num: u32, den: u32) -> FrameRate {
    let g = gcd(u64::from(num), u64::from(den)).max(1) as u32;
    FrameRate {
        num: num / g,
        den: den / g,
    }
}

fn spinner(quiet: bool, message: String) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner().with_message(message);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

fn progress_bar(quiet: bool, num_frames: u64, device: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(num_frames).with_message(format!("rendering on {device}"));
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} frames ({per_sec}) ETA {eta} ")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
