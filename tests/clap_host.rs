//! Hosts the built plugin the way a DAW does, through CLAP (clack-host), and checks what a user
//! relies on: audio passes through bit for bit at any sample rate and block size, with or
//! without a sidechain; state and parameters survive a save and a reload; parameter events
//! arrive; the parameter ids and ranges do not drift (against a committed snapshot).
//!
//! The plugin library is the debug `cdylib` cargo builds next to this test binary, so
//! `process()` runs under nice-plug's `assert_process_allocs`: an allocation on the audio
//! thread aborts the whole test process. `allocation_checker_is_armed` proves that the checker
//! really is on in that library.
//!
//! A `PluginInstance` must stay on the thread that created it; only the audio processor moves
//! to the (scoped) audio thread.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::params::{ParamInfoBuffer, ParamInfoFlags, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use deep_visualizer::params::SessionState;

mod common;
use common::{
    decode_state, encode_state_like, load_entry, load_state, new_instance, save_state, session_of,
    HostBlocks, TestHost, TEST_PLUGIN_ENV,
};

const SNAPSHOT_PATH: &str = "tests/fixtures/param_snapshot.txt";

/// A deterministic test signal, one `Vec` per channel.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// Two sines of different pitch and level, one per channel.
    Sines,
    /// Uniform white noise from a fixed-seed xorshift.
    Noise,
    /// Digital silence.
    Silence,
    /// A full-scale square wave: exactly ±1.0.
    FullScale,
    /// Subnormal values, which must not be flushed on the way through.
    Denormal,
}

const SIGNALS: [Signal; 5] = [
    Signal::Sines,
    Signal::Noise,
    Signal::Silence,
    Signal::FullScale,
    Signal::Denormal,
];

