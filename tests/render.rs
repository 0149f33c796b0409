//! `deep-visualizer render` end to end, on the tiny random-weight BigGAN-deep of the model
//! tests and a song generated here: what ffprobe sees in the video, determinism, the memory
//! bound, the vectors files, and flag errors.
//!
//! Needs `ffmpeg` and `ffprobe` on PATH (as the render command itself does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

mod common;
use common::probe;

/// The tiny BigGAN-deep-128-layout model written by `tests/make_biggan_fixtures.py`.
const FIXTURE_WEIGHTS: &str = "tests/fixtures/biggan/tiny128";

fn fixture_weights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_WEIGHTS)
}

/// Writes a mono 16-bit WAV at 22.05 kHz: a chord every 2 s over a kick every 0.5 s, with a
/// slow swell, so power, rise and chroma all move.
fn write_song(path: &Path, seconds: f64) {
    const RATE_HZ: u32 = 22_050;
    // A minor, F major, C major, G major (root, third, fifth in Hz).
    const CHORDS: [[f64; 3]; 4] = [
        [220.0, 261.63, 329.63],
        [174.61, 220.0, 261.63],
        [261.63, 329.63, 392.0],
        [196.0, 246.94, 293.66],
    ];
    let num_samples = (seconds * f64::from(RATE_HZ)).round() as usize;
    let mut data = Vec::with_capacity(num_samples * 2);
    for i in 0..num_samples {
        let t = i as f64 / f64::from(RATE_HZ);
        let chord = CHORDS[(t / 2.0) as usize % CHORDS.len()];
        let swell = 0.5 + 0.5 * (t * std::f64::consts::TAU / 7.0).sin().abs();
        let mut x: f64 = chord
            .iter()
            .map(|f| (t * f * std::f64::consts::TAU).sin())
            .sum::<f64>()
            * 0.12
            * swell;
        let since_kick = t % 0.5;
        x += 0.5 * (-since_kick * 18.0).exp() * (since_kick * 55.0 * std::f64::consts::TAU).sin();
        let sample = (x.clamp(-1.0, 1.0) * 32767.0) as i16;
        data.extend_from_slice(&sample.to_le_bytes());
    }
    let mut file = std::fs::File::create(path).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&RATE_HZ.to_le_bytes());
    header.extend_from_slice(&(RATE_HZ * 2).to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.write_all(&header).unwrap();
    file.write_all(&data).unwrap();
}

/// `deep-visualizer render` on `song` with the fixture model, writing into `out`.
fn render(song: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = render_with(song, out, extra);
    cmd.arg("--weights").arg(fixture_weights());
    cmd
}

/// `deep-visualizer render` on `song`, writing into `out`, without weights.
fn render_with(song: &Path, out: &Path, extra: &[&str]) -> Command {
    render_source("--song", song, out, extra)
}

/// `deep-visualizer render --song SONG` or `--take DIR` (`input_flag`), writing into `out`.
fn render_source(input_flag: &str, input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"));
    cmd.arg("render")
        .arg(input_flag)
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        // The tiny model is fastest on the CPU backend; keep the test off lavapipe.
        .env("DEEP_VISUALIZER_DEVICE", "cpu");
    cmd
}

