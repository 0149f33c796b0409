//! Soak: an hour of a session through a real CLAP host (clack-host), with live rendering on.
//!
//! The plugin runs as a DAW would run it for an hour: 48 kHz, 512-sample blocks, a playing
//! transport, music (a chord and a kick) on the main input, the render service drawing the tiny
//! fixture model's pictures all along. The first 20 s go at real-time pace and must not drop a
//! single feature frame; the rest of the hour goes as fast as the host can. Checked: audio passes
//! bit for bit; no feature frame is dropped at real-time pace; the live render thread really
//! drew (its CPU time grows); the process's resident memory in the hour's last ten minutes is
//! within 5 % of what it was in minutes 5 to 14 (memory flat, nothing accumulates per block or
//! per frame).

use std::time::{Duration, Instant};

use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;

mod common;
use common::{load_linked_entry, new_instance, tiny_weights, transport_at, HostBlocks};

const RATE_HZ: u32 = 48_000;
const BLOCK: usize = 512;
/// The simulated session.
const SESSION_S: u64 = 3600;
/// The opening stretch played at real-time pace.
const REAL_TIME_S: u64 = 20;
/// When the memory baseline starts: after warm-up (model loaded, buffers grown).
const BASELINE_S: u64 = 300;
/// Samples (one a simulated minute) at the start and at the end of the hour. The lowest of each
/// group counts: the model's working buffers (16 MB at this size) come and go with each frame,
/// so one sample may or may not catch them; memory that accumulates raises the lowest.
const SAMPLES: u64 = 10;

/// The name Linux keeps for every thread the plugin starts (the render service, its model pool):
/// thread names are cut to 15 bytes.
const PLUGIN_THREADS: &str = "deep-visualizer";

