//! Time per second of audio of `deep-visualizer render` at 128 px, stage by stage, through the
//! library's render pipeline (`deep_visualizer::render`): decode + analysis, Director, model (a full-size biggan-deep-128 with random weights, the real
//! configuration, on the CPU backend), and encoding (ffmpeg, H.264 + AAC). The pipeline around
//! the model should add at most 20 % to the model's own time.
//!
//! ```text
//! cargo bench --bench render
//! python3 bench/render_reference.py    # the seed's stages, same machine
//! ```
//!
//! Environment: `RENDER_BENCH_SECONDS` (song length, default 20), `RENDER_BENCH_MODEL_FRAMES`
//! (frames the model draws for its timing, default 16), `RENDER_BENCH_BATCH` (default 8).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use deep_visualizer::director::input::{mean_chroma, FrameInputs};
use deep_visualizer::director::{BigGanDirector, BigGanSettings, HarmonyMode, SEED_STEP_HZ};
use deep_visualizer::export::{find_ffmpeg, VideoEncoder, VideoSpec};
use deep_visualizer::models::biggan::{to_rgb8, BigGan, BigGanConfig};
use deep_visualizer::models::device::ComputeDevice;
use deep_visualizer::render::source::{analyse, load_audio, write_span_wav, Harmony, RenderSource};
use deep_visualizer::settings::VisualSettings;

mod support;
use support::env_or;

