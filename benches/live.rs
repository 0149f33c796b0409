//! The live preview on this CPU: frames per second the render service reaches against the
//! model's own rate measured in the same run, for a full-size BigGAN-deep-128 and a full-width
//! GoogLeNet (DeepDream static and flowing), all with random weights (the real configurations;
//! timing does not depend on the values); and the audio thread's analysis cost with the service
//! drawing against idle (interleaved, A B A B …, median of the ratios; the goal is ≤ 1.05×).
//!
//! ```text
//! cargo bench --bench live
//! ```
//!
//! Environment: `LIVE_BENCH_SECONDS` (seconds of live preview per measurement, default 8),
//! `LIVE_BENCH_PAIRS` (idle/live pairs for the process() cost, default 5),
//! `LIVE_BENCH_DREAM_PREPARE_S` (the longest wait for DeepDream's static depths, default 600).

use std::sync::Arc;
use std::time::{Duration, Instant};

use deep_visualizer::analysis::{Analyzer, AnalyzerConfig, TransportInfo};
use deep_visualizer::bridge::feature_queue;
use deep_visualizer::dream::{dream_settings, DreamEngine, Dreamer};
use deep_visualizer::models::biggan::exec::ExecOptions;
use deep_visualizer::models::biggan::{truncated_noise_sample, BigGan, BigGanConfig};
use deep_visualizer::models::device::{ComputeDevice, DevicePreference};
use deep_visualizer::models::inception::{InceptionV1, Preprocess};
use deep_visualizer::params::{DeepVisualizerParams, DreamMode, Engine};
use deep_visualizer::render::service::{LiveHub, RenderService, ServiceConfig};
use nice_plug::prelude::Param;

mod support;
use support::{env_or, median, music, random_googlenet_checkpoint};

const RATE_HZ: f32 = 48_000.0;
const BLOCK: usize = 512;

/// Parameters with `engine` and DeepDream's `mode` set, as the host would set them.
fn params(engine: Engine, mode: DreamMode) -> Arc<DeepVisualizerParams> {
    let params = DeepVisualizerParams::default();
    // SAFETY: the parameters are not shared yet; this is what the host's wrapper does on an
    // automation event.
    unsafe {
        params
            .engine
            .as_ptr()
            ._internal_set_normalized_value(params.engine.preview_normalized(engine));
        params
            .dream
            .mode
            .as_ptr()
            ._internal_set_normalized_value(params.dream.mode.preview_normalized(mode));
    }
    Arc::new(params)
}

/// What one live run measured.
struct LiveRun {
    /// Seconds the analysis took per second of audio.
    analysis_cost: f64,
    /// Frames the service drew per second once drawing.
    fps: f64,
}

