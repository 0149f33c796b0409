//! `deep-visualizer generate`: BigGAN-deep images for given classes and noise, written as PNGs
//! with the original's pixel mapping.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use deep_visualizer::export::npy::read_npy;
use deep_visualizer::models::biggan::{to_rgb8, truncated_noise_sample, BigGan};
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};

/// Images generated per forward pass; bounds memory for large batches (results do not depend
/// on it: every image is computed independently).
const CHUNK_IMAGES: usize = 8;

/// Arguments of `generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Weights directory (config.json with pytorch_model.bin, model.safetensors or biggan.bpk),
    /// or a weights file.
    #[arg(long, value_name = "DIR")]
    pub weights: PathBuf,
    /// ImageNet class index per image; a single class is used for every image.
    #[arg(long = "class", value_name = "N", num_args = 1.., required_unless_present = "y", conflicts_with = "y")]
    pub classes: Vec<usize>,
    /// Class vectors (one-hot or soft) as a float32 .npy file, [B, num_classes] or [num_classes].
    #[arg(long, value_name = "y.npy")]
    pub y: Option<PathBuf>,
    /// Seed of the truncated noise (truncated normal in [-2, 2] times the truncation).
    #[arg(long, required_unless_present = "z", conflicts_with = "z")]
    pub seed: Option<u64>,
    /// Noise vectors as a float32 .npy file, [B, z_dim] or [z_dim], used as given (not
    /// scaled by the truncation).
    #[arg(long, value_name = "z.npy")]
    pub z: Option<PathBuf>,
    /// Truncation in (0, 1]: scales the seeded noise and picks the batch-norm statistics.
    #[arg(long)]
    pub truncation: f64,
    /// Number of images (default: the rows of --z/--y, or the number of --class values, or 1).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Output PNG; for several images a pattern with %d or %0Nd, e.g. out_%03d.png.
    #[arg(long, value_name = "out.png")]
    pub out: String,
    /// auto (GPU if any), cpu or gpu; default from $DEEP_VISUALIZER_DEVICE, else auto.
    #[arg(long)]
    pub device: Option<DevicePreference>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Rows of a `[rows, width]` or `[width]` input.
struct Rows {
    /// Row-major values.
    values: Vec<f32>,
    /// Number of rows (1 for a 1-D input).
    num_rows: usize,
}

fn read_rows(path: &Path, width: usize, what: &str) -> anyhow::Result<Rows> {
    let array = read_npy(path)?;
    let num_rows = match array.shape.as_slice() {
        [w] if *w == width => 1,
        [rows, w] if *w == width && *rows > 0 => *rows,
        other => bail!(
            "{} has shape {other:?}; {what} must be [B, {width}] or [{width}]",
            path.display()
        ),
    };
    // A NaN or infinity draws a black picture without a word: refuse it, naming where it is.
    if let Some(idx) = array.values.iter().position(|v| !v.is_finite()) {
        bail!(
            "{} holds {} at row {}, column {}; {what} must be finite numbers",
            path.display(),
            array.values[idx],
            idx / width,
            idx % width
        );
    }
    Ok(Rows {
        values: array.values,
        num_rows,
    })
}

