//! What the hosted-plugin tests share: a minimal CLAP host (clack-host) and the plugin library
//! cargo built for this run.

#![allow(dead_code)]

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{ParamValueEvent, TransportEvent, TransportFlags};
use clack_host::events::EventFlags;
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use deep_visualizer::params::SessionState;

pub mod clicks;

/// The plugin's CLAP id.
pub const PLUGIN_ID: &CStr = c"com.deep-visualizer.deep-visualizer";

/// Host callbacks: this test host ignores the plugin's requests.
pub struct TestHostShared;

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host type: no main-thread or audio-thread callbacks are needed.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    // DAWs offer the GUI extension; nice-plug's CLAP wrapper unwraps it when an editor opens.
    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

/// The host window follows the editor's requests without a word: this host has nothing to
/// resize or show on its own.
impl HostGuiImpl for TestHostShared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

/// Names a plugin library to test instead of the one cargo built, e.g. the release bundle:
/// `DEEP_VISUALIZER_TEST_PLUGIN="target/bundled/Deep Visualizer.clap" cargo test --test clap_host`.
pub const TEST_PLUGIN_ENV: &str = "DEEP_VISUALIZER_TEST_PLUGIN";

/// The plugin library cargo built for this test run. `cargo test` compiles the `cdylib` in the
/// same rustc invocation as the `rlib` this test links, into the same `deps` folder as this
/// binary, so the library under test is always the current code.
pub fn plugin_library_path() -> PathBuf {
    if let Some(path) = std::env::var_os(TEST_PLUGIN_ENV) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let deps_dir = exe
        .parent()
        .expect("test binary lives in target/<profile>/deps");
    let name = format!(
        "{}deep_visualizer{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = deps_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run this test through `cargo test`, which builds it",
        path.display()
    );
    path
}

pub fn load_entry() -> PluginEntry {
    let path = plugin_library_path();
    // SAFETY: the library is our own plugin, built by cargo for this run; loading it runs only
    // nice-plug's CLAP entry initialisation.
    unsafe { PluginEntry::load(&path) }.expect("the plugin library loads as a CLAP entry")
}

/// The plugin linked into this test binary (not the library file): its statics, such as the
/// feature queues' drop count, are the ones the test reads.
pub fn load_linked_entry() -> PluginEntry {
    // SAFETY: the entry is our own plugin's, linked into this binary; clack's descriptor is the
    // same C struct (CLAP's `clap_plugin_entry`) under another crate's name.
    unsafe {
        let descriptor = &*(std::ptr::addr_of!(deep_visualizer::clap_entry)
            as *const clack_host::entry::EntryDescriptor);
        PluginEntry::load_from_raw(descriptor, c"/linked/deep_visualizer.clap")
    }
    .expect("the linked plugin entry initialises")
}

pub fn new_instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let host_info = HostInfo::new("deep-visualizer tests", "tests", "", "0.1").unwrap();
    PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), entry, PLUGIN_ID, &host_info)
        .expect("the plugin instantiates")
}

/// A weights folder holding the tiny fixture model of the model tests as `biggan-deep-128`.
pub fn tiny_weights() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("biggan-deep-128");
    std::fs::create_dir_all(&model).unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biggan/tiny128");
    for name in ["config.json", "pytorch_model.bin"] {
        std::fs::copy(fixture.join(name), model.join(name)).unwrap();
    }
    dir
}

