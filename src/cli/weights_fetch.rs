//! `deep-visualizer weights list` and `deep-visualizer weights download`: what model files are
//! installed, whether they are the right ones, and fetching the missing ones.

use std::path::PathBuf;

use anyhow::Context;
use deep_visualizer::weights::{
    check_file, install_file, resolve_weights_dir, Assurance, CheckDepth, Downloaded, Downloader,
    FileStatus, InstallProgress, Manifest, ModelEntry, Refresh, WeightsDirSource, WEIGHTS_DIR_ENV,
};
use indicatif::{ProgressBar, ProgressStyle};

/// Where the files are and which list describes them; shared by `list` and `download`.
#[derive(clap::Args, Debug)]
pub struct Location {
    /// The weights folder [default: $DEEP_VISUALIZER_WEIGHTS if set, else
    /// deep-visualizer/weights in the user's data folder, e.g. ~/.local/share on Linux].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Use this manifest instead of the one built in (e.g. one that points at a local mirror).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// Arguments of `weights list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Where to look.
    #[command(flatten)]
    pub location: Location,
    /// Only check that files exist and have the right size; skip hashing (instant).
    #[arg(long)]
    pub quick: bool,
}

/// Arguments of `weights download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// Models to download, by id (see `weights list`); all of them when none is given.
    #[arg(value_name = "MODEL")]
    pub models: Vec<String>,
    /// Where to put them.
    #[command(flatten)]
    pub location: Location,
    /// Download again even files that are present and verify.
    #[arg(long)]
    pub force: bool,
    /// Print no progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The built-in manifest, or the one given with `--manifest`.
fn load_manifest(location: &Location) -> anyhow::Result<Manifest> {
    match &location.manifest {
        None => Ok(Manifest::embedded()?.clone()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the manifest {}", path.display()))?;
            Manifest::parse(&text).with_context(|| format!("in {}", path.display()))
        }
    }
}

/// The folder, after printing where it is and why.
fn weights_dir(location: &Location) -> anyhow::Result<PathBuf> {
    let dir = resolve_weights_dir(location.dir.as_deref())?;
    let why = match dir.source {
        WeightsDirSource::Explicit => "from --dir".to_owned(),
        WeightsDirSource::Environment => format!("from ${WEIGHTS_DIR_ENV}"),
        WeightsDirSource::Default => {
            format!("the default; set ${WEIGHTS_DIR_ENV} or pass --dir to use another")
        }
    };
    println!("Weights folder: {} ({why})", dir.path.display());
    Ok(dir.path)
}

/// One line per file status, as `list` prints it.
fn describe(status: &FileStatus) -> String {
    match status {
        FileStatus::Missing => "missing".into(),
        FileStatus::Present => "present (size checked, not hashed)".into(),
        FileStatus::Verified { .. } => "verified (SHA-256 matches the manifest)".into(),
        FileStatus::PrefixVerified { sha256 } => {
            format!("verified by hash prefix; full SHA-256 {sha256}")
        }
        FileStatus::Unpinned { sha256 } => {
            format!("present, readable; no hash pinned to compare; SHA-256 {sha256}")
        }
        FileStatus::Corrupt(mismatch) => format!("WRONG FILE: {mismatch}"),
    }
}

/// `weights list`.
pub fn run_list(args: ListArgs) -> anyhow::Result<()> {
    let manifest = load_manifest(&args.location)?;
    let dir = weights_dir(&args.location)?;
    let depth = if args.quick {
        CheckDepth::Quick
    } else {
        CheckDepth::Full
    };
    let mut num_bad = 0usize;
    for model in manifest.models() {
        let mut statuses = Vec::with_capacity(model.files.len());
        for file in &model.files {
            let status = check_file(file, &dir, depth)
                .with_context(|| format!("checking {}", file.path_in(&dir).display()))?;
            statuses.push(status);
        }
        let summary = if statuses.iter().all(FileStatus::is_usable) {
            "ready"
        } else if statuses.iter().any(|s| matches!(s, FileStatus::Corrupt(_))) {
            "damaged"
        } else if statuses.iter().all(|s| *s == FileStatus::Missing) {
            "not downloaded"
        } else {
            "incomplete"
        };
        println!("\n{}: {} [{summary}]", model.id, model.description);
        for (file, status) in model.files.iter().zip(&statuses) {
            println!(
                "  {:<10} {}\n             {}",
                file.role.to_string(),
                file.path_in(&dir).display(),
                describe(status)
            );
            if matches!(status, FileStatus::Corrupt(_)) {
                num_bad += 1;
            }
        }
    }
    if num_bad > 0 {
        println!(
            "\n{num_bad} file(s) are not the expected ones: run `deep-visualizer weights download` \
             to replace them (see weights/README.md, \"When a check fails\")."
        );
    }
    Ok(())
}

