//! The model's status in words, the Download button, frames per second and latency.

use crate::render::service::{LiveHub, ModelState, ServiceStatus};

/// The status block.
pub fn status_ui(ui: &mut egui::Ui, status: &ServiceStatus, hub: &LiveHub) -> egui::Response {
    ui.vertical(|ui| {
        ui.heading("Deep Visualizer");
        let warn = egui::Color32::from_rgb(240, 180, 80);
        match &status.model {
            ModelState::Stopped => {
                ui.label("Not running: the host has not started the plugin (press play or enable the track).");
            }
            ModelState::Loading(what) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(what);
                });
            }
            ModelState::Downloading {
                model_id,
                file,
                done_bytes,
                total_bytes,
            } => {
                ui.label(format!("Downloading {model_id}: {file}"));
                let text = match total_bytes {
                    Some(total) => format!(
                        "{:.1} of {:.1} MB",
                        *done_bytes as f64 / 1e6,
                        *total as f64 / 1e6
                    ),
                    None => format!("{:.1} MB", *done_bytes as f64 / 1e6),
                };
                let fraction = total_bytes
                    .filter(|&t| t > 0)
                    .map_or(0.0, |t| *done_bytes as f32 / t as f32);
                ui.add(egui::ProgressBar::new(fraction).text(text));
                if ui.button("Cancel").clicked() {
                    hub.cancel_download();
                }
            }
            ModelState::Ready => {
                ui.label(format!("Ready on {}", status.device));
            }
            ModelState::Missing { model_id, message } => {
                ui.colored_label(warn, format!("{model_id} is not installed."));
                ui.label(egui::RichText::new(message).small());
                if ui
                    .button(format!("Download {model_id}"))
                    .on_hover_text("Downloads the model and checks it against the manifest")
                    .clicked()
                {
                    hub.request_download();
                }
            }
            ModelState::Damaged(message) => {
                ui.colored_label(warn, "The weights do not load.");
                ui.label(egui::RichText::new(message).small());
            }
            ModelState::Failed(message) => {
                ui.colored_label(warn, "Error");
                ui.label(egui::RichText::new(message).small());
            }
        }
        if let Some(note) = &status.note {
            ui.label(egui::RichText::new(note).small());
        }
        ui.label(format!(
            "{:.0} frames/s · latency {:.0} ms · {} frames drawn",
            status.achieved_fps, status.latency_ms, status.num_frames_drawn
        ));
    })
    .response
}
