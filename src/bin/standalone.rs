//! `deep-visualizer-standalone`: the plugin and its editor without a DAW, driven by an audio
//! input (JACK, ALSA through cpal, or `--backend dummy` for silence). `--help` lists the options.

fn main() {
    nice_plug::prelude::nice_export_standalone::<deep_visualizer::DeepVisualizer>();
}
