//! Two-dimensional little-endian f32 `.npy` files (NumPy format 1.0), written and read one row
//! at a time, so a render's latent vectors never sit in memory all at once.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::ExportError;

/// The magic string of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";
/// Total header bytes we write (magic, version, length, dict): a multiple of 64 as NumPy
/// recommends, with room for any shape, so [`NpyWriter::finish`] can rewrite it in place.
const HEADER_BYTES: usize = 128;

/// The header dict for a `num_rows × num_cols` f32 array, padded to [`HEADER_BYTES`].
fn header(num_rows: u64, num_cols: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({num_rows}, {num_cols}), }}");
    let dict_len = HEADER_BYTES - MAGIC.len() - 4;
    let mut out = Vec::with_capacity(HEADER_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(HEADER_BYTES - 1, b' ');
    out.push(b'\n');
    out
}

/// Writes rows of `num_cols` f32 values.
#[derive(Debug)]
pub struct NpyWriter {
    /// The open file.
    file: BufWriter<File>,
    /// Its path, for errors.
    path: PathBuf,
    /// Values per row.
    num_cols: usize,
    /// Rows written so far.
    num_rows: u64,
}

impl NpyWriter {
    /// Creates (or truncates) `path` for rows of `num_cols` values.
    pub fn create(path: &Path, num_cols: usize) -> Result<Self, ExportError> {
        let file = File::create(path).map_err(|e| ExportError::io("creating", path, e))?;
        let mut writer = Self {
            file: BufWriter::new(file),
            path: path.to_owned(),
            num_cols,
            num_rows: 0,
        };
        writer
            .file
            .write_all(&header(0, num_cols))
            .map_err(|e| ExportError::io("writing", path, e))?;
        Ok(writer)
    }

    /// Appends one row; it must have `num_cols` values.
    pub fn write_row(&mut self, row: &[f32]) -> Result<(), ExportError> {
        if row.len() != self.num_cols {
            return Err(ExportError::BadFile {
                path: self.path.clone(),
                reason: format!("a row of {} values, expected {}", row.len(), self.num_cols),
            });
        }
        let mut bytes = Vec::with_capacity(row.len() * 4);
        for v in row {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| ExportError::io("writing", &self.path, e))?;
        self.num_rows += 1;
        Ok(())
    }

    /// Writes the final shape into the header and closes the file.
    pub fn finish(mut self) -> Result<(), ExportError> {
        let path = self.path.clone();
        let io = |e| ExportError::io("writing", &path, e);
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file
            .write_all(&header(self.num_rows, self.num_cols))
            .map_err(io)?;
        self.file.flush().map_err(io)
    }
}

/// Reads the rows of a 2-D f32 `.npy` file in order.
#[derive(Debug)]
pub struct NpyReader {
    /// The open file, positioned at the next row.
    file: BufReader<File>,
    /// Its path, for errors.
    path: PathBuf,
    /// Rows in the file.
    num_rows: u64,
    /// Values per row.
    num_cols: usize,
    /// Rows read so far.
    num_read: u64,
}

impl NpyReader {
    /// Opens `path` and checks that it holds a C-order little-endian f32 matrix.
    pub fn open(path: &Path) -> Result<Self, ExportError> {
        let bad = |reason: &str| ExportError::BadFile {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let file = File::open(path).map_err(|e| ExportError::io("opening", path, e))?;
        let mut file = BufReader::new(file);
        let mut prefix = [0u8; 8];
        file.read_exact(&mut prefix)
            .map_err(|_| bad("too short for a .npy file"))?;
        if &prefix[..6] != MAGIC {
            return Err(bad("not a .npy file (no NUMPY magic)"));
        }
        let dict_len = match prefix[6] {
            1 => {
                let mut len = [0u8; 2];
                file.read_exact(&mut len)
                    .map_err(|_| bad("truncated header"))?;
                usize::from(u16::from_le_bytes(len))
            }
            2 | 3 => {
                let mut len = [0u8; 4];
                file.read_exact(&mut len)
                    .map_err(|_| bad("truncated header"))?;
                u32::from_le_bytes(len) as usize
            }
            v => return Err(bad(&format!("unsupported .npy version {v}"))),
        };
        let mut dict = vec![0u8; dict_len];
        file.read_exact(&mut dict)
            .map_err(|_| bad("truncated header"))?;
        let dict = String::from_utf8_lossy(&dict).replace(' ', "");
        if !dict.contains("'descr':'<f4'") {
            return Err(bad("the values are not little-endian float32"));
        }
        if !dict.contains("'fortran_order':False") {
            return Err(bad("the array is in Fortran order"));
        }
        let shape = dict
            .split("'shape':(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .ok_or_else(|| bad("no shape in the header"))?;
        let dims: Vec<&str> = shape.split(',').filter(|d| !d.is_empty()).collect();
        let [rows, cols] = dims[..] else {
            return Err(bad(&format!(
                "the array has shape ({shape}), expected 2 dimensions"
            )));
        };
        let num_rows = rows.parse().map_err(|_| bad("unreadable shape"))?;
        let num_cols = cols.parse().map_err(|_| bad("unreadable shape"))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            num_rows,
            num_cols,
            num_read: 0,
        })
    }

    /// Rows in the file.
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// Values per row.
    pub fn num_cols(&self) -> usize {
        self.num_cols
    }

    /// The next row, or `None` after the last.
    pub fn read_row(&mut self) -> Result<Option<Vec<f32>>, ExportError> {
        if self.num_read == self.num_rows {
            return Ok(None);
        }
        let mut bytes = vec![0u8; self.num_cols * 4];
        self.file
            .read_exact(&mut bytes)
            .map_err(|e| ExportError::io("reading", &self.path, e))?;
        self.num_read += 1;
        Ok(Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_the_header_is_numpy_format_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        let mut w = NpyWriter::create(&path, 3).unwrap();
        w.write_row(&[1.0, -2.5, 3.25]).unwrap();
        w.write_row(&[0.0, f32::MAX, -0.0]).unwrap();
        assert!(w.write_row(&[1.0]).is_err());
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), HEADER_BYTES + 2 * 3 * 4);
        assert_eq!(bytes[HEADER_BYTES - 1], b'\n');
        let text = String::from_utf8_lossy(&bytes[10..HEADER_BYTES]);
        assert!(text.contains("'shape': (2, 3)"), "{text}");
        let mut r = NpyReader::open(&path).unwrap();
        assert_eq!((r.num_rows(), r.num_cols()), (2, 3));
        assert_eq!(r.read_row().unwrap().unwrap(), vec![1.0, -2.5, 3.25]);
        assert_eq!(r.read_row().unwrap().unwrap()[1], f32::MAX);
        assert_eq!(r.read_row().unwrap(), None);
    }
}
