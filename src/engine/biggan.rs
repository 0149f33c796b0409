//! The BigGAN-deep engine: latent vectors (from the [`BigGanDirector`] or from a previous
//! render's vectors files) through the generator to RGB frames.
//!
//! A render records its vectors beside the video, as the seed does with `noise_vectors.npy`
//! and `class_vectors.npy`: for `out.mp4` they are `out.noise_vectors.npy` (`[frames, z_dim]`),
//! `out.class_vectors.npy` (`[frames, classes]`) and `out.vectors.json` (frame rate, start,
//! seed, classes, truncation), covering the song from the render's start to its end so that a
//! later, longer render can reuse them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{EngineError, FrameSource};
use crate::director::input::FrameInputs;
use crate::director::{BigGanDirector, FrameLatents};
use crate::export::npy::{NpyReader, NpyWriter};
use crate::export::{ExportError, PendingFile};
use crate::models::biggan::{to_rgb8, BigGan};

/// Where latent vectors come from, one frame at a time, in order.
pub trait LatentSource {
    /// The next frame's latents; `None` after the last frame.
    fn next_latents(&mut self) -> Result<Option<FrameLatents>, EngineError>;
}

/// The director stepping through a song's frames.
#[derive(Debug)]
pub struct DirectedLatents {
    /// The dynamics.
    director: BigGanDirector,
    /// The features of every frame.
    inputs: FrameInputs,
    /// Frames to produce.
    num_frames: u64,
    /// Next frame whose features go in.
    next_input_idx: u64,
}

impl DirectedLatents {
    /// Latents for frames `0..num_frames` of `inputs`.
    pub fn new(director: BigGanDirector, inputs: FrameInputs, num_frames: u64) -> Self {
        Self {
            director,
            inputs,
            num_frames,
            next_input_idx: 0,
        }
    }

    /// The classes the director uses.
    pub fn classes(&self) -> &[u16] {
        self.director.classes()
    }
}

impl LatentSource for DirectedLatents {
    fn next_latents(&mut self) -> Result<Option<FrameLatents>, EngineError> {
        loop {
            if let Some(latents) = self.director.pop() {
                return Ok(Some(latents));
            }
            if self.next_input_idx < self.num_frames {
                self.director.push(&self.inputs.get(self.next_input_idx));
                self.next_input_idx += 1;
                if self.next_input_idx == self.num_frames {
                    self.director.finish();
                }
            } else {
                return Ok(None);
            }
        }
    }
}

/// The three files of a render's vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorFiles {
    /// `[frames, z_dim]` noise vectors.
    pub noise: PathBuf,
    /// `[frames, classes]` class vectors.
    pub class: PathBuf,
    /// [`VectorsMeta`] as JSON.
    pub meta: PathBuf,
}

impl VectorFiles {
    /// The files beside the video `out`: `NAME.noise_vectors.npy`, `NAME.class_vectors.npy`,
    /// `NAME.vectors.json` for `NAME.mp4`.
    pub fn beside(out: &Path) -> Self {
        let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned());
        let stem = stem.unwrap_or_else(|| "output".to_owned());
        let with = |suffix: &str| out.with_file_name(format!("{stem}.{suffix}"));
        Self {
            noise: with("noise_vectors.npy"),
            class: with("class_vectors.npy"),
            meta: with("vectors.json"),
        }
    }
}

/// What a vectors file pair was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorsMeta {
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Song time of frame 0, in seconds.
    pub start_s: f64,
    /// Rows in each file.
    pub num_frames: u64,
    /// Noise vector length.
    pub z_dim: usize,
    /// Class vector length.
    pub class_dim: usize,
    /// Truncation the noise was drawn with.
    pub truncation: f64,
    /// Seed of the random choices.
    pub seed: u64,
    /// The classes in use, in the director's order.
    pub classes: Vec<u16>,
    /// The song, as given.
    pub song: String,
}

