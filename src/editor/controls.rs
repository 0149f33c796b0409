//! The controls users reach for: engine, size, frame rate, the BigGAN and DeepDream settings,
//! the analysis, the seed, DeepDream's picture, the output folder and the ffmpeg program (each
//! path typed or chosen with [`FilePicker`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use nice_plug::prelude::{Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use super::file_picker::{FilePicker, PickKind, PickOutcome};
use crate::params::DeepVisualizerParams;

/// The session paths the editor edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathField {
    /// DeepDream's picture.
    Picture,
    /// Where takes go.
    OutputDir,
    /// The ffmpeg program.
    Ffmpeg,
}

impl PathField {
    /// What the picker lists for this field.
    fn kind(self) -> PickKind {
        match self {
            PathField::Picture => PickKind::Picture,
            PathField::OutputDir => PickKind::Folder,
            PathField::Ffmpeg => PickKind::Program,
        }
    }

    /// Stores `text` (empty: unset) in the session; returns what was stored.
    fn apply(self, params: &DeepVisualizerParams, text: &str) -> Option<PathBuf> {
        let value = (!text.is_empty()).then(|| PathBuf::from(text));
        if let Ok(mut session) = params.session.write() {
            let slot = match self {
                PathField::Picture => &mut session.dream_image_path,
                PathField::OutputDir => &mut session.output_dir,
                PathField::Ffmpeg => &mut session.ffmpeg_path,
            };
            *slot = value.clone();
        }
        value
    }
}

/// What the check of the ffmpeg takes are encoded with found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum FfmpegFound {
    /// The check is running.
    #[default]
    Checking,
    /// It runs and has H.264: its path and version.
    Ready(String),
    /// It cannot encode takes: why, and what to do.
    Unusable(String),
}

/// Checks an ffmpeg on its own thread (it runs the program three times), so the window never
/// waits for it.
#[derive(Debug, Default)]
struct FfmpegCheck {
    /// The newest result.
    found: Arc<Mutex<FfmpegFound>>,
    /// The running check, joined before the next one and when the window closes, so no thread
    /// of ours outlives the plugin.
    thread: Option<JoinHandle<()>>,
}

impl FfmpegCheck {
    /// Starts checking `setting` (`None`: the ffmpeg found without a setting).
    fn start(&mut self, setting: Option<PathBuf>) {
        self.join();
        let found = self.found.clone();
        *found.lock().unwrap_or_else(PoisonError::into_inner) = FfmpegFound::Checking;
        let check = move || {
            let result = match crate::export::find_ffmpeg(setting.as_deref()) {
                Ok(ffmpeg) => FfmpegFound::Ready(format!(
                    "ffmpeg {} with H.264: {}",
                    ffmpeg.version,
                    ffmpeg.path.display()
                )),
                Err(err) => FfmpegFound::Unusable(err.to_string()),
            };
            *found.lock().unwrap_or_else(PoisonError::into_inner) = result;
        };
        self.thread = std::thread::Builder::new()
            .name("deep-visualizer-ffmpeg-check".to_owned())
            .spawn(check)
            .ok();
    }

    /// The newest result.
    fn found(&self) -> FfmpegFound {
        self.found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the running check (`ffmpeg -version` and `-encoders` return at once).
    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FfmpegCheck {
    fn drop(&mut self) {
        self.join();
    }
}

/// Text fields that apply when the user presses Enter or leaves them, and the file picker.
#[derive(Debug, Default)]
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
    /// The ffmpeg program being typed.
    ffmpeg: String,
    /// Whether the ffmpeg takes are encoded with works.
    ffmpeg_check: FfmpegCheck,
    /// The open file picker and the field it fills.
    picker: Option<(PathField, FilePicker)>,
}

impl Fields {
    /// The fields as the session has them.
    pub fn from_session(params: &DeepVisualizerParams) -> Self {
        let session = params.session.read().map(|s| s.clone()).unwrap_or_default();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let mut ffmpeg_check = FfmpegCheck::default();
        ffmpeg_check.start(session.ffmpeg_path.clone());
        Self {
            seed: session.seed.to_string(),
            image: path(&session.dream_image_path).unwrap_or_default(),
            output_dir: path(&session.output_dir).unwrap_or_default(),
            default_output_dir: crate::record::output_dir(None).display().to_string(),
            output_dir_overridden: std::env::var_os(crate::record::OUTPUT_DIR_ENV)
                .is_some_and(|v| !v.is_empty()),
            ffmpeg: path(&session.ffmpeg_path).unwrap_or_default(),
            ffmpeg_check,
            picker: None,
        }
    }

