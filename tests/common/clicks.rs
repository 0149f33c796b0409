//! The click track of the sync tests and the check that each click's visual response lands in
//! the click's own video frame (see `tests/sync.rs`).

use deep_visualizer::director::dream_depth::DreamDepth;
use deep_visualizer::director::input::{mean_chroma, FrameInputs};
use deep_visualizer::director::{BigGanDirector, BigGanSettings, HarmonyMode};
use deep_visualizer::render::source::{analyse, Harmony, SourceAudio};
use deep_visualizer::settings::{FrameRate, VisualSettings};

/// Click onsets in seconds from the audio's start: about one a second, the fractions chosen so
/// the clicks fall early, mid and late inside frames at every tested rate.
pub const CLICKS_S: [f64; 10] = [
    1.0031, 2.0177, 3.0412, 4.0093, 5.0264, 6.0358, 7.0129, 8.0221, 9.0397, 10.0054,
];

/// A click track: silence with a decaying 55 Hz burst at each click.
pub fn click_track(rate_hz: u32) -> Vec<f32> {
    let len = (12.0 * f64::from(rate_hz)) as usize;
    let mut samples = vec![0.0f32; len];
    for &click_s in &CLICKS_S {
        let first = (click_s * f64::from(rate_hz)).round() as usize;
        for (i, s) in samples[first..]
            .iter_mut()
            .take(rate_hz as usize / 4)
            .enumerate()
        {
            let t = i as f64 / f64::from(rate_hz);
            *s = (0.8 * (-t * 25.0).exp() * (t * 55.0 * std::f64::consts::TAU).sin()) as f32;
        }
    }
    samples
}

/// Frame `k` of `values` where the value rises most, within a second around `near`.
fn jump_frame(values: &[f64], near: usize, frames_per_s: usize) -> usize {
    let lo = near.saturating_sub(frames_per_s / 2).max(1);
    let hi = (near + frames_per_s / 2).min(values.len() - 1);
    (lo..=hi)
        .max_by(|&a, &b| {
            let da = values[a] - values[a - 1];
            let db = values[b] - values[b - 1];
            da.total_cmp(&db).then(b.cmp(&a))
        })
        .unwrap()
}

/// Per click: (BigGAN jump frame − click frame, DeepDream jump frame − click frame).
fn offsets(audio: &SourceAudio, fps: FrameRate) -> Vec<(i64, i64)> {
    let settings = VisualSettings {
        fps: Some(fps),
        ..VisualSettings::default()
    };
    let analysed = analyse(audio, &settings, Harmony::Song, &mut |_, _| {}).unwrap();

    let num_frames = (audio.duration_s() * fps.hz()).round() as u64;
    let director_settings = BigGanSettings::from_visual(&settings, fps.hz(), 128, 1000);
    let mode = HarmonyMode::Song {
        mean_chroma: mean_chroma(&analysed.samples),
    };
    let inputs = FrameInputs::new(
        analysed.samples,
        analysed.feature_hz,
        0.0,
        fps.num,
        fps.den,
        false,
    );
    let frames: Vec<_> = (0..num_frames).map(|k| inputs.get(k)).collect();
    let latents = BigGanDirector::run(&director_settings, mode, &frames).unwrap();
    let mut speed = vec![0.0f64];
    speed.extend(latents.windows(2).map(|w| {
        w[1].z
            .iter()
            .zip(&w[0].z)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            .sqrt()
    }));
    let mut envelope = DreamDepth::new(settings.dream.kick_decay, 1000);
    let depth: Vec<f64> = frames
        .iter()
        .map(|f| f64::from(envelope.next_frame(f.kick)))
        .collect();
    let per_s = fps.hz().round() as usize;
    CLICKS_S
        .iter()
        .map(|&click_s| {
            let click_frame = (click_s * fps.hz()).floor() as usize;
            (
                jump_frame(&speed, click_frame, per_s) as i64 - click_frame as i64,
                jump_frame(&depth, click_frame, per_s) as i64 - click_frame as i64,
            )
        })
        .collect()
}

/// At 24, 30 and 60 fps, for BigGAN and DeepDream: at least 9 of 10 clicks' responses land in the
/// click's own frame and none more than one frame off.
pub fn assert_in_sync(audio: &SourceAudio, what: &str) {
    for fps in [24, 30, 60] {
        let offsets = offsets(audio, FrameRate::new(fps, 1));
        for (engine, pick) in [("BigGAN", 0), ("DeepDream", 1)] {
            let engine_offsets: Vec<i64> = offsets
                .iter()
                .map(|o| if pick == 0 { o.0 } else { o.1 })
                .collect();
            let exact = engine_offsets.iter().filter(|&&o| o == 0).count();
            assert!(
                exact >= 9 && engine_offsets.iter().all(|o| o.abs() <= 1),
                "{what}, {engine} at {fps} fps: frame offsets of the response to each click \
                 {engine_offsets:?} ({exact}/10 exact)"
            );
        }
    }
}