impl VectorsMeta {
    /// Reads the metadata of a previous render.
    pub fn read(path: &Path) -> Result<Self, ExportError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ExportError::io("reading", path, e))?;
        serde_json::from_str(&text).map_err(|e| ExportError::BadFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// Writes every latent that passes through it into the vectors files (under temporary names
/// until [`commit`](Self::commit)).
#[derive(Debug)]
pub struct VectorsRecorder {
    /// The noise rows.
    noise: NpyWriter,
    /// The class rows.
    class: NpyWriter,
    /// Temporary names of the three files.
    pending: [PendingFile; 3],
    /// What the files were made with; `num_frames` counts as rows are written.
    meta: VectorsMeta,
}

impl VectorsRecorder {
    /// Starts writing `files`; `meta.num_frames` is counted from the rows written.
    pub fn create(files: &VectorFiles, mut meta: VectorsMeta) -> Result<Self, ExportError> {
        let pending = [
            PendingFile::new(&files.noise)?,
            PendingFile::new(&files.class)?,
            PendingFile::new(&files.meta)?,
        ];
        let noise = NpyWriter::create(pending[0].temp_path(), meta.z_dim)?;
        let class = NpyWriter::create(pending[1].temp_path(), meta.class_dim)?;
        meta.num_frames = 0;
        Ok(Self {
            noise,
            class,
            pending,
            meta,
        })
    }

    /// Appends one frame's latents.
    pub fn record(&mut self, latents: &FrameLatents) -> Result<(), ExportError> {
        self.noise.write_row(&latents.z)?;
        self.class.write_row(&latents.y)?;
        self.meta.num_frames += 1;
        Ok(())
    }

    /// Closes the files and moves them into place.
    pub fn commit(self) -> Result<VectorsMeta, ExportError> {
        let [noise, class, meta_file] = self.pending;
        self.noise.finish()?;
        self.class.finish()?;
        let json = serde_json::to_string_pretty(&self.meta).map_err(|e| ExportError::BadFile {
            path: meta_file.final_path().to_owned(),
            reason: e.to_string(),
        })?;
        std::fs::write(meta_file.temp_path(), json)
            .map_err(|e| ExportError::io("writing", meta_file.final_path(), e))?;
        noise.commit()?;
        class.commit()?;
        meta_file.commit()?;
        Ok(self.meta)
    }
}

/// A [`LatentSource`] whose latents are also recorded.
#[derive(Debug)]
pub struct Recorded<S> {
    /// Where the latents come from.
    source: S,
    /// Where they are written.
    recorder: VectorsRecorder,
}

impl<S: LatentSource> Recorded<S> {
    /// Records everything `source` yields.
    pub fn new(source: S, recorder: VectorsRecorder) -> Self {
        Self { source, recorder }
    }

    /// Records the rest of the source (frames nobody rendered) and commits the files.
    pub fn finish(mut self) -> Result<VectorsMeta, EngineError> {
        while self.next_latents()?.is_some() {}
        Ok(self.recorder.commit()?)
    }
}

impl<S: LatentSource> LatentSource for Recorded<S> {
    fn next_latents(&mut self) -> Result<Option<FrameLatents>, EngineError> {
        let latents = self.source.next_latents()?;
        if let Some(l) = &latents {
            self.recorder.record(l)?;
        }
        Ok(latents)
    }
}

/// The latents of a previous render, read back from its vectors files.
#[derive(Debug)]
pub struct PreviousLatents {
    /// Noise rows.
    noise: NpyReader,
    /// Class rows.
    class: NpyReader,
}

impl PreviousLatents {
    /// Opens `files` and checks them against what this render needs: `num_frames` frames of
    /// `z_dim` and `class_dim` values at `fps_num/fps_den` from `start_s`.
    pub fn open(
        files: &VectorFiles,
        z_dim: usize,
        class_dim: usize,
        (fps_num, fps_den): (u32, u32),
        start_s: f64,
        num_frames: u64,
    ) -> Result<(Self, VectorsMeta), EngineError> {
        let meta = VectorsMeta::read(&files.meta)?;
        let noise = NpyReader::open(&files.noise)?;
        let class = NpyReader::open(&files.class)?;
        let mismatch = |reason: String| EngineError::VectorsMismatch {
            path: files.meta.display().to_string(),
            reason,
        };
        if noise.num_cols() != z_dim || class.num_cols() != class_dim {
            return Err(mismatch(format!(
                "they hold {}-value noise and {}-value class vectors, this model needs {z_dim} \
                 and {class_dim}: render without --use_previous_vectors",
                noise.num_cols(),
                class.num_cols()
            )));
        }
        // Compare rates as cross products so 30/1 and 60/2 agree.
        if u64::from(meta.fps_num) * u64::from(fps_den)
            != u64::from(fps_num) * u64::from(meta.fps_den)
            || (meta.start_s - start_s).abs() > 1e-9
        {
            return Err(mismatch(format!(
                "they were made at {}/{} fps from {} s; use --fps {}/{} --start {} or render \
                 without --use_previous_vectors",
                meta.fps_num, meta.fps_den, meta.start_s, meta.fps_num, meta.fps_den, meta.start_s
            )));
        }
        let available = noise.num_rows().min(class.num_rows());
        if available < num_frames {
            return Err(mismatch(format!(
                "they cover {available} frames, this render needs {num_frames}: shorten \
                 --duration or render without --use_previous_vectors"
            )));
        }
        Ok((Self { noise, class }, meta))
    }
}

impl LatentSource for PreviousLatents {
    fn next_latents(&mut self) -> Result<Option<FrameLatents>, EngineError> {
        match (self.noise.read_row()?, self.class.read_row()?) {
            (Some(z), Some(y)) => Ok(Some(FrameLatents { z, y })),
            _ => Ok(None),
        }
    }
}

/// BigGAN-deep frames from a latent source.
#[derive(Debug)]
pub struct BigGanFrames<'m, S> {
    /// The generator.
    model: &'m BigGan,
    /// The latents.
    source: S,
    /// Picks the generator's batch-norm statistics.
    truncation: f64,
    /// Frames still to draw.
    num_frames_left: u64,
}