fn run_ok(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "render failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// SHA-256 of every decoded frame of the video, as raw RGB.
fn frames_hash(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    assert!(!out.stdout.is_empty());
    format!("{:x}", Sha256::digest(&out.stdout))
}

#[test]
fn renders_exactly_the_frames_of_the_span_with_its_audio() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 4.0);
    let out = dir.path().join("video.mp4");
    let frames_dir = dir.path().join("frames");
    std::fs::create_dir(&frames_dir).unwrap();
    // 2.5 s from 1 s in at 12 fps: round(2.5 × 12) = 30 frames.
    let mut cmd = render(
        &song,
        &out,
        &["--fps", "12", "--start", "1", "--duration", "2.5"],
    );
    cmd.arg("--frames-dir").arg(&frames_dir);
    run_ok(cmd);

    assert_eq!(probe(&out, "v", "codec_name"), "h264");
    assert_eq!(probe(&out, "v", "pix_fmt"), "yuv420p");
    assert_eq!(probe(&out, "v", "width"), "128");
    assert_eq!(probe(&out, "v", "r_frame_rate"), "12/1");
    assert_eq!(probe(&out, "v", "nb_read_frames"), "30");
    assert_eq!(probe(&out, "a", "codec_name"), "aac");
    let video_s: f64 = probe(&out, "v", "duration").parse().unwrap();
    let audio_s: f64 = probe(&out, "a", "duration").parse().unwrap();
    assert!(
        (video_s - 2.5).abs() < 1.0 / 12.0,
        "video lasts {video_s} s"
    );
    assert!(
        (video_s - audio_s).abs() <= 1.0 / 12.0,
        "video {video_s} s vs audio {audio_s} s"
    );
    let num_pngs = std::fs::read_dir(&frames_dir).unwrap().count();
    assert_eq!(num_pngs, 30);
    // Nothing else is left in the output folder but the vectors files.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "frames",
            "song.wav",
            "video.class_vectors.npy",
            "video.mp4",
            "video.noise_vectors.npy",
            "video.vectors.json"
        ]
    );
}

#[test]
fn same_seed_renders_identical_frames_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 2.0);
    let args = ["--fps", "10", "--seed", "5"];
    let a = dir.path().join("a.mp4");
    let b = dir.path().join("b.mp4");
    let c = dir.path().join("c.mp4");
    run_ok(render(&song, &a, &args));
    run_ok(render(&song, &b, &args));
    run_ok(render(&song, &c, &["--fps", "10", "--seed", "6"]));
    let hash_a = frames_hash(&a);
    assert_eq!(hash_a, frames_hash(&b));
    assert_ne!(hash_a, frames_hash(&c));
    // The plugin's causal normalisation and Director: other frames, as many of them.
    let live = dir.path().join("live.mp4");
    run_ok(render(
        &song,
        &live,
        &["--fps", "10", "--seed", "5", "--live"],
    ));
    assert_eq!(probe(&live, "v", "nb_read_frames"), "20");
    assert_ne!(frames_hash(&live), hash_a);
}

#[test]
fn previous_vectors_and_classes_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 3.0);
    let out = dir.path().join("v.mp4");
    run_ok(render(
        &song,
        &out,
        &["--fps", "10", "--seed", "1", "--duration", "1"],
    ));
    let first = frames_hash(&out);
    let json = std::fs::read_to_string(dir.path().join("v.vectors.json")).unwrap();
    // Another seed, but the vectors of the first run: the same pictures, for longer.
    run_ok(render(
        &song,
        &out,
        &[
            "--fps",
            "10",
            "--seed",
            "2",
            "--use_previous_vectors",
            "1",
            "--duration",
            "1",
        ],
    ));
    assert_eq!(frames_hash(&out), first);
    // The vectors file covers the whole song, so a longer render can reuse it too.
    run_ok(render(
        &song,
        &out,
        &[
            "--fps",
            "10",
            "--seed",
            "2",
            "--use-previous-vectors",
            "--duration",
            "3",
        ],
    ));
    assert_eq!(probe(&out, "v", "nb_read_frames"), "30");
    // Previous classes with another seed: the same classes are recorded again.
    run_ok(render(
        &song,
        &out,
        &[
            "--fps",
            "10",
            "--seed",
            "3",
            "--use_previous_classes",
            "1",
            "--duration",
            "1",
        ],
    ));
    let classes_of = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["classes"].clone()
    };
    let again = std::fs::read_to_string(dir.path().join("v.vectors.json")).unwrap();
    assert_eq!(classes_of(&json), classes_of(&again));
    assert_ne!(frames_hash(&out), first, "the noise follows the new seed");
}

