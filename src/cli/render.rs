//! `deep-visualizer render --song SONG`: a song becomes a BigGAN music video.
//!
//! The seed's command line (`deep_visualizer.py`), with its flag names and defaults, plus
//! `--fps`, `--seed`, `--start`, `--weights`, `--out`, `--live`, `--frames-dir`, `--device` and
//! `--quiet`.
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
use deep_visualizer::engine::biggan::{
    BigGanFrames, DirectedLatents, LatentSource, PreviousLatents, Recorded, VectorFiles,
    VectorsMeta, VectorsRecorder,
};
use deep_visualizer::engine::{EngineError, FrameSource};
use deep_visualizer::export::png::write_png;
use deep_visualizer::export::wav::WavWriter;
use deep_visualizer::export::{find_ffmpeg, PendingFile, VideoEncoder, VideoSpec};
use deep_visualizer::models::biggan::BigGan;
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `render`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The audio file to visualise: wav, mp3, flac, ogg, m4a/aac (others through ffmpeg).
    #[arg(long)]
    pub song: PathBuf,

    /// Image size in pixels: 128, 256 or 512 (each is its own BigGAN-deep model).
    #[arg(long, default_value = "128", value_parser = parse_resolution)]
    pub resolution: u32,

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
    /// 22050/frame_length (43.07 fps at 512) unless --fps is given.
    #[arg(
        long = "frame_length",
        visible_alias = "frame-length",
        default_value_t = 512,
        value_parser = parse_frame_length
    )]
    pub frame_length: u32,

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

    /// BigGAN-deep weights: a folder with config.json and pytorch_model.bin (or a converted
    /// model), or the weights file itself [default: weights/biggan-deep-RESOLUTION].
    #[arg(long)]
    pub weights: Option<PathBuf>,

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

/// Renders the video (see the module docs).
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let fps = args.fps.unwrap_or_else(|| reduce(22050, args.frame_length));
    check_flags(&args)?;
    // Before any long work: the encoder, the output folder, a previous run's files.
    let ffmpeg = find_ffmpeg(None)?;
    PendingFile::new(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
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

    let wav = PendingFile::new(&args.out.with_extension("audio.wav"))?;
    let analysed = analyse_song(&args, fps, wav.temp_path())?;
    let span = span_of(&args, fps, analysed.song_s)?;

    let preference = DevicePreference::resolve(args.device)?;
    let device = ComputeDevice::select(preference)?;
    let weights = args
        .weights
        .clone()
        .unwrap_or_else(|| default_weights(args.resolution));
    let model = BigGan::load(&weights, device.device()).with_context(|| {
        format!(
            "loading the BigGAN-deep weights {} (give the folder with config.json and \
             pytorch_model.bin with --weights)",
            weights.display()
        )
    })?;
    if model.resolution() != args.resolution as usize {
        return Err(flag_error(format!(
            "invalid value '{}' for '--resolution': the weights in {} draw {}×{} images; pass \
             --resolution {} or other --weights",
            args.resolution,
            weights.display(),
            model.resolution(),
            model.resolution(),
            model.resolution()
        )));
    }

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
    let latents = if args.use_previous_vectors {
        let (previous, _) = PreviousLatents::open(
            &files,
            settings.z_dim,
            settings.class_dim,
            (fps.num, fps.den),
            args.start,
            span.num_frames,
        )
        .context("--use_previous_vectors")?;
        Latents::Previous(previous)
    } else {
        let mode = if args.live {
            HarmonyMode::Live
        } else {
            HarmonyMode::Song {
                mean_chroma: mean_chroma(&analysed.samples),
            }
        };
        let director = BigGanDirector::new(&settings, mode).map_err(director_flag_error)?;
        let meta = VectorsMeta {
            fps_num: fps.num,
            fps_den: fps.den,
            start_s: args.start,
            num_frames: 0,
            z_dim: settings.z_dim,
            class_dim: settings.class_dim,
            truncation: args.truncation,
            seed: args.seed,
            classes: director.classes().to_vec(),
            song: args.song.display().to_string(),
        };
        let inputs = FrameInputs::new(
            analysed.samples,
            analysed.feature_hz,
            args.start,
            fps.num,
            fps.den,
            args.live,
        );
        let source = DirectedLatents::new(director, inputs, span.num_vector_frames);
        let recorder = VectorsRecorder::create(&files, meta)?;
        Latents::Directed(Box::new(Recorded::new(source, recorder)))
    };

    let side = model.resolution() as u32;
    let mut spec = VideoSpec::new(side, side, fps.num, fps.den);
    spec.audio_wav = Some(wav.temp_path().to_owned());
    let mut encoder = VideoEncoder::start(&ffmpeg, &args.out, &spec)?;
    if let Some(dir) = &args.frames_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating --frames-dir {}", dir.display()))?;
    }
    let bar = progress_bar(args.quiet, span.num_frames, &format!("{device}"));
    let mut frames = BigGanFrames::new(&model, latents, args.truncation, span.num_frames);
    let mut batch = Vec::with_capacity(args.batch_size as usize);
    let mut frame_idx = 0u64;
    loop {
        batch.clear();
        if frames.next_frames(args.batch_size as usize, &mut batch)? == 0 {
            break;
        }
        for rgb in batch.drain(..) {
            if let Some(dir) = &args.frames_dir {
                write_png(
                    &dir.join(format!("frame_{frame_idx:06}.png")),
                    &rgb,
                    side,
                    side,
                )?;
            }
            encoder.push_frame(rgb)?;
            frame_idx += 1;
        }
        bar.set_position(frame_idx);
    }
    anyhow::ensure!(
        frame_idx == span.num_frames,
        "the latents ran out after {frame_idx} of {} frames",
        span.num_frames
    );
    bar.set_message("finishing the video");
    let out = encoder.finish()?;
    if let Latents::Directed(recorded) = frames.into_source() {
        recorded.finish().context("writing the vectors files")?;
    }
    bar.finish_and_clear();
    drop(wav);
    if !args.quiet {
        eprintln!(
            "wrote {} ({} frames, {:.2} s at {:.3} fps, {}×{}) in {:.1} s",
            out.display(),
            span.num_frames,
            span.duration_s,
            fps.hz(),
            side,
            side,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Checks that need no file: the class list against --num_classes.
fn check_flags(args: &Args) -> anyhow::Result<()> {
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

/// `weights/biggan-deep-RESOLUTION` in the current folder.
fn default_weights(resolution: u32) -> PathBuf {
    PathBuf::from("weights").join(format!("biggan-deep-{resolution}"))
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
