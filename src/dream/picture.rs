//! Pictures in and out of DeepDream: RGB8 buffers (`image::RgbImage`, what a PNG/JPEG decodes to
//! and what the BigGAN engine hands over) and `[1, 3, h, w]` tensors of pixels in `[0, 1]`.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::{ImageFormat, ImageReader, RgbImage};

use super::DreamError;

/// Reads a PNG or JPEG (detected from its contents) as RGB8; alpha is dropped, grey expanded.
pub fn load_rgb8(path: &Path) -> Result<RgbImage, DreamError> {
    let err = |reason: String| DreamError::Image {
        action: "cannot read the image",
        path: path.to_owned(),
        reason,
    };
    let reader = ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    let decoded = reader
        .decode()
        .map_err(|e| err(format!("{e} (PNG and JPEG are supported)")))?;
    Ok(decoded.to_rgb8())
}

/// Writes `image` as a PNG at `path`, atomically: a temporary file in the same folder is written
/// and flushed, then renamed over `path`, so a reader never sees half a file.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<(), DreamError> {
    crate::export::write_atomically(path, |writer| {
        image
            .write_to(writer, ImageFormat::Png)
            .map_err(crate::export::png::image_io_error)
    })
    .map(drop)
    .map_err(|err| DreamError::Image {
        action: "cannot write the PNG",
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

/// An RGB8 image as a `[1, 3, h, w]` tensor of pixels in `[0, 1]` on `device`.
pub fn rgb8_to_tensor(image: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut planar = vec![0.0f32; 3 * h * w];
    for (idx, pixel) in image.pixels().enumerate() {
        for (channel, &value) in pixel.0.iter().enumerate() {
            planar[channel * h * w + idx] = f32::from(value) / 255.0;
        }
    }
    Tensor::from_data(TensorData::new(planar, [1, 3, h, w]), device)
}

/// A `[1, 3, h, w]` tensor of pixels in `[0, 1]` as RGB8 (values outside are clamped, then
/// rounded to the nearest level).
pub fn tensor_to_rgb8(pixels: Tensor<4>) -> RgbImage {
    let [_, _, h, w] = pixels.dims();
    let planar = tensor_values(pixels);
    let mut interleaved = Vec::with_capacity(3 * h * w);
    for idx in 0..h * w {
        for channel in 0..3 {
            let value = planar[channel * h * w + idx].clamp(0.0, 1.0);
            interleaved.push((value * 255.0).round() as u8);
        }
    }
    RgbImage::from_raw(w as u32, h as u32, interleaved)
        .expect("the buffer holds exactly 3 × width × height values")
}

/// A tensor's values in row-major order, as f32.
pub fn tensor_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
}
