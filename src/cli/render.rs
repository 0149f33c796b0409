//! `deep-visualizer render --song SONG` (or `--take DIR`): a song or a recorded take becomes a
//! BigGAN (or DeepDream) music video.
//!
//! The seed's command line (`deep_visualizer.py`), with its flag names and defaults, plus
//! `--fps`, `--seed`, `--start`, `--weights`, `--out`, `--live`, `--frames-dir`, `--device`,
//! `--no-download` and `--quiet`; `--engine deepdream` with `--image` and the DeepDream flags
//! dreams a picture as deep as the kick (the DeepDream seed).
//!
//! This module only turns the flags into a [`RenderJob`] (the visual flags into
//! [`VisualSettings`]) and prints; the pipeline is [`deep_visualizer::render`]. Every visual flag
//! is optional: unset, it keeps the default (for a song) or what the take recorded (for a take),
//! so a take previewed live at 128 px renders at 512 with `--resolution 512` and nothing else
//! changes.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::error::ErrorKind;
use deep_visualizer::models::device::DevicePreference;
use deep_visualizer::models::inception::Layer;
use deep_visualizer::render::{
    render, Harmony, ModelPaths, Progress, RenderError, RenderJob, RenderSource,
};
use deep_visualizer::settings::{
    ranges, DreamMode, EngineKind, FrameRate, PictureSize, Range, VisualSettings,
};
use deep_visualizer::take::TakeManifest;
use deep_visualizer::weights::DownloadPolicy;
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `render`.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["song", "take"])))]
pub struct Args {
    /// The audio file to visualise: wav, mp3, flac, ogg, m4a/aac (others through ffmpeg).
    #[arg(long)]
    pub song: Option<PathBuf>,

    /// A take the plugin recorded (a `NAME.take` folder, or a `NAME.take.partial` cut off while
    /// recording): rendered with the settings it recorded, which any visual flag overrides.
    #[arg(long)]
    pub take: Option<PathBuf>,

    /// Which engine draws: biggan (the seed's music video) or deepdream (each kick makes the
    /// picture dream deeper) [default: biggan].
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,

    /// Image size in pixels: 128, 256 or 512 (each is its own BigGAN-deep model); with
    /// --engine deepdream and --image, the longer side the picture is scaled to [default: 128;
    /// DeepDream with --image: the picture's own size].
    #[arg(long, value_parser = parse_resolution)]
    pub resolution: Option<u32>,

    /// Seconds to render, from --start [default: to the end].
    #[arg(long, value_parser = parse_positive_f64)]
    pub duration: Option<f64>,