fn make_signal(
    signal: Signal,
    num_channels: usize,
    num_samples: usize,
    sample_rate_hz: f64,
) -> Vec<Vec<f32>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..num_channels)
        .map(|channel| {
            (0..num_samples)
                .map(|n| {
                    let t = n as f64 / sample_rate_hz;
                    match signal {
                        Signal::Sines => {
                            let freq_hz = if channel == 0 { 440.0 } else { 1234.5 };
                            let level = if channel == 0 { 0.5 } else { 0.25 };
                            (level * (std::f64::consts::TAU * freq_hz * t).sin()) as f32
                        }
                        Signal::Noise => {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            ((state >> 40) as f32 / (1u64 << 23) as f32) * 2.0 - 1.0
                        }
                        Signal::Silence => 0.0,
                        Signal::FullScale => {
                            if (n / 441) % 2 == 0 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        Signal::Denormal => {
                            f32::from_bits(1 + (n as u32 % 1000))
                                * if n % 2 == 0 { 1.0 } else { -1.0 }
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// How the sidechain port is fed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sidechain {
    /// A real signal (noise) on the sidechain port.
    Connected,
    /// A constant-silence buffer, as hosts pass for an unconnected sidechain.
    Silent,
    /// A port with no channels at all.
    Absent,
    /// No sidechain port at all: the host passes fewer input ports than the plugin declares.
    NoPort,
}

/// Runs `input` through an activated instance in blocks of `block_size` samples and returns the
/// plugin's output. Output buffers start as NaN so a plugin that fails to write them is caught.
fn process_through(
    instance: &mut PluginInstance<TestHost>,
    sample_rate_hz: f64,
    block_size: usize,
    input: &[Vec<f32>],
    sidechain: Sidechain,
    events_at_start: &[ParamValueEvent],
) -> Vec<Vec<f32>> {
    let num_channels = input.len();
    let num_samples = input[0].len();
    let config = PluginAudioConfiguration {
        sample_rate: sample_rate_hz,
        min_frames_count: 1,
        max_frames_count: block_size as u32,
    };
    let processor = instance
        .activate(|_, _| (), config)
        .expect("the plugin activates");
    let sidechain_signal = make_signal(Signal::Noise, 2, num_samples, sample_rate_hz);

    let (processor, output) = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let mut processor = processor.start_processing().expect("processing starts");
                let mut output = vec![vec![f32::NAN; num_samples]; num_channels];
                let mut blocks = HostBlocks::default();
                let mut main_in = vec![vec![0.0f32; block_size]; num_channels];
                let mut side_in = vec![vec![0.0f32; block_size]; 2];
                let mut main_out = vec![vec![0.0f32; block_size]; num_channels];
                let events: Vec<ParamValueEvent> = events_at_start.to_vec();
                let no_events: Vec<ParamValueEvent> = Vec::new();

                let mut start = 0;
                while start < num_samples {
                    let len = block_size.min(num_samples - start);
                    for (channel, buffer) in main_in.iter_mut().enumerate() {
                        buffer[..len].copy_from_slice(&input[channel][start..start + len]);
                    }
                    for (channel, buffer) in side_in.iter_mut().enumerate() {
                        match sidechain {
                            Sidechain::Connected => buffer[..len]
                                .copy_from_slice(&sidechain_signal[channel][start..start + len]),
                            Sidechain::Silent | Sidechain::Absent | Sidechain::NoPort => {
                                buffer[..len].fill(0.0)
                            }
                        }
                    }
                    for buffer in &mut main_out {
                        buffer[..len].fill(f32::NAN);
                    }
                    let main_channels: Vec<InputChannel<f32>> = main_in
                        .iter_mut()
                        .map(|b| InputChannel::variable(&mut b[..len]))
                        .collect();
                    // An unconnected sidechain arrives as constant silence, or as no channels.
                    let side_channels: Vec<InputChannel<f32>> = match sidechain {
                        Sidechain::Absent | Sidechain::NoPort => Vec::new(),
                        Sidechain::Connected => side_in
                            .iter_mut()
                            .map(|b| InputChannel::variable(&mut b[..len]))
                            .collect(),
                        Sidechain::Silent => side_in
                            .iter_mut()
                            .map(|b| InputChannel::constant(&mut b[..len]))
                            .collect(),
                    };
                    let input_events = if start == 0 {
                        &events[..]
                    } else {
                        &no_events[..]
                    };
                    blocks.process(
                        &mut processor,
                        main_channels,
                        (!matches!(sidechain, Sidechain::NoPort)).then_some(side_channels),
                        &mut main_out,
                        len,
                        input_events,
                        Some(start as u64),
                        None,
                    );
                    for (channel, buffer) in main_out.iter().enumerate() {
                        output[channel][start..start + len].copy_from_slice(&buffer[..len]);
                    }
                    start += len;
                }
                (processor.stop_processing(), output)
            })
            .join()
            .expect("the audio thread does not panic")
    });
    instance.deactivate(processor);
    output
}

/// Asserts `output == input` bit for bit, naming the first differing sample.
fn assert_bit_exact(input: &[Vec<f32>], output: &[Vec<f32>], what: &str) {
    assert_eq!(input.len(), output.len(), "{what}: channel count");
    for (channel, (a, b)) in input.iter().zip(output).enumerate() {
        if let Some(n) = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits())
        {
            panic!(
                "{what}: channel {channel} sample {n}: input {:e} ({:#010x}) came out as {:e} ({:#010x})",
                a[n],
                a[n].to_bits(),
                b[n],
                b[n].to_bits()
            );
        }
    }
}

#[test]
fn audio_passes_through_bit_exact_at_every_rate_and_block_size() {
    let entry = load_entry();
    for sample_rate_hz in [44_100.0, 48_000.0] {
        for block_size in [1usize, 64, 511, 4096] {
            let mut instance = new_instance(&entry);
            // A quarter second per signal is several full blocks even at 4096 and ends on a
            // partial block for the odd sizes.
            let num_samples = (sample_rate_hz / 4.0) as usize;
            for signal in SIGNALS {
                for sidechain in [
                    Sidechain::Connected,
                    Sidechain::Silent,
                    Sidechain::Absent,
                    Sidechain::NoPort,
                ] {
                    let input = make_signal(signal, 2, num_samples, sample_rate_hz);
                    let output = process_through(
                        &mut instance,
                        sample_rate_hz,
                        block_size,
                        &input,
                        sidechain,
                        &[],
                    );
                    assert_bit_exact(
                        &input,
                        &output,
                        &format!("{sample_rate_hz} Hz, block {block_size}, {signal:?}, sidechain {sidechain:?}"),
                    );
                }
            }
        }
    }
}

#[test]
fn mono_layout_is_offered_and_passes_through_bit_exact() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let mono_config_id = {
        let handle = instance.plugin_handle();
        let configs: PluginAudioPortsConfig = handle
            .get_extension()
            .expect("the plugin offers audio port configurations");
        let mut buffer = AudioPortsConfigBuffer::new();
        let mut mono = None;
        for index in 0..configs.count(&handle) {
            let config = configs.get(&handle, index, &mut buffer).unwrap();
            let main_input = config.main_input.expect("every layout has a main input");
            if main_input.channel_count == 1 {
                mono = Some(config.id);
            }
        }
        let mono = mono.expect("a mono layout exists");
        configs
            .select(&handle, mono)
            .expect("the host can select mono");
        mono
    };
    {
        let handle = instance.plugin_handle();
        let ports: PluginAudioPorts = handle.get_extension().unwrap();
        let mut buffer = AudioPortInfoBuffer::new();
        assert_eq!(
            ports.count(&handle, true),
            2,
            "main input and sidechain ({mono_config_id:?})"
        );
        let main = ports.get(&handle, 0, true, &mut buffer).unwrap();
        assert_eq!(main.channel_count, 1);
        let side = ports.get(&handle, 1, true, &mut buffer).unwrap();
        assert_eq!(side.channel_count, 2, "the sidechain stays stereo");
    }
    for block_size in [1usize, 511] {
        let input = make_signal(Signal::Noise, 1, 12_000, 48_000.0);
        let output = process_through(
            &mut instance,
            48_000.0,
            block_size,
            &input,
            Sidechain::Connected,
            &[],
        );
        assert_bit_exact(&input, &output, &format!("mono, block {block_size}"));
    }
}

