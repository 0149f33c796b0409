//! The live preview on this CPU: frames per second the render service reaches with a full-size
//! BigGAN-deep-128 (random weights, the real configuration) against the model's own rate measured
//! in the same run, and the audio thread's analysis cost with the service drawing against idle
//! (interleaved, A B A B …, median of the ratios; the goal is ≤ 1.05×).
//!
//! ```text
//! cargo bench --bench live
//! ```
//!
//! Environment: `LIVE_BENCH_SECONDS` (seconds of live preview per measurement, default 8),
//! `LIVE_BENCH_PAIRS` (idle/live pairs for the process() cost, default 5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use deep_visualizer::analysis::{Analyzer, AnalyzerConfig, TransportInfo};
use deep_visualizer::bridge::feature_queue;
use deep_visualizer::models::biggan::exec::ExecOptions;
use deep_visualizer::models::biggan::{truncated_noise_sample, BigGan, BigGanConfig};
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
use deep_visualizer::params::DeepVisualizerParams;
use deep_visualizer::render::service::{LiveHub, RenderService, ServiceConfig};

const RATE_HZ: f32 = 48_000.0;
const BLOCK: usize = 512;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A loud chord over a kick: every feature moves.
fn music(num_samples: usize) -> Vec<f32> {
    (0..num_samples)
        .map(|i| {
            let t = i as f32 / RATE_HZ;
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let seconds = env_or("LIVE_BENCH_SECONDS", 8) as f64;
    let pairs = env_or("LIVE_BENCH_PAIRS", 5);
    let service_config = ServiceConfig {
        device: DevicePreference::Cpu,
        ..ServiceConfig::default()
    };
    let threads = service_config.num_threads;

    // A full-size biggan-deep-128 with random weights, installed in a temporary weights folder.
    let weights = tempfile::tempdir().expect("a temporary folder");
    let model_dir = weights.path().join("biggan-deep-128");
    std::fs::create_dir_all(&model_dir).expect("model folder");
    let config = BigGanConfig::biggan_deep_128();
    std::fs::write(
        model_dir.join("config.json"),
        serde_json::to_string(&config).expect("config"),
    )
    .expect("config.json");
    let device = ComputeDevice::cpu();
    let model = BigGan::with_random_weights(config, 3, device.device()).expect("random model");
    model
        .save_burnpack(&model_dir.join("biggan.bpk"))
        .expect("biggan.bpk");

    // The model's own rate: batch 1, in a pool as large as the service's.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let options = ExecOptions {
        parallel_samples: 1,
        ..model.exec_options()
    };
    let model = model.with_exec_options(options);
    let z = truncated_noise_sample(1, 128, 1.0, 5);
    let mut y = vec![0.0f32; 1000];
    y[207] = 1.0;
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let own_fps = pool.install(|| {
        model.generate_from_slices(&z, &y, 1, 1.0).expect("warm-up");
        let started = Instant::now();
        let mut n = 0;
        while started.elapsed().as_secs_f64() < seconds {
            model.generate_from_slices(&z, &y, 1, 1.0).expect("frame");
            n += 1;
        }
        f64::from(n) / started.elapsed().as_secs_f64()
    });
    drop(model);

    // The service, fed in real time; the audio thread's analysis timed per block.
    let audio = music((seconds * f64::from(RATE_HZ)) as usize);
    let run = |live: bool| -> (f64, f64) {
        let hub = LiveHub::new();
        let (mut tx, rx) = feature_queue(4096);
        let service = live.then(|| {
            RenderService::start(
                hub.clone(),
                Arc::new(DeepVisualizerParams::default()),
                rx,
                ServiceConfig {
                    weights_dir: Some(weights.path().to_owned()),
                    ..service_config.clone()
                },
            )
            .expect("service")
        });
        let mut analyzer = Analyzer::new(&AnalyzerConfig::new(RATE_HZ)).expect("analyzer");
        let mut busy = Duration::ZERO;
        let started = Instant::now();
        let mut frames_at_start = None;
        for (i, block) in audio.chunks(BLOCK).enumerate() {
            let transport = TransportInfo {
                position_samples: Some((i * BLOCK) as i64),
                tempo_bpm: None,
                playing: true,
            };
            let t = Instant::now();
            analyzer.process(&[block, block], None::<&[&[f32]]>, &transport, |f| {
                tx.push(*f);
            });
            busy += t.elapsed();
            if frames_at_start.is_none() && hub.status().num_frames_drawn > 0 {
                frames_at_start = Some((Instant::now(), hub.status().num_frames_drawn));
            }
            let due = Duration::from_secs_f64(((i + 1) * BLOCK) as f64 / f64::from(RATE_HZ));
            std::thread::sleep(due.saturating_sub(started.elapsed()));
        }
        let fps = match frames_at_start {
            Some((at, n0)) => {
                (hub.status().num_frames_drawn - n0) as f64 / at.elapsed().as_secs_f64()
            }
            None => 0.0,
        };
        drop(service);
        (busy.as_secs_f64() / seconds, fps)
    };

    let mut ratios = Vec::new();
    let mut live_fps = Vec::new();
    for _ in 0..pairs {
        let (idle_cost, _) = run(false);
        let (live_cost, fps) = run(true);
        ratios.push(live_cost / idle_cost);
        live_fps.push(fps);
    }
    let live_fps = median(live_fps);
    println!("live bench: biggan-deep-128 (random weights) on the CPU, {threads} model thread(s)");
    println!("model's own rate (batch 1):   {own_fps:.2} frames/s");
    println!(
        "live preview:                 {live_fps:.2} frames/s ({:.2}× the model's own rate; goal ≥ 0.9×)",
        live_fps / own_fps
    );
    println!(
        "audio-thread analysis with live rendering against idle: {:.3}× (median of {pairs} interleaved pairs; goal ≤ 1.05×)",
        median(ratios)
    );
}