/// CPU seconds this process and its waited-for children used, from `/proc/self/stat` (Linux).
/// On a shared machine it shows the work done, where wall time also shows waiting.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14–17 (1-based), 11–14 after the state; the
    // kernel's USER_HZ is 100 on every Linux we run on.
    fields
        .get(11..15)
        .map_or(0.0, |f| f.iter().sum::<f64>() / 100.0)
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    (out, wall.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

/// A 44.1 kHz stereo 16-bit WAV: chords every 2 s over a kick every 0.5 s (as in
/// tests/render.rs, and as bench/render_reference.py writes it).
fn write_song(path: &Path, seconds: usize) {
    const RATE_HZ: u32 = 44_100;
    const CHORDS: [[f64; 3]; 4] = [
        [220.0, 261.63, 329.63],
        [174.61, 220.0, 261.63],
        [261.63, 329.63, 392.0],
        [196.0, 246.94, 293.66],
    ];
    let num_samples = seconds * RATE_HZ as usize;
    let mut data = Vec::with_capacity(num_samples * 4);
    for i in 0..num_samples {
        let t = i as f64 / f64::from(RATE_HZ);
        let chord = CHORDS[(t / 2.0) as usize % CHORDS.len()];
        let swell = 0.5 + 0.5 * (t * std::f64::consts::TAU / 7.0).sin().abs();
        let tonal: f64 = chord
            .iter()
            .map(|f| (t * f * std::f64::consts::TAU).sin())
            .sum::<f64>()
            * 0.12
            * swell;
        let since_kick = t % 0.5;
        let kick =
            0.5 * (-since_kick * 18.0).exp() * (since_kick * 55.0 * std::f64::consts::TAU).sin();
        for x in [tonal + kick, 0.8 * tonal + kick] {
            data.extend_from_slice(&((x.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
        }
    }
    let mut header = Vec::new();
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&RATE_HZ.to_le_bytes());
    header.extend_from_slice(&(RATE_HZ * 4).to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let mut file = std::fs::File::create(path).expect("create the song");
    file.write_all(&header).expect("write the song");
    file.write_all(&data).expect("write the song");
}

fn main() {
    let seconds = env_or("RENDER_BENCH_SECONDS", 20);
    let model_frames = env_or("RENDER_BENCH_MODEL_FRAMES", 16);
    let batch = env_or("RENDER_BENCH_BATCH", 8).max(1);
    let fps = SEED_STEP_HZ;
    let num_frames = (seconds as f64 * fps).round() as u64;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let song = dir.path().join("song.wav");
    write_song(&song, seconds);
    println!(
        "render bench: {seconds} s song (44.1 kHz stereo), {num_frames} frames at {fps:.2} fps, \
         128 px, batch {batch}"
    );
    let per_s = |x: f64| x / seconds as f64;
    let mut rows = Vec::new();

    // Decode + analysis: the render pipeline's own steps (song mode: tuning estimate, two-pass
    // levels).
    let ((samples, audio), wall, cpu) = timed(|| {
        let audio = load_audio(&RenderSource::Song(song.clone())).expect("decode");
        let analysed = analyse(
            &audio,
            &VisualSettings::default(),
            Harmony::Song,
            &mut |_, _| {},
        )
        .expect("analyse");
        (analysed.samples, audio)
    });
    rows.push(("decode + analysis", per_s(wall), per_s(cpu)));

    // Director: every frame's features and latents.
    let (_, wall, cpu) = timed(|| {
        let settings = BigGanSettings {
            fps,
            seed: 1,
            ..BigGanSettings::default()
        };
        let mode = HarmonyMode::Song {
            mean_chroma: mean_chroma(&samples),
        };
        let inputs = FrameInputs::new(samples.clone(), SEED_STEP_HZ, 0.0, 22050, 512, false);
        let mut director = BigGanDirector::new(&settings, mode).expect("director");
        let mut num_out = 0u64;
        for k in 0..num_frames {
            director.push(&inputs.get(k));
            while director.pop().is_some() {
                num_out += 1;
            }
        }
        director.finish();
        while director.pop().is_some() {
            num_out += 1;
        }
        assert_eq!(num_out, num_frames);
    });
    rows.push(("director", per_s(wall), per_s(cpu)));

    // Model: a few batches, scaled to a second of video, on threads set up as `render` does.
    deep_visualizer::models::subnormals::flush_subnormals_on_model_threads();
    let device = ComputeDevice::cpu();
    let model = BigGan::with_random_weights(BigGanConfig::biggan_deep_128(), 3, device.device())
        .expect("random biggan-deep-128");
    // As `render` runs it on the CPU: one part of each batch per core.
    let num_cores = std::thread::available_parallelism().map_or(1, usize::from);
    let options = deep_visualizer::models::biggan::exec::ExecOptions {
        parallel_samples: num_cores,
        ..model.exec_options()
    };
    let model = model.with_exec_options(options);
    let z_dim = model.config().z_dim;
    let classes = model.config().num_classes;
    let draw = |n: usize| {
        let z = deep_visualizer::models::biggan::truncated_noise_sample(n, z_dim, 1.0, 9);
        let mut y = vec![0.0f32; n * classes];
        for (i, row) in y.chunks_mut(classes).enumerate() {
            row[(i * 97) % classes] = 1.0;
            row[(i * 31 + 5) % classes] = 0.5;
        }
        to_rgb8(
            model
                .generate_from_slices(&z, &y, n, 1.0)
                .expect("generate"),
        )
        .expect("rgb")
    };
    let warm_up = draw(1);
    let (images, wall, cpu) = timed(|| {
        let mut images = warm_up;
        for _ in 0..model_frames.div_ceil(batch) {
            images.extend(draw(batch));
        }
        images
    });
    let num_drawn = (model_frames.div_ceil(batch) * batch) as f64;
    let model_row = ("model", wall / num_drawn * fps, cpu / num_drawn * fps);
    rows.push(model_row);

    // Encoding: every frame of the song (the drawn images in turn) and its audio.
    let wav = dir.path().join("audio.wav");
    write_span_wav(&audio, 0.0, audio.duration_s(), &wav).expect("wav");
    drop(audio);
    let frames: Vec<Vec<u8>> = images.into_iter().map(|img| img.into_raw()).collect();
    let ffmpeg = find_ffmpeg(None).expect("ffmpeg");
    let (_, wall, cpu) = timed(|| {
        let mut spec = VideoSpec::new(128, 128, 22050, 512);
        spec.audio_wav = Some(wav.clone());
        let mut encoder =
            VideoEncoder::start(&ffmpeg, &dir.path().join("out.mp4"), &spec).expect("encoder");
        for k in 0..num_frames as usize {
            encoder
                .push_frame(frames[k % frames.len()].clone())
                .expect("frame");
        }
        encoder.finish().expect("finish");
    });
    rows.push(("encode (ffmpeg, incl. its CPU)", per_s(wall), per_s(cpu)));

    println!(
        "{:34} {:>14} {:>14}",
        "stage", "wall s/s audio", "cpu s/s audio"
    );
    for (name, wall, cpu) in &rows {
        println!("{name:34} {wall:14.3} {cpu:14.3}");
    }
    let around_wall: f64 = rows.iter().filter(|r| r.0 != "model").map(|r| r.1).sum();
    let around_cpu: f64 = rows.iter().filter(|r| r.0 != "model").map(|r| r.2).sum();
    println!(
        "pipeline around the model: {:.1} % of the model's wall time, {:.1} % of its CPU time \
         (target ≤ 20 %; encoding runs on its own threads beside the model in a render)",
        100.0 * around_wall / model_row.1,
        100.0 * around_cpu / model_row.2
    );
}
