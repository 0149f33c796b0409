//! Deep Visualizer: a VST3/CLAP effect and a CLI that turn music into BigGAN-deep and DeepDream
//! imagery. See `README.md` for use and `DESIGN.md` (in the shared docs) for the architecture.
//!
//! The plugin listens to the audio without changing it: `process()` leaves the buffers alone, so
//! the host's audio passes through bit for bit.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use nice_plug::prelude::*;

pub mod analysis;
pub mod bridge;
pub mod director;
pub mod dream;
pub mod editor;
pub mod engine;
pub mod export;
pub mod models;
pub mod panic_guard;
pub mod params;
pub mod record;
pub mod render;
pub mod settings;
pub mod take;
pub mod weights;

use analysis::{Analyzer, AnalyzerConfig, Source, TransportInfo};
use bridge::{
    FeatureConsumer, FeatureProducer, LatestFeaturesInput, LatestFeaturesOutput,
    DEFAULT_FEATURE_QUEUE_CAPACITY,
};
pub use params::DeepVisualizerParams;
use params::FeatureInput;
use record::recorder::{RecorderContext, TakeRecorder};
use record::renderer::{RendererConfig, TakeRenderer};
use record::status::TakesHub;
use record::tap::{record_ring, RecordTap, RING_SECONDS};
use render::service::{LiveHub, RenderService, ServiceConfig};

/// A reading end that one consumer takes once, on the main thread; the audio thread never
/// touches it.
pub type TakeOnce<T> = Arc<Mutex<Option<T>>>;

/// The plugin instance the host talks to.
pub struct DeepVisualizer {
    /// Parameters and persisted state, shared with the host's wrappers (and later the editor).
    params: Arc<DeepVisualizerParams>,
    /// The feature extractor, built in `activate()` for the host's sample rate; `None` before
    /// that or when the rate is unsupported (audio still passes through).
    analyzer: Option<Analyzer>,
    /// Audio-thread end of the feature queue. The queue lives as long as the instance, so a
    /// re-activation does not strand the render thread's end.
    feature_tx: FeatureProducer,
    /// The render thread's end of the feature queue, until it takes it.
    feature_rx: TakeOnce<FeatureConsumer>,
    /// Audio-thread end of the newest-frame triple buffer.
    latest_tx: LatestFeaturesInput,
    /// The editor's end of the newest-frame triple buffer (its meters).
    latest_rx: TakeOnce<LatestFeaturesOutput>,
    /// What the render service and the editor share: the newest picture and the status.
    hub: Arc<LiveHub>,
    /// The render service, while the plugin is active.
    service: Option<RenderService>,
    /// Recorded takes and their renders, shared with the editor.
    takes: Arc<TakesHub>,
    /// Audio-thread end of take recording, while the plugin is active.
    tap: Option<RecordTap>,
    /// The thread writing takes to disk, while the plugin is active.
    recorder: Option<TakeRecorder>,
    /// The thread rendering closed takes to video; lives as long as the instance, so a
    /// re-activation does not cut a render off.
    take_renderer: Option<TakeRenderer>,
    /// Debug builds only: allocate in `process()` on purpose, so a test can prove that the
    /// allocation checker (`assert_process_allocs`) is armed in the built plugin library.
    #[cfg(debug_assertions)]
    debug_allocate_in_process: bool,
}

impl Default for DeepVisualizer {
    fn default() -> Self {
        let (feature_tx, feature_rx) = bridge::feature_queue(DEFAULT_FEATURE_QUEUE_CAPACITY);
        let (latest_tx, latest_rx) = bridge::latest_features();
        Self {
            params: Arc::new(DeepVisualizerParams::default()),
            analyzer: None,
            feature_tx,
            feature_rx: Arc::new(Mutex::new(Some(feature_rx))),
            latest_tx,
            latest_rx: Arc::new(Mutex::new(Some(latest_rx))),
            hub: LiveHub::new(),
            service: None,
            takes: TakesHub::new(),
            tap: None,
            recorder: None,
            take_renderer: None,
            #[cfg(debug_assertions)]
            debug_allocate_in_process: false,
        }
    }
}

