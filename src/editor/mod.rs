//! The plugin's window (egui through nice-plug-egui, drawn with OpenGL).
//!
//! It sees only shared handles: the parameters, the [`LiveHub`] (the render service's newest frame
//! and status) and the newest feature frame for the meters. It shows the live picture, as large
//! as the window allows at its own aspect ratio; meters for the kick, loudness, its rise and the
//! 12 pitch classes; the model's status in words, with a Download button when weights are
//! missing; the achieved frame rate and latency; and the controls. Parameter edits go through the
//! host's begin/set/end, so automation records them.
//!
//! One module per part: [`picture`], [`meters`], [`status`], [`controls`] (with
//! [`file_picker`]), [`classes`], [`takes`] (the record button and the takes panel).

mod classes;
mod controls;
mod file_picker;
mod meters;
mod picture;
mod status;
mod takes;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};

use crate::bridge::{FeatureFrame, LatestFeaturesOutput};
use crate::params::DeepVisualizerParams;
use crate::record::status::TakesHub;
use crate::render::service::LiveHub;

/// The editor's size when a project has none saved, in logical pixels.
pub const DEFAULT_SIZE: (u32, u32) = (960, 640);
/// The smallest useful window.
const MIN_SIZE: (f32, f32) = (640.0, 420.0);
/// Frames the window waits to reach the project's size before its own size counts again.
const RESTORE_SIZE_FRAMES: u32 = 30;

/// The window's app: everything it draws comes through shared handles.
pub struct EditorApp {
    /// Parameters and session state.
    params: Arc<DeepVisualizerParams>,
    /// The render service's newest frame and status.
    hub: Arc<LiveHub>,
    /// Recorded takes and their renders.
    takes: Arc<TakesHub>,
    /// The size "Render again" renders at.
    render_size_px: u32,
    /// The newest feature frame, for the meters; `None` until the plugin hands it over.
    meters: Arc<Mutex<Option<LatestFeaturesOutput>>>,
    /// The window's size, kept in sync by nice-plug-egui.
    state: Arc<EguiEditorState>,
    /// The host's handle for parameter edits, once the window exists.
    gui: Option<GuiContext>,
    /// The picture's texture in this window's egui context.
    picture: picture::Picture,
    /// The class slots' search state.
    classes: classes::ClassPicker,
    /// Text fields that are edited before they apply.
    fields: controls::Fields,
    /// The newest feature frame read.
    features: FeatureFrame,
    /// The size the project saved, while the window is being resized to it: the window opens at
    /// the size the editor was created with (before the host restored the project), so until it
    /// reaches this size its size is not saved over the project's.
    restoring_size: Option<(u32, u32)>,
    /// Frames left to wait for the restored size (a host may refuse it).
    restoring_frames_left: u32,
}

/// The plugin's editor, or `None` when the host cannot show one.
pub fn create_editor(
    params: Arc<DeepVisualizerParams>,
    hub: Arc<LiveHub>,
    takes: Arc<TakesHub>,
    meters: Arc<Mutex<Option<LatestFeaturesOutput>>>,
) -> Option<EguiEditor<EditorApp>> {
    let (width, height) = params
        .session
        .read()
        .map(|s| s.editor_size)
        .unwrap_or(DEFAULT_SIZE);
    let state = EguiEditorState::from_size(
        LogicalSize::new(width.max(MIN_SIZE.0 as u32), height.max(MIN_SIZE.1 as u32)),
        1.0,
    );
    let app = EditorApp {
        params,
        hub,
        takes,
        render_size_px: 512,
        meters,
        state: state.clone(),
        gui: None,
        picture: picture::Picture::default(),
        classes: classes::ClassPicker::default(),
        fields: controls::Fields::default(),
        features: FeatureFrame::default(),
        restoring_size: None,
        restoring_frames_left: 0,
    };
    let settings = EguiNiceSettings::default()
        .with_tile("Deep Visualizer")
        .with_resize_hint(
            ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
        );
    create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        // Each window has its own egui context: textures from an earlier one are dead.
        self.picture = picture::Picture::default();
        return_freed_memory();
        self.fields = controls::Fields::from_session(&self.params);
        self.gui = Some(gui);
        // The editor (and its window size) was created before the host restored the project:
        // open at the project's size. The window tells the host about the new size itself.
        let saved = self.params.session.read().map(|s| s.editor_size).ok();
        let current = self.state.logical_size();
        let current = (current.width.round() as u32, current.height.round() as u32);
        self.restoring_size = None;
        if let Some(saved) = saved.filter(|&s| s != current && s.0 > 0 && s.1 > 0) {
            let saved = (
                saved.0.max(MIN_SIZE.0 as u32),
                saved.1.max(MIN_SIZE.1 as u32),
            );
            let size = LogicalSize::new(f64::from(saved.0), f64::from(saved.1));
            if frame.baseview_window().resize(size).is_ok() {
                self.restoring_size = Some(saved);
                self.restoring_frames_left = RESTORE_SIZE_FRAMES;
            }
        }
        egui_ctx.set_visuals(egui::Visuals::dark());
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else {
            return;
        };
        let setter = gui.param_setter();
        if let Some(meters) = self
            .meters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            self.features = *meters.read();
        }
        self.remember_size();
        let status = self.hub.status();
        let entries = self.takes.takes();
        egui::Panel::right("controls")
            .resizable(false)
            .exact_size(340.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    status::status_ui(ui, &status, &self.hub);
                    ui.separator();
                    takes::record_ui(ui, &self.params, &setter, &self.takes, &entries);
                    takes::takes_ui(ui, &self.takes, &entries, &mut self.render_size_px);
                    ui.separator();
                    controls::controls_ui(ui, &self.params, &setter, &mut self.fields);
                    ui.separator();
                    self.classes.classes_ui(ui, &self.params);
                });
            });
        egui::Panel::bottom("meters")
            .resizable(false)
            .exact_size(118.0)
            .show(ui, |ui| meters::meters_ui(ui, &self.features));
        egui::CentralPanel::default().show(ui, |ui| {
            self.picture.picture_ui(ui, &self.hub);
        });
        // The picture and the meters move with the music: draw again soon.
        ui.ctx().request_repaint_after(Duration::from_millis(16));
    }
}

/// Gives the memory earlier windows freed back to the system. Software OpenGL (Mesa's llvmpipe,
/// on machines without a GPU driver) starts rasterizer threads for each window; glibc gives each
/// new thread's allocations an arena of their own and keeps what they freed, so without this a
/// host's memory grew by about 3.5 MB per opening of the editor until glibc's arenas were all
/// in use (measured: 130 MB to 400 MB over 40 openings, flat with this).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl EditorApp {
    /// Saves the window's size with the project when the user resized it.
    fn remember_size(&mut self) {
        let size = self.state.logical_size();
        let size = (size.width.round() as u32, size.height.round() as u32);
        if let Some(target) = self.restoring_size {
            if size != target && self.restoring_frames_left > 0 {
                self.restoring_frames_left -= 1;
                return;
            }
            self.restoring_size = None;
        }
        if let Ok(mut session) = self.params.session.try_write() {
            if session.editor_size != size && size.0 > 0 && size.1 > 0 {
                session.editor_size = size;
            }
        }
    }
}
