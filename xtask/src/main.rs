//! `cargo xtask`: nice-plug-xtask's commands (`bundle`, `bundle-universal`), plus `install`
//! (copy the built bundles into the user's plugin folders) and `weights` (the CLI's weight
//! commands).
//!
//! `weights` runs `cargo run --release --bin deep-visualizer -- weights ...` rather than linking
//! the library: the library pulls in burn, wgpu and the plugin framework, and linking all of that
//! into xtask would make every `cargo xtask bundle` build it twice over. The release CLI shares
//! its dependencies with the release bundle, so after a bundle build it is quick.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

mod install;

/// The usage text for the commands this xtask adds on top of nice-plug-xtask's.
const USAGE: &str = "Usage:
  cargo xtask bundle deep_visualizer --release
      Build the plugin and bundle it into target/bundled/ (VST3 and CLAP).
  cargo xtask install [--vst3-dir DIR] [--clap-dir DIR]
      Copy the built bundles into the user's plugin folders (~/.vst3 and ~/.clap on Linux),
      replacing older copies.
  cargo xtask weights list|download [ARGS...]
      Run `deep-visualizer weights ...` (built in release); see `cargo xtask weights --help`.
  nice-plug-xtask's other commands (e.g. bundle-universal) work as usual.";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    match command.as_deref() {
        None | Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            if command.is_none() {
                anyhow::bail!("no command given");
            }
            Ok(())
        }
        Some("install") => install_command(args.collect()),
        Some("weights") => weights_command(args.collect()),
        Some(_) => nice_plug_xtask::main_with_args("cargo xtask", command.into_iter().chain(args)),
    }
}

/// `cargo xtask install`: checks both bundles exist, then installs each.
fn install_command(args: Vec<String>) -> anyhow::Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let mut vst3_dir: Option<PathBuf> = None;
    let mut clap_dir: Option<PathBuf> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--vst3-dir" => &mut vst3_dir,
            "--clap-dir" => &mut clap_dir,
            _ => anyhow::bail!("unknown argument `{arg}`\n\n{USAGE}"),
        };
        *slot = Some(
            args.next()
                .with_context(|| format!("`{arg}` needs a folder"))?
                .into(),
        );
    }
    let home = install::home_dir().context(
        "cannot find your home folder (HOME is not set): pass --vst3-dir and --clap-dir",
    )?;
    let defaults = install::PluginDirs::for_home(&home);
    let dirs = install::PluginDirs {
        vst3: vst3_dir.unwrap_or(defaults.vst3),
        clap: clap_dir.unwrap_or(defaults.clap),
    };
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path("./Cargo.toml")
        .no_deps()
        .exec()
        .context("running `cargo metadata` to find the target folder")?;
    let bundled_dir = metadata.target_directory.as_std_path().join("bundled");
    for installed in install::install_bundles(&bundled_dir, &dirs)? {
        println!("Installed {}", installed.display());
    }
    Ok(())
}

/// `cargo xtask weights ...`: the release CLI's `weights` command, with the same arguments and
/// exit status.
fn weights_command(args: Vec<String>) -> anyhow::Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    // Cargo sets CARGO for the programs it runs, so the same toolchain builds the CLI.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--release",
            "--bin",
            "deep-visualizer",
            "--",
            "weights",
        ])
        .args(&args)
        .status()
        .context("running `cargo run --bin deep-visualizer`")?;
    if !status.success() {
        // The CLI has printed its error; pass its exit status on unchanged.
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}
