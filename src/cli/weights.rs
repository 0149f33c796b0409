//! `deep-visualizer weights ...`: managing model weights.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use deep_visualizer::models::biggan::{
    BigGan, BURNPACK_FILE, CONFIG_FILE, PYTORCH_FILE, SAFETENSORS_FILE,
};
use deep_visualizer::models::device::ComputeDevice;

/// Arguments of `weights`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to do with the weights.
    #[command(subcommand)]
    pub command: Command,
}

/// The `weights` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List every model's files, where they are expected and whether they verify.
    List(super::weights_fetch::ListArgs),
    /// Download model files that are missing or damaged, checking each against the manifest.
    Download(super::weights_fetch::DownloadArgs),
    /// Convert a BigGAN-deep PyTorch checkpoint into burn's format for fast start-up.
    ///
    /// Reads DIR/config.json and DIR/pytorch_model.bin (or DIR/model.safetensors), folds the
    /// spectral norms, and writes DIR/biggan.bpk, which loading then prefers.
    Convert(ConvertArgs),
}

/// Arguments of `weights convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The weights directory.
    pub dir: PathBuf,
    /// Where to write the converted file (default: DIR/biggan.bpk).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs a `weights` subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::List(args) => super::weights_fetch::run_list(args),
        Command::Download(args) => super::weights_fetch::run_download(args),
        Command::Convert(args) => convert(args),
    }
}

fn convert(args: ConvertArgs) -> anyhow::Result<()> {
    let source = [PYTORCH_FILE, SAFETENSORS_FILE]
        .iter()
        .map(|name| args.dir.join(name))
        .find(|path| path.is_file())
        .with_context(|| {
            format!(
                "{} has no {PYTORCH_FILE} or {SAFETENSORS_FILE} to convert",
                args.dir.display()
            )
        })?;
    let config_path = args.dir.join(CONFIG_FILE);
    let config_text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let config = deep_visualizer::models::biggan::BigGanConfig::from_json(&config_text).map_err(
        |reason| anyhow::anyhow!("{} is not a usable config: {reason}", config_path.display()),
    )?;
    let started = Instant::now();
    // The CPU holds the folded weights on their way to the file whatever the GPU situation.
    let device = ComputeDevice::cpu();
    let model = BigGan::load_checkpoint(&source, config, device.device())
        .with_context(|| format!("reading {}", source.display()))?;
    let output = args.output.unwrap_or_else(|| args.dir.join(BURNPACK_FILE));
    model
        .save_burnpack(&output)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{} -> {} ({:.1} s)",
        source.display(),
        output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
