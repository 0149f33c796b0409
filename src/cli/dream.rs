//! `deep-visualizer dream`: DeepDream one picture, e.g. to try a layer and depth before a render.

use std::path::PathBuf;

use anyhow::Context;
use deep_visualizer::dream::picture::{load_rgb8, rgb8_to_tensor, save_png, tensor_to_rgb8};
use deep_visualizer::dream::{dream_rng, DreamSettings, Dreamer, GradientNorm, Objective};
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
use deep_visualizer::models::inception::{InceptionV1, Layer, Preprocess};
use deep_visualizer::models::subnormals::flush_subnormals_on_model_threads;
use deep_visualizer::render::models::installed_googlenet;
use deep_visualizer::render::Progress;
use deep_visualizer::weights::DownloadPolicy;
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `dream`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// GoogLeNet checkpoint: torchvision's `googlenet-1378be20.pth`, or a `.safetensors` file
    /// with the same keys [default: `googlenet/googlenet-1378be20.pth` in the weights folder,
    /// downloaded on first use, see `deep-visualizer weights`].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Never download a missing GoogLeNet (also $DEEP_VISUALIZER_NO_DOWNLOAD=1).
    #[arg(long = "no-download", visible_alias = "no_download")]
    pub no_download: bool,
    /// The picture to dream on (PNG or JPEG).
    #[arg(long)]
    pub image: PathBuf,
    /// Where to write the result (PNG, the input's size).
    #[arg(long)]
    pub out: PathBuf,
    /// The layer whose activations are amplified: conv1, conv2, conv3, inception3a, inception3b,
    /// inception4a … inception4e, inception5a, inception5b (early layers give strokes and
    /// textures, late ones object parts).
    #[arg(long, default_value = "inception4c", value_parser = parse_layer)]
    pub layer: Layer,
    /// Gradient-ascent steps per octave (the dream's depth).
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Number of scales, each `--octave-scale` times smaller than the next.
    #[arg(long, default_value_t = 4)]
    pub octaves: usize,
    /// Size ratio between octaves.
    #[arg(long, default_value_t = 1.4)]
    pub octave_scale: f32,
    /// Step length per iteration, in pixel units (pixels span 0..1; the seed's 3/255 ≈ 0.0118).
    #[arg(long, default_value_t = 3.0 / 255.0)]
    pub step_size: f32,
    /// What is maximised at the layer.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::L2)]
    pub objective: ObjectiveArg,
    /// How the gradient is normalised.
    #[arg(long, value_enum, default_value_t = NormArg::Seed)]
    pub norm: NormArg,
    /// Largest random shift of the image before each step, in pixels (0 = none).
    #[arg(long, default_value_t = 32)]
    pub jitter: usize,
    /// Seed of the random shifts: the same seed gives the same picture.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the network runs: auto (the GPU through wgpu when there is one), cpu or gpu
    /// [default: $DEEP_VISUALIZER_DEVICE, else auto].
    #[arg(long)]
    pub device: Option<DevicePreference>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `--objective` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ObjectiveArg {
    /// Mean of the squared activations (the seed's).
    L2,
    /// Mean of the activations.
    Mean,
}

/// `--norm` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum NormArg {
    /// The seed's: divide by the std, blur at three growing widths (colours blurred too).
    Seed,
    /// The seed's, without blurring across colour channels (more psychedelic colours).
    SeedNoColourBlur,
    /// Divide by the mean absolute gradient (Google's original notebook).
    MeanAbs,
}

pub fn parse_layer(name: &str) -> Result<Layer, String> {
    Layer::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Layer::ALL.iter().map(|layer| layer.name()).collect();
        format!("unknown layer `{name}`; choose one of {}", names.join(", "))
    })
}

/// Dreams `--image` and writes `--out`.
pub fn run(args: Args) -> anyhow::Result<()> {
    flush_subnormals_on_model_threads();
    let device = ComputeDevice::select(DevicePreference::resolve(args.device)?)?;
    let device = device.device();
    let weights = match &args.weights {
        Some(path) => path.clone(),
        None => installed_googlenet(DownloadPolicy::from_env(args.no_download), &mut |event| {
            if let Progress::Model(message) = event {
                eprintln!("{message}");
            }
        })?,
    };
    let picture = load_rgb8(&args.image)?;
    let model = InceptionV1::load(&weights, Preprocess::Pretrained, device)
        .with_context(|| format!("loading the GoogLeNet weights {}", weights.display()))?;
    let settings = DreamSettings {
        layer: args.layer,
        objective: match args.objective {
            ObjectiveArg::L2 => Objective::L2,
            ObjectiveArg::Mean => Objective::Mean,
        },
        num_octaves: args.octaves,
        octave_scale: args.octave_scale,
        step_size: args.step_size,
        norm: match args.norm {
            NormArg::Seed => GradientNorm::SeedBlur { blur_colour: true },
            NormArg::SeedNoColourBlur => GradientNorm::SeedBlur { blur_colour: false },
            NormArg::MeanAbs => GradientNorm::MeanAbs,
        },
        jitter_px: args.jitter,
    };
    let dreamer = Dreamer::new(model, settings)?;
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps, ETA {eta}")
                .context("progress bar template")?,
        )
    };
    progress.set_message("dreaming");
    let mut rng = dream_rng(args.seed);
    let dreamed = dreamer
        .dream_with_progress(
            rgb8_to_tensor(&picture, device),
            args.iterations,
            &mut rng,
            &mut |done, total| {
                progress.set_length(total as u64);
                progress.set_position(done as u64);
            },
        )
        .with_context(|| format!("dreaming on {}", args.image.display()))?;
    progress.finish_and_clear();
    save_png(&tensor_to_rgb8(dreamed), &args.out)?;
    Ok(())
}
