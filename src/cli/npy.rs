//! Reading numpy `.npy` arrays of floats (format versions 1–3, little-endian `<f4` or `<f8`,
//! C order), enough for the CLI's `--z`/`--y` inputs.

use std::path::Path;

use anyhow::{bail, Context};

/// A float array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Extents, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// The values in C (row-major) order, as f32.
    pub values: Vec<f32>,
}

/// Reads `path` as a float32 (or float64, narrowed) array.
pub fn read_npy(path: &Path) -> anyhow::Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_npy(&bytes).with_context(|| format!("{} is not a float32 .npy array", path.display()))
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> anyhow::Result<NpyArray> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        bail!("no .npy magic number (write it with numpy.save)");
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                bail!("truncated header");
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        other => bail!("unsupported .npy format version {other}"),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .context("truncated header")?;
    let header = std::str::from_utf8(header).context("header is not text")?;
    let descr = dict_value(header, "descr").context("header has no 'descr'")?;
    let fortran = dict_value(header, "fortran_order").context("header has no 'fortran_order'")?;
    let shape_text = dict_value(header, "shape").context("header has no 'shape'")?;
    if fortran.trim() != "False" {
        bail!("the array is in Fortran order; save a C-ordered array (numpy.ascontiguousarray)");
    }
    let shape = parse_shape(shape_text)?;
    let count: usize = shape.iter().product();
    let data = &bytes[data_start..];
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let values: Vec<f32> = match descr {
        "<f4" | "|f4" => {
            let needed = count * 4;
            if data.len() < needed {
                bail!(
                    "truncated: {} data bytes for {count} float32 values",
                    data.len()
                );
            }
            data[..needed]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }
        "<f8" => {
            let needed = count * 8;
            if data.len() < needed {
                bail!(
                    "truncated: {} data bytes for {count} float64 values",
                    data.len()
                );
            }
            data[..needed]
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect()
        }
        other => bail!("element type {other} is not little-endian float32 or float64"),
    };
    Ok(NpyArray { shape, values })
}

/// The text of `key`'s value in the header's Python dict literal, up to the next top-level
/// comma or the closing brace.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[start + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0usize;
    for (idx, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ',' | '}' if depth == 0 => return Some(&rest[..idx]),
            _ => {}
        }
    }
    None
}

fn parse_shape(text: &str) -> anyhow::Result<Vec<usize>> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .with_context(|| format!("shape {text} is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<usize>()
                .with_context(|| format!("bad extent {part} in shape"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1 file as numpy writes it (header padded with spaces to 64 bytes).
    fn npy_v1(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_float32_and_float64_arrays() {
        let data: Vec<u8> = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let array = parse_npy(&npy_v1("<f4", "(2, 3)", &data)).unwrap();
        assert_eq!(array.shape, [2, 3]);
        assert_eq!(array.values, [1.5, -2.0, 3.25, 0.0, 7.0, 8.0]);

        let data: Vec<u8> = [0.5f64, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let array = parse_npy(&npy_v1("<f8", "(2,)", &data)).unwrap();
        assert_eq!(array.shape, [2]);
        assert_eq!(array.values, [0.5, 4.0]);
    }

    #[test]
    fn refuses_other_types_truncation_and_garbage() {
        let err = parse_npy(&npy_v1("<i8", "(1,)", &[0; 8])).unwrap_err();
        assert!(err.to_string().contains("<i8"), "{err}");
        let err = parse_npy(&npy_v1("<f4", "(4,)", &[0; 8])).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert!(parse_npy(b"hello world").is_err());
    }
}
