//! Seconds per image of a full-size biggan-deep-128 (random weights, the real configuration) at
//! batch 1 and 8, on the CPU backend and, where an adapter exists, on wgpu.
//!
//! ```text
//! cargo bench --bench biggan
//! python3 bench/biggan_pytorch.py      # the PyTorch reference, same machine
//! ```
//!
//! Environment: `BIGGAN_BENCH_RUNS` (timed runs per batch size, default 5),
//! `BIGGAN_BENCH_PROFILE=1` (per-stage times of one batch-1 run), `BIGGAN_BENCH_VARIANTS=1` (also
//! time the other convolution formulations), `BIGGAN_BENCH_GPU=0` (skip wgpu), `BIGGAN_BENCH_CPU=0`
//! (skip the CPU backend), `BIGGAN_BENCH_RES` (128, 256 or 512).

use std::time::{Duration, Instant};

use deep_visualizer::models::biggan::exec::{ConvOp, ExecOptions};
use deep_visualizer::models::biggan::{truncated_noise_sample, BigGan, BigGanConfig};
use deep_visualizer::models::device::{ComputeBackend, ComputeDevice, DevicePreference};

mod support;
use support::cpu_seconds;

/// Wall and CPU seconds per call of `f`, averaged over `runs` after one warm-up.
fn time_op(name: &str, runs: usize, mut f: impl FnMut()) {
    f();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for _ in 0..runs {
        f();
    }
    let wall = wall.elapsed().as_secs_f64() / runs as f64;
    let cpu = (cpu_seconds() - cpu) / runs as f64;
    println!(
        "  {name:40} cpu {:8.2} ms  wall {:8.2} ms",
        cpu * 1e3,
        wall * 1e3
    );
}

/// The operations that dominate biggan-deep-128, at its shapes, batch 1.
fn ops(device: &burn::tensor::Device) {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Distribution, Tensor};
    let sync = |t: Tensor<4>| {
        let _ = t.into_data();
    };
    for (cin, cout, k, hw) in [
        (512, 512, 3, 8),
        (256, 256, 3, 32),
        (128, 128, 3, 64),
        (64, 64, 3, 128),
        (2048, 512, 1, 8),
        (64, 128, 1, 128),
        (128, 3, 3, 128),
        (128, 128, 3, 128),
    ] {
        let x = Tensor::<4>::random([1, cin, hw, hw], Distribution::Default, device);
        let w = Tensor::<4>::random([cout, cin, k, k], Distribution::Default, device);
        let b = Tensor::<1>::random([cout], Distribution::Default, device);
        let op = ConvOp::new(w.clone(), Some(b.clone()), k / 2, &ExecOptions::default());
        time_op(
            &format!("matmul conv{k}x{k} {cin}->{cout} @{hw}"),
            5,
            || sync(op.forward(x.clone())),
        );
        time_op(&format!("conv{k}x{k} {cin}->{cout} @{hw}"), 5, || {
            sync(conv2d(
                x.clone(),
                w.clone(),
                Some(b.clone()),
                ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
            ))
        });
    }
    let a = Tensor::<3>::random([1, 4096, 32], Distribution::Default, device);
    let bb = Tensor::<3>::random([1, 32, 1024], Distribution::Default, device);
    time_op("bmm 4096x32x1024", 5, || {
        let _ = a.clone().matmul(bb.clone()).into_data();
    });
    let s = Tensor::<3>::random([1, 4096, 1024], Distribution::Default, device);
    time_op("softmax 4096x1024", 5, || {
        let _ = burn::tensor::activation::softmax(s.clone(), 2).into_data();
    });
    let g = Tensor::<3>::random([1, 128, 1024], Distribution::Default, device);
    time_op("bmm 128x1024x4096 (g@attn^T)", 5, || {
        let _ = g.clone().matmul(s.clone().swap_dims(1, 2)).into_data();
    });
    let x = Tensor::<4>::random([1, 64, 128, 128], Distribution::Default, device);
    let m = Tensor::<4>::random([1, 64, 1, 1], Distribution::Default, device);
    let v = Tensor::<4>::random([1, 64, 1, 1], Distribution::Default, device);
    time_op("bn+relu 64x128x128", 5, || {
        sync(burn::tensor::activation::relu(
            (x.clone() - m.clone()) * v.clone() + m.clone(),
        ))
    });
}

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

/// Runs one batch and waits for the device; returns wall and CPU seconds.
fn run_once(model: &BigGan, z: &[f32], y: &[f32], batch: usize) -> (Duration, f64) {
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let images = model
        .generate_from_slices(z, y, batch, 0.4)
        .expect("generate");
    // Reading back forces the work to finish on every backend.
    let _ = images.into_data();
    (started.elapsed(), cpu_seconds() - cpu)
}

fn time_batches(label: &str, model: &BigGan, runs: usize) {
    for batch in [1usize, 8] {
        let (z, y) = inputs(model, batch);
        let (warmup, _) = run_once(model, &z, &y, batch);
        let runs = if batch == 1 {
            runs
        } else {
            runs.div_ceil(2).max(1)
        };
        let (mut times, mut cpu_times): (Vec<f64>, Vec<f64>) = (0..runs)
            .map(|_| {
                let (wall, cpu) = run_once(model, &z, &y, batch);
                (wall.as_secs_f64() / batch as f64, cpu / batch as f64)
            })
            .unzip();
        times.sort_by(f64::total_cmp);
        cpu_times.sort_by(f64::total_cmp);
        // CPU time shows the work done on a shared machine, where wall time also shows waiting.
        println!(
            "{label} batch {batch}: {:.3} s/image median of {runs} (min {:.3}, max {:.3}; \
             warm-up {:.3} s/image); cpu {:.3} s/image",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            warmup.as_secs_f64() / batch as f64,
            cpu_times[cpu_times.len() / 2]
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
    if env_flag("BIGGAN_BENCH_OPS") {
        println!("operations on the CPU backend:");
        ops(ComputeDevice::cpu().device());
        return;
    }
    // As the CLI sets up its model threads.
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let mut devices = Vec::new();
    if !std::env::var("BIGGAN_BENCH_CPU").is_ok_and(|v| v == "0") {
        devices.push(ComputeDevice::cpu());
    }
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
        // `BIGGAN_BENCH_PARALLEL=N`: N parts of each batch on their own threads.
        let model = match std::env::var("BIGGAN_BENCH_PARALLEL")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(parallel_samples) => model.with_exec_options(ExecOptions {
                parallel_samples,
                ..ExecOptions::default()
            }),
            None => model,
        };
        println!(
            "{device}: model built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // A software adapter (lavapipe) is slow: two runs unless asked for more.
        let runs = if device.backend() == ComputeBackend::Wgpu
            && std::env::var("BIGGAN_BENCH_RUNS").is_err()
        {
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
        if env_flag("BIGGAN_BENCH_VARIANTS") {
            for matmul_convs in [false, true] {
                for subpixel_upsampling in [false, true] {
                    let options = ExecOptions {
                        matmul_convs,
                        subpixel_upsampling,
                        ..ExecOptions::default()
                    };
                    if options == ExecOptions::default() {
                        continue;
                    }
                    let model = BigGan::with_random_weights(config.clone(), 1, device.device())
                        .expect("build model")
                        .with_exec_options(options);
                    time_batches(&format!("burn {options:?}"), &model, runs);
                    if env_flag("BIGGAN_BENCH_PROFILE") {
                        profile(&model);
                    }
                }
            }
        }
    }
}
