//! A file written under a temporary name beside its destination and renamed when complete.

use std::path::{Path, PathBuf};

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
    /// A temporary name in `final_path`'s folder: `.<name>.<pid>.partial`, hidden and unique to
    /// this process. The folder must exist.
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
        temp_name.push(format!(".{}.partial", std::process::id()));
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

    /// Renames the complete file to its destination, replacing any file there.
    pub fn commit(mut self) -> Result<PathBuf, ExportError> {
        std::fs::rename(&self.temp_path, &self.final_path)
            .map_err(|e| ExportError::io("renaming the finished file to", &self.final_path, e))?;
        self.done = true;
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
