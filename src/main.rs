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
    /// Model weights: list what is installed and whether it verifies, download what is
    /// missing, convert checkpoints into burn's format.
    Weights(cli::weights::Args),
    /// Write a song's audio features (kick, power, rise, onset, chroma) as CSV, one row per frame.
    Features(cli::features::Args),
    /// Generate BigGAN-deep images for classes and noise, as PNG files.
    Generate(cli::generate::Args),
    /// Render a song, or a take the plugin recorded, into a music video (H.264 MP4 with its
    /// audio).
    // Boxed: the render flags dwarf the other commands'.
    Render(Box<cli::render::Args>),
    /// DeepDream a picture with GoogLeNet/InceptionV1.
    Dream(cli::dream::Args),
}

/// Without a desktop session (a server, CI, a render box) Mesa's Vulkan device-select layer
/// tries Wayland while wgpu looks for a GPU and prints "XDG_RUNTIME_DIR is invalid or not set"
/// on every command. The layer only orders GPUs for displays; wgpu enumerates adapters itself.
/// Set before any thread starts; a user's own setting is kept.
fn quiet_gpu_probe() {
    let no_session = std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|d| d.is_empty());
    if no_session && std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

/// Exit status of a command that hit a bug (a panic): `EX_SOFTWARE`, not Rust's 101.
const EXIT_INTERNAL_ERROR: u8 = 70;

/// Debug builds only: panic inside the command on purpose, so a test can check that a bug
/// becomes an internal-error message and exit status, not a Rust panic.
#[cfg(debug_assertions)]
const DEBUG_PANIC_ENV: &str = "DEEP_VISUALIZER_DEBUG_PANIC";

/// A panic (a bug) becomes one line that says so and what to report, instead of Rust's panic
/// text; `RUST_BACKTRACE` still gets the full report.
fn report_bugs_plainly() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        // A panic the program handles (a decoder that fails on a damaged file) is not a bug.
        if deep_visualizer::panic_guard::is_guarded() {
            return;
        }
        let message = deep_visualizer::panic_guard::message(info.payload());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error (a bug in deep-visualizer {}): {message}{location}. Please \
             report it with the command you ran; RUST_BACKTRACE=1 shows more.",
            env!("CARGO_PKG_VERSION")
        );
    }));
}

fn run(cli: Cli) -> anyhow::Result<()> {
    #[cfg(debug_assertions)]
    if std::env::var_os(DEBUG_PANIC_ENV).is_some() {
        panic!("{DEBUG_PANIC_ENV} is set");
    }
    match cli.command {
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Features(args) => cli::features::run(args),
        Command::Generate(args) => cli::generate::run(args),
        Command::Weights(args) => cli::weights::run(args),
        Command::Render(args) => cli::render::run(*args),
        Command::Dream(args) => cli::dream::run(args),
    }
}

/// The error and its causes on one line, `context: error: cause`, leaving out a cause whose
/// words the line already has (our errors name their OS reason in their own message).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn main() -> std::process::ExitCode {
    quiet_gpu_probe();
    report_bugs_plainly();
    let cli = Cli::parse();
    let Ok(result) = std::panic::catch_unwind(|| run(cli)) else {
        return std::process::ExitCode::from(EXIT_INTERNAL_ERROR);
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A flag error found after parsing (flags that contradict each other or the input),
        // already formatted by clap: printed like clap's own, with its exit status 2.
        Err(err) if err.is::<clap::Error>() => match err.downcast::<clap::Error>() {
            Ok(clap_err) => {
                let _ = clap_err.print();
                std::process::ExitCode::from(clap_err.exit_code().clamp(0, 255) as u8)
            }
            Err(err) => {
                eprintln!("error: {}", error_text(&err));
                std::process::ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            std::process::ExitCode::FAILURE
        }
    }
}
