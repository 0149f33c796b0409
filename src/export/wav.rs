//! A streaming 32-bit float WAV writer: the audio that ffmpeg muxes into the video.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::ExportError;

/// Bytes of the RIFF/WAVE header written before the samples.
const HEADER_BYTES: u32 = 44;
/// WAVE_FORMAT_IEEE_FLOAT.
const FORMAT_FLOAT: u16 = 3;

/// Writes interleaved f32 samples; [`finish`](Self::finish) fills in the sizes.
#[derive(Debug)]
pub struct WavWriter {
    /// The open file.
    file: BufWriter<File>,
    /// Its path, for errors.
    path: PathBuf,
    /// Samples written so far (all channels).
    num_samples: u64,
}

impl WavWriter {
    /// Creates (or truncates) `path` for `num_channels` channels at `sample_rate_hz`.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        num_channels: u16,
    ) -> Result<Self, ExportError> {
        let file = File::create(path).map_err(|e| ExportError::io("creating", path, e))?;
        let mut writer = Self {
            file: BufWriter::new(file),
            path: path.to_owned(),
            num_samples: 0,
        };
        let block_align = num_channels * 4;
        let mut header = Vec::with_capacity(HEADER_BYTES as usize);
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&0u32.to_le_bytes()); // Filled in by finish().
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&16u32.to_le_bytes());
        header.extend_from_slice(&FORMAT_FLOAT.to_le_bytes());
        header.extend_from_slice(&num_channels.to_le_bytes());
        header.extend_from_slice(&sample_rate_hz.to_le_bytes());
        header.extend_from_slice(&(sample_rate_hz * u32::from(block_align)).to_le_bytes());
        header.extend_from_slice(&block_align.to_le_bytes());
        header.extend_from_slice(&32u16.to_le_bytes());
        header.extend_from_slice(b"data");
        header.extend_from_slice(&0u32.to_le_bytes()); // Filled in by finish().
        writer.write_bytes(&header)?;
        Ok(writer)
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), ExportError> {
        let mut bytes = Vec::with_capacity(samples.len() * 4);
        for s in samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.write_bytes(&bytes)?;
        self.num_samples += samples.len() as u64;
        Ok(())
    }

    /// Writes the chunk sizes and closes the file.
    pub fn finish(mut self) -> Result<(), ExportError> {
        let data_bytes = u32::try_from(self.num_samples * 4).map_err(|_| ExportError::BadFile {
            path: self.path.clone(),
            reason: "more than 4 GiB of audio does not fit a WAV file".to_owned(),
        })?;
        let path = self.path.clone();
        let io = |e| ExportError::io("writing", &path, e);
        self.file.seek(SeekFrom::Start(4)).map_err(io)?;
        self.file
            .write_all(&(data_bytes + HEADER_BYTES - 8).to_le_bytes())
            .map_err(io)?;
        self.file.seek(SeekFrom::Start(40)).map_err(io)?;
        self.file.write_all(&data_bytes.to_le_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.file
            .write_all(bytes)
            .map_err(|e| ExportError::io("writing", &self.path, e))
    }
}
