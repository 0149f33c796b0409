//! The one way files are written: under a temporary name beside the destination, pushed to the
//! disk, then renamed over it. A failure (a full disk, a read-only folder, a crash) leaves the
//! old file or nothing, never half a file; two writers in one process (two plugin instances)
//! never share a temporary name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ExportError;

/// The temporary path of a file being written; dropping it before [`commit`](Self::commit)
/// deletes the partial file, so a failure leaves nothing half-written behind.
#[derive(Debug)]
pub struct PendingFile {
    /// Where the file is written.
    temp_path: PathBuf,
    /// Where it goes when complete.
    final_path: PathBuf,
    /// Set once renamed (or handed over), so drop does not delete it.
    done: bool,
}

impl PendingFile {
    /// A temporary name in `final_path`'s folder: `.<name>.<pid>-<n>.partial`, hidden and unique
    /// to this writer (`n` counts the process's pending files). The folder must exist.
    pub fn new(final_path: &Path) -> Result<Self, ExportError> {
        let name = final_path.file_name().ok_or_else(|| ExportError::BadFile {
            path: final_path.to_owned(),
            reason: "the path has no file name".to_owned(),
        })?;
        let folder = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            return Err(ExportError::io(
                "writing into",
                &folder,
                std::io::Error::new(std::io::ErrorKind::NotFound, "the folder does not exist"),
            ));
        }
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        // Relaxed: only uniqueness matters, not ordering with other memory.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        temp_name.push(format!(".{}-{n}.partial", std::process::id()));
        Ok(Self {
            temp_path: folder.join(temp_name),
            final_path: final_path.to_owned(),
            done: false,
        })
    }

    /// Where to write.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// Where the file ends up.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Pushes the complete file to the disk and renames it to its destination, replacing any
    /// file there.
    pub fn commit(self) -> Result<PathBuf, ExportError> {
        self.commit_with(Durability::Synced)
    }

    /// Renames the complete file to its destination, pushing it to the disk first when
    /// `durability` says so.
    pub fn commit_with(mut self, durability: Durability) -> Result<PathBuf, ExportError> {
        if durability == Durability::Synced {
            File::open(&self.temp_path)
                .and_then(|f| f.sync_all())
                .map_err(|e| ExportError::io("writing", &self.temp_path, e))?;
        }
        std::fs::rename(&self.temp_path, &self.final_path)
            .map_err(|e| ExportError::io("renaming the finished file to", &self.final_path, e))?;
        self.done = true;
        // The rename itself reaches the disk with the folder; best effort, as not every system
        // can sync a folder.
        if let Some(folder) = self
            .final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && durability == Durability::Synced)
        {
            let _ = File::open(folder).and_then(|f| f.sync_all());
        }
        Ok(self.final_path.clone())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.done {
            // Nothing to report to: the file may never have been created.
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// Whether a file reaches the disk before it is renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced before the rename, and the rename synced with its folder: survives a power cut.
    Synced,
    /// Renamed as soon as written, without waiting for the disk (which can take seconds while
    /// another program writes a lot): a crash of the program loses nothing, a power cut may
    /// lose the file. For a file that is written again, synced, moments later.
    Cached,
}

/// Writes `path` atomically (see the module docs) with what `write` puts into the buffered file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<PathBuf, ExportError> {
    write_atomically_with(path, Durability::Synced, write)
}

/// [`write_atomically`], pushed to the disk or not as `durability` says.
pub fn write_atomically_with(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<PathBuf, ExportError> {
    let pending = PendingFile::new(path)?;
    let file = File::create(pending.temp_path())
        .map_err(|e| ExportError::io("creating", pending.temp_path(), e))?;
    let mut writer = BufWriter::new(file);
    write(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| ExportError::io("writing", pending.temp_path(), e))?;
    drop(writer);
    pending.commit_with(durability)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomically(&path, |w| w.write_all(b"first")).unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary is left: {names:?}");
    }

    #[test]
    fn two_writers_of_one_file_in_one_process_never_share_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("video.mp4");
        let a = PendingFile::new(&path).unwrap();
        let b = PendingFile::new(&path).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
    }

    #[test]
    fn a_missing_folder_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nowhere/out.png");
        let err = write_atomically(&path, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
    }
}