#[test]
fn offline_render_mode_passes_through_bit_exact() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    {
        let handle = instance.plugin_handle();
        let render: PluginRender = handle.get_extension().expect("render extension");
        render
            .set(&handle, RenderMode::Offline)
            .expect("offline mode is accepted");
    }
    let input = make_signal(Signal::Sines, 2, 44_100, 44_100.0);
    let output = process_through(
        &mut instance,
        44_100.0,
        4096,
        &input,
        Sidechain::Silent,
        &[],
    );
    assert_bit_exact(&input, &output, "offline render");
}

/// One parameter as the host sees it.
#[derive(Debug, Clone)]
struct HostParam {
    id: ClapId,
    name: String,
    module: String,
    flags: ParamInfoFlags,
    min: f64,
    max: f64,
    default: f64,
}

fn list_params(instance: &mut PluginInstance<TestHost>) -> Vec<HostParam> {
    let handle = instance.plugin_handle();
    let params: PluginParams = handle.get_extension().expect("params extension");
    let mut buffer = ParamInfoBuffer::new();
    (0..params.count(&handle))
        .map(|index| {
            let info = params.get_info(&handle, index, &mut buffer).unwrap();
            HostParam {
                id: info.id,
                name: String::from_utf8_lossy(info.name).into_owned(),
                module: String::from_utf8_lossy(info.module).into_owned(),
                flags: info.flags,
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
            }
        })
        .collect()
}