    /// The text of `field`.
    fn text_mut(&mut self, field: PathField) -> &mut String {
        match field {
            PathField::Picture => &mut self.image,
            PathField::OutputDir => &mut self.output_dir,
            PathField::Ffmpeg => &mut self.ffmpeg,
        }
    }

    /// Stores `field`'s text in the session (and checks a new ffmpeg).
    fn apply(&mut self, params: &DeepVisualizerParams, field: PathField) {
        let text = self.text_mut(field).trim().to_owned();
        let value = field.apply(params, &text);
        if field == PathField::Ffmpeg {
            self.ffmpeg_check.start(value);
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

/// A path field with a button that opens the file picker; applies when edited and left, or
/// when a path is chosen.
fn path_row(
    ui: &mut egui::Ui,
    label: &str,
    hint: &str,
    field: PathField,
    fields: &mut Fields,
    params: &DeepVisualizerParams,
) {
    ui.horizontal(|ui| {
        ui.add_sized([104.0, 18.0], egui::Label::new(label));
        let response = ui.add(
            egui::TextEdit::singleline(fields.text_mut(field))
                .hint_text(hint)
                .desired_width(136.0),
        );
        if response.lost_focus() {
            fields.apply(params, field);
        }
        if ui
            .button("Browse")
            .on_hover_text("Choose in a file browser")
            .clicked()
        {
            // An empty output folder means the default (or the override): start there.
            let mut text = fields.text_mut(field).trim().to_owned();
            if text.is_empty() && field == PathField::OutputDir {
                text = fields.default_output_dir.clone();
            }
            let current = (!text.is_empty()).then(|| PathBuf::from(text));
            fields.picker = Some((field, FilePicker::new(field.kind(), current.as_deref())));
        }
    });
}

/// Draws the open file picker and applies what it chose.
fn picker_ui(ctx: &egui::Context, fields: &mut Fields, params: &DeepVisualizerParams) {
    let Some((field, picker)) = &mut fields.picker else {
        return;
    };
    let field = *field;
    match picker.ui(ctx) {
        PickOutcome::Open => {}
        PickOutcome::Cancelled => fields.picker = None,
        PickOutcome::Chosen(path) => {
            fields.picker = None;
            *fields.text_mut(field) = path.display().to_string();
            fields.apply(params, field);
        }
    }
}

/// The line under the ffmpeg field: which ffmpeg encodes takes, or why none can.
fn ffmpeg_status_ui(ui: &mut egui::Ui, check: &FfmpegCheck) {
    match check.found() {
        FfmpegFound::Checking => {
            ui.weak("checking ffmpeg…");
        }
        FfmpegFound::Ready(text) => {
            ui.label(egui::RichText::new(text).small());
        }
        FfmpegFound::Unusable(why) => {
            ui.label(
                egui::RichText::new(why)
                    .small()
                    .color(ui.visuals().error_fg_color),
            );
        }
    }
}

/// The ffmpeg field's hint: what is used when it is empty.
fn ffmpeg_hint() -> String {
    match std::env::var_os(crate::export::FFMPEG_ENV).filter(|v| !v.is_empty()) {
        Some(path) => Path::new(&path).display().to_string(),
        None => "ffmpeg on PATH".to_owned(),
    }
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
            path_row(
                ui,
                "Picture",
                "none: a BigGAN-deep frame",
                PathField::Picture,
                fields,
                params,
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
        path_row(
            ui,
            "Output folder",
            &default_dir,
            PathField::OutputDir,
            fields,
            params,
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
        path_row(
            ui,
            "ffmpeg",
            &ffmpeg_hint(),
            PathField::Ffmpeg,
            fields,
            params,
        );
        ffmpeg_status_ui(ui, &fields.ffmpeg_check);
        picker_ui(ui.ctx(), fields, params);
    })
    .response
}