/// Runs `cmd` to completion and returns its own peak resident memory in KiB: its `VmHWM`
/// (Linux's high-water mark) read from `/proc` until it exits. `wait4`'s `ru_maxrss` would not
/// do: it also covers the ffmpeg the render starts, whose encoder buffers are larger than ours.
fn peak_rss_kib(mut cmd: Command) -> u64 {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        // The high-water mark only grows, so the last reading before the exit is the peak (the
        // render's last moments, closing files, allocate little).
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "render failed: {status}");
    peak_kib
}

#[test]
fn memory_does_not_grow_with_song_length() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.wav");
    let long = dir.path().join("long.wav");
    write_song(&short, 10.0);
    write_song(&long, 60.0);
    // Batches of one keep the model's own memory (its attention maps) small next to the frames
    // a leak would keep: 4 fps gives 200 more 128×128 frames (9.8 MB) in the long render.
    let fps = 4.0;
    let args = ["--fps", "4", "--batch_size", "1"];
    let short_kib = peak_rss_kib(render(&short, &dir.path().join("s.mp4"), &args));
    let long_kib = peak_rss_kib(render(&long, &dir.path().join("l.mp4"), &args));
    println!("peak RSS: 10 s song {short_kib} KiB, 60 s song {long_kib} KiB");
    assert!(
        (long_kib as f64) <= 1.2 * short_kib as f64,
        "a 60 s render peaked at {long_kib} KiB, more than 1.2 × the 10 s render's {short_kib} KiB"
    );
    // Sharper: the growth stays below half of what keeping the extra frames would cost.
    let extra_frames_kib = (60.0 - 10.0) * fps * 128.0 * 128.0 * 3.0 / 1024.0;
    assert!(
        (long_kib.saturating_sub(short_kib) as f64) < 0.5 * extra_frames_kib,
        "the 60 s render used {} KiB more than the 10 s one; its extra frames are {extra_frames_kib} KiB",
        long_kib.saturating_sub(short_kib)
    );
}

#[test]
fn the_encoder_rejects_bad_frames_and_leaves_nothing_when_dropped() {
    use deep_visualizer::export::{find_ffmpeg, ExportError, VideoEncoder, VideoSpec};
    let dir = tempfile::tempdir().unwrap();
    let ffmpeg = find_ffmpeg(None).expect("ffmpeg on PATH");
    assert!(!ffmpeg.version.is_empty());
    let out = dir.path().join("e.mp4");
    assert!(matches!(
        VideoEncoder::start(&ffmpeg, &out, &VideoSpec::new(15, 16, 30, 1)),
        Err(ExportError::BadSpec(_))
    ));
    let mut encoder = VideoEncoder::start(&ffmpeg, &out, &VideoSpec::new(16, 16, 30, 1)).unwrap();
    encoder.push_frame(vec![7; 16 * 16 * 3]).unwrap();
    assert!(matches!(
        encoder.push_frame(vec![0; 10]),
        Err(ExportError::FrameSize {
            frame_idx: 1,
            got_bytes: 10,
            ..
        })
    ));
    drop(encoder);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A finished one has exactly the frames pushed, at the given rate.
    let mut encoder =
        VideoEncoder::start(&ffmpeg, &out, &VideoSpec::new(16, 16, 30000, 1001)).unwrap();
    for i in 0..7u8 {
        encoder.push_frame(vec![i * 30; 16 * 16 * 3]).unwrap();
    }
    assert_eq!(encoder.finish().unwrap(), out);
    assert_eq!(probe(&out, "v", "nb_read_frames"), "7");
    assert_eq!(probe(&out, "v", "r_frame_rate"), "30000/1001");
    let missing = find_ffmpeg(Some(&dir.path().join("no-such-ffmpeg"))).unwrap_err();
    assert!(
        matches!(missing, ExportError::FfmpegMissing { .. }),
        "{missing}"
    );
}

