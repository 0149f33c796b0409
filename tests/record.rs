//! Take recording through a real CLAP host (clack-host): the host plays its transport, the
//! plugin keeps what passed through as takes and renders them to video.
//!
//! Checked: a take recorded from a transport offset holds the input bit for bit at its
//! transport position, and its MP4 (rendered by the plugin with the tiny fixture model) has
//! round(length × fps) frames and the take's length, with each click's response in the click's
//! frame; a stop between two plays makes two takes (in the host's offline render mode); a loop
//! starts a new segment of the same take; record off writes nothing; an output folder that
//! cannot be written is an error while audio passes through; ten minutes processed as fast as
//! the host can lose no sample; takes left unrendered (here: the weights were missing) render
//! when the plugin next loads; the ffmpeg set in the plugin (saved with the project) is the one
//! that encodes takes.
//!
//! The plugin reads its output folder and weights from the environment, which is one per
//! process, so these tests run one at a time (`ENV_LOCK`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clack_extensions::render::{PluginRender, RenderMode};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use deep_visualizer::render::source::{load_audio, RenderSource};
use deep_visualizer::take::{Take, RENDER_RECORD_FILE};

mod common;
use common::clicks::{assert_in_sync, click_track};
use common::{
    decode_state, encode_state_like, load_entry, load_state, new_instance, param_id, probe,
    save_state, tiny_weights, transport_at, HostBlocks, TestHost,
};

const RATE_HZ: u32 = 48_000;
const BLOCK: usize = 512;

/// The environment is the process's: one test at a time.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// The plugin's environment for one test.
struct TestEnv {
    /// Held for the test.
    _guard: MutexGuard<'static, ()>,
    /// Where takes go.
    out: tempfile::TempDir,
    /// The weights folder (the tiny model, or empty).
    _weights: tempfile::TempDir,
}

/// Takes go to a fresh folder; the models are the tiny fixture (`with_model`) or missing.
fn test_env(with_model: bool) -> TestEnv {
    let guard = ENV_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let out = tempfile::tempdir().unwrap();
    let weights = if with_model {
        tiny_weights()
    } else {
        tempfile::tempdir().unwrap()
    };
    // SAFETY (of the environment): set while no plugin thread of this process runs; every
    // test holds ENV_LOCK and joins its plugin's threads before releasing it.
    std::env::set_var("DEEP_VISUALIZER_OUTPUT_DIR", out.path());
    std::env::set_var("DEEP_VISUALIZER_WEIGHTS", weights.path());
    std::env::set_var("DEEP_VISUALIZER_NO_DOWNLOAD", "1");
    std::env::set_var("DEEP_VISUALIZER_DEVICE", "cpu");
    TestEnv {
        _guard: guard,
        out,
        _weights: weights,
    }
}

/// The transport during one host block.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Play {
    /// Playing (else stopped).
    playing: bool,
    /// Transport position of the block's first sample.
    position_samples: i64,
}

/// What the host feeds: for each block from input sample `start`, the transport and the
/// `record` parameter (`None`: unchanged).
trait Script: Sync {
    fn play(&self, start: usize) -> Play;
    fn record(&self, start: usize) -> Option<bool>;
}

/// Runs `num_samples` of `signal(channel, index)` through an activated instance, block by
/// block as `script` says, as fast as it goes; returns how many output samples differed from
/// the input (the plugin must pass audio through bit for bit).
fn host_run(
    instance: &mut PluginInstance<TestHost>,
    num_samples: usize,
    signal: &(dyn Fn(usize, usize) -> f32 + Sync),
    script: &dyn Script,
) -> usize {
    let record_id = param_id(instance, "Record");
    let config = PluginAudioConfiguration {
        sample_rate: f64::from(RATE_HZ),
        min_frames_count: 1,
        max_frames_count: BLOCK as u32,
    };
    let processor = instance
        .activate(|_, _| (), config)
        .expect("the plugin activates");
    let (processor, num_differing) = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let mut processor = processor.start_processing().expect("processing starts");
                let mut blocks = HostBlocks::default();
                let mut main_in = vec![vec![0.0f32; BLOCK]; 2];
                let mut side_in = vec![vec![0.0f32; BLOCK]; 2];
                let mut main_out = vec![vec![0.0f32; BLOCK]; 2];
                let mut num_differing = 0;
                let mut start = 0;
                while start < num_samples {
                    let len = BLOCK.min(num_samples - start);
                    for (c, buffer) in main_in.iter_mut().enumerate() {
                        for (i, s) in buffer[..len].iter_mut().enumerate() {
                            *s = signal(c, start + i);
                        }
                    }
                    let events: Vec<ParamValueEvent> = script
                        .record(start)
                        .map(|on| {
                            ParamValueEvent::new(
                                0,
                                record_id,
                                Pckn::match_all(),
                                if on { 1.0 } else { 0.0 },
                            )
                        })
                        .into_iter()
                        .collect();
                    let play = script.play(start);
                    let transport =
                        transport_at(play.position_samples, f64::from(RATE_HZ), play.playing);
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
                }
                (processor.stop_processing(), num_differing)
            })
            .join()
            .expect("the audio thread does not panic")
    });
    // Deactivation closes the open take.
    instance.deactivate(processor);
    num_differing
}