/// Feeds `seconds` of music to a fresh Analyzer in real time, with the render service drawing
/// (`live`) or not, after `warm_up` returns true for the service's status (e.g. the model loaded,
/// DeepDream's depths ready).
fn live_run(
    weights: &std::path::Path,
    config: &ServiceConfig,
    params: &Arc<DeepVisualizerParams>,
    seconds: f64,
    live: bool,
    warm_up: &dyn Fn(&LiveHub) -> bool,
) -> LiveRun {
    let audio = music((seconds * f64::from(RATE_HZ)) as usize, RATE_HZ);
    let hub = LiveHub::new();
    let (mut tx, rx) = feature_queue(4096);
    let service = live.then(|| {
        RenderService::start(
            hub.clone(),
            params.clone(),
            rx,
            ServiceConfig {
                weights_dir: Some(weights.to_owned()),
                ..config.clone()
            },
        )
        .expect("service")
    });
    let mut analyzer = Analyzer::new(&AnalyzerConfig::new(RATE_HZ)).expect("analyzer");
    let mut feed = |analyzer: &mut Analyzer, i: usize, block: &[f32]| {
        let transport = TransportInfo {
            position_samples: Some((i * BLOCK) as i64),
            tempo_bpm: None,
            playing: true,
        };
        analyzer.process(&[block, block], None::<&[&[f32]]>, &transport, |f| {
            tx.push(*f);
        });
    };
    if live {
        // Music keeps coming while the service gets ready, as in a session.
        let started = Instant::now();
        let limit = Duration::from_secs(env_or("LIVE_BENCH_DREAM_PREPARE_S", 600) as u64);
        let mut i = 0;
        while !warm_up(&hub) && started.elapsed() < limit {
            let start = (i * BLOCK) % (audio.len() - BLOCK);
            feed(&mut analyzer, i, &audio[start..start + BLOCK]);
            i += 1;
            let due = Duration::from_secs_f64((i * BLOCK) as f64 / f64::from(RATE_HZ));
            std::thread::sleep(due.saturating_sub(started.elapsed()));
        }
        analyzer = Analyzer::new(&AnalyzerConfig::new(RATE_HZ)).expect("analyzer");
    }
    let mut busy = Duration::ZERO;
    let started = Instant::now();
    let frames_at_start = (Instant::now(), hub.status().num_frames_drawn);
    for (i, block) in audio.chunks(BLOCK).enumerate() {
        let t = Instant::now();
        feed(&mut analyzer, i, block);
        busy += t.elapsed();
        let due = Duration::from_secs_f64(((i + 1) * BLOCK) as f64 / f64::from(RATE_HZ));
        std::thread::sleep(due.saturating_sub(started.elapsed()));
    }
    let fps = (hub.status().num_frames_drawn - frames_at_start.1) as f64
        / frames_at_start.0.elapsed().as_secs_f64();
    drop(service);
    LiveRun {
        analysis_cost: busy.as_secs_f64() / seconds,
        fps,
    }
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
    let biggan = params(Engine::BigGan, DreamMode::Static);
    let drawing = |hub: &LiveHub| hub.status().num_frames_drawn > 0;
    let mut ratios = Vec::new();
    let mut live_fps = Vec::new();
    for _ in 0..pairs {
        let idle = live_run(
            weights.path(),
            &service_config,
            &biggan,
            seconds,
            false,
            &drawing,
        );
        let live = live_run(
            weights.path(),
            &service_config,
            &biggan,
            seconds,
            true,
            &drawing,
        );
        ratios.push(live.analysis_cost / idle.analysis_cost);
        live_fps.push(live.fps);
    }
    let live_fps = median(live_fps);
    println!("live bench on the CPU, {threads} model thread(s), random weights");
    println!("biggan-deep-128, the model's own rate (batch 1): {own_fps:.2} frames/s");
    println!(
        "biggan-deep-128, live preview:                  {live_fps:.2} frames/s ({:.2}× the model's own rate; goal ≥ 0.9×)",
        live_fps / own_fps
    );
    println!(
        "audio-thread analysis with live rendering against idle: {:.3}× (median of {pairs} interleaved pairs; goal ≤ 1.05×)",
        median(ratios)
    );

    // DeepDream: a full-width GoogLeNet where the service looks for it.
    let dream_dir = weights.path().join("googlenet");
    std::fs::create_dir_all(&dream_dir).expect("model folder");
    let checkpoint = dream_dir.join("googlenet-1378be20.pth");
    random_googlenet_checkpoint(&checkpoint);
    // Flowing dreams every frame: its own rate is the engine the service builds, driven directly.
    let flowing = params(Engine::DeepDream, DreamMode::Flowing);
    let settings = flowing.visual_settings();
    let side = settings.resolution_px;
    let base = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x * 255 / side) as u8, (y * 255 / side) as u8, 128])
    });
    let (dream, engine_settings) = dream_settings(&settings);
    let network = InceptionV1::load(&checkpoint, Preprocess::Pretrained, device.device())
        .expect("random GoogLeNet");
    let mut engine = DreamEngine::new(
        Dreamer::new(network, dream).expect("dreamer"),
        &base,
        engine_settings,
    );
    let own_flow_fps = pool.install(|| {
        engine.next_frame(1.0).expect("warm-up");
        let started = Instant::now();
        let mut n = 0u32;
        while started.elapsed().as_secs_f64() < seconds {
            engine
                .next_frame(if n.is_multiple_of(2) { 1.0 } else { 0.2 })
                .expect("frame");
            n += 1;
        }
        f64::from(n) / started.elapsed().as_secs_f64()
    });
    drop(engine);
    let flow = live_run(
        weights.path(),
        &service_config,
        &flowing,
        seconds,
        true,
        &drawing,
    );
    println!("deepdream flowing, the engine's own rate:        {own_flow_fps:.2} frames/s");
    println!(
        "deepdream flowing, live preview:                {:.2} frames/s ({:.2}× the engine's own rate; goal ≥ 0.9×)",
        flow.fps,
        flow.fps / own_flow_fps
    );
    // Static dreams its depths in the background, then follows the kick at the video frame
    // rate: its goal is that rate, once the depths are ready.
    let statics = params(Engine::DeepDream, DreamMode::Static);
    let target_fps = statics.visual_settings().frame_rate().hz();
    let saw_preparing = std::cell::Cell::new(false);
    let prepare_started = Instant::now();
    let prepared = |hub: &LiveHub| {
        let status = hub.status();
        if status.note.is_some() {
            saw_preparing.set(true);
        }
        saw_preparing.get() && status.note.is_none() && status.num_frames_drawn > 0
    };
    let still = live_run(
        weights.path(),
        &service_config,
        &statics,
        seconds,
        true,
        &prepared,
    );
    println!(
        "deepdream static, depths ready after:          {:.0} s (from the service's start)",
        prepare_started.elapsed().as_secs_f64() - seconds
    );
    println!(
        "deepdream static, live preview:                 {:.2} frames/s ({:.2}× the video frame rate {target_fps:.0}; goal ≥ 0.9×)",
        still.fps,
        still.fps / target_fps
    );
}
