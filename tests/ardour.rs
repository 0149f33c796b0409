//! A real DAW bounce with Record on: headless Ardour 7 (Debian's `ardour`: `ardour7-lua` with
//! its dummy audio backend) exports a session whose stereo track carries the Deep Visualizer
//! VST3 with its Record parameter on. Ardour bounces in freewheel (faster than real time) while
//! telling the plugin "realtime". The plugin must keep the bounce as one take, equal to the
//! track's audio bit for bit from transport 0, and render it (here with the tiny fixture model)
//! to an MP4 of round(length × fps) frames that lasts as long as the bounce, each click's visual
//! response in the click's own frame.
//!
//! Skipped (with a message) where Ardour is not installed, except under CI (`CI` set), where
//! `.ci/run` installs it. The Lua scripts are in `tests/ardour/`; what they rely on is in the
//! shared Ardour notes. Ardour 7.3's headless tools sometimes abort in teardown after the work is
//! done, so this judges by the files written, not by exit statuses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use deep_visualizer::export::wav::WavWriter;
use deep_visualizer::render::source::{load_audio, RenderSource};
use deep_visualizer::take::{Take, RENDER_RECORD_FILE};

mod common;
use common::clicks::{assert_in_sync, click_track};
use common::{plugin_library_path, probe};

const RATE_HZ: u32 = 48_000;
const LUA: &str = "ardour7-lua";
const ARDOUR_LIB: &str = "/usr/lib/ardour7";
/// An export preset: 32-bit float WAV, no normalising or dither (Ardour's shipped format id).
const PRESET_ID: &str = "6a2f3c1e-0b1d-4c7e-9a55-3d2b9e7f0a11";
/// Ardour 7's superclock ticks per second (positions in the session file).
const SUPERCLOCK_HZ: u64 = 282_240_000;

fn ardour_installed() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(LUA).is_file()))
}

/// `Deep Visualizer.vst3` in `dir`, holding the plugin library cargo built for this run, its
/// files dated a few seconds back (Ardour treats a scan cache older than the module as stale).
fn vst3_bundle(dir: &Path) -> PathBuf {
    let bundle = dir.join("Deep Visualizer.vst3");
    let arch = dir.join("Deep Visualizer.vst3/Contents/x86_64-linux");
    std::fs::create_dir_all(&arch).unwrap();
    std::fs::copy(plugin_library_path(), arch.join("Deep Visualizer.so")).unwrap();
    let past = SystemTime::now() - Duration::from_secs(5);
    for path in [
        arch.join("Deep Visualizer.so"),
        arch.clone(),
        bundle.join("Contents"),
        bundle.clone(),
    ] {
        std::fs::File::open(&path)
            .unwrap()
            .set_modified(past)
            .unwrap();
    }
    bundle
}

