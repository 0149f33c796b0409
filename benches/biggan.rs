//! Seconds per image of a full-size biggan-deep-128 (random weights, the real configuration) at
//! batch 1 and 8, on the CPU backend and, where an adapter exists, on wgpu.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-release cargo bench --bench biggan
//! /work/pyenv/bin/python bench/biggan_pytorch.py      # the PyTorch reference, same machine
//! ```
//!
//! Environment: `BIGGAN_BENCH_RUNS` (timed runs per batch size, default 5),
//! `BIGGAN_BENCH_PROFILE=1` (per-stage times of one batch-1 run), `BIGGAN_BENCH_DIRECT=1` (also
//! time the direct up-sampling path), `BIGGAN_BENCH_GPU=0` (skip wgpu), `BIGGAN_BENCH_RES` (128,
//! 256 or 512).

use std::time::{Duration, Instant};

use deep_visualizer::models::biggan::{truncated_noise_sample, BigGan, BigGanConfig};
use deep_visualizer::models::device::{ComputeBackend, ComputeDevice, DevicePreference};

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn inputs(model: &BigGan, batch: usize) -> (Vec<f32>, Vec<f32>) {
    let config = model.config();
    let z = truncated_noise_sample(batch, config.z_dim, 0.4, 1);
    let mut y = vec![0.0; batch * config.num_classes];
    for b in 0..batch {
        y[b * config.num_classes + (b * 97) % config.num_classes] = 1.0;
    }
    (z, y)
}

/// Runs one batch and waits for the device.
fn run_once(model: &BigGan, z: &[f32], y: &[f32], batch: usize) -> Duration {
    let started = Instant::now();
    let images = model
        .generate_from_slices(z, y, batch, 0.4)
        .expect("generate");
    // Reading back forces the work to finish on every backend.
    let _ = images.into_data();
    started.elapsed()
}

fn time_batches(label: &str, model: &BigGan, runs: usize) {
    for batch in [1usize, 8] {
        let (z, y) = inputs(model, batch);
        let warmup = run_once(model, &z, &y, batch);
        let runs = if batch == 1 {
            runs
        } else {
            runs.div_ceil(2).max(1)
        };
        let mut times: Vec<f64> = (0..runs)
            .map(|_| run_once(model, &z, &y, batch).as_secs_f64() / batch as f64)
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{label} batch {batch}: {median:.3} s/image median of {runs} (min {:.3}, max {:.3}; warm-up {:.3} s/image)",
            times[0],
            times[times.len() - 1],
            warmup.as_secs_f64() / batch as f64
        );
    }
}

fn profile(model: &BigGan) {
    let (z, y) = inputs(model, 1);
    let _ = run_once(model, &z, &y, 1);
    let z = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(z, [1, model.config().z_dim]),
        model.device(),
    );
    let y = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(y, [1, model.config().num_classes]),
        model.device(),
    );
    let mut stages: Vec<(String, Duration)> = Vec::new();
    let started = Instant::now();
    let mut last = started;
    model
        .generate_observed(z, y, 0.4, &mut |name, value| {
            let _ = value.clone().into_data();
            let now = Instant::now();
            stages.push((name.to_owned(), now - last));
            last = now;
        })
        .expect("generate");
    let total = started.elapsed().as_secs_f64();
    for (name, time) in stages {
        println!(
            "  {name:>10}: {:7.1} ms ({:4.1} %)",
            time.as_secs_f64() * 1e3,
            100.0 * time.as_secs_f64() / total
        );
    }
    println!("  {:>10}: {:7.1} ms", "total", total * 1e3);
}

fn main() {
    let runs: usize = std::env::var("BIGGAN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let config = match std::env::var("BIGGAN_BENCH_RES").as_deref() {
        Ok("256") => BigGanConfig::biggan_deep_256(),
        Ok("512") => BigGanConfig::biggan_deep_512(),
        _ => BigGanConfig::biggan_deep_128(),
    };
    let side = config.output_dim;
    println!(
        "biggan-deep-{side}, random weights; {} hardware threads",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let mut devices = vec![ComputeDevice::cpu()];
    if !std::env::var("BIGGAN_BENCH_GPU").is_ok_and(|v| v == "0") {
        match ComputeDevice::select(DevicePreference::Gpu) {
            Ok(gpu) => devices.push(gpu),
            Err(err) => println!("no wgpu timing: {err}"),
        }
    }
    for device in devices {
        let started = Instant::now();
        let model =
            BigGan::with_random_weights(config.clone(), 1, device.device()).expect("build model");
        println!(
            "{device}: model built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let runs = if device.backend() == ComputeBackend::Wgpu {
            runs.min(2)
        } else {
            runs
        };
        time_batches(
            &format!(
                "burn {}",
                if device.backend() == ComputeBackend::Wgpu {
                    "wgpu"
                } else {
                    "cpu"
                }
            ),
            &model,
            runs,
        );
        if env_flag("BIGGAN_BENCH_PROFILE") {
            profile(&model);
        }
        if env_flag("BIGGAN_BENCH_DIRECT") {
            let model = model.without_fast_paths();
            time_batches("burn direct up-sampling", &model, runs);
            if env_flag("BIGGAN_BENCH_PROFILE") {
                profile(&model);
            }
        }
    }
}
