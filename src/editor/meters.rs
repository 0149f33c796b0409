//! Meters: kick, loudness, its rise and the 12 pitch classes with their names.

use crate::bridge::FeatureFrame;
use crate::settings::PITCH_CLASS_NAMES;

/// One vertical bar from 0 to 1 with its label under it.
fn bar_ui(
    ui: &mut egui::Ui,
    width: f32,
    label: &str,
    value: f32,
    colour: egui::Color32,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 96.0), egui::Sense::hover());
    let painter = ui.painter();
    let bar = egui::Rect::from_min_max(rect.min, egui::pos2(rect.max.x, rect.max.y - 16.0));
    painter.rect_filled(bar, 2.0, egui::Color32::from_gray(35));
    let level = value.clamp(0.0, 1.0);
    let filled = egui::Rect::from_min_max(
        egui::pos2(bar.min.x, bar.max.y - level * bar.height()),
        bar.max,
    );
    painter.rect_filled(filled, 2.0, colour);
    painter.text(
        egui::pos2(rect.center().x, rect.max.y - 7.0),
        egui::Align2::CENTER_CENTER,
        label,
        egui::FontId::proportional(11.0),
        egui::Color32::from_gray(200),
    );
    response.on_hover_text(format!("{label}: {level:.2}"))
}

/// The meters row.
pub fn meters_ui(ui: &mut egui::Ui, features: &FeatureFrame) -> egui::Response {
    // All 15 bars fit a narrow window: they narrow down to 14 px rather than leave the row.
    let gap = 18.0;
    let spacing = ui.spacing().item_spacing.x;
    let width = ((ui.available_width() - gap) / 15.0 - spacing).clamp(14.0, 26.0);
    ui.horizontal(|ui| {
        bar_ui(
            ui,
            width,
            "kick",
            features.live.kick,
            egui::Color32::from_rgb(230, 90, 70),
        );
        bar_ui(
            ui,
            width,
            "loud",
            features.live.power,
            egui::Color32::from_rgb(90, 170, 230),
        );
        bar_ui(
            ui,
            width,
            "rise",
            features.live.power_rise,
            egui::Color32::from_rgb(120, 220, 150),
        );
        ui.add_space(gap);
        for (name, &level) in PITCH_CLASS_NAMES.iter().zip(&features.chroma) {
            bar_ui(
                ui,
                width,
                name,
                level,
                egui::Color32::from_rgb(220, 190, 90),
            );
        }
    })
    .response
}