impl<'m, S: LatentSource> BigGanFrames<'m, S> {
    /// Draws `num_frames` frames of `source` with `model`.
    pub fn new(model: &'m BigGan, source: S, truncation: f64, num_frames: u64) -> Self {
        Self {
            model,
            source,
            truncation,
            num_frames_left: num_frames,
        }
    }

    /// The latent source, e.g. to record the frames nobody drew.
    pub fn into_source(self) -> S {
        self.source
    }
}

impl<S: LatentSource> FrameSource for BigGanFrames<'_, S> {
    fn frame_size_px(&self) -> (u32, u32) {
        let side = self.model.resolution() as u32;
        (side, side)
    }

    fn next_frames(
        &mut self,
        max_frames: usize,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<usize, EngineError> {
        let wanted = (max_frames as u64).min(self.num_frames_left) as usize;
        let z_dim = self.model.config().z_dim;
        let class_dim = self.model.config().num_classes;
        let mut z = Vec::with_capacity(wanted * z_dim);
        let mut y = Vec::with_capacity(wanted * class_dim);
        let mut batch = 0;
        while batch < wanted {
            let Some(latents) = self.source.next_latents()? else {
                break;
            };
            z.extend_from_slice(&latents.z);
            y.extend_from_slice(&latents.y);
            batch += 1;
        }
        if batch == 0 {
            self.num_frames_left = 0;
            return Ok(0);
        }
        let images = self
            .model
            .generate_from_slices(&z, &y, batch, self.truncation)?;
        out.extend(to_rgb8(images)?.into_iter().map(|img| img.into_raw()));
        self.num_frames_left -= batch as u64;
        Ok(batch)
    }
}