impl DeepVisualizer {
    /// Takes the reading end of the feature queue (every FeatureFrame, in order), stopping the
    /// render service that reads it. Returns it once; later calls get `None`. Call it on the main
    /// thread.
    pub fn take_feature_consumer(&mut self) -> Option<FeatureConsumer> {
        self.stop_render_service();
        self.feature_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// What the render service and the editor share.
    pub fn live_hub(&self) -> Arc<LiveHub> {
        self.hub.clone()
    }

    /// Starts the render service on the feature queue, unless it runs (or the queue was taken).
    fn start_render_service(&mut self) {
        if self.service.is_some() {
            return;
        }
        let Some(features) = self
            .feature_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let (hub, params) = (self.hub.clone(), self.params.clone());
        match RenderService::start(hub, params, features, ServiceConfig::default()) {
            Ok(service) => self.service = Some(service),
            // The thread could not start (the OS is out of threads): audio still flows, the
            // editor shows no picture.
            Err(err) => nice_log!("the render service could not start: {err}"),
        }
    }

    /// Stops the render service and takes the feature queue back.
    fn stop_render_service(&mut self) {
        if let Some(features) = self.service.take().and_then(RenderService::stop) {
            *self
                .feature_rx
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(features);
        }
    }

    /// Starts take recording for `num_channels` channels at `sample_rate_hz`: the ring the audio
    /// thread copies into and the thread that writes it to disk; and, once per instance, the
    /// take renderer (which first renders takes left unrendered in the output folder).
    fn start_recording(&mut self, num_channels: usize, sample_rate_hz: f32) {
        self.stop_recording();
        let sample_rate_hz = sample_rate_hz.round() as u32;
        let capacity_frames = (sample_rate_hz * RING_SECONDS) as usize;
        let (tap, reader) = record_ring(num_channels, capacity_frames);
        let context = RecorderContext {
            sample_rate_hz,
            params: self.params.clone(),
            takes: self.takes.clone(),
        };
        match TakeRecorder::start(reader, context) {
            Ok(recorder) => {
                self.tap = Some(tap);
                self.recorder = Some(recorder);
            }
            Err(err) => self
                .takes
                .set_error(format!("recording is unavailable: {err}")),
        }
        if self.take_renderer.is_none() {
            let service = ServiceConfig::default();
            let saved = self
                .params
                .session
                .read()
                .ok()
                .and_then(|s| s.output_dir.clone());
            let config = RendererConfig {
                num_threads: service.num_threads,
                device: service.device,
                scan_dir: Some(record::output_dir(saved.as_deref())),
                params: self.params.clone(),
            };
            match TakeRenderer::start(self.takes.clone(), config) {
                Ok(renderer) => self.take_renderer = Some(renderer),
                Err(err) => self
                    .takes
                    .set_error(format!("takes cannot be rendered: {err}")),
            }
        }
    }

    /// Closes the open take and stops its writer (after it wrote everything).
    fn stop_recording(&mut self) {
        if let Some(tap) = self.tap.as_mut() {
            tap.end_take();
        }
        if let Some(recorder) = self.recorder.take() {
            recorder.stop();
        }
        self.tap = None;
    }

    /// The slot holding the feature queue's reading end, for a component created before it
    /// knows whether it will need it (e.g. the editor starting the render thread later).
    pub fn feature_consumer_slot(&self) -> TakeOnce<FeatureConsumer> {
        self.feature_rx.clone()
    }

    /// Takes the reading end of the newest-frame triple buffer (for meters). Returns it once.
    pub fn take_latest_features(&self) -> Option<LatestFeaturesOutput> {
        self.latest_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The analysis source a parameter value selects.
fn source_of(input: FeatureInput) -> Source {
    match input {
        FeatureInput::Main => Source::Main,
        FeatureInput::Sidechain => Source::Sidechain,
    }
}

/// The optional stereo sidechain, e.g. a kick bus for the kick detector.
const SIDECHAIN_PORTS: &[NonZeroU32] = &[new_nonzero_u32(2)];

/// Port names shared by all layouts.
const PORT_NAMES: PortNames = PortNames {
    layout: None,
    main_input: Some("Input"),
    main_output: Some("Output"),
    aux_inputs: &["Sidechain"],
    aux_outputs: &[],
};

impl Plugin for DeepVisualizer {
    const NAME: &'static str = "Deep Visualizer";
    const VENDOR: &'static str = "Deep Visualizer";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // Stereo first: it is the layout hosts pick by default.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: SIDECHAIN_PORTS,
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Stereo"),
                ..PORT_NAMES
            },
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            aux_input_ports: SIDECHAIN_PORTS,
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Mono"),
                ..PORT_NAMES
            },
        },
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = nice_plug_egui::EguiEditor<editor::EditorApp>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        params::migrate_plugin_state(state);
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create_editor(
            self.params.clone(),
            self.hub.clone(),
            self.takes.clone(),
            self.latest_rx.clone(),
        )
    }

    fn deactivate(&mut self) {
        self.stop_recording();
        self.stop_render_service();
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        #[cfg(debug_assertions)]
        {
            self.debug_allocate_in_process =
                std::env::var_os("DEEP_VISUALIZER_DEBUG_ALLOCATE_IN_PROCESS").is_some();
        }
        // The Analyzer works through any block in fixed internal chunks, so only the sample rate
        // sizes it; the maximum block size needs no buffer of its own.
        let sample_rate_hz = buffer_config.sample_rate;
        let num_channels = audio_io_layout
            .main_input_channels
            .map_or(0, |n| n.get() as usize);
        self.start_recording(num_channels, sample_rate_hz);
        if self
            .analyzer
            .as_ref()
            .is_some_and(|a| a.sample_rate_hz() == sample_rate_hz)
        {
            // Hosts re-activate in bursts (e.g. while restoring state); `reset()` follows.
            self.start_render_service();
            return true;
        }
        let analysis = &self.params.analysis;
        let mut config = AnalyzerConfig::new(sample_rate_hz);
        config.kick_low_hz = analysis.kick_low_hz.value();
        config.kick_high_hz = analysis.kick_high_hz.value();
        self.analyzer = match Analyzer::new(&config) {
            Ok(analyzer) => Some(analyzer),
            Err(err) => {
                // Audio still passes through; only the visuals have nothing to show.
                nice_log!("audio analysis is off: {err}");
                None
            }
        };
        self.start_render_service();
        true
    }

    fn reset(&mut self) {
        if let Some(analyzer) = self.analyzer.as_mut() {
            analyzer.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        #[cfg(debug_assertions)]
        if self.debug_allocate_in_process {
            std::hint::black_box(vec![0u8; 64]);
        }
        // The wrappers hand us the output buffers already holding the input, so only reading
        // them is the bit-exact pass-through.
        let host = context.transport();
        let position_samples = host.pos_samples();
        if let Some(tap) = self.tap.as_mut() {
            tap.process(
                self.params.record.value(),
                host.playing,
                position_samples,
                buffer.as_slice_immutable(),
            );
        }
        let Some(analyzer) = self.analyzer.as_mut() else {
            return ProcessStatus::Normal;
        };
        let analysis = &self.params.analysis;
        analyzer.set_kick_band(analysis.kick_low_hz.value(), analysis.kick_high_hz.value());
        analyzer.set_sources(
            source_of(analysis.kick_input.value()),
            source_of(analysis.tonal_input.value()),
        );
        let transport = TransportInfo {
            position_samples,
            tempo_bpm: host.tempo,
            playing: host.playing,
        };
        let sidechain = aux.inputs.first().map(|side| side.as_slice_immutable());
        let feature_tx = &mut self.feature_tx;
        let latest_tx = &mut self.latest_tx;
        analyzer.process(
            buffer.as_slice_immutable(),
            sidechain,
            &transport,
            |frame| {
                // A full queue counts the frame as dropped; the newest value still reaches
                // the meters.
                feature_tx.push(*frame);
                latest_tx.publish(*frame);
            },
        );
        ProcessStatus::Normal
    }
}

impl ClapPlugin for DeepVisualizer {
    const CLAP_ID: &'static str = "com.deep-visualizer.deep-visualizer";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Turns the music into BigGAN-deep and DeepDream imagery and music videos");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Stereo,
        ClapFeature::Mono,
        ClapFeature::Analyzer,
        ClapFeature::Utility,
    ];
}

impl Vst3Plugin for DeepVisualizer {
    const VST3_CLASS_ID: [u8; 16] = *b"DeepVisualizer01";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(DeepVisualizer);
nice_export_vst3!(DeepVisualizer);