fn param_values(
    instance: &mut PluginInstance<TestHost>,
    list: &[HostParam],
) -> BTreeMap<String, f64> {
    let handle = instance.plugin_handle();
    let params: PluginParams = handle.get_extension().unwrap();
    list.iter()
        .map(|p| {
            (
                p.name.clone(),
                params.get_value(&handle, p.id).expect("value"),
            )
        })
        .collect()
}

fn value_text(instance: &mut PluginInstance<TestHost>, id: ClapId, value: f64) -> String {
    let handle = instance.plugin_handle();
    let params: PluginParams = handle.get_extension().unwrap();
    let mut buffer = [0u8; 128];
    let text = params
        .value_to_text(&handle, id, value, &mut buffer)
        .expect("value_to_text");
    String::from_utf8_lossy(text).into_owned()
}

/// A value away from the default, on the parameter's grid. nice-plug's CLAP values are the
/// normalised value for a continuous parameter (0..1) and the step index for a stepped one
/// (0..number of steps).
fn distinct_value(param: &HostParam) -> f64 {
    if param.flags.contains(ParamInfoFlags::IS_STEPPED) {
        (param.default + 1.0) % (param.max + 1.0)
    } else {
        (param.default + 0.37) % 1.0
    }
}

/// Number of steps of a stepped parameter, checked against the plugin's own value texts: each
/// step must read differently.
fn step_count(instance: &mut PluginInstance<TestHost>, param: &HostParam) -> Option<u32> {
    if !param.flags.contains(ParamInfoFlags::IS_STEPPED) {
        return None;
    }
    let steps = (param.max - param.min).round() as u32;
    let mut texts: Vec<String> = (0..=steps)
        .map(|i| value_text(instance, param.id, param.min + f64::from(i)))
        .collect();
    texts.dedup();
    assert_eq!(
        texts.len() as u32,
        steps + 1,
        "{}: every step reads differently",
        param.name
    );
    Some(steps)
}

#[test]
fn state_and_every_parameter_round_trip_into_a_fresh_instance() {
    let entry = load_entry();
    let mut first = new_instance(&entry);
    let list = list_params(&mut first);
    assert!(
        list.len() >= 20,
        "every seed setting is a parameter ({} found)",
        list.len()
    );

    // Session state: everything non-default.
    let session = SessionState {
        version: deep_visualizer::params::SESSION_STATE_VERSION,
        classes: Some([999, 0, 12, 345, 678, 901, 234, 567, 890, 123, 456, 789]),
        seed: 0xDEAD_BEEF_1234_5678,
        dream_image_path: Some(PathBuf::from("/tmp/base image ü.png")),
        output_dir: Some(PathBuf::from("/tmp/videos")),
        editor_size: (1234, 777),
        ffmpeg_path: Some(PathBuf::from("/opt/ffmpeg 6/bin/ffmpeg")),
    };
    assert_ne!(session, SessionState::default());
    let saved = save_state(&mut first);
    let mut json = decode_state(&saved);
    json["fields"]["session"] = serde_json::Value::String(serde_json::to_string(&session).unwrap());
    load_state(&mut first, &encode_state_like(&saved, &json));

    // Parameters: every one to a non-default value, through the params extension's flush.
    let mut events = Vec::new();
    for param in &list {
        events.push(ParamValueEvent::new(
            0,
            param.id,
            Pckn::match_all(),
            distinct_value(param),
        ));
    }
    {
        let params: PluginParams = first.plugin_handle().get_extension().unwrap();
        let mut handle = first.inactive_plugin_handle().expect("inactive");
        let mut out = EventBuffer::new();
        params.flush(
            &mut handle,
            &InputEvents::from_buffer(&events),
            &mut OutputEvents::from_buffer(&mut out),
        );
    }
    let set_values = param_values(&mut first, &list);
    for param in &list {
        assert!(
            (set_values[&param.name] - param.default).abs() > 1e-6,
            "{} did not move from its default {}",
            param.name,
            param.default
        );
    }

    let saved = save_state(&mut first);
    let mut second = new_instance(&entry);
    assert_ne!(
        param_values(&mut second, &list),
        set_values,
        "a fresh instance has defaults"
    );
    load_state(&mut second, &saved);
    let restored = param_values(&mut second, &list);
    for param in &list {
        assert!(
            (restored[&param.name] - set_values[&param.name]).abs() < 1e-6,
            "{}: saved {}, restored {}",
            param.name,
            set_values[&param.name],
            restored[&param.name]
        );
    }
    assert_eq!(
        session_of(&save_state(&mut second)),
        session,
        "session state round-trips"
    );
}

