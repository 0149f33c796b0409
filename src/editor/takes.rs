//! The record button and the takes panel: each take's state, length and render progress, with
//! Cancel, Open folder and Render again (at another size).

use std::path::Path;

use nice_plug::prelude::ParamSetter;

use crate::params::DeepVisualizerParams;
use crate::record::status::{RenderRequest, TakeEntry, TakeState, TakesHub};

/// The sizes "Render again" offers.
const RENDER_SIZES_PX: [u32; 3] = [128, 256, 512];

/// The record button, what is being recorded, and the newest recording error.
pub fn record_ui(
    ui: &mut egui::Ui,
    params: &DeepVisualizerParams,
    setter: &ParamSetter,
    takes: &TakesHub,
    entries: &[TakeEntry],
) -> egui::Response {
    ui.vertical(|ui| {
        let armed = params.record.value();
        let red = egui::Color32::from_rgb(220, 60, 60);
        ui.horizontal(|ui| {
            // A dot drawn rather than a glyph: egui's default fonts have no record symbol.
            let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            if armed {
                ui.painter().circle_filled(dot.center(), 5.0, red);
            } else {
                ui.painter()
                    .circle_stroke(dot.center(), 5.0, egui::Stroke::new(1.5, red));
            }
            let label = if armed { "Recording armed" } else { "Record" };
            let button = egui::Button::new(egui::RichText::new(label).color(if armed {
                egui::Color32::WHITE
            } else {
                red
            }))
            .fill(if armed {
                red
            } else {
                ui.visuals().widgets.inactive.bg_fill
            });
            if ui
                .add(button)
                .on_hover_text(
                    "Keeps what the DAW plays or bounces as a take, and renders it to an MP4 \
                     when the transport stops (the 'Record' parameter)",
                )
                .clicked()
            {
                // Through the host, so automation of the parameter records it.
                setter.begin_set_parameter(&params.record);
                setter.set_parameter(&params.record, !armed);
                setter.end_set_parameter(&params.record);
            }
            if let Some(take) = entries
                .iter()
                .rev()
                .find(|e| e.state == TakeState::Recording)
            {
                // Only the length: the name is in the list below, and the row must fit the panel.
                ui.label(format!("recording {}", clock(take.length_s)));
            } else if armed {
                ui.label("waits for play");
            }
        });
        if let Some(error) = takes.error() {
            ui.colored_label(egui::Color32::from_rgb(240, 180, 80), error);
        }
    })
    .response
}

/// The list of takes, newest first.
pub fn takes_ui(
    ui: &mut egui::Ui,
    takes: &TakesHub,
    entries: &[TakeEntry],
    render_size_px: &mut u32,
) -> egui::Response {
    egui::CollapsingHeader::new(format!("Takes ({})", entries.len()))
        .default_open(true)
        .show(ui, |ui| {
            if entries.is_empty() {
                ui.label(
                    "No takes yet. Arm Record and play (or bounce) the song; the take renders to \
                     an MP4 in the output folder when the transport stops.",
                );
                return;
            }
            ui.horizontal(|ui| {
                ui.label("Render again at");
                egui::ComboBox::from_id_salt("render_size")
                    .selected_text(format!("{render_size_px} px"))
                    .show_ui(ui, |ui| {
                        for size in RENDER_SIZES_PX {
                            ui.selectable_value(render_size_px, size, format!("{size} px"));
                        }
                    });
            });
            // A long session's takes scroll on their own, so the controls stay in reach.
            egui::ScrollArea::vertical()
                .id_salt("takes")
                .max_height(220.0)
                .show(ui, |ui| {
                    for entry in entries.iter().rev() {
                        ui.separator();
                        take_row(ui, takes, entry, *render_size_px);
                    }
                });
        })
        .header_response
}

/// One take: name, length, state, and what can be done with it.
fn take_row(ui: &mut egui::Ui, takes: &TakesHub, entry: &TakeEntry, render_size_px: u32) {
    let warn = egui::Color32::from_rgb(240, 180, 80);
    ui.horizontal(|ui| {
        ui.strong(&entry.name);
        ui.label(clock(entry.length_s));
    });
    if entry.num_lost_frames > 0 {
        ui.colored_label(
            warn,
            format!(
                "incomplete: {} samples lost (the disk fell behind)",
                entry.num_lost_frames
            ),
        );
    }
    match &entry.state {
        TakeState::Recording => {
            ui.label("recording");
        }
        TakeState::Waiting => {
            ui.label("waiting to render");
        }
        TakeState::Rendering { stage, fraction } => {
            ui.add(egui::ProgressBar::new(*fraction).text(stage.as_str()));
        }
        TakeState::Rendered { video } => {
            ui.label(format!(
                "rendered: {}",
                video.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        TakeState::Cancelled => {
            ui.label("render cancelled; the take is kept");
        }
        TakeState::Failed(message) => {
            ui.colored_label(warn, egui::RichText::new(message).small());
        }
    }
    ui.horizontal(|ui| {
        if matches!(entry.state, TakeState::Rendering { .. }) && ui.button("Cancel").clicked() {
            takes.cancel_render();
        }
        if ui.button("Open folder").clicked() {
            if let Some(folder) = entry.dir.parent() {
                if let Err(err) = open_folder(folder) {
                    takes.set_error(format!("cannot open {}: {err}", folder.display()));
                }
            }
        }
        let idle = !matches!(
            entry.state,
            TakeState::Recording | TakeState::Waiting | TakeState::Rendering { .. }
        );
        if idle
            && ui
                .button(format!("Render again at {render_size_px} px"))
                .clicked()
        {
            takes.request_render(RenderRequest {
                id: entry.id,
                dir: entry.dir.clone(),
                resolution_px: Some(render_size_px),
            });
        }
    });
}

/// `m:ss.s`.
fn clock(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// Opens `folder` in the system's file manager.
fn open_folder(folder: &Path) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(folder)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_shows_minutes_and_tenths() {
        assert_eq!(clock(0.0), "0:00.0");
        assert_eq!(clock(61.25), "1:01.2");
        assert_eq!(clock(600.0), "10:00.0");
    }
}
