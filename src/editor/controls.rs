//! The controls users reach for: engine, size, frame rate, the BigGAN and DeepDream settings,
//! the analysis, the seed, DeepDream's picture and the output folder.

use std::path::PathBuf;

use nice_plug::prelude::{Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use crate::params::DeepVisualizerParams;

/// Text fields that apply when the user presses Enter or leaves them.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// The seed being typed.
    seed: String,
    /// DeepDream's picture path being typed.
    image: String,
    /// The output folder being typed.
    output_dir: String,
    /// Where takes go when the field is empty (the override or the default), found once per
    /// window: finding the user's video folder reads a file.
    default_output_dir: String,
    /// `$DEEP_VISUALIZER_OUTPUT_DIR` overrides the field.
    output_dir_overridden: bool,
}

impl Fields {
    /// The fields as the session has them.
    pub fn from_session(params: &DeepVisualizerParams) -> Self {
        let session = params.session.read().map(|s| s.clone()).unwrap_or_default();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Self {
            seed: session.seed.to_string(),
            image: path(&session.dream_image_path).unwrap_or_default(),
            output_dir: path(&session.output_dir).unwrap_or_default(),
            default_output_dir: crate::record::output_dir(None).display().to_string(),
            output_dir_overridden: std::env::var_os(crate::record::OUTPUT_DIR_ENV)
                .is_some_and(|v| !v.is_empty()),
        }
    }
}

/// A labelled parameter slider (edits go through the host: begin, set, end).
fn param_row<P: Param>(ui: &mut egui::Ui, param: &P, setter: &ParamSetter) -> egui::Response {
    ui.horizontal(|ui| {
        ui.add_sized([104.0, 18.0], egui::Label::new(param.name()).truncate());
        ui.add(ParamSlider::for_param(param, setter).with_width(96.0));
    })
    .response
}

/// A text field that applies `apply` when edited and left (or Enter is pressed).
fn text_row(
    ui: &mut egui::Ui,
    label: &str,
    hint: &str,
    text: &mut String,
    apply: impl FnOnce(&str),
) -> egui::Response {
    ui.horizontal(|ui| {
        ui.add_sized([104.0, 18.0], egui::Label::new(label));
        let response = ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(170.0),
        );
        if response.lost_focus() {
            apply(text.trim());
        }
        response
    })
    .inner
}

/// The controls.
pub fn controls_ui(
    ui: &mut egui::Ui,
    params: &DeepVisualizerParams,
    setter: &ParamSetter,
    fields: &mut Fields,
) -> egui::Response {
    ui.vertical(|ui| {
        param_row(ui, &params.engine, setter);
        param_row(ui, &params.resolution, setter);
        param_row(ui, &params.fps, setter);
        text_row(ui, "Seed", "0", &mut fields.seed, |text| {
            if let (Ok(seed), Ok(mut session)) = (text.parse::<u64>(), params.session.write()) {
                session.seed = seed;
            }
        });
        egui::CollapsingHeader::new("BigGAN-deep")
            .default_open(true)
            .show(ui, |ui| {
                let b = &params.biggan;
                param_row(ui, &b.pitch_sensitivity, setter);
                param_row(ui, &b.tempo_sensitivity, setter);
                param_row(ui, &b.depth, setter);
                param_row(ui, &b.num_classes, setter);
                param_row(ui, &b.sort_classes_by_power, setter);
                param_row(ui, &b.jitter, setter);
                param_row(ui, &b.truncation, setter);
                param_row(ui, &b.smooth_factor, setter);
            });
        egui::CollapsingHeader::new("DeepDream").show(ui, |ui| {
            let d = &params.dream;
            param_row(ui, &d.layer, setter);
            param_row(ui, &d.mode, setter);
            param_row(ui, &d.octaves, setter);
            param_row(ui, &d.octave_scale, setter);
            param_row(ui, &d.max_depth, setter);
            param_row(ui, &d.step_size, setter);
            param_row(ui, &d.kick_decay, setter);
            param_row(ui, &d.flow_zoom, setter);
            param_row(ui, &d.flow_rotation_deg, setter);
            text_row(
                ui,
                "Picture",
                "none: a BigGAN-deep frame",
                &mut fields.image,
                |text| {
                    if let Ok(mut session) = params.session.write() {
                        session.dream_image_path = (!text.is_empty()).then(|| PathBuf::from(text));
                    }
                },
            );
        });
        egui::CollapsingHeader::new("Analysis").show(ui, |ui| {
            let a = &params.analysis;
            param_row(ui, &a.kick_low_hz, setter);
            param_row(ui, &a.kick_high_hz, setter);
            param_row(ui, &a.kick_input, setter);
            param_row(ui, &a.tonal_input, setter);
        });
        // The hint is where takes go when the field is empty: the override or the default.
        let default_dir = fields.default_output_dir.clone();
        text_row(
            ui,
            "Output folder",
            &default_dir,
            &mut fields.output_dir,
            |text| {
                if let Ok(mut session) = params.session.write() {
                    session.output_dir = (!text.is_empty()).then(|| PathBuf::from(text));
                }
            },
        );
        if fields.output_dir_overridden {
            ui.label(
                egui::RichText::new(format!(
                    "${} is set: takes go to {default_dir}",
                    crate::record::OUTPUT_DIR_ENV
                ))
                .small(),
            );
        }
    })
    .response
}
