//! Recording takes in the DAW and bouncing them to video.
//!
//! While the `record` parameter is on and the transport plays, the audio thread copies every
//! sample that passed through, with its transport position, into a lock-free ring
//! ([`tap::RecordTap`]); nothing else happens on the audio thread, and it never waits: when the
//! ring is full the samples are counted as lost instead. A writer thread ([`recorder`]) drains
//! the ring into a take on disk as it goes (`NAME.take.partial`, renamed to `NAME.take` when the
//! transport stops); the syncs and renames that wait for the disk run on a thread of their own
//! ([`disk`]), so the ring drains while the disk is busy. A render thread ([`renderer`]) then renders each closed take to
//! `NAME.mp4` beside it, at the take's own settings, and marks it rendered (`render.json` in the
//! take). Takes left unrendered (the host unloaded the plugin, ffmpeg or the weights were
//! missing, the machine crashed mid-take) are picked up the next time the plugin loads.
//!
//! Hosts mislabel offline bounces (Ardour 7 bounces in freewheel while saying "realtime"), so
//! nothing here depends on the process mode: a bounce is a fast play.

use std::path::{Path, PathBuf};

pub mod disk;
pub mod names;
pub mod recorder;
pub mod renderer;
pub mod status;
pub mod tap;

/// Overrides the output folder the project saved.
pub const OUTPUT_DIR_ENV: &str = "DEEP_VISUALIZER_OUTPUT_DIR";

/// The folder inside the user's video folder that takes go to by default.
pub const DEFAULT_SUBFOLDER: &str = "Deep Visualizer";

/// Where takes and their videos go: `$DEEP_VISUALIZER_OUTPUT_DIR`, else the folder the project
/// saved (`saved`), else `Deep Visualizer/` in the user's video folder (`~/Videos` when the
/// system names none).
pub fn output_dir(saved: Option<&Path>) -> PathBuf {
    output_dir_from(std::env::var_os(OUTPUT_DIR_ENV), saved)
}

/// [`output_dir`] with the variable's value passed in.
fn output_dir_from(env: Option<std::ffi::OsString>, saved: Option<&Path>) -> PathBuf {
    if let Some(dir) = env.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = saved.filter(|d| !d.as_os_str().is_empty()) {
        return dir.to_owned();
    }
    let videos = dirs::video_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join("Videos")))
        .unwrap_or_else(std::env::temp_dir);
    videos.join(DEFAULT_SUBFOLDER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_beats_the_project_which_beats_the_video_folder() {
        let saved = Path::new("/music/project/videos");
        assert_eq!(
            output_dir_from(Some("/env/dir".into()), Some(saved)),
            PathBuf::from("/env/dir")
        );
        assert_eq!(output_dir_from(Some("".into()), Some(saved)), saved);
        assert_eq!(output_dir_from(None, Some(saved)), saved);
        let default = output_dir_from(None, None);
        assert!(
            default.ends_with(DEFAULT_SUBFOLDER),
            "{}",
            default.display()
        );
    }
}
