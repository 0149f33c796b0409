//! CPU time of the Analyzer per second of 48 kHz stereo audio, at host blocks of 64 and 512
//! samples (and with the kick on a separate sidechain, which costs a second spectrum).
//!
//! Each iteration analyses one second of audio, so the reported time per iteration is the time
//! per second of audio. Two measurements: `cpu_time` counts only the time this thread ran
//! (`/proc/thread-self/schedstat`, so other processes on a shared machine do not inflate it;
//! where that file is missing it falls back to wall time), `wall_time` is criterion's default.
//!
//! Run: `cargo bench --bench analysis`, and
//! `bench/librosa_features.py` on the same machine right before or after for the ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use deep_visualizer::analysis::{Analyzer, AnalyzerConfig, Source, TransportInfo};

const SAMPLE_RATE_HZ: f32 = 48_000.0;
const SAMPLES_PER_SECOND: usize = 48_000;

/// One second of stereo music-like test audio: a chord, a bass line and noise.
fn one_second_stereo() -> [Vec<f32>; 2] {
    let sr = f64::from(SAMPLE_RATE_HZ);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0
    };
    let mut left = Vec::with_capacity(SAMPLES_PER_SECOND);
    let mut right = Vec::with_capacity(SAMPLES_PER_SECOND);
    for n in 0..SAMPLES_PER_SECOND {
        let t = n as f64 / sr;
        let tone = |f: f64| (2.0 * std::f64::consts::PI * f * t).sin();
        let chord = 0.2 * (tone(261.63) + tone(329.63) + tone(392.0));
        let bass = 0.4 * tone(55.0 * if t < 0.5 { 1.0 } else { 1.5 });
        left.push((chord + bass + 0.05 * noise()) as f32);
        right.push((chord - bass + 0.05 * noise()) as f32);
    }
    [left, right]
}

/// CPU time this thread has run, if the kernel reports it.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Feeds one second of audio through `analyzer` in blocks of `block` samples.
fn analyse_one_second(
    analyzer: &mut Analyzer,
    audio: &[Vec<f32>; 2],
    block: usize,
    sidechain: bool,
) -> u32 {
    let transport = TransportInfo::default();
    let mut num_frames = 0u32;
    for start in (0..SAMPLES_PER_SECOND).step_by(block) {
        let end = (start + block).min(SAMPLES_PER_SECOND);
        let main = [&audio[0][start..end], &audio[1][start..end]];
        let side = [&audio[1][start..end]];
        analyzer.process(&main, sidechain.then_some(&side[..]), &transport, |frame| {
            black_box(frame);
            num_frames += 1;
        });
    }
    num_frames
}

fn analyzer_per_second(c: &mut Criterion) {
    let audio = one_second_stereo();
    for clock in ["cpu_time", "wall_time"] {
        let mut group = c.benchmark_group(format!("analyzer_48k_stereo_1s_{clock}"));
        group.throughput(Throughput::Elements(SAMPLES_PER_SECOND as u64));
        group.sample_size(30);
        for (label, sidechain) in [("main", false), ("kick_on_sidechain", true)] {
            for block in [64usize, 512] {
                let mut analyzer = Analyzer::new(&AnalyzerConfig::new(SAMPLE_RATE_HZ)).unwrap();
                if sidechain {
                    analyzer.set_sources(Source::Sidechain, Source::Main);
                }
                let id = BenchmarkId::new(label, block);
                group.bench_with_input(id, &block, |b, &block| {
                    b.iter_custom(|iters| {
                        let cpu_start = thread_cpu_time().filter(|_| clock == "cpu_time");
                        let wall_start = Instant::now();
                        for _ in 0..iters {
                            black_box(analyse_one_second(&mut analyzer, &audio, block, sidechain));
                        }
                        match (cpu_start, thread_cpu_time()) {
                            (Some(start), Some(end)) => end.saturating_sub(start),
                            _ => wall_start.elapsed(),
                        }
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, analyzer_per_second);
criterion_main!(benches);