    /// How slowly the classes follow the harmony: lower reacts faster (0.1–1000; seed: > 2,
    /// 5–200 recommended) [default: 50].
    #[arg(
        long = "pitch_sensitivity",
        visible_alias = "pitch-sensitivity",
        value_parser = f32_in(ranges::PITCH_SENSITIVITY)
    )]
    pub pitch_sensitivity: Option<f32>,

    /// How far loudness and its rise move the noise vector: higher moves more (0–10; 0.05–0.3
    /// recommended) [default: 0.2].
    #[arg(
        long = "tempo_sensitivity",
        visible_alias = "tempo-sensitivity",
        value_parser = f32_in(ranges::TEMPO_SENSITIVITY)
    )]
    pub tempo_sensitivity: Option<f32>,

    /// Largest class-vector value: near 1 gives thematically rich pictures, near 0 more
    /// "deep" structures (0.001–1) [default: 1].
    #[arg(long, value_parser = f32_in(ranges::DEPTH))]
    pub depth: Option<f32>,

    /// ImageNet class indices (0–999), one per pitch class C, C#, …, B: 12 of them, or
    /// --num_classes [default: 12 drawn at random from --seed].
    #[arg(long, num_args = 1.., value_parser = clap::value_parser!(u16).range(0..1000))]
    pub classes: Option<Vec<u16>>,

    /// How many pitch classes (and so classes) to use: the strongest over the song are kept
    /// [default: 12].
    #[arg(
        long = "num_classes",
        visible_alias = "num-classes",
        value_parser = clap::value_parser!(u8).range(1..=12)
    )]
    pub num_classes: Option<u8>,

    /// 1: give the strongest pitches the --classes in the order listed (priority order)
    /// [default: 0].
    #[arg(
        long = "sort_classes_by_power",
        visible_alias = "sort-classes-by-power",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_flag
    )]
    pub sort_classes_by_power: Option<bool>,

    /// How much half of the noise units (redrawn every 100 seed frames) are slowed down, so
    /// repeated music does not repeat the pictures (0–1) [default: 0.5].
    #[arg(long, value_parser = f32_in(ranges::JITTER))]
    pub jitter: Option<f32>,

    /// Audio samples (at 22.05 kHz) per video frame, a multiple of 64: sets the frame rate
    /// 22050/frame_length unless --fps is given [default: 512, i.e. 43.07 fps; DeepDream: 30 fps
    /// as its seed, unless given].
    #[arg(
        long = "frame_length",
        visible_alias = "frame-length",
        value_parser = parse_frame_length
    )]
    pub frame_length: Option<u32>,

    /// BigGAN truncation: near 1 gives varied pictures, near 0 typical ones (0.02–1)
    /// [default: 1].
    #[arg(long, value_parser = f64_in(ranges::TRUNCATION))]
    pub truncation: Option<f64>,

    /// Class-vector smoothing in seed frames (1/43.07 s, at any frame rate): longer is calmer
    /// (1–1000) [default: 10].
    #[arg(
        long = "smooth_factor",
        visible_alias = "smooth-factor",
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub smooth_factor: Option<u32>,

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
    #[arg(long, value_parser = FrameRate::parse)]
    pub fps: Option<FrameRate>,

    /// Seed of every random choice (classes, noise, jitter): the same seed gives the same video
    /// [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,

    /// Where to start, in seconds from the song's (or the take's) beginning.
    #[arg(long, default_value_t = 0.0, value_parser = parse_non_negative_f64)]
    pub start: f64,

    /// The engine's weights. BigGAN-deep: a folder with config.json and pytorch_model.bin (or a
    /// converted model) [default: the installed biggan-deep-RESOLUTION, downloaded on first use,
    /// see `deep-visualizer weights`]. DeepDream: the GoogLeNet checkpoint [default: the
    /// installed googlenet].
    #[arg(long)]
    pub weights: Option<PathBuf>,

    /// Never download a missing default model (also $DEEP_VISUALIZER_NO_DOWNLOAD=1); the error
    /// then says what to install.
    #[arg(long = "no-download", visible_alias = "no_download")]
    pub no_download: bool,

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

    /// The video to write (H.264 MP4 with the audio as AAC) [default: output.mp4; for a take,
    /// NAME.mp4 beside the take folder].
    #[arg(long, visible_alias = "output_file", short = 'o')]
    pub out: Option<PathBuf>,

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
    /// The GoogLeNet layer whose activations are amplified (conv1 … inception5b)
    /// [default: inception4c].
    #[arg(long, value_parser = super::dream::parse_layer)]
    pub layer: Option<Layer>,
    /// Number of scales, each --octave_scale times smaller than the next (1–8) [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub octaves: Option<u32>,
    /// Size ratio between octaves (1.05–3) [default: 1.4].
    #[arg(
        long = "octave_scale",
        visible_alias = "octave-scale",
        value_parser = f32_in(ranges::OCTAVE_SCALE)
    )]
    pub octave_scale: Option<f32>,
    /// Gradient steps per octave at a full kick (the seed's expG range 1–20; 1–200)
    /// [default: 20].
    #[arg(
        long = "max_depth",
        visible_alias = "max-depth",
        value_parser = clap::value_parser!(u32).range(1..=200)
    )]
    pub max_depth: Option<u32>,
    /// Step length per iteration in pixel units (pixels span 0..1; 0.0001–1) [default: the
    /// seed's 3/255].
    #[arg(
        long = "step_size",
        visible_alias = "step-size",
        value_parser = f32_in(ranges::STEP_SIZE)
    )]
    pub step_size: Option<f32>,
    /// How much of the depth survives each frame without a stronger kick (0–1) [default: 0.93].
    #[arg(
        long = "kick_decay",
        visible_alias = "kick-decay",
        value_parser = f32_in(ranges::KICK_DECAY)
    )]
    pub kick_decay: Option<f32>,
    /// Static (the seed's) or flowing [default: static].
    #[arg(long = "dream_mode", visible_alias = "dream-mode", value_enum)]
    pub dream_mode: Option<DreamModeArg>,
    /// Flowing mode: zoom per frame about the centre (1 = none, 1.02 = 2 % closer per frame;
    /// 0.5–2) [default: 1.02].
    #[arg(long, value_parser = f32_in(ranges::ZOOM))]
    pub zoom: Option<f32>,
    /// Flowing mode: rotation per frame in degrees, counter-clockwise (-45–45) [default: 0].
    #[arg(long, allow_negative_numbers = true, value_parser = f32_in(ranges::ROTATION_DEG))]
    pub rotation: Option<f32>,
}

