//! A file and folder browser drawn inside the editor, for DeepDream's picture, the output folder
//! and the ffmpeg program.
//!
//! Not the system's dialog: a native dialog run from a plugin blocks the host's main thread (or
//! needs a GTK/portal event loop the host may not have), and a DAW window that freezes while a
//! dialog is open is what users of plugins complain about. This one is part of the window, works
//! in every host and under Xvfb, and lists only what the field accepts.

use std::path::{Path, PathBuf};

/// A folder with more entries than this is listed in part (a folder of 100 000 frames must not
/// stall the window), with a line that says so.
const MAX_ENTRIES: usize = 2000;

/// The pictures DeepDream reads.
const PICTURE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// What the picker chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickKind {
    /// A PNG or JPEG picture.
    Picture,
    /// A folder.
    Folder,
    /// Any file (a program).
    Program,
}

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file or folder name.
    pub name: String,
    /// Whether it is a folder (entered on click) rather than a file (chosen on click).
    pub is_dir: bool,
}

/// A folder's listing for `kind`: folders first, then the files `kind` accepts, each group by
/// name without regard to case; hidden entries (a leading dot) left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The entries shown.
    pub entries: Vec<Entry>,
    /// Entries left out because the folder has more than [`MAX_ENTRIES`].
    pub num_left_out: usize,
}

/// Lists `dir` for `kind`, or says why it cannot be read.
pub fn list_dir(dir: &Path, kind: PickKind) -> Result<Listing, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let mut entries = Vec::new();
    for item in read.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Follows links, so a link to a folder is entered like a folder.
        let is_dir = item.path().is_dir();
        if !is_dir && !accepts(kind, Path::new(&name)) {
            continue;
        }
        entries.push(Entry { name, is_dir });
    }
    // Sorted before the cut, so a huge folder shows its folders and first names, not whichever
    // entries the file system gave first.
    entries.sort_by_cached_key(|e| (!e.is_dir, e.name.to_lowercase()));
    let num_left_out = entries.len().saturating_sub(MAX_ENTRIES);
    entries.truncate(MAX_ENTRIES);
    Ok(Listing {
        entries,
        num_left_out,
    })
}

/// Whether a file named `name` can be chosen for `kind`.
fn accepts(kind: PickKind, name: &Path) -> bool {
    match kind {
        PickKind::Picture => name
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PICTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())),
        PickKind::Folder => false,
        PickKind::Program => true,
    }
}

/// What the picker's frame ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickOutcome {
    /// Still choosing.
    Open,
    /// The user chose this path.
    Chosen(PathBuf),
    /// The user closed the picker without choosing.
    Cancelled,
}

/// The open picker: the folder shown and its listing.
#[derive(Debug, Clone)]
pub struct FilePicker {
    /// What is chosen.
    kind: PickKind,
    /// The folder shown.
    dir: PathBuf,
    /// Its listing, or why it could not be read.
    listing: Result<Listing, String>,
    /// The folder path being typed in the picker's own path field.
    dir_text: String,
}

impl FilePicker {
    /// A picker for `kind` that starts where `current` is (its folder, for a file), else in the
    /// user's home folder.
    pub fn new(kind: PickKind, current: Option<&Path>) -> Self {
        let start = current
            .and_then(|p| {
                if p.is_dir() {
                    Some(p.to_owned())
                } else {
                    p.parent().filter(|d| d.is_dir()).map(Path::to_owned)
                }
            })
            .or_else(dirs::home_dir)
            .unwrap_or_else(|| PathBuf::from("/"));
        let mut picker = Self {
            kind,
            dir: PathBuf::new(),
            listing: Ok(Listing::default()),
            dir_text: String::new(),
        };
        picker.enter(start);
        picker
    }

    /// Shows `dir`.
    pub fn enter(&mut self, dir: PathBuf) {
        self.listing = list_dir(&dir, self.kind);
        self.dir_text = dir.display().to_string();
        self.dir = dir;
    }

    /// The folder shown.
    #[cfg(test)]
    fn dir(&self) -> &Path {
        &self.dir
    }

    /// The listing shown, or why the folder cannot be read.
    #[cfg(test)]
    fn listing(&self) -> &Result<Listing, String> {
        &self.listing
    }

    /// What clicking `entry` does: a folder is entered, a file is chosen.
    pub fn click(&mut self, entry: &Entry) -> PickOutcome {
        let path = self.dir.join(&entry.name);
        if entry.is_dir {
            self.enter(path);
            PickOutcome::Open
        } else {
            PickOutcome::Chosen(path)
        }
    }