#[test]
fn old_or_corrupt_session_state_still_loads() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let saved = save_state(&mut instance);

    // A version-0 session with an out-of-range class and missing fields is migrated.
    let mut json = decode_state(&saved);
    json["fields"]["session"] = serde_json::Value::String(
        r#"{"version":0,"classes":[5000,1,2,3,4,5,6,7,8,9,10,11],"seed":7}"#.into(),
    );
    load_state(&mut instance, &encode_state_like(&saved, &json));
    let session = session_of(&save_state(&mut instance));
    assert_eq!(
        session.version,
        deep_visualizer::params::SESSION_STATE_VERSION
    );
    assert_eq!(session.classes.map(|c| c[0]), Some(999));
    assert_eq!(session.seed, 7);
    assert_eq!(session.editor_size, SessionState::default().editor_size);

    // Garbage in the session field is dropped, not fatal: the project opens with defaults.
    json["fields"]["session"] = serde_json::Value::String("not json at all".into());
    load_state(&mut instance, &encode_state_like(&saved, &json));
    assert_eq!(
        session_of(&save_state(&mut instance)).classes,
        SessionState::default().classes
    );
}

#[test]
fn parameter_events_during_processing_change_the_values() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let list = list_params(&mut instance);
    let by_name = |name: &str| {
        list.iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("parameter {name} exists"))
            .clone()
    };
    let depth = by_name("Depth");
    let jitter = by_name("Jitter");
    let classes = by_name("Classes");
    let engine = by_name("Engine");
    // Continuous parameters take a normalised value, stepped ones a step index.
    let events = vec![
        ParamValueEvent::new(0, depth.id, Pckn::match_all(), 0.25),
        ParamValueEvent::new(0, jitter.id, Pckn::match_all(), 1.0),
        ParamValueEvent::new(0, classes.id, Pckn::match_all(), 3.0),
        ParamValueEvent::new(0, engine.id, Pckn::match_all(), 1.0),
    ];
    let input = make_signal(Signal::Sines, 2, 4096, 48_000.0);
    let output = process_through(
        &mut instance,
        48_000.0,
        512,
        &input,
        Sidechain::Silent,
        &events,
    );
    assert_bit_exact(&input, &output, "while parameters change");

    let values = param_values(&mut instance, &list);
    assert!(
        (values["Depth"] - 0.25).abs() < 1e-6,
        "depth {}",
        values["Depth"]
    );
    assert!(
        (values["Jitter"] - 1.0).abs() < 1e-6,
        "jitter {}",
        values["Jitter"]
    );
    assert!(
        (values["Classes"] - 3.0).abs() < 1e-6,
        "classes {}",
        values["Classes"]
    );
    assert!(
        (values["Engine"] - 1.0).abs() < 1e-6,
        "engine {}",
        values["Engine"]
    );
    // Plain values as the user reads them: depth 0.001..1, classes 1..12.
    assert_eq!(
        value_text(&mut instance, depth.id, 0.25),
        format!("{:.3}", 0.001 + 0.25 * 0.999)
    );
    assert_eq!(value_text(&mut instance, classes.id, 3.0), "4");
    assert_eq!(value_text(&mut instance, engine.id, 1.0), "DeepDream");
}

