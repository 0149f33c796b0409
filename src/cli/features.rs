//! `deep-visualizer features SONG --out features.csv`: the Analyzer's features of a song file as
//! CSV, one row per frame (`time_s,kick,power,power_rise,onset,c0..c11`), to plot or to compare
//! with librosa.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use deep_visualizer::analysis::decode::{decode_file, Decoder};
use deep_visualizer::analysis::offline::{
    analyze_channels, estimate_song_tuning_cents, FeatureRow, Normalisation,
};
use deep_visualizer::analysis::AnalyzerConfig;
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `features`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The song: WAV, MP3, FLAC, Ogg/Vorbis or AAC/M4A, or any other format the system ffmpeg
    /// reads (e.g. `.au`).
    pub song: PathBuf,
    /// Where to write the CSV. Rows are frames at the seed's rate (22050/512 ≈ 43.07 per second)
    /// centred at `time_s`; columns `time_s,kick,power,power_rise,onset,c0..c11` (c0 = C).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Normalise kick, power, rise and onset as the plugin does live (causal, adaptive) instead
    /// of over the whole song as the seed does (kick and power `(x - min) / ptp`, rise the
    /// positive gradient over its maximum, onset over its maximum).
    #[arg(long)]
    pub live: bool,
    /// Lower edge of the kick band, in Hz.
    #[arg(long, default_value_t = 20.0)]
    pub kick_low_hz: f32,
    /// Upper edge of the kick band, in Hz.
    #[arg(long, default_value_t = 120.0)]
    pub kick_high_hz: f32,
    /// Tuning of the chroma's pitch classes: `auto` estimates it from the whole song as the
    /// seed's `chroma_cqt` does, a number is cents from A440. Default: `auto`, or 0 with `--live`
    /// (the plugin cannot look ahead and uses A440).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_tuning)]
    pub tuning: Option<Tuning>,
    /// Samples per block fed to the analyzer, like a host's buffer size (the features do not
    /// depend on it).
    #[arg(long, default_value_t = 512)]
    pub block_size: usize,
    /// Hide the progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How the chroma is tuned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tuning {
    /// Estimated from the song.
    Auto,
    /// Cents from A440.
    Cents(f32),
}

fn parse_tuning(text: &str) -> Result<Tuning, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Tuning::Auto);
    }
    match text.parse::<f32>() {
        Ok(cents) if (-100.0..=100.0).contains(&cents) => Ok(Tuning::Cents(cents)),
        _ => Err(format!(
            "`{text}` is not a tuning: give `auto` or cents from A440 between -100 and 100"
        )),
    }
}

/// Decodes the song, analyses it and writes the CSV (through a temporary file, so a failed run
/// never leaves half a CSV behind).
pub fn run(args: Args) -> anyhow::Result<()> {
    let spinner = if args.quiet {
        ProgressBar::hidden()
    } else {
        let spinner =
            ProgressBar::new_spinner().with_message(format!("decoding {}", args.song.display()));
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner
    };
    let audio = decode_file(&args.song)?;
    spinner.finish_and_clear();
    if audio.num_corrupt_packets > 0 {
        eprintln!(
            "warning: skipped {} damaged packets in {}",
            audio.num_corrupt_packets,
            args.song.display()
        );
    }
    if let Some(damage) = &audio.damage {
        eprintln!("warning: {damage}");
    }
    if audio.decoder == Decoder::Ffmpeg && !args.quiet {
        eprintln!("decoded {} with the system ffmpeg", args.song.display());
    }
    let (audio, resampled) = deep_visualizer::analysis::resample::for_analysis(audio, &args.song)?;
    if let (Some(note), false) = (resampled, args.quiet) {
        eprintln!("{note}");
    }

    let mut config = AnalyzerConfig::new(audio.sample_rate_hz as f32);
    config.kick_low_hz = args.kick_low_hz;
    config.kick_high_hz = args.kick_high_hz;
    config.tuning_cents = match args.tuning {
        Some(Tuning::Cents(cents)) => cents,
        Some(Tuning::Auto) => estimate_song_tuning_cents(&audio.channels, config.sample_rate_hz),
        None if args.live => 0.0,
        None => estimate_song_tuning_cents(&audio.channels, config.sample_rate_hz),
    };

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(audio.num_frames() as u64);
        bar.set_style(
            ProgressStyle::with_template("analysing {bar:40} {percent:>3}% ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let analysis = analyze_channels(&audio.channels, &config, args.block_size, |done, _| {
        bar.set_position(done as u64)
    })
    .with_context(|| format!("analysing {}", args.song.display()))?;
    bar.finish_and_clear();

    let mode = if args.live {
        Normalisation::Live
    } else {
        Normalisation::Song
    };
    let rows = analysis.rows(mode);
    write_csv_atomically(&args.out, &rows)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !args.quiet {
        eprintln!(
            "wrote {} frames ({:.1} s at {} Hz) to {}",
            rows.len(),
            audio.duration_s(),
            audio.sample_rate_hz,
            args.out.display()
        );
    }
    Ok(())
}

/// The CSV header.
pub const CSV_HEADER: &str =
    "time_s,kick,power,power_rise,onset,c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11";

fn write_rows(out: &mut impl Write, rows: &[FeatureRow]) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for row in rows {
        write!(
            out,
            "{:.6},{},{},{},{}",
            row.time_s, row.kick, row.power, row.power_rise, row.onset
        )?;
        for c in row.chroma {
            write!(out, ",{c}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Writes the CSV through the one atomic writer (temporary beside `path`, synced, renamed).
fn write_csv_atomically(path: &Path, rows: &[FeatureRow]) -> anyhow::Result<()> {
    deep_visualizer::export::write_atomically(path, |writer| write_rows(writer, rows))?;
    Ok(())
}
