//! `deep-visualizer`: the command-line host of the Deep Visualizer pipeline.
//!
//! Each subcommand lives in its own module under `src/cli/`, with its clap `Args` and a `run`
//! function returning `anyhow::Result<()>`. Flag errors exit with status 2 (clap's convention),
//! failures with status 1 after printing the error chain.

use clap::{Parser, Subcommand};

mod cli;

/// Turns music into BigGAN-deep and DeepDream imagery.
#[derive(Parser, Debug)]
#[command(name = "deep-visualizer", version, about, long_about = None)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect a checkpoint file: its format, tensor keys and shapes.
    Inspect(cli::inspect::Args),
    /// Generate BigGAN-deep images for classes and noise, as PNG files.
    Generate(cli::generate::Args),
    /// Manage model weights (convert checkpoints into burn's format).
    Weights(cli::weights::Args),
    /// Write a song's audio features (kick, power, rise, onset, chroma) as CSV, one row per frame.
    Features(cli::features::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Generate(args) => cli::generate::run(args),
        Command::Weights(args) => cli::weights::run(args),
        Command::Features(args) => cli::features::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
