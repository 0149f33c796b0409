//! The render service: live pictures from the plugin's feature queue.
//!
//! The service runs on the tiny random-weight BigGAN-deep of the model tests (laid out as an
//! installed `biggan-deep-128` in a temporary weights folder); the Analyzer turns a test signal
//! into feature frames as the plugin's `process()` does, at about real-time pace. Checked: frames
//! are published and follow the music (a quiet passage and a loud chord give other pictures);
//! the status says ready and on which device, with a frame rate and a latency; with the weights
//! missing the status says so and what to run; two services on the same model share one loaded
//! copy, freed when both stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deep_visualizer::analysis::{Analyzer, AnalyzerConfig, TransportInfo};
use deep_visualizer::bridge::{feature_queue, FeatureProducer};
use deep_visualizer::models::device::DevicePreference;
use deep_visualizer::params::DeepVisualizerParams;
use deep_visualizer::render::service::{
    num_cached_models, LiveHub, ModelState, RenderService, ServiceConfig,
};

mod common;
use common::tiny_weights;

const RATE_HZ: f32 = 48_000.0;

fn config(weights_dir: PathBuf) -> ServiceConfig {
    ServiceConfig {
        num_threads: 1,
        device: DevicePreference::Cpu,
        weights_dir: Some(weights_dir),
    }
}

/// `seconds` of audio: silence, or a loud A-minor chord over a kick every half second.
fn signal(seconds: f32, loud: bool, offset_samples: usize) -> Vec<f32> {
    let n = (seconds * RATE_HZ) as usize;
    (0..n)
        .map(|i| {
            if !loud {
                return 0.0;
            }
            let t = (i + offset_samples) as f32 / RATE_HZ;
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

/// Feeds `audio` through `analyzer` into `tx` in 512-sample blocks at about real-time pace.
fn feed(analyzer: &mut Analyzer, tx: &mut FeatureProducer, audio: &[f32], position: &mut i64) {
    let started = Instant::now();
    for block in audio.chunks(512) {
        let transport = TransportInfo {
            position_samples: Some(*position),
            tempo_bpm: None,
            playing: true,
        };
        analyzer.process(&[block], None::<&[&[f32]]>, &transport, |f| {
            tx.push(*f);
        });
        *position += block.len() as i64;
        let due = Duration::from_secs_f64(*position as f64 / f64::from(RATE_HZ));
        let ahead = due.saturating_sub(started.elapsed());
        std::thread::sleep(ahead.min(Duration::from_millis(10)));
    }
}

/// Waits until `hub` has published a frame newer than `after`; returns its serial and pixels.
fn next_frame(hub: &LiveHub, after: u64) -> (u64, Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let frame = hub.read_frame(|f| (f.serial, f.rgba.clone()));
        if frame.0 > after {
            return frame;
        }
        assert!(
            Instant::now() < deadline,
            "no frame after serial {after}: {:?}",
            hub.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn live_pictures_follow_the_music() {
    let weights = tiny_weights();
    let hub = LiveHub::new();
    let params = Arc::new(DeepVisualizerParams::default());
    let (mut tx, rx) = feature_queue(4096);
    let service =
        RenderService::start(hub.clone(), params, rx, config(weights.path().into())).unwrap();
    let mut analyzer = Analyzer::new(&AnalyzerConfig::new(RATE_HZ)).unwrap();
    let mut position = 0i64;

    feed(
        &mut analyzer,
        &mut tx,
        &signal(1.5, false, 0),
        &mut position,
    );
    let (quiet_serial, quiet) = next_frame(&hub, 0);
    feed(
        &mut analyzer,
        &mut tx,
        &signal(1.5, false, 0),
        &mut position,
    );
    let (_, still_quiet) = next_frame(&hub, quiet_serial);
    feed(&mut analyzer, &mut tx, &signal(2.0, true, 0), &mut position);
    let (loud_serial, loud) = next_frame(&hub, quiet_serial + 1);

    let status = hub.status();
    assert_eq!(status.model, ModelState::Ready, "{status:?}");
    assert!(status.device.contains("CPU"), "{status:?}");
    assert!(
        status.num_frames_drawn >= 3 && status.achieved_fps > 0.0,
        "{status:?}"
    );
    assert!(
        status.latency_ms >= 0.0 && status.latency_ms < 5000.0,
        "{status:?}"
    );
    let (w, h) = hub.read_frame(|f| (f.width, f.height));
    assert_eq!(quiet.len(), (w * h * 4) as usize);
    // The picture moves with the music: the loud passage drives the noise vector away from
    // where the quiet one left it.
    let differing = |a: &[u8], b: &[u8]| a.iter().zip(b).filter(|(x, y)| x != y).count();
    assert!(
        differing(&quiet, &loud) > quiet.len() / 10,
        "loud and quiet frames are alike ({} of {} bytes differ, serial {loud_serial})",
        differing(&quiet, &loud),
        quiet.len()
    );
    let (_, also_loud) = {
        feed(
            &mut analyzer,
            &mut tx,
            &signal(1.0, true, 96_000),
            &mut position,
        );
        next_frame(&hub, loud_serial)
    };
    assert!(differing(&loud, &also_loud) > 0);
    assert!(differing(&quiet, &still_quiet) < differing(&quiet, &loud));
    drop(service);
    assert_eq!(hub.status().model, ModelState::Stopped);
}

#[test]
fn missing_weights_are_shown_with_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let hub = LiveHub::new();
    let params = Arc::new(DeepVisualizerParams::default());
    let (_tx, rx) = feature_queue(64);
    let _service =
        RenderService::start(hub.clone(), params, rx, config(empty.path().into())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let ModelState::Missing { model_id, message } = hub.status().model {
            assert_eq!(model_id, "biggan-deep-128");
            assert!(
                message.contains("deep-visualizer weights download biggan-deep-128"),
                "{message}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", hub.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(hub.read_frame(|f| f.serial), 0);
}

#[test]
fn two_instances_share_one_loaded_model() {
    let weights = tiny_weights();
    let mut services = Vec::new();
    let mut feeds = Vec::new();
    let mut hubs = Vec::new();
    for _ in 0..2 {
        let hub = LiveHub::new();
        let (tx, rx) = feature_queue(4096);
        let params = Arc::new(DeepVisualizerParams::default());
        services.push(
            RenderService::start(hub.clone(), params, rx, config(weights.path().into())).unwrap(),
        );
        feeds.push(tx);
        hubs.push(hub);
    }
    for (tx, hub) in feeds.iter_mut().zip(&hubs) {
        let mut analyzer = Analyzer::new(&AnalyzerConfig::new(RATE_HZ)).unwrap();
        let mut position = 0;
        feed(&mut analyzer, tx, &signal(1.0, true, 0), &mut position);
        next_frame(hub, 0);
    }
    assert_eq!(num_cached_models(weights.path()), 1);
    drop(services);
    assert_eq!(num_cached_models(weights.path()), 0);
}