/// Applies the visual flags that were given to `base` (the defaults, or a take's settings).
pub fn visual_settings(args: &Args, base: VisualSettings) -> VisualSettings {
    let mut s = base;
    if let Some(engine) = args.engine {
        s.engine = match engine {
            EngineArg::Biggan => EngineKind::Biggan,
            EngineArg::Deepdream => EngineKind::Deepdream,
        };
    }
    if let Some(resolution) = args.resolution {
        s.resolution_px = resolution;
        s.dream.picture_size = PictureSize::Resolution;
    } else if args.image.is_some() {
        // The DeepDream seed dreams the picture at its own size.
        s.dream.picture_size = PictureSize::Own;
    }
    match (args.fps, args.frame_length) {
        (Some(fps), _) => s.fps = Some(fps),
        (None, Some(frame_length)) => s.fps = Some(FrameRate::new(22050, frame_length)),
        (None, None) => {}
    }
    let b = &mut s.biggan;
    set(&mut b.pitch_sensitivity, args.pitch_sensitivity);
    set(&mut b.tempo_sensitivity, args.tempo_sensitivity);
    set(&mut b.depth, args.depth);
    set(&mut b.num_classes, args.num_classes);
    set(&mut b.sort_classes_by_power, args.sort_classes_by_power);
    set(&mut b.jitter, args.jitter);
    set(&mut b.truncation, args.truncation);
    set(&mut b.smooth_factor, args.smooth_factor);
    if args.classes.is_some() {
        s.classes = args.classes.clone();
    }
    set(&mut s.seed, args.seed);
    let (d, f) = (&mut s.dream, &args.dream);
    set(&mut d.layer, f.layer);
    set(&mut d.octaves, f.octaves);
    set(&mut d.octave_scale, f.octave_scale);
    set(&mut d.max_depth, f.max_depth);
    set(&mut d.step_size, f.step_size);
    set(&mut d.kick_decay, f.kick_decay);
    set(
        &mut d.mode,
        f.dream_mode.map(|m| match m {
            DreamModeArg::Static => DreamMode::Static,
            DreamModeArg::Flowing => DreamMode::Flowing,
        }),
    );
    set(&mut d.zoom, f.zoom);
    set(&mut d.rotation_deg, f.rotation);
    if args.image.is_some() {
        d.image = args.image.clone();
    }
    s
}

/// Overwrites `slot` with a flag that was given.
fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *slot = value;
    }
}

/// The render job the flags describe.
pub fn job(args: &Args) -> anyhow::Result<RenderJob> {
    let (source, base, default_out) = match (&args.song, &args.take) {
        (Some(song), _) => (
            RenderSource::Song(song.clone()),
            VisualSettings::default(),
            PathBuf::from("output.mp4"),
        ),
        (None, Some(take)) => {
            let manifest = TakeManifest::read(take)?;
            (
                RenderSource::Take(take.clone()),
                manifest.settings,
                deep_visualizer::take::video_path(take),
            )
        }
        (None, None) => return Err(flag_error("give --song FILE or --take DIR")),
    };
    let settings = visual_settings(args, base);
    let mut job = RenderJob::new(source, settings, args.out.clone().unwrap_or(default_out));
    job.start_s = args.start;
    job.duration_s = args.duration;
    job.harmony = if args.live {
        Harmony::Live
    } else {
        Harmony::Song
    };
    job.batch_size = args.batch_size as usize;
    job.models = ModelPaths {
        weights: args.weights.clone(),
        biggan_weights: args.biggan_weights.clone(),
        download: DownloadPolicy::from_env(args.no_download),
        resolution_from_weights: args.resolution.is_none(),
    };
    job.device = args.device;
    job.frames_dir = args.frames_dir.clone();
    job.use_previous_classes = args.use_previous_classes;
    job.use_previous_vectors = args.use_previous_vectors;
    Ok(job)
}

