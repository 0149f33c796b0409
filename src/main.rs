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
    /// DeepDream a picture with GoogLeNet/InceptionV1.
    Dream(cli::dream::Args),
    /// Model weights: list what is installed and whether it verifies, download what is missing.
    Weights(cli::weights_fetch::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Dream(args) => cli::dream::run(args),
        Command::Weights(args) => cli::weights_fetch::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