/// The transport plays from `from_samples` with record on, for the whole run.
struct PlayFrom(i64);

impl Script for PlayFrom {
    fn play(&self, start: usize) -> Play {
        Play {
            playing: true,
            position_samples: self.0 + start as i64,
        }
    }
    fn record(&self, start: usize) -> Option<bool> {
        (start == 0).then_some(true)
    }
}

/// The take folders in `dir`, by name.
fn takes_in(dir: &Path) -> Vec<PathBuf> {
    let mut takes: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "take"))
                .collect()
        })
        .unwrap_or_default();
    takes.sort();
    takes
}

/// Waits until every take in `dir` has `render.json`, up to `limit`.
fn wait_rendered(dir: &Path, limit: Duration) {
    let started = Instant::now();
    loop {
        let takes = takes_in(dir);
        if !takes.is_empty() && takes.iter().all(|t| t.join(RENDER_RECORD_FILE).is_file()) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the takes in {} did not render within {limit:?}: {:?}",
            dir.display(),
            std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stereo noise from a fixed-seed hash of the sample index: every sample distinct.
fn noise(channel: usize, index: usize) -> f32 {
    let mut x = (index as u64) << 1 | channel as u64;
    x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
}

#[test]
fn a_played_take_is_kept_bit_exact_and_renders_to_a_video_in_sync() {
    let env = test_env(true);
    let clicks = click_track(RATE_HZ);
    let num_samples = clicks.len();
    let from = 32 * i64::from(RATE_HZ) + 123;
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let signal = |_: usize, i: usize| clicks[i];
    assert_eq!(
        host_run(&mut instance, num_samples, &signal, &PlayFrom(from)),
        0,
        "audio passes through bit for bit while recording"
    );
    let takes = takes_in(env.out.path());
    assert_eq!(takes.len(), 1, "one play, one take: {takes:?}");
    let take = Take::open(&takes[0]).unwrap();
    assert!(take.manifest.complete);
    assert_eq!(take.manifest.num_lost_frames, 0);
    assert_eq!(take.manifest.sample_rate_hz, RATE_HZ);
    let flat = take.flatten().unwrap();
    assert_eq!(
        flat.start_samples, from,
        "the take sits at its transport position"
    );
    assert_eq!(
        flat.channels,
        vec![clicks.clone(), clicks.clone()],
        "bit for bit"
    );

    wait_rendered(env.out.path(), Duration::from_secs(600));
    drop(instance);
    let video = takes[0].with_extension("mp4");
    assert!(video.is_file(), "{} is written", video.display());
    let fps = take.manifest.settings.frame_rate().hz();
    let length_s = num_samples as f64 / f64::from(RATE_HZ);
    let num_frames: u64 = probe(&video, "v", "nb_read_frames").parse().unwrap();
    assert_eq!(
        num_frames,
        (length_s * fps).round() as u64,
        "round(length × fps) frames"
    );
    let audio_s: f64 = probe(&video, "a", "duration").parse().unwrap();
    assert!(
        (audio_s - length_s).abs() < 0.03,
        "the video's audio lasts the take: {audio_s} s vs {length_s} s"
    );
    let video_s = num_frames as f64 / fps;
    assert!((video_s - length_s).abs() <= 0.5 / fps + 1e-9);
    // The frames are drawn from the take's analysis: each click lands in its own frame.
    let audio = load_audio(&RenderSource::Take(takes[0].clone())).unwrap();
    assert_eq!(audio.origin_s, from as f64 / f64::from(RATE_HZ));
    assert_in_sync(&audio, "a take the plugin recorded from 32 s");
}

/// Plays 1 s, stops for 0.5 s, plays 1 s from another place.
struct TwoPlays;

impl Script for TwoPlays {
    fn play(&self, start: usize) -> Play {
        let rate = RATE_HZ as usize;
        Play {
            playing: !(rate..rate + rate / 2).contains(&start),
            position_samples: if start < rate {
                start as i64
            } else {
                10 * rate as i64 + start as i64
            },
        }
    }
    fn record(&self, start: usize) -> Option<bool> {
        (start == 0).then_some(true)
    }
}

#[test]
fn two_plays_make_two_takes_that_render_when_the_plugin_next_loads() {
    let env = test_env(false);
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    {
        // Hosts bounce in offline mode (or say "realtime" while doing it): the same takes.
        let handle = instance.plugin_handle();
        let render: PluginRender = handle.get_extension().expect("render extension");
        render.set(&handle, RenderMode::Offline).unwrap();
    }
    let num_samples = 5 * RATE_HZ as usize / 2;
    assert_eq!(host_run(&mut instance, num_samples, &noise, &TwoPlays), 0);
    let mut takes = takes_in(env.out.path());
    assert_eq!(takes.len(), 2, "{takes:?}");
    // Both may start in the same second ("NAME" and "NAME-2"): order them by when they played.
    takes.sort_by_key(|t| Take::open(t).unwrap().flatten().unwrap().start_samples);
    // Block-aligned: the stop covers the blocks that start inside it.
    let rate = RATE_HZ as usize;
    let first_end = rate.div_ceil(BLOCK) * BLOCK;
    let second_start = (rate + rate / 2).div_ceil(BLOCK) * BLOCK;
    let expected = [
        (0i64, 0..first_end),
        (
            10 * rate as i64 + second_start as i64,
            second_start..num_samples,
        ),
    ];
    for (take, (position, range)) in takes.iter().zip(expected) {
        let flat = Take::open(take).unwrap().flatten().unwrap();
        assert_eq!(flat.start_samples, position, "{}", take.display());
        let want: Vec<f32> = range.clone().map(|i| noise(1, i)).collect();
        assert_eq!(flat.channels[1], want, "{}", take.display());
    }
    // The weights are missing: the takes are kept, not rendered.
    std::thread::sleep(Duration::from_millis(500));
    drop(instance);
    assert!(takes.iter().all(|t| !t.join(RENDER_RECORD_FILE).exists()));
    assert!(takes.iter().all(|t| !t.with_extension("mp4").exists()));

    // Next load, with the weights installed: both render.
    let weights = tiny_weights();
    std::env::set_var("DEEP_VISUALIZER_WEIGHTS", weights.path());
    let mut instance = new_instance(&entry);
    host_run(&mut instance, BLOCK, &noise, &Stopped);
    wait_rendered(env.out.path(), Duration::from_secs(600));
    drop(instance);
    for take in &takes {
        let video = take.with_extension("mp4");
        let frames: u64 = probe(&video, "v", "nb_read_frames").parse().unwrap();
        assert!(frames > 0, "{}", video.display());
    }
}

#[test]
fn the_ffmpeg_set_in_the_plugin_encodes_takes() {
    let env = test_env(true);
    // An ffmpeg that notes each run, as a user's own build in an odd folder would be found.
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let wrapper = tools.path().join("my ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec ffmpeg \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    // Set as a project saved with it: the session field of the plugin's state.
    let saved = save_state(&mut instance);
    let mut json = decode_state(&saved);
    let mut session: serde_json::Value =
        serde_json::from_str(json["fields"]["session"].as_str().unwrap()).unwrap();
    session["ffmpeg_path"] = serde_json::Value::String(wrapper.display().to_string());
    json["fields"]["session"] = serde_json::Value::String(session.to_string());
    load_state(&mut instance, &encode_state_like(&saved, &json));

    assert_eq!(
        host_run(&mut instance, RATE_HZ as usize, &noise, &PlayFrom(0)),
        0
    );
    wait_rendered(env.out.path(), Duration::from_secs(600));
    drop(instance);
    let takes = takes_in(env.out.path());
    assert_eq!(takes.len(), 1);
    let frames: u64 = probe(&takes[0].with_extension("mp4"), "v", "nb_read_frames")
        .parse()
        .unwrap();
    assert!(frames > 0);
    let runs = std::fs::read_to_string(&marker).expect("the plugin ran the ffmpeg it was given");
    assert!(runs.contains("libx264"), "it encoded with it: {runs}");
}

/// The transport stays stopped; record is on.
struct Stopped;

impl Script for Stopped {
    fn play(&self, _start: usize) -> Play {
        Play {
            playing: false,
            position_samples: 0,
        }
    }
    fn record(&self, start: usize) -> Option<bool> {
        (start == 0).then_some(true)
    }
}

/// A 1 s loop from 5 s, played twice.
struct Loop;

impl Script for Loop {
    fn play(&self, start: usize) -> Play {
        let rate = RATE_HZ as i64;
        Play {
            playing: true,
            position_samples: 5 * rate + (start as i64 % rate),
        }
    }
    fn record(&self, start: usize) -> Option<bool> {
        (start == 0).then_some(true)
    }
}

#[test]
fn a_loop_starts_a_new_segment_of_the_same_take() {
    let env = test_env(false);
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    // 48 000 is not a multiple of the block: the jump back falls inside a block, where the
    // host's position (as hosts do) only updates at the next block.
    let num_samples = 2 * RATE_HZ as usize;
    assert_eq!(host_run(&mut instance, num_samples, &noise, &Loop), 0);
    drop(instance);
    let takes = takes_in(env.out.path());
    assert_eq!(takes.len(), 1, "a loop is one take: {takes:?}");
    let take = Take::open(&takes[0]).unwrap();
    let segments = take.segments();
    assert_eq!(segments.len(), 2, "{segments:?}");
    assert_eq!(segments[0].start_samples, 5 * i64::from(RATE_HZ));
    assert_eq!(
        take.num_frames(),
        num_samples as u64,
        "every sample is kept"
    );
}

/// Plays with record off.
struct RecordOff;

impl Script for RecordOff {
    fn play(&self, start: usize) -> Play {
        Play {
            playing: true,
            position_samples: start as i64,
        }
    }
    fn record(&self, _start: usize) -> Option<bool> {
        None
    }
}

#[test]
fn record_off_writes_nothing() {
    let env = test_env(false);
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    assert_eq!(
        host_run(&mut instance, RATE_HZ as usize, &noise, &RecordOff),
        0
    );
    drop(instance);
    let entries: Vec<_> = std::fs::read_dir(env.out.path())
        .unwrap()
        .flatten()
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn an_output_folder_that_cannot_be_written_keeps_audio_flowing() {
    let env = test_env(false);
    // A file where the folder should be: no user, root included, can write takes there.
    let blocked = env.out.path().join("not-a-folder");
    std::fs::write(&blocked, b"a file").unwrap();
    std::env::set_var("DEEP_VISUALIZER_OUTPUT_DIR", blocked.join("takes"));
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    assert_eq!(
        host_run(&mut instance, RATE_HZ as usize, &noise, &PlayFrom(0)),
        0,
        "audio passes through bit for bit"
    );
    drop(instance);
    assert_eq!(std::fs::read(&blocked).unwrap(), b"a file");
    let entries: Vec<_> = std::fs::read_dir(env.out.path())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1, "nothing else is written: {entries:?}");
}

#[test]
fn ten_minutes_as_fast_as_the_host_can_lose_no_sample() {
    let env = test_env(false);
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let num_samples = 600 * RATE_HZ as usize;
    let started = Instant::now();
    assert_eq!(
        host_run(&mut instance, num_samples, &noise, &PlayFrom(0)),
        0
    );
    let speed = num_samples as f64 / f64::from(RATE_HZ) / started.elapsed().as_secs_f64();
    drop(instance);
    eprintln!("processed and recorded 10 minutes at {speed:.0}× real time");
    let takes = takes_in(env.out.path());
    assert_eq!(takes.len(), 1, "{takes:?}");
    let take = Take::open(&takes[0]).unwrap();
    assert_eq!(take.manifest.num_lost_frames, 0);
    assert_eq!(take.num_frames(), num_samples as u64);
    let flat = take.flatten().unwrap();
    let mismatch = flat
        .channels
        .iter()
        .enumerate()
        .flat_map(|(c, samples)| {
            samples
                .iter()
                .enumerate()
                .filter(move |&(i, s)| s.to_bits() != noise(c, i).to_bits())
        })
        .count();
    assert_eq!(mismatch, 0, "every sample reaches the take bit for bit");
}
