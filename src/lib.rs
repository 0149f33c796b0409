//! Deep Visualizer: a VST3/CLAP effect and a CLI that turn music into BigGAN-deep and DeepDream
//! imagery. See `README.md` for use and `DESIGN.md` (in the shared docs) for the architecture.
//!
//! The plugin listens to the audio without changing it: `process()` leaves the buffers alone, so
//! the host's audio passes through bit for bit.

use std::num::NonZeroU32;
use std::sync::Arc;

use nice_plug::prelude::*;

pub mod director;
pub mod dream;
pub mod models;
pub mod params;
pub mod weights;

pub use params::DeepVisualizerParams;

/// The plugin instance the host talks to.
pub struct DeepVisualizer {
    /// Parameters and persisted state, shared with the host's wrappers (and later the editor).
    params: Arc<DeepVisualizerParams>,
    /// Debug builds only: allocate in `process()` on purpose, so a test can prove that the
    /// allocation checker (`assert_process_allocs`) is armed in the built plugin library.
    #[cfg(debug_assertions)]
    debug_allocate_in_process: bool,
}

impl Default for DeepVisualizer {
    fn default() -> Self {
        Self {
            params: Arc::new(DeepVisualizerParams::default()),
            #[cfg(debug_assertions)]
            debug_allocate_in_process: false,
        }
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

    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        params::migrate_plugin_state(state);
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        _buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        #[cfg(debug_assertions)]
        {
            self.debug_allocate_in_process =
                std::env::var_os("DEEP_VISUALIZER_DEBUG_ALLOCATE_IN_PROCESS").is_some();
        }
        true
    }

    fn process(
        &mut self,
        _buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        #[cfg(debug_assertions)]
        if self.debug_allocate_in_process {
            std::hint::black_box(vec![0u8; 64]);
        }
        // The wrappers hand us the output buffers already holding the input, so leaving them
        // untouched is the bit-exact pass-through.
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