/// Runs the render command with `extra` flags and expects a flag error naming `flag`.
fn assert_flag_error(extra: &[&str], flag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let out = dir.path().join("x.mp4");
    let result = render(&song, &out, extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{extra:?}: {stderr}");
    assert!(
        stderr.contains(flag),
        "{extra:?}: the message does not name {flag}: {stderr}"
    );
    assert!(!out.exists());
}

/// The tiny GoogLeNet written by `tests/make_dream_fixtures.py`.
fn fixture_googlenet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deepdream/googlenet_w8.pth")
}

/// `render --engine deepdream` with the tiny GoogLeNet and a shallow, fast dream.
fn render_dream(song: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = render_with(song, out, &[]);
    cmd.args(["--engine", "deepdream", "--weights"])
        .arg(fixture_googlenet())
        .args(["--octaves", "2", "--max_depth", "3"])
        .args(extra);
    cmd
}

/// The PNGs `--frames-dir` wrote, in frame order.
fn frame_files(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| image::open(path).unwrap().to_rgb8().into_raw())
        .collect()
}

#[test]
fn deepdream_renders_a_picture_that_dreams_with_the_kick() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 2.0);
    // Odd sides: H.264 4:2:0 needs even ones, so the last row and column go.
    let picture = image::RgbImage::from_fn(45, 37, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, ((x + y) * 3) as u8])
    });
    let base = dir.path().join("base.png");
    picture.save(&base).unwrap();
    let out = dir.path().join("dream.mp4");
    let frames_dir = dir.path().join("frames");
    let mut cmd = render_dream(&song, &out, &["--frames-dir"]);
    cmd.arg(&frames_dir).arg("--image").arg(&base);
    run_ok(cmd);

    // The DeepDream seed's 30 fps: 2 s are 60 frames, with the audio.
    assert_eq!(probe(&out, "v", "nb_read_frames"), "60");
    assert_eq!(probe(&out, "v", "width"), "44");
    assert_eq!(probe(&out, "v", "height"), "36");
    assert_eq!(probe(&out, "a", "codec_name"), "aac");

    // Kicks every 0.5 s (15 frames) and the 0.93 decay between them: the deepest dream on each
    // kick, shallower ones as it relaxes, the same depth again at the next kick.
    let frames = frame_files(&frames_dir);
    assert_eq!(frames.len(), 60);
    let distinct: std::collections::HashSet<&Vec<u8>> = frames.iter().collect();
    assert!(
        (2..=3).contains(&distinct.len()),
        "static mode shows one picture per depth (1–3), got {} distinct frames",
        distinct.len()
    );
    assert_eq!(frames[0], frames[15], "every kick dreams as deep");
    assert_ne!(frames[0], frames[14], "the dream relaxes between kicks");

    // Same flags, same seed: the same video.
    let again = dir.path().join("again.mp4");
    let mut cmd = render_dream(&song, &again, &[]);
    cmd.arg("--image").arg(&base);
    run_ok(cmd);
    assert_eq!(frames_hash(&out), frames_hash(&again));
}

#[test]
fn deepdream_without_a_picture_dreams_on_a_biggan_frame() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let out = dir.path().join("dream.mp4");
    let mut cmd = render_dream(&song, &out, &["--fps", "10", "--dream_mode", "flowing"]);
    cmd.arg("--biggan_weights").arg(fixture_weights());
    run_ok(cmd);
    assert_eq!(probe(&out, "v", "nb_read_frames"), "10");
    assert_eq!(probe(&out, "v", "width"), "128");
}

