//! The live picture: the render service's newest frame as a texture, aspect-correct and as large
//! as the window allows.

use crate::render::service::LiveHub;

/// The picture's texture in the current window.
#[derive(Default)]
pub struct Picture {
    /// The texture, created on the first frame of this window's egui context.
    texture: Option<egui::TextureHandle>,
    /// Serial of the frame in the texture.
    shown_serial: u64,
    /// Its size in pixels.
    size_px: [usize; 2],
}

impl Picture {
    /// Draws the newest frame (uploading it first when it is new) into the available space.
    pub fn picture_ui(&mut self, ui: &mut egui::Ui, hub: &LiveHub) -> egui::Response {
        let upload = hub.read_frame(|frame| {
            (frame.serial != self.shown_serial && frame.width > 0 && frame.height > 0).then(|| {
                let size = [frame.width as usize, frame.height as usize];
                (
                    frame.serial,
                    egui::ColorImage::from_rgba_unmultiplied(size, &frame.rgba),
                )
            })
        });
        if let Some((serial, image)) = upload {
            self.size_px = image.size;
            match &mut self.texture {
                // Only the newest whole-image update per texture is kept until the next paint.
                Some(texture) => texture.set(image, egui::TextureOptions::LINEAR),
                None => {
                    self.texture = Some(ui.ctx().load_texture(
                        "deep-visualizer-live",
                        image,
                        egui::TextureOptions::LINEAR,
                    ))
                }
            }
            self.shown_serial = serial;
        }
        let available = ui.available_size();
        let (rect, response) = ui.allocate_exact_size(available, egui::Sense::hover());
        ui.painter()
            .rect_filled(rect, 0.0, egui::Color32::from_gray(12));
        match &self.texture {
            Some(texture) if self.size_px[0] > 0 => {
                let (w, h) = (self.size_px[0] as f32, self.size_px[1] as f32);
                let scale = (rect.width() / w).min(rect.height() / h);
                let shown = egui::Rect::from_center_size(rect.center(), egui::vec2(w, h) * scale);
                ui.painter().image(
                    texture.id(),
                    shown,
                    egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    egui::Color32::WHITE,
                );
            }
            _ => {
                ui.painter().text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "no picture yet: see the status on the right",
                    egui::FontId::proportional(16.0),
                    egui::Color32::from_gray(150),
                );
            }
        }
        response
    }
}