    /// Draws the picker as a modal window over the editor for one frame.
    pub fn ui(&mut self, ctx: &egui::Context) -> PickOutcome {
        let title = match self.kind {
            PickKind::Picture => "Choose DeepDream's picture (PNG or JPEG)",
            PickKind::Folder => "Choose the folder for takes and videos",
            PickKind::Program => "Choose the ffmpeg program",
        };
        let modal =
            egui::Modal::new(egui::Id::unique("deep-visualizer-file-picker")).show(ctx, |ui| {
                ui.set_width(460.0);
                ui.heading(title);
                let mut outcome = PickOutcome::Open;
                ui.horizontal(|ui| {
                    let up = self.dir.parent().map(Path::to_owned);
                    if ui
                        .add_enabled(up.is_some(), egui::Button::new("Up"))
                        .clicked()
                    {
                        if let Some(up) = up {
                            self.enter(up);
                        }
                    }
                    let field =
                        ui.add(egui::TextEdit::singleline(&mut self.dir_text).desired_width(400.0));
                    if field.lost_focus() {
                        let typed = PathBuf::from(self.dir_text.trim());
                        if typed.is_file() && accepts(self.kind, &typed) {
                            outcome = PickOutcome::Chosen(typed);
                        } else {
                            self.enter(typed);
                        }
                    }
                });
                ui.separator();
                let mut clicked = None;
                egui::ScrollArea::vertical()
                    .max_height(300.0)
                    .auto_shrink([false, false])
                    .show(ui, |ui| match &self.listing {
                        Err(why) => {
                            ui.colored_label(ui.visuals().error_fg_color, why);
                        }
                        Ok(listing) => {
                            if listing.entries.is_empty() {
                                ui.weak(match self.kind {
                                    PickKind::Picture => "No folders or PNG/JPEG pictures here",
                                    PickKind::Folder => "No folders here",
                                    PickKind::Program => "Nothing here",
                                });
                            }
                            for entry in &listing.entries {
                                let label = if entry.is_dir {
                                    format!("{}/", entry.name)
                                } else {
                                    entry.name.clone()
                                };
                                if ui.selectable_label(false, label).clicked() {
                                    clicked = Some(entry.clone());
                                }
                            }
                            if listing.num_left_out > 0 {
                                ui.weak(format!(
                                    "… and {} more (type a path above)",
                                    listing.num_left_out
                                ));
                            }
                        }
                    });
                if let Some(entry) = clicked {
                    outcome = self.click(&entry);
                }
                ui.separator();
                ui.horizontal(|ui| {
                    if self.kind == PickKind::Folder && ui.button("Use this folder").clicked() {
                        outcome = PickOutcome::Chosen(self.dir.clone());
                    }
                    if ui.button("Cancel").clicked() {
                        outcome = PickOutcome::Cancelled;
                    }
                });
                outcome
            });
        if modal.should_close() && modal.inner == PickOutcome::Open {
            return PickOutcome::Cancelled;
        }
        modal.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with(files: &[&str], dirs: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(root.path().join(f), b"x").unwrap();
        }
        for d in dirs {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        root
    }

    fn names(listing: &Listing) -> Vec<&str> {
        listing.entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn pictures_list_folders_first_then_pictures_only() {
        let root = folder_with(
            &[
                "b.PNG",
                "a.jpg",
                "notes.txt",
                ".hidden.png",
                "c.jpeg",
                "song.wav",
            ],
            &["Zeta", "alpha", ".git"],
        );
        let listing = list_dir(root.path(), PickKind::Picture).unwrap();
        assert_eq!(
            names(&listing),
            ["alpha", "Zeta", "a.jpg", "b.PNG", "c.jpeg"]
        );
        assert_eq!(listing.num_left_out, 0);
        let folders = list_dir(root.path(), PickKind::Folder).unwrap();
        assert_eq!(names(&folders), ["alpha", "Zeta"]);
        let programs = list_dir(root.path(), PickKind::Program).unwrap();
        assert_eq!(programs.entries.len(), 7);
    }

    #[test]
    fn a_huge_folder_is_listed_in_part() {
        let root = tempfile::tempdir().unwrap();
        for i in 0..MAX_ENTRIES + 5 {
            std::fs::write(root.path().join(format!("frame{i:05}.png")), b"").unwrap();
        }
        std::fs::create_dir(root.path().join("zz folder")).unwrap();
        let listing = list_dir(root.path(), PickKind::Picture).unwrap();
        assert_eq!(listing.entries.len(), MAX_ENTRIES);
        assert_eq!(listing.num_left_out, 6);
        // The folder and the first names by order, whatever order the file system gives.
        assert_eq!(listing.entries[0].name, "zz folder");
        assert_eq!(listing.entries[1].name, "frame00000.png");
        assert_eq!(listing.entries[MAX_ENTRIES - 1].name, "frame01998.png");
    }

    #[test]
    fn a_missing_folder_says_which() {
        let err = list_dir(Path::new("/no/such/folder"), PickKind::Picture).unwrap_err();
        assert!(err.contains("/no/such/folder"), "{err}");
    }

    #[test]
    fn clicks_enter_folders_and_choose_files() {
        let root = folder_with(&["top.png"], &["sub"]);
        std::fs::write(root.path().join("sub/inner.jpg"), b"x").unwrap();
        // Starts in the current value's folder.
        let mut picker = FilePicker::new(PickKind::Picture, Some(&root.path().join("top.png")));
        assert_eq!(picker.dir(), root.path());
        let sub = picker.listing().as_ref().unwrap().entries[0].clone();
        assert!(sub.is_dir);
        assert_eq!(picker.click(&sub), PickOutcome::Open);
        assert_eq!(picker.dir(), root.path().join("sub"));
        let inner = picker.listing().as_ref().unwrap().entries[0].clone();
        assert_eq!(
            picker.click(&inner),
            PickOutcome::Chosen(root.path().join("sub/inner.jpg"))
        );
    }

    #[test]
    fn draws_headless_without_choosing() {
        let root = folder_with(&["a.png"], &["d"]);
        let mut picker = FilePicker::new(PickKind::Folder, Some(root.path()));
        let ctx = egui::Context::default();
        let mut outcome = None;
        for _ in 0..2 {
            let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
                outcome = Some(picker.ui(ui.ctx()));
            });
            // No renderer here to upload the font atlas to.
            output.textures_delta.clear();
        }
        assert_eq!(outcome, Some(PickOutcome::Open));
    }
}