#[test]
fn bad_flags_exit_with_status_2_naming_the_flag() {
    assert_flag_error(&["--image", "x.png"], "--image");
    assert_flag_error(
        &["--engine", "deepdream", "--octave_scale", "9"],
        "--octave_scale",
    );
    assert_flag_error(&["--engine", "deepdream", "--layer", "fc"], "--layer");
    assert_flag_error(&["--jitter", "1.5"], "--jitter");
    assert_flag_error(&["--resolution", "300"], "--resolution");
    assert_flag_error(&["--frame_length", "100"], "--frame_length");
    assert_flag_error(&["--num_classes", "13"], "--num_classes");
    assert_flag_error(&["--classes", "1", "2", "3"], "--classes");
    assert_flag_error(
        &["--num_classes", "4", "--classes", "1", "2", "3"],
        "--classes",
    );
    assert_flag_error(&["--classes", "1000"], "--classes");
    assert_flag_error(&["--truncation", "0"], "--truncation");
    assert_flag_error(&["--fps", "abc"], "--fps");
    assert_flag_error(&["--duration", "5"], "--duration");
    assert_flag_error(&["--start", "3"], "--start");
}

#[test]
fn missing_ffmpeg_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let out = dir.path().join("x.mp4");
    let empty_path = dir.path().join("empty");
    std::fs::create_dir(&empty_path).unwrap();
    let mut cmd = render(&song, &out, &[]);
    cmd.env("PATH", &empty_path);
    let result = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ffmpeg was not found"), "{stderr}");
    assert!(stderr.contains("apt install ffmpeg"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_failing_ffmpeg_leaves_no_partial_video() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let out = dir.path().join("x.mp4");
    // An "ffmpeg" that reports a version, then fails the encode after reading a little.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         case \"$*\" in *-version*) echo 'ffmpeg version 9.9-fake'; exit 0;; esac\n\
         case \"$*\" in *-encoders*) echo ' V....D libx264              H.264'; exit 0;; esac\n\
         head -c 1000 >/dev/null\n\
         echo '[error] Conversion failed: disk on fire' >&2\n\
         exit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = render(&song, &out, &["--fps", "5"]);
    cmd.env("PATH", &bin);
    let result = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ffmpeg failed"), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n == "song.wav" || n == "bin"),
        "left behind: {names:?}"
    );
}

/// Writes the samples of the WAV `song` as a complete take recorded from transport sample
/// `start_samples`, in blocks of 333 frames, with `settings`; returns the take folder.
fn song_as_take(
    song: &Path,
    parent: &Path,
    start_samples: i64,
    settings: deep_visualizer::settings::VisualSettings,
) -> PathBuf {
    let audio = deep_visualizer::analysis::decode::decode_file(song).unwrap();
    let manifest = deep_visualizer::take::TakeManifest::new(
        audio.sample_rate_hz,
        audio.channels.len() as u16,
        settings,
    );
    deep_visualizer::take::write_take(
        parent,
        "song",
        manifest,
        start_samples,
        &audio.channels,
        333,
    )
    .unwrap()
}

/// `deep-visualizer render --take` with the fixture model.
fn render_take(take: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = render_source("--take", take, out, extra);
    cmd.arg("--weights").arg(fixture_weights());
    cmd
}

#[test]
fn a_take_of_a_songs_samples_renders_the_songs_frames() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 2.0);
    let args = ["--fps", "10", "--seed", "3"];
    let from_song = dir.path().join("song.mp4");
    run_ok(render(&song, &from_song, &args));
    // Recorded from bar 17 at 120 bpm (32 s): the frames are the song's, shifted on the
    // transport only.
    let take = song_as_take(
        &song,
        dir.path(),
        32 * 22_050,
        deep_visualizer::settings::VisualSettings::default(),
    );
    let from_take = dir.path().join("take.mp4");
    let out = run_ok(render_take(&take, &from_take, &args));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(frames_hash(&from_take), frames_hash(&from_song));
    assert_eq!(probe(&from_take, "v", "nb_read_frames"), "20");
    assert_eq!(
        probe(&from_take, "a", "duration"),
        probe(&from_song, "a", "duration")
    );
}