/// Renders the video (see the module docs).
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let job = job(&args)?;
    let ui = Ui::new(args.quiet);
    let cancel = AtomicBool::new(false);
    let summary = render(&job, &mut |event| ui.show(event), &cancel).map_err(to_cli_error)?;
    ui.finish();
    if let Some(take) = &args.take {
        if summary.video == deep_visualizer::take::video_path(take) && take.is_dir() {
            // The take's own video: the plugin will not render it again when it next loads.
            let record = deep_visualizer::take::RenderRecord::new(
                Some(summary.video.clone()),
                summary.size_px.0.max(summary.size_px.1),
                summary.num_frames,
            );
            if let Err(err) = record.write(take) {
                eprintln!("warning: {err}");
            }
        }
    }
    if !args.quiet {
        eprintln!(
            "wrote {} ({} frames, {:.2} s at {:.3} fps, {}×{}, from transport {:.3} s) in {:.1} s",
            summary.video.display(),
            summary.num_frames,
            summary.duration_s,
            summary.fps.hz(),
            summary.size_px.0,
            summary.size_px.1,
            summary.start_transport_s,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A setting error becomes a flag error (exit status 2); the rest stay errors (status 1).
fn to_cli_error(err: RenderError) -> anyhow::Error {
    match err {
        RenderError::Invalid { .. } => flag_error(err),
        other => anyhow::Error::new(other).context("render failed"),
    }
}

/// The terminal's view of a render: a spinner while reading and loading, a bar while drawing.
struct Ui {
    /// The spinner, then the bar.
    bar: std::cell::RefCell<ProgressBar>,
    /// Nothing but errors.
    quiet: bool,
}

impl Ui {
    fn new(quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            let spinner = ProgressBar::new_spinner();
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        };
        Self {
            bar: std::cell::RefCell::new(bar),
            quiet,
        }
    }

    fn show(&self, event: Progress<'_>) {
        let mut bar = self.bar.borrow_mut();
        match event {
            Progress::Reading { path } => bar.set_message(format!("reading {}", path.display())),
            Progress::Analysing { .. } => bar.set_message("analysing the audio"),
            Progress::Warning(warning) => {
                // Warnings show even with --quiet: they say the video may not be what was meant.
                bar.suspend(|| eprintln!("warning: {warning}"));
            }
            Progress::Model(message) => bar.set_message(message),
            Progress::Frames {
                done,
                total,
                device,
            } => {
                if bar.length() != Some(total) && !self.quiet {
                    bar.finish_and_clear();
                    let new =
                        ProgressBar::new(total).with_message(format!("rendering on {device}"));
                    new.set_style(
                        ProgressStyle::with_template(
                            "{msg} {bar:40} {pos}/{len} frames ({per_sec}) ETA {eta} ",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    *bar = new;
                }
                bar.set_position(done);
            }
            Progress::Finishing => bar.set_message("finishing the video"),
        }
    }

    fn finish(&self) {
        self.bar.borrow().finish_and_clear();
    }
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

/// A parser for values within `range` (the settings' one range).
fn f64_in(range: Range) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |s| {
        let v = parse_f64(s)?;
        range
            .check(v)
            .map(|()| v)
            .map_err(|_| format!("{v} is outside {}", range.describe()))
    }
}

/// [`f64_in`] as `f32`.
fn f32_in(range: Range) -> impl Fn(&str) -> Result<f32, String> + Clone + Send + Sync {
    let parse = f64_in(range);
    move |s| parse(s).map(|v| v as f32)
}

/// A flag error found after parsing (a combination of flags, or a flag against the song):
/// formatted like clap's own errors with `render`'s usage; `main` exits with status 2.
fn flag_error(message: impl std::fmt::Display) -> anyhow::Error {
    use clap::Args as _;
    let mut command =
        Args::augment_args(clap::Command::new("render")).bin_name("deep-visualizer render");
    command.error(ErrorKind::ValueValidation, message).into()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Parses `render` with `flags`.
    fn parse(flags: &[&str]) -> Args {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let mut argv = vec!["render"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn default_flags_are_the_default_settings() {
        let args = parse(&["--song", "x.wav"]);
        assert_eq!(
            visual_settings(&args, VisualSettings::default()),
            VisualSettings::default()
        );
        let params = deep_visualizer::DeepVisualizerParams::default();
        assert_eq!(
            visual_settings(&args, VisualSettings::default()),
            params.visual_settings()
        );
    }

    #[test]
    fn every_visual_flag_maps_and_overrides_a_takes_settings() {
        let args = parse(&[
            "--take",
            "t.take",
            "--engine",
            "deepdream",
            "--resolution",
            "512",
            "--fps",
            "60",
            "--pitch_sensitivity",
            "7",
            "--tempo_sensitivity",
            "0.3",
            "--depth",
            "0.5",
            "--num_classes",
            "3",
            "--classes",
            "1",
            "2",
            "3",
            "--sort_classes_by_power",
            "--jitter",
            "0.1",
            "--truncation",
            "0.4",
            "--smooth_factor",
            "20",
            "--seed",
            "9",
            "--layer",
            "inception5b",
            "--octaves",
            "2",
            "--octave_scale",
            "1.5",
            "--max_depth",
            "7",
            "--step_size",
            "0.02",
            "--kick_decay",
            "0.8",
            "--dream_mode",
            "flowing",
            "--zoom",
            "1.1",
            "--rotation",
            "-3",
            "--image",
            "p.png",
        ]);
        let recorded = VisualSettings {
            seed: 5,
            ..VisualSettings::default()
        };
        let s = visual_settings(&args, recorded);
        assert_eq!(s.engine, EngineKind::Deepdream);
        assert_eq!((s.resolution_px, s.fps), (512, Some(FrameRate::new(60, 1))));
        let b = &s.biggan;
        assert_eq!(
            (
                b.pitch_sensitivity,
                b.tempo_sensitivity,
                b.depth,
                b.num_classes
            ),
            (7.0, 0.3, 0.5, 3)
        );
        assert!(b.sort_classes_by_power);
        assert_eq!((b.jitter, b.truncation, b.smooth_factor), (0.1, 0.4, 20));
        assert_eq!((s.classes.clone(), s.seed), (Some(vec![1, 2, 3]), 9));
        let d = &s.dream;
        assert_eq!(d.layer, Layer::Inception5b);
        assert_eq!((d.octaves, d.octave_scale, d.max_depth), (2, 1.5, 7));
        assert_eq!(
            (d.step_size, d.kick_decay, d.mode),
            (0.02, 0.8, DreamMode::Flowing)
        );
        assert_eq!((d.zoom, d.rotation_deg), (1.1, -3.0));
        assert_eq!(d.image, Some(PathBuf::from("p.png")));
        assert_eq!(d.picture_size, PictureSize::Resolution);
        // Only what is given overrides: the take's seed stays without --seed.
        let args = parse(&["--take", "t.take", "--resolution", "256"]);
        let s = visual_settings(&args, recorded_with_seed(5));
        assert_eq!((s.seed, s.resolution_px), (5, 256));
    }

    fn recorded_with_seed(seed: u64) -> VisualSettings {
        VisualSettings {
            seed,
            ..VisualSettings::default()
        }
    }

    #[test]
    fn frame_length_sets_the_frame_rate_unless_fps_is_given() {
        let s = visual_settings(
            &parse(&["--song", "x", "--frame_length", "1024"]),
            VisualSettings::default(),
        );
        assert_eq!(s.frame_rate(), FrameRate::new(22050, 1024));
        let s = visual_settings(
            &parse(&["--song", "x", "--frame_length", "1024", "--fps", "24"]),
            VisualSettings::default(),
        );
        assert_eq!(s.frame_rate(), FrameRate::new(24, 1));
        let s = visual_settings(
            &parse(&["--song", "x", "--engine", "deepdream"]),
            VisualSettings::default(),
        );
        assert_eq!(s.frame_rate(), FrameRate::new(30, 1));
    }
}