/// The models named on the command line, or all of them.
fn selected_models<'a>(
    manifest: &'a Manifest,
    names: &[String],
) -> anyhow::Result<Vec<&'a ModelEntry>> {
    if names.is_empty() {
        return Ok(manifest.models().iter().collect());
    }
    names
        .iter()
        .map(|name| manifest.model(name).map_err(anyhow::Error::from))
        .collect()
}

/// A bar for one file: bytes, rate and ETA when the length is known, a spinner otherwise.
fn progress_bar(quiet: bool, name: &str, total_bytes: Option<u64>) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total_bytes {
        Some(total_bytes) => (
            ProgressBar::new(total_bytes),
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{msg} {spinner} {bytes} {bytes_per_sec}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.with_message(name.to_owned())
}

/// `weights download`.
pub fn run_download(args: DownloadArgs) -> anyhow::Result<()> {
    let manifest = load_manifest(&args.location)?;
    let models = selected_models(&manifest, &args.models)?;
    let dir = weights_dir(&args.location)?;
    let downloader = Downloader::new();
    let refresh = if args.force {
        Refresh::Always
    } else {
        Refresh::IfNeeded(CheckDepth::Full)
    };
    let mut reporter = InstallReporter::new(args.quiet);
    let mut failures = Vec::new();
    for model in models {
        for file in &model.files {
            let result = install_file(file, &dir, refresh, &downloader, &mut |event| {
                reporter.report(event)
            });
            reporter.finish();
            if let Err(err) = result {
                eprintln!("error: {:#}", anyhow::Error::from(err));
                failures.push(file.name.clone());
            }
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "{} file(s) could not be downloaded: {}",
            failures.len(),
            failures.join(", ")
        );
    }
    Ok(())
}

/// Prints what installing model files does: a line per file and a progress bar per download.
/// `weights download` uses it, and so can any command that installs a model on first use
/// (pass [`InstallReporter::report`] as the progress callback).
pub struct InstallReporter {
    /// Whether to hide the bars and the "downloading" lines.
    quiet: bool,
    /// The bar of the download under way, if any.
    bar: Option<ProgressBar>,
}

impl InstallReporter {
    /// A reporter that shows bars unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self { quiet, bar: None }
    }

    /// Shows one event.
    pub fn report(&mut self, event: InstallProgress<'_>) {
        match event {
            InstallProgress::Kept { file, status } => {
                println!("{}: already here, {}", file.name, describe(status));
            }
            InstallProgress::Replacing { file, mismatch } => {
                println!(
                    "{}: the present copy is wrong ({mismatch}); replacing it",
                    file.name
                );
            }
            InstallProgress::Started {
                file,
                url,
                total_bytes,
            } => {
                self.finish();
                if !self.quiet {
                    println!("{}: downloading {url}", file.name);
                }
                self.bar = Some(progress_bar(self.quiet, &file.name, total_bytes));
            }
            InstallProgress::Received { done_bytes, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done_bytes);
                }
            }
            InstallProgress::Installed { file, downloaded } => {
                self.finish();
                println!(
                    "{}: {} bytes saved to {}; {}",
                    file.name,
                    downloaded.num_bytes,
                    downloaded.path.display(),
                    verdict(downloaded)
                );
            }
        }
    }

    /// Clears the bar of the download under way, e.g. before printing why it failed.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for InstallReporter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// What the checks could vouch for in a downloaded file.
fn verdict(downloaded: &Downloaded) -> String {
    match downloaded.assurance {
        Assurance::Pinned => "SHA-256 matches the manifest".to_owned(),
        Assurance::Prefix => format!(
            "SHA-256 prefix matches the manifest; full SHA-256 {} (pin it once checked)",
            downloaded.sha256
        ),
        Assurance::Unpinned => format!(
            "no hash pinned to compare, the file parses; SHA-256 {} (pin it once checked)",
            downloaded.sha256
        ),
    }
}
