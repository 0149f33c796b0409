//! PNG frames.

use std::path::Path;

use super::{ExportError, PendingFile};

/// Writes an RGB8 image (row-major, `width_px × height_px × 3` bytes) as a PNG, atomically.
pub fn write_png(
    path: &Path,
    rgb: &[u8],
    width_px: u32,
    height_px: u32,
) -> Result<(), ExportError> {
    let pending = PendingFile::new(path)?;
    image::save_buffer_with_format(
        pending.temp_path(),
        rgb,
        width_px,
        height_px,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| ExportError::io("writing", path, image_io_error(e)))?;
    pending.commit()?;
    Ok(())
}

/// An image encoder's error as an I/O error; the OS's own error keeps its kind (a full disk is
/// said as such).
pub fn image_io_error(error: image::ImageError) -> std::io::Error {
    match error {
        image::ImageError::IoError(io) => io,
        other => std::io::Error::other(other),
    }
}