/// The plugin's own string ids by display name; over CLAP a parameter's id is a hash of it.
fn string_ids_by_name() -> BTreeMap<String, String> {
    use nice_plug::prelude::Params;
    let params = deep_visualizer::DeepVisualizerParams::default();
    params
        .param_map()
        .into_iter()
        // SAFETY: the pointer points into `params`, which outlives this use.
        .map(|(id, ptr, _group)| (unsafe { ptr.name() }.to_owned(), id))
        .collect()
}

/// The snapshot line of one parameter: string id, CLAP id, names, flags and the texts of its
/// range ends and default, so a changed id, range, default or automatable flag shows as a diff.
fn snapshot_line(
    instance: &mut PluginInstance<TestHost>,
    param: &HostParam,
    string_id: &str,
) -> String {
    let min_text = value_text(instance, param.id, param.min);
    let max_text = value_text(instance, param.id, param.max);
    let default_text = value_text(instance, param.id, param.default);
    let steps = step_count(instance, param)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "continuous".into());
    let automatable = param.flags.contains(ParamInfoFlags::IS_AUTOMATABLE);
    format!(
        "{string_id}\t{}\t{}\t{}\tmin={}\tmax={}\tdefault={}\tsteps={}\tautomatable={}",
        param.id.get(),
        param.module,
        param.name,
        min_text,
        max_text,
        default_text,
        steps,
        automatable
    )
}

#[test]
fn parameter_ids_and_ranges_match_the_committed_snapshot() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let list = list_params(&mut instance);
    let string_ids = string_ids_by_name();
    let mut lines: Vec<String> = list
        .iter()
        .map(|p| snapshot_line(&mut instance, p, &string_ids[&p.name]))
        .collect();
    lines.sort();
    let actual = lines.join("\n") + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT_PATH);
    if std::env::var_os("UPDATE_PARAM_SNAPSHOT").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "parameters differ from {SNAPSHOT_PATH}. Changing an id breaks every saved project \
         and automation lane. If the change is intended (a new parameter, a new range), rerun \
         with UPDATE_PARAM_SNAPSHOT=1 and commit the file.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
    // Settings that reload a model or retime the video must not be automatable.
    for name in ["Engine", "Resolution", "Frame Rate"] {
        let param = list.iter().find(|p| p.name == name).unwrap();
        assert!(
            !param.flags.contains(ParamInfoFlags::IS_AUTOMATABLE),
            "{name} is automatable"
        );
    }
}

/// Set by `allocation_checker_is_armed` in the child process it spawns.
const ALLOCATION_PROBE_ENV: &str = "DEEP_VISUALIZER_DEBUG_ALLOCATE_IN_PROCESS";

#[test]
#[cfg(debug_assertions)]
fn allocation_checker_is_armed() {
    if std::env::var_os(TEST_PLUGIN_ENV).is_some() {
        // A release bundle has no allocation checker and no debug probe to trip it.
        eprintln!("skipped: {TEST_PLUGIN_ENV} names a library built elsewhere");
        return;
    }
    if std::env::var_os(ALLOCATION_PROBE_ENV).is_some() {
        // Child: process audio with the plugin's debug allocation probe on. The plugin's
        // allocation checker must abort this process.
        let entry = load_entry();
        let mut instance = new_instance(&entry);
        let input = make_signal(Signal::Sines, 2, 1024, 48_000.0);
        process_through(&mut instance, 48_000.0, 256, &input, Sidechain::Silent, &[]);
        // Reaching this line means nothing stopped an allocation on the audio thread.
        std::process::exit(0);
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "allocation_checker_is_armed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ALLOCATION_PROBE_ENV, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("memory allocation of 64 bytes failed"),
        "the abort comes from the allocation checker:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        status.status.signal(),
        Some(6),
        "an allocation in process() must abort the host (SIGABRT) in debug builds; got {:?}\n{}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
}
