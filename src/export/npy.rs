//! NumPy `.npy` files: a general reader of float arrays (format versions 1–3, little-endian
//! `<f4` or `<f8`, C order, any shape) for inputs such as `generate --z/--y`, and a streaming
//! writer and reader of 2-D little-endian f32 matrices (format 1.0), one row at a time, so a
//! render's latent vectors never sit in memory all at once.
//!
//! Both readers parse the header the same way and believe no shape before checking it against
//! the bytes the file holds, so a damaged or hostile header is an error, never a panic or a
//! huge allocation.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::ExportError;

/// The magic string of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";
/// Total header bytes we write (magic, version, length, dict): a multiple of 64 as NumPy
/// recommends, with room for any shape, so [`NpyWriter::finish`] can rewrite it in place.
const HEADER_BYTES: usize = 128;
/// Bytes before the header dict's length field: the magic and the two version bytes.
const PREAMBLE_BYTES: usize = MAGIC.len() + 2;
/// The longest preamble with its length field (versions 2 and 3 use four bytes).
const MAX_PREFIX_BYTES: usize = PREAMBLE_BYTES + 4;

/// A float array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Extents, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// The values in C (row-major) order, as f32 (float64 files are narrowed).
    pub values: Vec<f32>,
}

/// Why a `.npy` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a float array this reader understands.
    #[error(
        "{} is not a usable .npy array: {problem} (save a C-ordered float32 or float64 array \
         with numpy.save)",
        path.display()
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: NpyFormatError,
    },
}

/// What is wrong with the bytes of a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyFormatError {
    /// It does not start with NumPy's magic string.
    #[error("no .npy magic number")]
    NoMagic,
    /// A format version other than 1, 2 or 3.
    #[error("unsupported .npy format version {0}")]
    Version(u8),
    /// The file ends inside its header.
    #[error("truncated header")]
    TruncatedHeader,
    /// The header dict is not text.
    #[error("the header is not text")]
    HeaderNotText,
    /// A key NumPy always writes is missing.
    #[error("the header has no '{0}'")]
    MissingKey(&'static str),
    /// The values are stored column-major.
    #[error("the array is in Fortran order (numpy.ascontiguousarray makes it C-ordered)")]
    FortranOrder,
    /// The element type is not one this reader takes.
    #[error("element type {found} is not {expected}")]
    Dtype {
        /// The header's `descr`.
        found: String,
        /// What the reader takes.
        expected: &'static str,
    },
    /// The shape is not a tuple of extents.
    #[error("shape {0} is not a tuple of sizes")]
    Shape(String),
    /// The array has a different number of dimensions than the reader needs.
    #[error("the array has shape {found:?}, expected {expected} dimensions")]
    Dimensions {
        /// The header's shape.
        found: Vec<usize>,
        /// How many dimensions the reader needs.
        expected: usize,
    },
    /// The data after the header is not the size the shape and type say.
    #[error(
        "the header's shape {shape:?} of {item_bytes}-byte values needs {}, the file holds \
         {actual_bytes} data bytes",
        describe_bytes(*expected_bytes)
    )]
    DataSize {
        /// The header's shape.
        shape: Vec<usize>,
        /// Bytes per value.
        item_bytes: usize,
        /// Bytes the shape needs; `None` when that overflows.
        expected_bytes: Option<u64>,
        /// Bytes after the header.
        actual_bytes: u64,
    },
}

/// A byte count for [`NpyFormatError::DataSize`], where `None` means it overflowed.
fn describe_bytes(num_bytes: Option<u64>) -> String {
    match num_bytes {
        Some(num_bytes) => format!("{num_bytes} data bytes"),
        None => "more bytes than any file can hold".to_owned(),
    }
}

/// The element types the readers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    /// Little-endian IEEE single precision.
    F4,
    /// Little-endian IEEE double precision.
    F8,
}

impl Dtype {
    /// Bytes per value.
    fn item_bytes(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F8 => 8,
        }
    }
}

/// What a header says about the array that follows it.
#[derive(Debug)]
struct Header {
    /// The element type.
    dtype: Dtype,
    /// Extents, outermost first.
    shape: Vec<usize>,
}

/// Where the header dict lies, from the file's first [`MAX_PREFIX_BYTES`] (or fewer) bytes:
/// `(offset of the dict, its length in bytes)`.
fn dict_span(prefix: &[u8]) -> Result<(usize, usize), NpyFormatError> {
    if prefix.len() < PREAMBLE_BYTES || &prefix[..MAGIC.len()] != MAGIC {
        return Err(NpyFormatError::NoMagic);
    }
    let field = |num_bytes: usize| {
        prefix
            .get(PREAMBLE_BYTES..PREAMBLE_BYTES + num_bytes)
            .ok_or(NpyFormatError::TruncatedHeader)
    };
    match prefix[MAGIC.len()] {
        1 => {
            let len = field(2)?;
            Ok((
                PREAMBLE_BYTES + 2,
                usize::from(u16::from_le_bytes([len[0], len[1]])),
            ))
        }
        2 | 3 => {
            let len = field(4)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            // A length beyond the address space cannot fit in any file we could read.
            let len = usize::try_from(len).map_err(|_| NpyFormatError::TruncatedHeader)?;
            Ok((PREAMBLE_BYTES + 4, len))
        }
        other => Err(NpyFormatError::Version(other)),
    }
}

