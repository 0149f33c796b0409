//! Seconds per DeepDream gradient step of the full-width GoogLeNet on the CPU backend (flex),
//! objective mean(inception4c), at 224² and 512²; compare with `bench/deepdream_pytorch.py`,
//! run on the same machine right before or after:
//!
//! ```text
//! cargo bench --bench deepdream
//! python3 bench/deepdream_pytorch.py
//! ```
//!
//! The ImageNet checkpoint is not available on the build machines, so the network gets
//! deterministic random weights through a temporary safetensors file in torchvision's layout
//! (timing does not depend on the values). `DEEPDREAM_BENCH_SIZES=224,512` and
//! `DEEPDREAM_BENCH_STEPS=10` override the sizes and the number of timed steps;
//! `DEEPDREAM_BENCH_DEVICE=gpu` runs it through wgpu instead (`bench/gpu.sh`).

use std::time::Instant;

use burn::tensor::Tensor;
use deep_visualizer::dream::{dream_rng, DreamSettings, Dreamer, GradientNorm, Objective};
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
use deep_visualizer::models::inception::{InceptionV1, Layer, Preprocess};

mod support;
use support::{cpu_seconds, env_list, median, random_googlenet_checkpoint};

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to select.
    let sizes = env_list("DEEPDREAM_BENCH_SIZES", &[224, 512]);
    let num_steps = env_list("DEEPDREAM_BENCH_STEPS", &[10])[0].max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let weights = dir.path().join("googlenet_random.safetensors");
    random_googlenet_checkpoint(&weights);
    // As the CLI sets up its model threads.
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let (device, backend) = if std::env::var("DEEPDREAM_BENCH_DEVICE").is_ok_and(|v| v == "gpu") {
        let gpu = ComputeDevice::select(DevicePreference::Gpu).expect("a wgpu adapter");
        println!("{gpu}");
        (gpu.device().clone(), "wgpu")
    } else {
        (ComputeDevice::cpu().device().clone(), "flex")
    };
    let net = InceptionV1::load(&weights, Preprocess::Pretrained, &device).expect("load");

    for (label, norm) in [
        ("mean-|g| step", GradientNorm::MeanAbs),
        (
            "seed blur step",
            GradientNorm::SeedBlur { blur_colour: true },
        ),
    ] {
        let settings = DreamSettings {
            layer: Layer::Inception4c,
            objective: Objective::Mean,
            num_octaves: 1,
            norm,
            jitter_px: 0,
            step_size: 0.05,
            ..DreamSettings::default()
        };
        let dreamer = Dreamer::new(net.clone(), settings).expect("settings");
        for &size in &sizes {
            let mut rng = dream_rng(0);
            let mut x = Tensor::<4>::random(
                [1, 3, size, size],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            // Warm-up: first-use allocations and thread-pool start.
            for _ in 0..2 {
                x = dreamer.step(x, 0, 10, &mut rng).expect("step");
            }
            device.sync().expect("sync");
            let (mut times, mut cpu_times) = (Vec::new(), Vec::new());
            for step_idx in 0..num_steps {
                let (start, cpu) = (Instant::now(), cpu_seconds());
                x = dreamer
                    .step(x, step_idx, num_steps, &mut rng)
                    .expect("step");
                device.sync().expect("sync");
                times.push(start.elapsed().as_secs_f64());
                cpu_times.push(cpu_seconds() - cpu);
            }
            let min = times.iter().copied().fold(f64::INFINITY, f64::min);
            // CPU time shows the work done on a shared machine, where wall time also shows
            // waiting (the kernel counts it in 10 ms ticks: a median over steps).
            println!(
                "burn {backend} {label} {size}x{size}: {:.4} s/step (median of {num_steps}, min {min:.4}); \
                 cpu {:.4} s/step",
                median(times),
                median(cpu_times)
            );
        }
    }

    // Where the time goes at 224²: forward alone vs forward + backward.
    let x = Tensor::<4>::random(
        [1, 3, 224, 224],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let mut forward = Vec::new();
    for _ in 0..num_steps {
        let start = Instant::now();
        let out = net.forward_to(x.clone(), Layer::Inception4c);
        let _ = out.into_data();
        forward.push(start.elapsed().as_secs_f64());
    }
    println!(
        "burn {backend} forward only 224x224: {:.4} s",
        median(forward)
    );
}
