//! Reading named float tensors from checkpoint files: PyTorch's legacy (pre-1.6, non-zip) and zip
//! `torch.save` formats, and `.safetensors`.
//!
//! Models ask for each tensor by key with the shape they expect; every failure names the file,
//! the key and the shapes, so a user who picked the wrong file learns which and why.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use half::{bf16, f16};

/// What can go wrong reading a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is neither a PyTorch checkpoint nor a safetensors file, or it is damaged.
    #[error(
        "{path} is not a readable checkpoint ({reason}); expected a PyTorch `.bin`/`.pth` file \
         or a `.safetensors` file, complete and undamaged (download it again if it was cut short)"
    )]
    NotACheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What the parser found wrong.
        reason: String,
    },
    /// A tensor the model needs is not in the file.
    #[error(
        "{path} has no tensor `{key}`: it is not a checkpoint of this model \
         (it holds {num_keys} tensors, e.g. {example_keys})"
    )]
    MissingKey {
        /// The checkpoint file.
        path: PathBuf,
        /// The key the model asked for.
        key: String,
        /// How many tensors the file has.
        num_keys: usize,
        /// A few of the file's keys, to show what the file really is.
        example_keys: String,
    },
    /// A tensor has another shape than the model's configuration expects.
    #[error(
        "tensor `{key}` in {path} has shape {found:?}, but the model expects {expected:?}: \
         the checkpoint and the model configuration (config.json) do not match"
    )]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The shape the model needs.
        expected: Vec<usize>,
    },
    /// A tensor holds a type that is not a float.
    #[error("tensor `{key}` in {path} holds {dtype}, not floating-point numbers")]
    NotFloat {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// The element type found.
        dtype: String,
    },
    /// A tensor's bytes could not be read (a truncated or corrupt file).
    #[error("cannot read tensor `{key}` from {path} (the file is truncated or corrupt): {reason}")]
    BadTensorData {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// What went wrong.
        reason: String,
    },
}

/// A tensor as f32 values in row-major order, with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub values: Vec<f32>,
}

/// The two containers, each keeping what it needs to read a tensor on demand.
enum Source {
    /// A `torch.save` file, legacy or zip.
    Torch(pytorch_reader::PytorchReader),
    /// A safetensors file, read whole (model files are small next to memory).
    Safetensors(Vec<u8>),
}

/// An opened checkpoint: its keys and shapes are known, tensor data is read on request.
pub struct Checkpoint {
    /// The file, for error messages.
    path: PathBuf,
    /// The container.
    source: Source,
    /// Every key with its element type name and shape, sorted for stable listings.
    entries: BTreeMap<String, (String, Vec<usize>)>,
}

/// The first bytes of a safetensors file are a little-endian u64 header length and then `{`.
fn looks_like_safetensors(header: &[u8]) -> bool {
    header.len() >= 9 && header[8] == b'{'
}