/// Parses the header dict (a Python dict literal) for the element type and shape.
fn parse_dict(dict: &[u8]) -> Result<Header, NpyFormatError> {
    let dict = std::str::from_utf8(dict).map_err(|_| NpyFormatError::HeaderNotText)?;
    let descr = dict_value(dict, "descr").ok_or(NpyFormatError::MissingKey("descr"))?;
    let fortran =
        dict_value(dict, "fortran_order").ok_or(NpyFormatError::MissingKey("fortran_order"))?;
    let shape = dict_value(dict, "shape").ok_or(NpyFormatError::MissingKey("shape"))?;
    if fortran.trim() != "False" {
        return Err(NpyFormatError::FortranOrder);
    }
    let dtype = match descr.trim().trim_matches(|c| c == '\'' || c == '"') {
        "<f4" | "|f4" => Dtype::F4,
        "<f8" => Dtype::F8,
        other => {
            return Err(NpyFormatError::Dtype {
                found: other.to_owned(),
                expected: "little-endian float32 or float64",
            })
        }
    };
    Ok(Header {
        dtype,
        shape: parse_shape(shape)?,
    })
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

/// The extents of a shape tuple such as `(2, 3)`, `(4,)` or `()`.
fn parse_shape(text: &str) -> Result<Vec<usize>, NpyFormatError> {
    let bad = || NpyFormatError::Shape(text.trim().to_owned());
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(bad)?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.parse::<usize>().map_err(|_| bad()))
        .collect()
}

/// Checks that the data after the header is exactly what `header` describes, before anything
/// is allocated for it.
fn check_data_size(header: &Header, actual_bytes: u64) -> Result<(), NpyFormatError> {
    let item_bytes = header.dtype.item_bytes();
    let expected_bytes = header
        .shape
        .iter()
        .try_fold(item_bytes as u64, |acc, &extent| {
            acc.checked_mul(u64::try_from(extent).ok()?)
        });
    if expected_bytes == Some(actual_bytes) {
        Ok(())
    } else {
        Err(NpyFormatError::DataSize {
            shape: header.shape.clone(),
            item_bytes,
            expected_bytes,
            actual_bytes,
        })
    }
}

/// Reads `path` as a float32 (or float64, narrowed) array of any shape.
pub fn read_npy(path: &Path) -> Result<NpyArray, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_npy(&bytes).map_err(|problem| NpyError::Format {
        path: path.to_owned(),
        problem,
    })
}

