//! What the benches share: environment knobs, the median, this process's CPU time, the music the live bench plays, and
//! a full-width GoogLeNet checkpoint with random weights (the ImageNet one is not on the build
//! machines; timing does not depend on the values).

#![allow(dead_code)]

use rand::{Rng, SeedableRng};

/// CPU seconds this process has used (user + system), from `/proc/self/stat` (Linux; 0
/// elsewhere). On a shared machine it shows the work done, where wall time also shows waiting.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at state, field 3.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |idx: usize| {
        fields
            .get(idx)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the state; the
    // kernel's USER_HZ is 100 on every Linux we run on.
    (ticks(11) + ticks(12)) / 100.0
}

/// `name` from the environment as a number, else `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `name` from the environment as a comma-separated list of numbers, else `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// The middle value (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A loud chord over a kick every half second at `rate_hz`: every feature moves.
pub fn music(num_samples: usize, rate_hz: f32) -> Vec<f32> {
    (0..num_samples)
        .map(|i| {
            let t = i as f32 / rate_hz;
            let chord: f32 = [220.0f32, 261.63, 329.63]
                .iter()
                .map(|f| (t * f * std::f32::consts::TAU).sin())
                .sum();
            let since_kick = t % 0.5;
            0.2 * chord
                + 0.6
                    * (-since_kick * 20.0).exp()
                    * (since_kick * 55.0 * std::f32::consts::TAU).sin()
        })
        .collect()
}

/// Writes a full-width GoogLeNet in torchvision's layout with deterministic random weights
/// (He-scaled convolutions, batch norms near identity) as safetensors to `path`.
pub fn random_googlenet_checkpoint(path: &std::path::Path) {
    use deep_visualizer::models::inception::expected_tensors;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = expected_tensors(1)
        .into_iter()
        .map(|(key, shape)| {
            let fan_in: usize = shape.iter().skip(1).product();
            let values: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|_| {
                    if key.ends_with("running_var") {
                        rng.random_range(0.5..1.5)
                    } else if key.ends_with("conv.weight") {
                        // Uniform with He's variance: 2 / fan_in.
                        rng.random_range(-1.0..1.0) * (6.0 / fan_in as f32).sqrt()
                    } else {
                        rng.random_range(-0.1..0.1)
                            + if key.ends_with("bn.weight") { 1.0 } else { 0.0 }
                    }
                })
                .collect();
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (key, shape, bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(key, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("sizes match shapes");
            (key.clone(), view)
        })
        .collect();
    std::fs::write(
        path,
        safetensors::serialize(views, None).expect("serialise"),
    )
    .expect("write");
}