/// Runs an `ardour7-lua` script with `env`; returns its stderr and stdout.
fn run_lua(script: &str, env: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ardour")
        .join(script);
    let out = Command::new(LUA)
        .arg(path)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("ardour7-lua runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

/// Where `attr="…"` starts its value inside `tag` (the text of one start tag).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Adds `children` to the first element `<name …>` (or `<name/>`) of `xml` whose start tag
/// satisfies `pick`.
fn append_children(xml: &mut String, name: &str, pick: impl Fn(&str) -> bool, children: &str) {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(found) = xml[from..].find(&open) {
        let start = from + found;
        let end = start + xml[start..].find('>').expect("a start tag ends");
        let tag = xml[start..=end].to_owned();
        let next = xml.as_bytes()[start + open.len()];
        if (next == b' ' || next == b'/' || next == b'>') && pick(&tag) {
            if tag.ends_with("/>") {
                let opened = format!(
                    "{}>{children}</{name}>",
                    tag.trim_end_matches("/>").trim_end()
                );
                xml.replace_range(start..=end, &opened);
            } else {
                xml.insert_str(end + 1, children);
            }
            return;
        }
        from = end;
    }
    panic!("no <{name}> to add to");
}

/// Places `channels` as a region at 0 on `track`'s playlist and makes it the session range:
/// what Ardour's importer writes (headless Lua has no import call). The sources are mono float
/// WAVs in the session's `interchange/<folder>/audiofiles`.
fn inject_region(session_dir: &Path, snapshot: &str, track: &str, channels: &[Vec<f32>]) {
    let path = session_dir.join(format!("{snapshot}.ardour"));
    let mut xml = std::fs::read_to_string(&path).unwrap();
    let session_tag = &xml[xml.find("<Session").unwrap()..];
    let mut next_id: u64 = attr(session_tag, "id-counter")
        .unwrap()
        .parse::<u64>()
        .unwrap()
        + 10;
    let mut new_id = || {
        next_id += 1;
        next_id
    };
    let folder = session_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let audiofiles = session_dir
        .join("interchange")
        .join(&folder)
        .join("audiofiles");
    std::fs::create_dir_all(&audiofiles).unwrap();
    let num_frames = channels[0].len() as u64;
    let length = format!("a{}", num_frames * SUPERCLOCK_HZ / u64::from(RATE_HZ));
    let mut sources = String::new();
    let mut source_ids = Vec::new();
    for (channel, tag) in channels.iter().zip(["L", "R"]) {
        let name = format!("in%{tag}.wav");
        let mut wav = WavWriter::create(&audiofiles.join(&name), RATE_HZ, 1).unwrap();
        wav.write(channel).unwrap();
        wav.finish().unwrap();
        let id = new_id();
        // As the importer writes it (the shared Ardour notes' injector).
        sources.push_str(&format!(
            "<Source name=\"{name}\" type=\"audio\" flags=\"\" id=\"{id}\" natural-position=\"a0\" \
             captured-for=\"\" channel=\"0\" origin=\"\" gain=\"1\"/>"
        ));
        source_ids.push(id);
    }
    let region = |name: &str, whole: bool, id: u64| {
        let w = if whole { "1" } else { "0" };
        format!(
            "<Region name=\"{name}\" muted=\"0\" opaque=\"1\" locked=\"0\" video-locked=\"0\" \
             automatic=\"{w}\" whole-file=\"{w}\" import=\"1\" external=\"0\" sync-marked=\"0\" \
             left-of-split=\"0\" right-of-split=\"0\" hidden=\"0\" position-locked=\"0\" \
             valid-transients=\"0\" start=\"a0\" length=\"{length}@a0\" sync-position=\"a0\" \
             ancestral-start=\"a0\" ancestral-length=\"a0@a0\" stretch=\"1\" shift=\"1\" \
             layering-index=\"0\" tags=\"\" contents=\"0\" envelope-active=\"0\" \
             default-fade-in=\"0\" default-fade-out=\"0\" fade-in-active=\"0\" \
             fade-out-active=\"0\" scale-amplitude=\"1\" id=\"{id}\" type=\"audio\" \
             first-edit=\"nothing\" source-0=\"{s0}\" source-1=\"{s1}\" \
             master-source-0=\"{s0}\" master-source-1=\"{s1}\" channels=\"2\"/>",
            s0 = source_ids[0],
            s1 = source_ids[1],
        )
    };
    let whole = region("in", true, new_id());
    let on_track = region("in.1", false, new_id());
    let range = format!(
        "<Location id=\"{}\" name=\"session\" start=\"a0\" end=\"{length}\" \
         flags=\"IsSessionRange\" locked=\"0\" timestamp=\"0\" cue=\"0\"/>",
        new_id()
    );
    let route_start = xml
        .find(&format!(" name=\"{track}\" default-type=\"audio\""))
        .expect("the track's route");
    let route_tag = &xml[xml[..route_start].rfind('<').unwrap()..];
    let playlist = attr(route_tag, "audio-playlist").unwrap().to_owned();
    append_children(&mut xml, "Sources", |_| true, &sources);
    append_children(&mut xml, "Regions", |_| true, &whole);
    append_children(
        &mut xml,
        "Playlist",
        |tag| attr(tag, "id") == Some(playlist.as_str()),
        &on_track,
    );
    assert!(
        !xml.contains("IsSessionRange"),
        "a fresh session has no range yet"
    );
    append_children(&mut xml, "Locations", |_| true, &range);
    let counter = format!("id-counter=\"{}\"", next_id + 1);
    let old = format!(
        "id-counter=\"{}\"",
        attr(&xml[xml.find("<Session").unwrap()..], "id-counter").unwrap()
    );
    xml = xml.replacen(&old, &counter, 1);
    std::fs::write(&path, xml).unwrap();
}

#[test]
fn an_ardour_bounce_with_record_on_renders_the_take_in_sync() {
    if !ardour_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs Ardour (.ci/run); {LUA} is missing"
        );
        eprintln!("skipped: Ardour 7 is not installed (apt install ardour)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = |name: &str| {
        let path = work.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    };
    let (vst3, out, takes, config) = (dir("vst3"), dir("out"), dir("takes"), dir("config"));
    let weights = common::tiny_weights();
    let bundle = vst3_bundle(&vst3);
    let export_dir = dir("config/ardour7/export");
    std::fs::write(
        export_dir.join("float32.preset"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ExportPreset id=\"{PRESET_ID}\" \
             name=\"float32\">\n  <ExportFormat id=\"20b4ab09-6452-4cb3-bd66-b921cdbd2942\"/>\n  \
             <ExportFilename><Folder relative=\"0\" path=\"{}\"/>\n    <Field name=\"label\" \
             enabled=\"1\"/><Field name=\"session\" enabled=\"0\"/><Field name=\"snapshot\" \
             enabled=\"0\"/>\n    <Field name=\"timespan\" enabled=\"0\"/><Field \
             name=\"revision\" enabled=\"0\"/>\n    <Field name=\"time\" enabled=\"0\" \
             value=\"T_None\"/><Field name=\"date\" enabled=\"0\" value=\"D_None\"/>\n  \
             </ExportFilename>\n</ExportPreset>\n",
            out.display()
        ),
    )
    .unwrap();
    let session = work.path().join("session");
    let s = |p: &Path| p.display().to_string();
    let env: Vec<(&str, String)> = vec![
        ("XDG_CONFIG_HOME", s(&config)),
        ("XDG_CACHE_HOME", s(&work.path().join("cache"))),
        ("VST3_PATH", s(&vst3)),
        ("DEEP_VISUALIZER_OUTPUT_DIR", s(&takes)),
        ("DEEP_VISUALIZER_WEIGHTS", s(weights.path())),
        ("DEEP_VISUALIZER_NO_DOWNLOAD", "1".to_owned()),
        ("DEEP_VISUALIZER_DEVICE", "cpu".to_owned()),
        ("BOUNCE_DIR", s(&session)),
        ("BOUNCE_NAME", "bounce".to_owned()),
        ("BOUNCE_RATE", RATE_HZ.to_string()),
        ("BOUNCE_OUT_DIR", s(&out)),
        ("BOUNCE_PRESET", PRESET_ID.to_owned()),
        ("BOUNCE_TAKES_DIR", s(&takes)),
        ("BOUNCE_WAIT_S", "300".to_owned()),
    ];

    // Ardour's headless tools read the VST3 scan cache only at engine start: scan first.
    let scan = Command::new(Path::new(ARDOUR_LIB).join("ardour-vst3-scanner"))
        .arg("-f")
        .arg(&bundle)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("LD_LIBRARY_PATH", ARDOUR_LIB)
        .env("ARDOUR_DATA_PATH", "/usr/share/ardour7")
        .env("ARDOUR_CONFIG_PATH", "/etc/ardour7")
        .env("ARDOUR_DLL_PATH", ARDOUR_LIB)
        .output()
        .expect("the VST3 scanner runs");
    assert!(
        scan.status.success(),
        "the VST3 scan failed:\n{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let setup = run_lua("setup.lua", &env);
    assert!(setup.contains("[setup] track ready"), "setup:\n{setup}");

    // The song: the sync tests' click track, the same on both channels.
    let clicks = click_track(RATE_HZ);
    let channels = vec![clicks.clone(), clicks.clone()];
    inject_region(&session, "bounce", "music", &channels);
    let export = run_lua("export.lua", &env);
    assert!(
        export.contains("[export] run_export -> true"),
        "export:\n{export}"
    );
    assert!(
        export.contains("[export] the take is rendered"),
        "the plugin did not render the take while Ardour waited:\n{export}"
    );

    let found: Vec<PathBuf> = std::fs::read_dir(&takes)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "take"))
        .collect();
    assert_eq!(found.len(), 1, "one bounce, one take: {found:?}");
    let take_dir = &found[0];
    assert!(take_dir.join(RENDER_RECORD_FILE).is_file());
    let take = Take::open(take_dir).unwrap();
    assert!(take.manifest.complete);
    assert_eq!(
        take.manifest.num_lost_frames, 0,
        "nothing lost at bounce speed"
    );
    assert_eq!(take.manifest.sample_rate_hz, RATE_HZ);
    let flat = take.flatten().unwrap();
    assert_eq!(flat.start_samples, 0, "the bounce starts at transport 0");
    for (channel, (kept, played)) in flat.channels.iter().zip(&channels).enumerate() {
        assert!(kept.len() >= played.len(), "the take holds the whole song");
        assert!(
            kept[..played.len()] == played[..],
            "channel {channel}: the take is the track's audio bit for bit"
        );
    }

    let video = take_dir.with_extension("mp4");
    let fps = take.manifest.settings.frame_rate().hz();
    let take_s = flat.channels[0].len() as f64 / f64::from(RATE_HZ);
    let num_frames: u64 = probe(&video, "v", "nb_read_frames").parse().unwrap();
    assert_eq!(
        num_frames,
        (take_s * fps).round() as u64,
        "round(length × fps) frames"
    );
    let audio_s: f64 = probe(&video, "a", "duration").parse().unwrap();
    assert!(
        (audio_s - take_s).abs() < 0.03,
        "{audio_s} s of audio, take {take_s} s"
    );
    let bounce = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .next()
        .expect("Ardour's export")
        .path();
    let bounce_s: f64 = probe(&bounce, "a", "duration").parse().unwrap();
    // Ardour runs its last block to the end: the take may run a block past the bounce.
    assert!(
        (num_frames as f64 / fps - bounce_s).abs() <= 1.0 / fps + 0.02,
        "the video ({num_frames} frames at {fps} fps) lasts the bounce ({bounce_s} s)"
    );
    let audio = load_audio(&RenderSource::Take(take_dir.clone())).unwrap();
    assert_in_sync(&audio, "an Ardour bounce");
}