/// Parses the bytes of a `.npy` file holding a float32 or float64 array of any shape.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, NpyFormatError> {
    let (dict_start, dict_len) = dict_span(bytes)?;
    let data_start = dict_start + dict_len;
    let dict = bytes
        .get(dict_start..data_start)
        .ok_or(NpyFormatError::TruncatedHeader)?;
    let header = parse_dict(dict)?;
    let data = &bytes[data_start..];
    check_data_size(&header, data.len() as u64)?;
    let values = match header.dtype {
        Dtype::F4 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F8 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
    };
    Ok(NpyArray {
        shape: header.shape,
        values,
    })
}

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
    /// Opens `path` and checks that it holds a C-order little-endian f32 matrix whose rows are
    /// all there.
    pub fn open(path: &Path) -> Result<Self, ExportError> {
        let bad = |problem: NpyFormatError| ExportError::BadFile {
            path: path.to_owned(),
            reason: problem.to_string(),
        };
        let io = |e| ExportError::io("reading", path, e);
        let file = File::open(path).map_err(|e| ExportError::io("opening", path, e))?;
        let file_bytes = file.metadata().map_err(io)?.len();
        let mut file = BufReader::new(file);
        // Only as much of the preamble as the file has, so a short file reads as truncated.
        let mut prefix = Vec::with_capacity(MAX_PREFIX_BYTES);
        (&mut file)
            .take(MAX_PREFIX_BYTES as u64)
            .read_to_end(&mut prefix)
            .map_err(io)?;
        let (dict_start, dict_len) = dict_span(&prefix).map_err(bad)?;
        // The length field is believed only once the file is known to hold that many bytes.
        let data_start = (dict_start as u64).saturating_add(dict_len as u64);
        if data_start > file_bytes {
            return Err(bad(NpyFormatError::TruncatedHeader));
        }
        file.seek(SeekFrom::Start(dict_start as u64)).map_err(io)?;
        let mut dict = vec![0u8; dict_len];
        file.read_exact(&mut dict).map_err(io)?;
        let header = parse_dict(&dict).map_err(bad)?;
        if header.dtype != Dtype::F4 {
            return Err(bad(NpyFormatError::Dtype {
                found: "<f8".to_owned(),
                expected: "little-endian float32",
            }));
        }
        let &[num_rows, num_cols] = header.shape.as_slice() else {
            return Err(bad(NpyFormatError::Dimensions {
                found: header.shape,
                expected: 2,
            }));
        };
        check_data_size(&header, file_bytes - data_start).map_err(bad)?;
        Ok(Self {
            file,
            path: path.to_owned(),
            num_rows: num_rows as u64,
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

        // A scalar has the empty shape and one value.
        let array = parse_npy(&npy_v1("<f4", "()", &2.5f32.to_le_bytes())).unwrap();
        assert_eq!(
            (array.shape.len(), array.values.as_slice()),
            (0, &[2.5][..])
        );
    }

    #[test]
    fn refuses_other_types_truncation_and_garbage() {
        let err = parse_npy(&npy_v1("<i8", "(1,)", &[0; 8])).unwrap_err();
        assert!(err.to_string().contains("<i8"), "{err}");
        let err = parse_npy(&npy_v1("<f4", "(4,)", &[0; 8])).unwrap_err();
        assert!(
            matches!(
                err,
                NpyFormatError::DataSize {
                    expected_bytes: Some(16),
                    actual_bytes: 8,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(parse_npy(b"hello world"), Err(NpyFormatError::NoMagic));
        assert_eq!(parse_npy(b"\x93NUMPY\x01"), Err(NpyFormatError::NoMagic));
        assert_eq!(
            parse_npy(b"\x93NUMPY\x01\x00\x01"),
            Err(NpyFormatError::TruncatedHeader)
        );
        assert_eq!(
            parse_npy(b"\x93NUMPY\x09\x00\x00\x00"),
            Err(NpyFormatError::Version(9))
        );
        let mut fortran = npy_v1("<f4", "(1,)", &[0; 4]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        assert_eq!(parse_npy(&fortran), Err(NpyFormatError::FortranOrder));
    }

    #[test]
    fn absurd_shapes_are_refused_before_allocating() {
        // Extents whose product overflows, and one that would need far more than the file.
        for shape in [
            "(18446744073709551615, 18446744073709551615)",
            "(4611686018427387904,)",
            "(1000000000, 1000000000)",
        ] {
            let err = parse_npy(&npy_v1("<f4", shape, &[0; 8])).unwrap_err();
            assert!(
                matches!(err, NpyFormatError::DataSize { .. }),
                "{shape}: {err}"
            );
        }
        let err = parse_npy(&npy_v1("<f4", "(99999999999999999999999,)", &[])).unwrap_err();
        assert!(matches!(err, NpyFormatError::Shape(_)), "{err}");
        // A version-2 header claiming 4 GB of dict in a file of a few bytes.
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_npy(&bytes), Err(NpyFormatError::TruncatedHeader));
    }

    #[test]
    fn read_npy_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.npy");
        std::fs::write(&path, npy_v1("<i8", "(1,)", &[0; 8])).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("numpy.save"), "{err}");
        let err = read_npy(&dir.path().join("missing.npy"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.npy"), "{err}");
    }

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
        // The general reader reads what the streaming writer wrote.
        let array = read_npy(&path).unwrap();
        assert_eq!(array.shape, [2, 3]);
        assert_eq!(array.values[..3], [1.0, -2.5, 3.25]);
    }

    #[test]
    fn the_row_reader_refuses_bad_files_without_huge_allocations() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            NpyReader::open(&path).unwrap_err().to_string()
        };
        let f4 = |values: usize| vec![0u8; values * 4];
        let cases = [
            ("short.npy", b"\x93NUM".to_vec(), "magic"),
            (
                "huge_dict.npy",
                {
                    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
                    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
                    bytes
                },
                "truncated header",
            ),
            (
                "wide.npy",
                npy_v1("<f4", "(1, 4611686018427387904)", &f4(1)),
                "needs",
            ),
            (
                "cut.npy",
                npy_v1("<f4", "(3, 2)", &f4(5)),
                "holds 20 data bytes",
            ),
            ("f8.npy", npy_v1("<f8", "(1, 1)", &[0; 8]), "float32"),
            ("i4.npy", npy_v1("<i4", "(1, 1)", &[0; 4]), "<i4"),
            ("flat.npy", npy_v1("<f4", "(2,)", &f4(2)), "2 dimensions"),
        ];
        for (name, bytes, expected) in cases {
            let err = open(name, &bytes);
            assert!(
                err.contains(expected) && err.contains(name),
                "{name}: {err}"
            );
        }
    }
}
