//! `deep-visualizer inspect FILE`: list a checkpoint's tensors, to check a download or see why a
//! model refuses a file.

use std::path::PathBuf;

use anyhow::Context;
use deep_visualizer::models::checkpoint::Checkpoint;

/// Arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A PyTorch checkpoint (`.bin`, `.pth`, legacy or zip) or a `.safetensors` file.
    pub file: PathBuf,
}

/// Prints one line per tensor: key and shape.
pub fn run(args: Args) -> anyhow::Result<()> {
    let checkpoint = Checkpoint::open(&args.file)
        .with_context(|| format!("inspecting {}", args.file.display()))?;
    let mut num_values = 0usize;
    let mut num_tensors = 0usize;
    for key in checkpoint.keys() {
        let shape = checkpoint.shape(key).unwrap_or_default();
        num_values += shape.iter().product::<usize>();
        num_tensors += 1;
        println!("{key}\t{shape:?}");
    }
    println!("# {num_tensors} tensors, {num_values} values");
    Ok(())
}