/// The process's resident memory, in KiB, once the allocator has given back what it holds
/// free: glibc keeps freed memory in per-thread arenas (the render threads' frames), which is
/// not growth of what the plugin holds.
fn rss_kib() -> u64 {
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// CPU time (user + system) of this process's threads named `name`, in clock ticks.
fn thread_cpu_ticks(name: &str) -> u64 {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        ticks += fields
            .get(11)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        ticks += fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    ticks
}

/// A two-second bar, looped: an A-minor chord with a kick on each beat.
fn bar() -> Vec<f32> {
    let rate = RATE_HZ as f32;
    (0..2 * RATE_HZ as usize)
        .map(|i| {
            let t = i as f32 / rate;
            let chord: f32 = [220.0f32, 261.63, 329.63]
                .iter()
                .map(|f| (std::f32::consts::TAU * f * t).sin() * 0.15)
                .sum();
            let since_beat = t % 0.5;
            let kick = (std::f32::consts::TAU * 55.0 * since_beat).sin()
                * (-since_beat * 30.0).exp()
                * 0.6;
            chord + kick
        })
        .collect()
}

#[test]
fn an_hour_with_live_rendering_keeps_memory_flat_and_drops_nothing_in_real_time() {
    let weights = tiny_weights();
    let out = tempfile::tempdir().unwrap();
    // The plugin is linked into this binary, so this process is the host: set before it starts.
    std::env::set_var("DEEP_VISUALIZER_WEIGHTS", weights.path());
    std::env::set_var("DEEP_VISUALIZER_OUTPUT_DIR", out.path());
    std::env::set_var("DEEP_VISUALIZER_NO_DOWNLOAD", "1");
    std::env::set_var("DEEP_VISUALIZER_DEVICE", "cpu");
    let entry = load_linked_entry();
    let mut instance = new_instance(&entry);
    let config = PluginAudioConfiguration {
        sample_rate: f64::from(RATE_HZ),
        min_frames_count: 1,
        max_frames_count: BLOCK as u32,
    };
    let processor = instance.activate(|_, _| (), config).expect("activates");
    let bar = bar();
    let started = Instant::now();
    let report = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut processor = processor.start_processing().expect("processing starts");
                let mut blocks = HostBlocks::default();
                let mut main_in = vec![vec![0.0f32; BLOCK]; 2];
                let mut side_in = vec![vec![0.0f32; BLOCK]; 2];
                let mut main_out = vec![vec![0.0f32; BLOCK]; 2];
                let events: Vec<ParamValueEvent> = Vec::new();
                let total = SESSION_S as usize * RATE_HZ as usize;
                let mut num_differing = 0usize;
                let mut dropped_in_real_time = None;
                let (mut start_kib, mut end_kib) = (u64::MAX, u64::MAX);
                let mut render_ticks_at_baseline = 0;
                let mut start = 0usize;
                while start < total {
                    let len = BLOCK.min(total - start);
                    for buffer in &mut main_in {
                        for (i, s) in buffer[..len].iter_mut().enumerate() {
                            *s = bar[(start + i) % bar.len()];
                        }
                    }
                    let transport = transport_at(start as i64, f64::from(RATE_HZ), true);
                    num_differing += blocks.process_track(
                        &mut processor,
                        &mut main_in,
                        &mut side_in,
                        &mut main_out,
                        len,
                        &events,
                        Some(start as u64),
                        Some(&transport),
                    );
                    start += len;
                    let heard_s = start as f64 / f64::from(RATE_HZ);
                    if heard_s < REAL_TIME_S as f64 {
                        // A DAW's audio thread: the next block when its time has come.
                        let due = Duration::from_secs_f64(heard_s);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    } else if dropped_in_real_time.is_none() {
                        // Give the reader one of its rounds to catch up with the last block.
                        std::thread::sleep(Duration::from_millis(100));
                        dropped_in_real_time =
                            Some(deep_visualizer::bridge::num_dropped_in_process());
                    }
                    // Once a simulated minute: the memory at the start and at the end of the hour.
                    if start % (RATE_HZ as usize * 60) < BLOCK {
                        let minute = start / (RATE_HZ as usize * 60);
                        if (BASELINE_S / 60..BASELINE_S / 60 + SAMPLES).contains(&(minute as u64)) {
                            start_kib = start_kib.min(rss_kib());
                        }
                        if minute as u64 >= SESSION_S / 60 - SAMPLES {
                            end_kib = end_kib.min(rss_kib());
                        }
                        if minute as u64 == BASELINE_S / 60 {
                            render_ticks_at_baseline = thread_cpu_ticks(PLUGIN_THREADS);
                        }
                    }
                }
                let render_ticks = thread_cpu_ticks(PLUGIN_THREADS) - render_ticks_at_baseline;
                let processor = processor.stop_processing();
                (
                    processor,
                    num_differing,
                    dropped_in_real_time.unwrap_or(u64::MAX),
                    start_kib,
                    end_kib,
                    render_ticks,
                )
            })
            .join()
            .expect("the audio thread does not panic")
    });
    let (processor, num_differing, dropped, baseline_kib, end_kib, render_ticks) = report;
    assert!(
        baseline_kib < u64::MAX && end_kib < u64::MAX,
        "memory was sampled"
    );
    instance.deactivate(processor);
    let growth = end_kib as f64 / baseline_kib as f64 - 1.0;
    eprintln!(
        "soak: {SESSION_S} s in {:.0} s; resident {baseline_kib} KiB (lowest of minutes 5–14), \
         {end_kib} KiB (lowest of minutes 50–59) ({:+.2} %); feature frames dropped in real time: {dropped}, \
         over the whole hour: {}; plugin threads' CPU after warm-up: {render_ticks} ticks",
        started.elapsed().as_secs_f64(),
        growth * 100.0,
        deep_visualizer::bridge::num_dropped_in_process()
    );
    assert_eq!(num_differing, 0, "audio passes through bit for bit");
    assert_eq!(dropped, 0, "no feature frame is dropped at real-time pace");
    assert!(render_ticks > 0, "the render service worked all along");
    assert!(
        growth < 0.05,
        "resident memory grew {:.1} % from {baseline_kib} KiB to {end_kib} KiB",
        growth * 100.0
    );
}