/// `rows` repeated to `batch` rows (a single row is broadcast).
fn to_batch(rows: Rows, batch: usize, width: usize, what: &str) -> anyhow::Result<Vec<f32>> {
    if rows.num_rows == batch {
        Ok(rows.values)
    } else if rows.num_rows == 1 {
        Ok(rows.values[..width].repeat(batch))
    } else {
        bail!("{what} has {} rows but the batch is {batch}", rows.num_rows)
    }
}

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.truncation > 0.0 && args.truncation <= 1.0) {
        bail!("--truncation {} is outside (0, 1]", args.truncation);
    }
    let preference = DevicePreference::resolve(args.device)?;
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let device = ComputeDevice::select(preference)?;
    if !args.quiet {
        eprintln!("device: {device}");
    }
    let model = BigGan::load(&args.weights, device.device()).with_context(|| {
        format!(
            "loading BigGAN-deep weights from {}",
            args.weights.display()
        )
    })?;
    let config = model.config().clone();

    let z_rows = args
        .z
        .as_deref()
        .map(|p| read_rows(p, config.z_dim, "z"))
        .transpose()?;
    let y_rows = args
        .y
        .as_deref()
        .map(|p| read_rows(p, config.num_classes, "y"))
        .transpose()?;
    let implied = [
        z_rows.as_ref().map(|r| r.num_rows),
        y_rows.as_ref().map(|r| r.num_rows),
        Some(args.classes.len()),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(1)
    .max(1);
    let batch = args.batch.unwrap_or(implied);
    if batch == 0 {
        bail!("--batch must be at least 1");
    }

    let z = match (z_rows, args.seed) {
        (Some(rows), _) => to_batch(rows, batch, config.z_dim, "--z")?,
        (None, Some(seed)) => {
            truncated_noise_sample(batch, config.z_dim, args.truncation as f32, seed)
        }
        (None, None) => bail!("give --seed or --z"),
    };
    let y = match y_rows {
        Some(rows) => to_batch(rows, batch, config.num_classes, "--y")?,
        None => one_hot(&args.classes, batch, config.num_classes)?,
    };

    let paths = output_paths(&args.out, batch)?;
    for start in (0..batch).step_by(CHUNK_IMAGES) {
        let count = CHUNK_IMAGES.min(batch - start);
        let images = model.generate_from_slices(
            &z[start * config.z_dim..(start + count) * config.z_dim],
            &y[start * config.num_classes..(start + count) * config.num_classes],
            count,
            args.truncation,
        )?;
        for (image, path) in to_rgb8(images)?
            .into_iter()
            .zip(&paths[start..start + count])
        {
            write_png(&image, path)?;
            if !args.quiet {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

/// One-hot rows like the original's `one_hot_from_int`: one class for all images, or one per
/// image.
fn one_hot(classes: &[usize], batch: usize, num_classes: usize) -> anyhow::Result<Vec<f32>> {
    if classes.len() != 1 && classes.len() != batch {
        bail!(
            "{} --class values for a batch of {batch}: give one, or one per image",
            classes.len()
        );
    }
    let mut y = vec![0.0f32; batch * num_classes];
    for b in 0..batch {
        let class = if classes.len() == 1 {
            classes[0]
        } else {
            classes[b]
        };
        if class >= num_classes {
            bail!(
                "--class {class} does not exist: the model has classes 0 to {}",
                num_classes - 1
            );
        }
        y[b * num_classes + class] = 1.0;
    }
    Ok(y)
}

/// The file for each image: `pattern` with `%d` / `%0Nd` replaced by the image index, or
/// `pattern` itself for a single image.
fn output_paths(pattern: &str, batch: usize) -> anyhow::Result<Vec<PathBuf>> {
    let Some(percent) = pattern.find('%') else {
        if batch == 1 {
            return Ok(vec![PathBuf::from(pattern)]);
        }
        bail!("--out {pattern} names one file for {batch} images; use a pattern like out_%03d.png");
    };
    let rest = &pattern[percent + 1..];
    let digits_len = rest
        .find('d')
        .filter(|&end| rest[..end].bytes().all(|b| b.is_ascii_digit()));
    let Some(end) = digits_len else {
        bail!("--out {pattern}: only %d or %0Nd patterns are understood");
    };
    let width: usize = if end == 0 { 0 } else { rest[..end].parse()? };
    let (head, tail) = (&pattern[..percent], &rest[end + 1..]);
    if tail.contains('%') {
        bail!("--out {pattern} has more than one % pattern");
    }
    Ok((0..batch)
        .map(|idx| PathBuf::from(format!("{head}{idx:0width$}{tail}")))
        .collect())
}

/// Writes a PNG without ever leaving a partial file: a temporary file beside it, then a rename.
fn write_png(image: &image::RgbImage, path: &Path) -> anyhow::Result<()> {
    let mut encoded = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut encoded),
            image::ImageFormat::Png,
        )
        .context("encoding PNG")?;
    deep_visualizer::export::write_atomically(path, |writer| {
        std::io::Write::write_all(writer, &encoded)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_patterns_expand_per_image() {
        assert_eq!(output_paths("a.png", 1).unwrap(), [PathBuf::from("a.png")]);
        assert_eq!(
            output_paths("dir/out_%03d.png", 2).unwrap(),
            [
                PathBuf::from("dir/out_000.png"),
                PathBuf::from("dir/out_001.png")
            ]
        );
        assert_eq!(
            output_paths("x%d.png", 1).unwrap(),
            [PathBuf::from("x0.png")]
        );
        assert!(output_paths("a.png", 2).is_err());
        assert!(output_paths("a%s.png", 2).is_err());
    }

    #[test]
    fn one_hot_repeats_a_single_class_and_checks_the_range() {
        let y = one_hot(&[2], 2, 4).unwrap();
        assert_eq!(y, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(
            one_hot(&[0, 3], 2, 4).unwrap(),
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        );
        assert!(one_hot(&[4], 1, 4).is_err());
        assert!(one_hot(&[0, 1, 2], 2, 4).is_err());
    }
}