/// ffprobe's value of `entry` for the first stream of type `stream` (`v` or `a`).
pub fn probe(path: &Path, stream: &str, entry: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{stream}:0")])
        .args(["-count_frames", "-show_entries", &format!("stream={entry}")])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The CLAP id of the parameter named `name`.
pub fn param_id(instance: &mut PluginInstance<TestHost>, name: &str) -> ClapId {
    let handle = instance.plugin_handle();
    let params: PluginParams = handle.get_extension().expect("params extension");
    let mut buffer = ParamInfoBuffer::new();
    for i in 0..params.count(&handle) {
        if let Some(info) = params.get_info(&handle, i, &mut buffer) {
            if String::from_utf8_lossy(info.name) == name {
                return info.id;
            }
        }
    }
    panic!("no parameter named {name}")
}

/// The host's transport for a block: playing or stopped at `position_samples` (given in
/// seconds, as CLAP hosts do), 120 BPM 4/4.
pub fn transport_at(position_samples: i64, sample_rate_hz: f64, playing: bool) -> TransportEvent {
    let mut flags = TransportFlags::HAS_SECONDS_TIMELINE;
    if playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_int(0),
        song_pos_seconds: SecondsTime::from_float(position_samples as f64 / sample_rate_hz),
        tempo: 120.0,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_int(0),
        loop_end_beats: BeatTime::from_int(0),
        loop_start_seconds: SecondsTime::from_int(0),
        loop_end_seconds: SecondsTime::from_int(0),
        bar_start: BeatTime::from_int(0),
        bar_number: 0,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

/// The host's port and event buffers for one audio thread, reused across blocks.
pub struct HostBlocks {
    /// Input port descriptions.
    input_ports: AudioPorts,
    /// Output port descriptions.
    output_ports: AudioPorts,
    /// Events the plugin sends back (ignored).
    output_events: EventBuffer,
}

impl Default for HostBlocks {
    fn default() -> Self {
        Self {
            input_ports: AudioPorts::with_capacity(4, 2),
            output_ports: AudioPorts::with_capacity(2, 1),
            output_events: EventBuffer::new(),
        }
    }
}

impl HostBlocks {
    /// One `process()` call with the main input and the sidechain port's channels (`None`: the
    /// host passes no sidechain port at all, only the main one), writing the main output into
    /// `main_out`, each `len` frames long.
    #[allow(clippy::too_many_arguments)]
    pub fn process(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        main_in: Vec<InputChannel<'_, f32>>,
        side_in: Option<Vec<InputChannel<'_, f32>>>,
        main_out: &mut [Vec<f32>],
        len: usize,
        events: &[ParamValueEvent],
        steady_time: Option<u64>,
        transport: Option<&TransportEvent>,
    ) {
        let mut ports = vec![AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(main_in.into_iter()),
        }];
        if let Some(side_in) = side_in {
            ports.push(AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only(side_in.into_iter()),
            });
        }
        let input_audio = self.input_ports.with_input_buffers(ports);
        let mut output_audio = self.output_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                main_out.iter_mut().map(|b| &mut b[..len]),
            ),
        }]);
        processor
            .process(
                &input_audio,
                &mut output_audio,
                &InputEvents::from_buffer(&events),
                &mut OutputEvents::from_buffer(&mut self.output_events),
                steady_time,
                transport,
            )
            .expect("process() succeeds");
    }
}

impl HostBlocks {
    /// One block of a track with an unconnected sidechain (constant silence, as hosts pass
    /// it): `main_in` goes in, `main_out` is filled with NaN first so an output the plugin did
    /// not write shows. Returns how many output samples differ from the input bit for bit.
    #[allow(clippy::too_many_arguments)]
    pub fn process_track(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        main_in: &mut [Vec<f32>],
        side_in: &mut [Vec<f32>],
        main_out: &mut [Vec<f32>],
        len: usize,
        events: &[ParamValueEvent],
        steady_time: Option<u64>,
        transport: Option<&TransportEvent>,
    ) -> usize {
        for buffer in main_out.iter_mut() {
            buffer[..len].fill(f32::NAN);
        }
        let main_channels: Vec<InputChannel<f32>> = main_in
            .iter_mut()
            .map(|b| InputChannel::variable(&mut b[..len]))
            .collect();
        let side_channels: Vec<InputChannel<f32>> = side_in
            .iter_mut()
            .map(|b| InputChannel::constant(&mut b[..len]))
            .collect();
        self.process(
            processor,
            main_channels,
            Some(side_channels),
            main_out,
            len,
            events,
            steady_time,
            transport,
        );
        main_in
            .iter()
            .zip(main_out.iter())
            .map(|(a, b)| {
                a[..len]
                    .iter()
                    .zip(&b[..len])
                    .filter(|(x, y)| x.to_bits() != y.to_bits())
                    .count()
            })
            .sum()
    }
}

pub fn save_state(instance: &mut PluginInstance<TestHost>) -> Vec<u8> {
    let handle = instance.plugin_handle();
    let state: PluginState = handle.get_extension().expect("state extension");
    let mut bytes = Vec::new();
    state.save(&handle, &mut bytes).expect("state saves");
    bytes
}

pub fn load_state(instance: &mut PluginInstance<TestHost>, bytes: &[u8]) {
    let handle = instance.plugin_handle();
    let state: PluginState = handle.get_extension().expect("state extension");
    state
        .load(&handle, &mut std::io::Cursor::new(bytes))
        .expect("state loads");
}

/// nice-plug's saved state: JSON with `version`, `params` and `fields`, possibly behind a
/// length prefix. Returns the JSON and the prefix length so it can be rebuilt.
pub fn decode_state(bytes: &[u8]) -> serde_json::Value {
    let start = bytes
        .iter()
        .position(|&b| b == b'{')
        .expect("JSON in the state");
    serde_json::from_slice(&bytes[start..]).expect("the state is JSON after its header")
}

pub fn encode_state_like(original: &[u8], json: &serde_json::Value) -> Vec<u8> {
    let start = original.iter().position(|&b| b == b'{').unwrap();
    let body = serde_json::to_vec(json).unwrap();
    let mut out = Vec::new();
    if start == 8 {
        // An 8-byte little-endian length prefix.
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    } else {
        out.extend_from_slice(&original[..start]);
    }
    out.extend_from_slice(&body);
    out
}

pub fn session_of(bytes: &[u8]) -> SessionState {
    let json = decode_state(bytes);
    let field = json["fields"]["session"]
        .as_str()
        .expect("the session is persisted as a field");
    serde_json::from_str(field).expect("the session field is a SessionState")
}