#[test]
fn a_take_renders_with_its_own_settings_unless_a_flag_overrides_them() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let recorded = deep_visualizer::settings::VisualSettings {
        fps: Some(deep_visualizer::settings::FrameRate::new(12, 1)),
        seed: 7,
        ..Default::default()
    };
    let take = song_as_take(&song, dir.path(), 0, recorded);
    // No flags: the take's 12 fps and seed 7, and the video beside the take.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"));
    cmd.args(["render", "--quiet", "--take"])
        .arg(&take)
        .arg("--weights")
        .arg(fixture_weights())
        .env("DEEP_VISUALIZER_DEVICE", "cpu");
    run_ok(cmd);
    let beside = dir.path().join("song.mp4");
    assert_eq!(probe(&beside, "v", "nb_read_frames"), "12");
    let seed7 = dir.path().join("seed7.mp4");
    run_ok(render(&song, &seed7, &["--fps", "12", "--seed", "7"]));
    assert_eq!(frames_hash(&beside), frames_hash(&seed7));
    // A flag overrides what the take recorded.
    let at_5fps = dir.path().join("five.mp4");
    run_ok(render_take(&take, &at_5fps, &["--fps", "5"]));
    assert_eq!(probe(&at_5fps, "v", "nb_read_frames"), "5");
}

#[test]
fn a_take_cut_off_while_recording_renders_what_reached_the_disk_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let audio = deep_visualizer::analysis::decode::decode_file(&song).unwrap();
    let manifest = deep_visualizer::take::TakeManifest::new(
        audio.sample_rate_hz,
        1,
        deep_visualizer::settings::VisualSettings::default(),
    );
    let mut writer =
        deep_visualizer::take::TakeWriter::create(dir.path(), "crash", manifest).unwrap();
    writer.write_block(0, &audio.channels[0][..11_025]).unwrap();
    writer.sync().unwrap();
    let partial = writer.partial_dir().to_owned();
    // The host crashed: the writer never finished.
    std::mem::forget(writer);
    let out = dir.path().join("crash.mp4");
    let result = run_ok(render_take(&partial, &out, &["--fps", "10"]));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("cut off while recording"), "{stderr}");
    assert_eq!(probe(&out, "v", "nb_read_frames"), "5");
}

