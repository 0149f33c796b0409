//! The 12 pitch → ImageNet class slots, chosen by searching the 1000 class names.

use crate::params::DeepVisualizerParams;
use crate::settings::{NUM_PITCH_CLASSES, PITCH_CLASS_NAMES};

/// The ImageNet class names in index order (torchvision's list).
const IMAGENET_CLASSES: &str = include_str!("imagenet_classes.txt");

/// The name of ImageNet class `idx`.
pub fn class_name(idx: u16) -> &'static str {
    IMAGENET_CLASSES
        .lines()
        .nth(usize::from(idx))
        .unwrap_or("?")
}

/// Up to `max` classes whose name contains `query` (case-insensitive), or whose index it is.
pub fn search_classes(query: &str, max: usize) -> Vec<(u16, &'static str)> {
    let query = query.trim().to_lowercase();
    IMAGENET_CLASSES
        .lines()
        .enumerate()
        .filter(|(idx, name)| {
            query.is_empty() || name.to_lowercase().contains(&query) || idx.to_string() == query
        })
        .take(max)
        .map(|(idx, name)| (idx as u16, name))
        .collect()
}

/// Which slot is being chosen and what is typed.
#[derive(Debug, Clone, Default)]
pub struct ClassPicker {
    /// The slot whose search is open.
    open_slot: Option<usize>,
    /// The search text.
    query: String,
}

impl ClassPicker {
    /// The slots.
    pub fn classes_ui(
        &mut self,
        ui: &mut egui::Ui,
        params: &DeepVisualizerParams,
    ) -> egui::Response {
        let current = params.session.read().map(|s| s.classes).unwrap_or(None);
        let seed = params.session.read().map(|s| s.seed).unwrap_or(0);
        let shown = current.unwrap_or_else(|| {
            let drawn = crate::director::biggan::random_classes(seed, 1000);
            std::array::from_fn(|i| drawn.get(i).copied().unwrap_or(0))
        });
        egui::CollapsingHeader::new("Classes: pitch to ImageNet class")
            .show(ui, |ui| {
                let mut drawn = current.is_none();
                if ui.checkbox(&mut drawn, "Drawn from the seed").changed() {
                    if let Ok(mut session) = params.session.write() {
                        session.classes = if drawn { None } else { Some(shown) };
                    }
                }
                for (slot, (&class, pitch)) in shown.iter().zip(PITCH_CLASS_NAMES).enumerate() {
                    ui.horizontal(|ui| {
                        ui.add_sized([28.0, 18.0], egui::Label::new(pitch));
                        let text = format!("{class}: {}", class_name(class));
                        if ui
                            .add_enabled(!drawn, egui::Button::new(text).truncate())
                            .clicked()
                        {
                            self.open_slot = Some(slot);
                            self.query.clear();
                        }
                    });
                    if self.open_slot == Some(slot) {
                        ui.indent("search", |ui| {
                            ui.add(
                                egui::TextEdit::singleline(&mut self.query)
                                    .hint_text("search the 1000 classes"),
                            );
                            for (idx, name) in search_classes(&self.query, 12) {
                                if ui.button(format!("{idx}: {name}")).clicked() {
                                    if let Ok(mut session) = params.session.write() {
                                        let mut classes = session.classes.unwrap_or(shown);
                                        classes[slot] = idx;
                                        session.classes = Some(classes);
                                    }
                                    self.open_slot = None;
                                }
                            }
                            if ui.button("Close").clicked() {
                                self.open_slot = None;
                            }
                        });
                    }
                }
                debug_assert_eq!(shown.len(), NUM_PITCH_CLASSES);
            })
            .header_response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_list_is_imagenets() {
        assert_eq!(IMAGENET_CLASSES.lines().count(), 1000);
        assert_eq!(class_name(0), "tench");
        assert_eq!(class_name(207), "golden retriever");
        assert_eq!(class_name(999), "toilet tissue");
        let dogs = search_classes("retriever", 10);
        assert!(dogs.contains(&(207, "golden retriever")), "{dogs:?}");
        assert_eq!(search_classes("207", 5)[0].0, 207);
    }
}