impl Checkpoint {
    /// Opens `path`, detecting its format from its contents (not its extension).
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let io_err = |source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        };
        let mut header = [0u8; 16];
        let header_len = {
            let mut file = File::open(path).map_err(io_err)?;
            read_up_to(&mut file, &mut header).map_err(io_err)?
        };
        let not_checkpoint = |reason: String| CheckpointError::NotACheckpoint {
            path: path.to_owned(),
            reason,
        };
        if header_len == 0 {
            return Err(not_checkpoint("the file is empty".into()));
        }
        if looks_like_safetensors(&header[..header_len]) {
            let bytes = std::fs::read(path).map_err(io_err)?;
            let entries = {
                let tensors = safetensors::SafeTensors::deserialize(&bytes)
                    .map_err(|err| not_checkpoint(format!("safetensors: {err}")))?;
                tensors
                    .iter()
                    .map(|(name, view)| {
                        (
                            name.to_owned(),
                            (format!("{:?}", view.dtype()), view.shape().to_vec()),
                        )
                    })
                    .collect()
            };
            return Ok(Self {
                path: path.to_owned(),
                source: Source::Safetensors(bytes),
                entries,
            });
        }
        let reader = pytorch_reader::PytorchReader::new(path)
            .map_err(|err| not_checkpoint(format!("PyTorch: {err}")))?;
        let entries = reader
            .tensors()
            .iter()
            .map(|(name, tensor)| {
                (
                    name.clone(),
                    (format!("{:?}", tensor.dtype()), tensor.shape().to_vec()),
                )
            })
            .collect();
        Ok(Self {
            path: path.to_owned(),
            source: Source::Torch(reader),
            entries,
        })
    }

    /// The file this checkpoint was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All tensor keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The shape of `key`, if the file has it.
    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.entries.get(key).map(|(_, shape)| shape.as_slice())
    }

    /// Reads `key` as f32 (f64, f16 and bf16 are converted), checking it has `expected_shape`.
    pub fn tensor(
        &self,
        key: &str,
        expected_shape: &[usize],
    ) -> Result<FloatTensor, CheckpointError> {
        let tensor = self.tensor_any_shape(key)?;
        if tensor.shape != expected_shape {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.clone(),
                key: key.to_owned(),
                found: tensor.shape,
                expected: expected_shape.to_vec(),
            });
        }
        Ok(tensor)
    }

    /// Reads `key` as f32 whatever its shape, for callers that derive shapes from the file.
    pub fn tensor_any_shape(&self, key: &str) -> Result<FloatTensor, CheckpointError> {
        let Some((dtype, shape)) = self.entries.get(key) else {
            return Err(self.missing(key));
        };
        let bad_data = |reason: String| CheckpointError::BadTensorData {
            path: self.path.clone(),
            key: key.to_owned(),
            reason,
        };
        let not_float = || CheckpointError::NotFloat {
            path: self.path.clone(),
            key: key.to_owned(),
            dtype: dtype.clone(),
        };
        let (element, bytes): (Element, std::borrow::Cow<'_, [u8]>) = match &self.source {
            Source::Torch(reader) => {
                let tensor = reader.get(key).ok_or_else(|| self.missing(key))?;
                let element = match tensor.dtype() {
                    pytorch_reader::DType::F32 => Element::F32,
                    pytorch_reader::DType::F64 => Element::F64,
                    pytorch_reader::DType::F16 => Element::F16,
                    pytorch_reader::DType::BF16 => Element::Bf16,
                    _ => return Err(not_float()),
                };
                let bytes = tensor.read().map_err(|err| bad_data(err.to_string()))?;
                (element, bytes.into())
            }
            Source::Safetensors(file) => {
                let tensors = safetensors::SafeTensors::deserialize(file)
                    .map_err(|err| bad_data(err.to_string()))?;
                let view = tensors.tensor(key).map_err(|_| self.missing(key))?;
                let element = match view.dtype() {
                    safetensors::Dtype::F32 => Element::F32,
                    safetensors::Dtype::F64 => Element::F64,
                    safetensors::Dtype::F16 => Element::F16,
                    safetensors::Dtype::BF16 => Element::Bf16,
                    _ => return Err(not_float()),
                };
                // The view borrows `file`, which outlives this call, but not `tensors`.
                let start = view.data().as_ptr() as usize - file.as_ptr() as usize;
                let range = start..start + view.data().len();
                (element, std::borrow::Cow::Borrowed(&file[range]))
            }
        };
        let num_elements: usize = shape.iter().product();
        if bytes.len() != num_elements * element.size_bytes() {
            return Err(bad_data(format!(
                "{} bytes for {num_elements} elements of {dtype}",
                bytes.len()
            )));
        }
        Ok(FloatTensor {
            shape: shape.clone(),
            values: element.decode(&bytes),
        })
    }

    fn missing(&self, key: &str) -> CheckpointError {
        let example_keys = self
            .entries
            .keys()
            .take(4)
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        CheckpointError::MissingKey {
            path: self.path.clone(),
            key: key.to_owned(),
            num_keys: self.entries.len(),
            example_keys: if example_keys.is_empty() {
                "none".to_owned()
            } else {
                example_keys
            },
        }
    }
}

/// The float element types a checkpoint may store.
#[derive(Debug, Clone, Copy)]
enum Element {
    /// IEEE single.
    F32,
    /// IEEE double, narrowed on read.
    F64,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
}

impl Element {
    fn size_bytes(self) -> usize {
        match self {
            Element::F32 => 4,
            Element::F64 => 8,
            Element::F16 | Element::Bf16 => 2,
        }
    }

    /// Little-endian bytes to f32 (both containers store little-endian on every platform we
    /// build for).
    fn decode(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Element::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Element::F64 => bytes
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            Element::F16 => bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Element::Bf16 => bytes
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        }
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
