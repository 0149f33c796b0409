//! CPU time of the Analyzer per second of 48 kHz stereo audio, at host blocks of 64 and 512
//! samples (and the kick on a separate sidechain, which costs a second spectrum).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-release cargo bench --bench analysis`; compare with
//! `bench/librosa_features.py` run on the same machine right before or after.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use deep_visualizer::analysis::{Analyzer, AnalyzerConfig, Source, TransportInfo};
use std::hint::black_box;

const SAMPLE_RATE_HZ: f32 = 48_000.0;

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
    let mut left = Vec::with_capacity(48_000);
    let mut right = Vec::with_capacity(48_000);
    for n in 0..48_000 {
        let t = n as f64 / sr;
        let tone = |f: f64| (2.0 * std::f64::consts::PI * f * t).sin();
        let chord = 0.2 * (tone(261.63) + tone(329.63) + tone(392.0));
        let bass = 0.4 * tone(55.0 * if t < 0.5 { 1.0 } else { 1.5 });
        left.push((chord + bass + 0.05 * noise()) as f32);
        right.push((chord - bass + 0.05 * noise()) as f32);
    }
    [left, right]
}

fn analyzer_per_second(c: &mut Criterion) {
    let audio = one_second_stereo();
    let mut group = c.benchmark_group("analyzer_48k_stereo_1s");
    group.throughput(Throughput::Elements(48_000));
    group.sample_size(30);
    for (label, sidechain) in [("main", false), ("kick_on_sidechain", true)] {
        for block in [64usize, 512] {
            let mut analyzer = Analyzer::new(&AnalyzerConfig::new(SAMPLE_RATE_HZ)).unwrap();
            if sidechain {
                analyzer.set_sources(Source::Sidechain, Source::Main);
            }
            let side = [audio[1].clone()];
            let transport = TransportInfo::default();
            group.bench_with_input(BenchmarkId::new(label, block), &block, |b, &block| {
                b.iter(|| {
                    let mut num_frames = 0u32;
                    for start in (0..audio[0].len()).step_by(block) {
                        let end = (start + block).min(audio[0].len());
                        let main = [&audio[0][start..end], &audio[1][start..end]];
                        let side_block = [&side[0][start..end]];
                        analyzer.process(
                            &main,
                            sidechain.then_some(&side_block[..]),
                            &transport,
                            |frame| {
                                black_box(frame);
                                num_frames += 1;
                            },
                        );
                    }
                    num_frames
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, analyzer_per_second);
criterion_main!(benches);