#[test]
fn a_missing_default_model_says_how_to_install_it_when_downloads_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let weights = dir.path().join("weights");
    let out = dir.path().join("v.mp4");
    for (flag, env) in [(Some("--no-download"), None), (None, Some("1"))] {
        let mut cmd = render_with(&song, &out, &[]);
        cmd.env("DEEP_VISUALIZER_WEIGHTS", &weights);
        cmd.args(flag);
        match env {
            Some(value) => cmd.env("DEEP_VISUALIZER_NO_DOWNLOAD", value),
            None => cmd.env_remove("DEEP_VISUALIZER_NO_DOWNLOAD"),
        };
        let result = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("deep-visualizer weights download biggan-deep-128")
                && stderr.contains("--weights")
                && stderr.contains(&weights.join("biggan-deep-128").display().to_string()),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn looking_for_a_gpu_without_a_desktop_session_prints_nothing_of_it() {
    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("g.png");
    let result = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"))
        .args([
            "generate",
            "--truncation",
            "0.5",
            "--class",
            "1",
            "--seed",
            "1",
        ])
        .args(["--device", "auto", "--weights"])
        .arg(fixture_weights())
        .arg("--out")
        .arg(&png)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(png.is_file());
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}

#[test]
fn the_ffmpeg_to_use_can_be_named_and_must_have_h264() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 1.0);
    let out = dir.path().join("x.mp4");
    // Named but not there: the error names it.
    let missing = dir.path().join("no/such/ffmpeg");
    let result = render(&song, &out, &[])
        .env("DEEP_VISUALIZER_FFMPEG", &missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no/such/ffmpeg"), "{stderr}");
    // An ffmpeg built without x264: said before any frame is drawn, nothing written.
    let fake = dir.path().join("ffmpeg-lite");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         case \"$*\" in *-version*) echo 'ffmpeg version 9.9-lite'; exit 0;; esac\n\
         case \"$*\" in *-encoders*) echo ' A....D aac                  AAC'; exit 0;; esac\n\
         exit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let result = render(&song, &out, &[])
        .env("DEEP_VISUALIZER_FFMPEG", &fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no H.264 encoder") && stderr.contains("DEEP_VISUALIZER_FFMPEG"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
#[cfg(debug_assertions)]
fn a_bug_is_an_internal_error_message_not_a_rust_panic() {
    let result = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"))
        .args(["weights", "list"])
        .env("DEEP_VISUALIZER_DEBUG_PANIC", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(70), "{stderr}");
    assert!(
        stderr.starts_with("error: internal error (a bug in deep-visualizer")
            && stderr.contains("Please report it"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

/// A folder that takes only `size_kib` more: a small tmpfs mounted for the test (unmounted on
/// drop; root only), or an ordinary folder with the commands' file size limited (RLIMIT_FSIZE:
/// the OS then fails writes past it, as a full disk fails them).
struct SmallDisk {
    /// The folder.
    dir: tempfile::TempDir,
    /// A tmpfs is mounted on it.
    mounted: bool,
    /// Its size.
    size_kib: u32,
}

impl SmallDisk {
    /// A tmpfs of `size_kib`, where mounting is allowed.
    fn tmpfs(size_kib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_kib}k"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        mounted.then_some(Self {
            dir,
            mounted,
            size_kib,
        })
    }

    /// An ordinary folder whose commands may write files of `size_kib` at most.
    fn limited(size_kib: u32) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            mounted: false,
            size_kib,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `cmd`, limited to the disk's size where no tmpfs could be mounted.
    fn limit(&self, mut cmd: Command) -> Command {
        if !self.mounted {
            let bytes = u64::from(self.size_kib) * 1024;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    let limit = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
                    // Without this the OS kills the writer instead of failing its write.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        cmd
    }

    /// What the error says where the disk ran out.
    fn full_words(&self) -> &'static str {
        if self.mounted {
            "the disk is full"
        } else {
            "choose another folder; nothing was left half-written"
        }
    }

    /// Everything in the disk.
    fn contents(&self) -> Vec<String> {
        std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.dir.path()).status();
        }
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 10.0);
    // A real small disk where the test may mount one (as root: CI), and a size limit always.
    let disks = [SmallDisk::tmpfs(24), Some(SmallDisk::limited(24))];
    for disk in disks.iter().flatten() {
        fill_the_disk(&song, disk);
    }
}

/// `render` and `features` into `disk`, which cannot take their output.
fn fill_the_disk(song: &Path, disk: &SmallDisk) {
    // render: the span's audio (10 s, 441 kB) does not fit.
    let result = disk
        .limit(render(
            song,
            &disk.path().join("video.mp4"),
            &["--fps", "5"],
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(disk.full_words()), "{stderr}");
    assert_eq!(disk.contents(), Vec::<String>::new(), "{stderr}");

    // features: the CSV does not fit.
    let features = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_deep-visualizer"));
        cmd.arg("features")
            .arg(song)
            .arg("--out")
            .arg(disk.path().join("features.csv"));
        disk.limit(cmd).output().unwrap()
    };
    let result = features();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_ne!(result.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(disk.full_words()), "{stderr}");
    assert!(stderr.contains("features.csv"), "{stderr}");
    assert_eq!(disk.contents(), Vec::<String>::new(), "{stderr}");

    // An older file of the same name survives a write that does not fit.
    std::fs::write(disk.path().join("features.csv"), "kept\n").unwrap();
    assert_ne!(features().status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(disk.path().join("features.csv")).unwrap(),
        "kept\n"
    );
    assert_eq!(disk.contents(), ["features.csv"]);
}
