//! Frame-exact sync: the visual response to a sound lands in the video frame that contains it.
//!
//! A click track (a decaying 55 Hz burst about every second, at offsets that fall everywhere
//! inside the frames) is rendered through the library pipeline's analysis and frame timing, once
//! as a song and once as a take recorded from transport time 40.0 s (plus a few samples); for
//! each click, the frame where the BigGAN noise vector's motion jumps and the frame where
//! DeepDream's depth jumps are compared with the click's own frame. At 24, 30 and 60 fps at
//! least 9 of 10 clicks must land in their own frame and none more than one frame off.

use std::path::Path;

use deep_visualizer::render::source::{load_audio, RenderSource, SourceAudio};
use deep_visualizer::settings::VisualSettings;
use deep_visualizer::take::{write_take, TakeManifest};

mod common;
use common::clicks::{assert_in_sync, click_track};

const RATE_HZ: u32 = 44_100;
/// A second host rate, whose hop and window differ.
const OTHER_RATE_HZ: u32 = 48_000;

#[test]
fn a_clicks_response_lands_in_the_clicks_frame_for_songs() {
    for rate_hz in [RATE_HZ, OTHER_RATE_HZ] {
        let audio = SourceAudio {
            sample_rate_hz: rate_hz,
            channels: vec![click_track(rate_hz)],
            origin_s: 0.0,
            warnings: Vec::new(),
            recorded_settings: None,
        };
        assert_in_sync(&audio, &format!("song at {rate_hz} Hz"));
    }
}

#[test]
fn a_clicks_response_lands_in_the_clicks_frame_for_takes_recorded_mid_song() {
    let dir = tempfile::tempdir().unwrap();
    let channels = vec![click_track(RATE_HZ), click_track(RATE_HZ)];
    let start_samples = 40 * i64::from(RATE_HZ) + 37;
    let manifest = TakeManifest::new(RATE_HZ, 2, VisualSettings::default());
    let path = write_take(
        dir.path(),
        "clicks",
        manifest,
        start_samples,
        &channels,
        511,
    )
    .unwrap();
    let audio = load_audio(&RenderSource::Take(path.clone())).unwrap();
    assert_eq!(audio.origin_s, start_samples as f64 / f64::from(RATE_HZ));
    assert_eq!(audio.channels, channels);
    assert!(Path::new(&path).ends_with("clicks.take"));
    assert_in_sync(&audio, "take at 40 s");
}
