//! The BigGAN director: the seed's dynamics for the noise vector `z` and the class vector `y`.
//!
//! State per step: `z` (z_dim), `y` (1000), the update direction `d` (±1 per unit), the last
//! update `u` and the jitter mask `m`. Input per step (one video frame, see [`FrameInput`]):
//! power `p`, its rise `r`, chroma `c[12]` and its rise `c'[12]`.
//!
//! - **Start**: `z = t · truncated normal in [−2, 2]`; `d_i = +1` where `z_i < 0`, else `−1`;
//!   `u = 0`.
//! - **Jitter**: every 100 seed steps a new mask: each unit is 1 or `1 − jitter`, with
//!   probability ½ each.
//! - **Motion**: `u ← (τ·(r + p)·d·m + 3u)/4`, `z ← z + u`; then `d_i = −1` where
//!   `z_i ≥ 2t − τ` and `d_i = +1` where `z_i < −2t + τ`, so every unit bounces inside the
//!   truncation range.
//! - **Harmony**: the pitch classes are ranked by their mean chroma, over the whole song
//!   ([`HarmonyMode::Song`]) or over the frames so far ([`HarmonyMode::Live`]); ties go to the
//!   lower pitch class. The top `n` are kept. Pitch `p` drives `classes[p]` when 12 classes are
//!   given; with `n` classes the kept pitches take them in pitch order; with "sort by power"
//!   the `k`-th strongest pitch takes `classes[k]` (the user's priority order). For each kept
//!   pitch, `y[cls] ← (y[cls] + (c + c')/π) / (1 + 2/π)`; every other entry is 0. Then the zero
//!   entries are set to the smallest non-zero entry, `y` is rescaled to 0..1 by its min and
//!   range (nudging one entry first if all are equal), and multiplied by `depth`. The smoothed vector (see [`super::smoothing`]) is what
//!   the model gets; the recursion runs on the unsmoothed one, as in the seed.
//!
//! **Frame rate.** One step is one video frame. Every rate constant of the seed is defined per
//! step at [`SEED_STEP_HZ`]; at another frame rate `f` each is converted (with `ρ = 43.07/f`) so
//! the behaviour per second is the seed's: `τ` (the per-step motion, also the bounce margin)
//! becomes `τ·ρ`; the update's decay ¾ per step becomes `(¾)^ρ` (its weight on the new value is
//! `1 − (¾)^ρ`, so a steady input still moves `z` by `τ·(r + p)` per seed step); the harmony's
//! decay `π/(π + 2)` becomes `w = (π/(π + 2))^ρ`, i.e. `π` becomes `2w/(1 − w)`; the smoothing
//! block and the jitter period become `round(s/ρ)` and `round(100/ρ)` frames (at least 1). At
//! the seed's rate the constants are the seed's exactly.
//!
//! **Where this differs from the seed** (`deep_visualizer.py`):
//! - The seed's frame 0 is its initial vectors and frame `i + 1` the state after step `i`; here
//!   frame `k` is the state after the step that consumed frame `k`'s features (the initial
//!   class vector is still the first frame's raw chroma on the kept classes, as in the seed).
//! - "Sort by power" gives the strongest pitch the first class; the seed indexed its class
//!   list with the pitch ranking instead of its inverse, which mixes up the user's order.
//! - When all entries are equal after the zero fill (one kept class sounds alone, or none), the
//!   rescale is undefined (0/0, NaN in the seed); we first add 0.01 to the largest kept entry
//!   (the strongest pitch's on ties), so it becomes the only non-zero class. The seed's nudge
//!   after the rescale added 0.01 to the class whose *index* was the strongest pitch (0..11), a
//!   bug we do not copy.
//! - The seed drops its last partial smoothing blocks; we keep every frame.
//!
//! **Randomness.** Three independent generators, so changing one choice does not shift
//! another. The initial noise is [`truncated_noise_sample`]`(1, z_dim, t, seed)` (ChaCha20 seeded
//! with `seed`, Box–Muller with rejection; the same vector `deep-visualizer generate` draws).
//! The random classes and the jitter masks come from `ChaCha8Rng::seed_from_u64(seed)`
//! (rand_chacha 0.9) on streams 1 and 2 (`set_stream`). Classes: a partial Fisher–Yates shuffle
//! of `0..class_dim`: for `i` in 0..12 swap `i` with `random_range(i..class_dim)`; the first 12
//! are the classes. Masks: unit `i` gets 1 when `random::<f64>() < 0.5`, else `1 − jitter`; one
//! mask is `z_dim` draws, in unit order.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::input::FrameInput;
use super::smoothing::{BlockSmoother, EmaSmoother};
use super::{DirectorError, SEED_STEP_HZ};
use crate::models::biggan::truncated_noise_sample;
use crate::settings::{VisualSettings, NUM_IMAGENET_CLASSES, NUM_PITCH_CLASSES};

/// Length of the class vector of the published models: the ImageNet classes.
pub const CLASS_DIM: usize = NUM_IMAGENET_CLASSES as usize;

/// The seed draws a new jitter mask every this many steps.
const SEED_JITTER_PERIOD_STEPS: f64 = 100.0;

/// RNG stream of the random classes.
const CLASS_STREAM: u64 = 1;
/// RNG stream of the jitter masks.
const JITTER_STREAM: u64 = 2;

/// How the pitch classes are ranked and the class vectors smoothed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HarmonyMode {
    /// A whole song is known in advance (the seed): pitches ranked by their mean chroma over
    /// the song, class vectors smoothed by block means (looks ahead up to two blocks).
    Song {
        /// Mean chroma per pitch class over the whole song.
        mean_chroma: [f32; NUM_PITCH_CLASSES],
    },
    /// Causal, for the live view: pitches ranked by the mean chroma of the frames so far, class
    /// vectors smoothed by a one-pole low-pass with the same time constant.
    Live,
}

/// The BigGAN director's settings: the seed's flags, plus the frame rate, seed and model size.
/// Sensitivities, smoothing and the jitter period are in the seed's units (per step at
/// 43.07 steps per second); the director converts them to the frame rate.
#[derive(Debug, Clone, PartialEq)]
pub struct BigGanSettings {
    /// How far loudness moves the noise vector per seed step (`τ`, seed default 0.2).
    pub tempo_sensitivity: f32,
    /// How slowly the class vector follows the harmony (`π`, > 0; seed default 50).
    pub pitch_sensitivity: f32,
    /// Largest class-vector entry (0 < depth ≤ 1 in the seed; default 1).
    pub depth: f32,
    /// How much half of the noise units are slowed down (0..1, default 0.5).
    pub jitter: f32,
    /// BigGAN truncation (0 < t ≤ 1, default 1): scales the noise and bounds its motion. Kept
    /// in f64 because the model picks its batch-norm statistics from it in f64.
    pub truncation: f64,
    /// How many pitch classes (and classes) are used, 1..=12.
    pub num_classes: usize,
    /// ImageNet classes (0..999), 12 or `num_classes` of them; `None` draws 12 at random.
    pub classes: Option<Vec<u16>>,
    /// Give the strongest pitches the classes in the order listed.
    pub sort_classes_by_power: bool,
    /// Smoothing block length in seed steps (≥ 1, seed default 10).
    pub smooth_factor: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Video frames per second: one director step per frame.
    pub fps: f64,
    /// Length of the noise vector (128 for the published BigGAN-deep models).
    pub z_dim: usize,
    /// Length of the class vector (the model's number of classes, 1000 for ImageNet).
    pub class_dim: usize,
}

impl Default for BigGanSettings {
    fn default() -> Self {
        Self {
            tempo_sensitivity: 0.2,
            pitch_sensitivity: 50.0,
            depth: 1.0,
            jitter: 0.5,
            truncation: 1.0,
            num_classes: NUM_PITCH_CLASSES,
            classes: None,
            sort_classes_by_power: false,
            smooth_factor: 10,
            seed: 0,
            fps: SEED_STEP_HZ,
            z_dim: 128,
            class_dim: CLASS_DIM,
        }
    }
}

/// The latent input of one video frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameLatents {
    /// Noise vector, `z_dim` values.
    pub z: Vec<f32>,
    /// Class vector, `class_dim` values in `0..=depth`.
    pub y: Vec<f32>,
}

/// Checks that `value` is finite and satisfies `ok`.
fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), DirectorError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(DirectorError::OutOfRange {
            name,
            value: value.to_string(),
            expected,
        })
    }
}

impl BigGanSettings {
    /// The director's settings for `visual` at `fps` frames per second, for a model with
    /// `z_dim` noise units and `class_dim` classes.
    pub fn from_visual(visual: &VisualSettings, fps: f64, z_dim: usize, class_dim: usize) -> Self {
        let b = &visual.biggan;
        Self {
            tempo_sensitivity: b.tempo_sensitivity,
            pitch_sensitivity: b.pitch_sensitivity,
            depth: b.depth,
            jitter: b.jitter,
            truncation: b.truncation,
            num_classes: usize::from(b.num_classes),
            classes: visual.classes.clone(),
            sort_classes_by_power: b.sort_classes_by_power,
            smooth_factor: b.smooth_factor,
            seed: visual.seed,
            fps,
            z_dim,
            class_dim,
        }
    }

    /// Checks every setting; the error names the first bad one and its range.
    pub fn validate(&self) -> Result<(), DirectorError> {
        let tempo = f64::from(self.tempo_sensitivity);
        check("tempo_sensitivity", tempo, tempo >= 0.0, "≥ 0")?;
        let pitch = f64::from(self.pitch_sensitivity);
        check("pitch_sensitivity", pitch, pitch > 0.0, "> 0")?;
        let depth = f64::from(self.depth);
        check("depth", depth, depth > 0.0, "> 0 (the seed uses 0.01 to 1)")?;
        let jitter = f64::from(self.jitter);
        check(
            "jitter",
            jitter,
            (0.0..=1.0).contains(&jitter),
            "from 0 to 1",
        )?;
        let t = self.truncation;
        check(
            "truncation",
            t,
            t > 0.0 && t <= 1.0,
            "above 0 and at most 1",
        )?;
        let n = self.num_classes;
        check(
            "num_classes",
            n as f64,
            (1..=NUM_PITCH_CLASSES).contains(&n),
            "from 1 to 12",
        )?;
        let s = self.smooth_factor;
        check("smooth_factor", f64::from(s), s >= 1, "≥ 1")?;
        check("fps", self.fps, self.fps > 0.0, "> 0")?;
        check("z_dim", self.z_dim as f64, self.z_dim >= 1, "≥ 1")?;
        check(
            "class_dim",
            self.class_dim as f64,
            self.class_dim >= NUM_PITCH_CLASSES && self.class_dim <= usize::from(u16::MAX),
            "at least 12 (one class per pitch class)",
        )?;
        if let Some(classes) = &self.classes {
            if classes.len() != NUM_PITCH_CLASSES && classes.len() != n {
                return Err(DirectorError::ClassCount {
                    num_given: classes.len(),
                    num_classes: n,
                });
            }
            if let Some(&bad) = classes.iter().find(|&&c| usize::from(c) >= self.class_dim) {
                return Err(DirectorError::ClassIndex {
                    class_idx: u32::from(bad),
                    class_dim: self.class_dim,
                });
            }
        }
        Ok(())
    }

    /// The classes in use: the given ones, or 12 distinct ones drawn from the seed.
    pub fn resolved_classes(&self) -> Vec<u16> {
        match &self.classes {
            Some(classes) => classes.clone(),
            None => random_classes(self.seed, self.class_dim),
        }
    }
}

/// 12 distinct classes of `0..class_dim` drawn from `seed` (RNG stream 1, see the module docs).
pub fn random_classes(seed: u64, class_dim: usize) -> Vec<u16> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(CLASS_STREAM);
    let mut pool: Vec<u16> = (0..class_dim.min(usize::from(u16::MAX)) as u16).collect();
    for i in 0..NUM_PITCH_CLASSES {
        let j = rng.random_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(NUM_PITCH_CLASSES);
    pool
}

/// Pitch classes ordered from strongest to weakest mean chroma; ties go to the lower pitch.
fn rank_pitches(mean_chroma: &[f64; NUM_PITCH_CLASSES]) -> [usize; NUM_PITCH_CLASSES] {
    let mut order: [usize; NUM_PITCH_CLASSES] = std::array::from_fn(|p| p);
    // A stable sort keeps equal pitches in pitch order; NaN cannot occur (inputs are sanitised).
    order.sort_by(|&a, &b| mean_chroma[b].total_cmp(&mean_chroma[a]));
    order
}

/// Sets zero entries to the smallest non-zero entry, rescales to 0..1 by min and range and
/// multiplies by `depth`. When all entries are equal, `nudge_idx` gets 0.01 more first so the
/// rescale is defined (it then becomes the only non-zero entry).
pub fn normalise_class_vector(y: &mut [f32], nudge_idx: usize, depth: f32) {
    let min_non_zero = y
        .iter()
        .copied()
        .filter(|&v| v != 0.0)
        .fold(f32::INFINITY, f32::min);
    if min_non_zero.is_finite() {
        y.iter_mut()
            .filter(|v| **v == 0.0)
            .for_each(|v| *v = min_non_zero);
    }
    let range = |y: &[f32]| {
        y.iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (mut lo, mut hi) = range(y);
    if hi <= lo {
        y[nudge_idx] += 0.01;
        (lo, hi) = range(y);
    }
    let ptp = hi - lo;
    for v in y.iter_mut() {
        *v = (*v - lo) / ptp * depth;
    }
}

/// Smoother of either mode.
#[derive(Debug, Clone)]
enum Smoother {
    /// Song mode.
    Block(BlockSmoother),
    /// Live mode.
    Ema(EmaSmoother),
}

/// The BigGAN director: push one [`FrameInput`] per video frame, pop one [`FrameLatents`] per
/// frame in order (in song mode up to two smoothing blocks later), [`finish`](Self::finish) after
/// the last frame. [`run`](Self::run) does all of it for a whole sequence.
#[derive(Debug, Clone)]
pub struct BigGanDirector {
    /// Per-frame motion scale `τ·ρ`, also the bounce margin.
    tempo_step: f32,
    /// Decay of the last update per frame, `(¾)^ρ`.
    update_decay: f32,
    /// Pitch sensitivity per frame.
    pitch_step: f32,
    /// Frames between jitter masks.
    jitter_period_frames: u64,
    /// Jitter amount.
    jitter: f32,
    /// Class-vector scale.
    depth: f32,
    /// The bounce limit `2t`.
    z_limit: f32,
    /// The classes in use (12 or `num_classes`).
    classes: Vec<u16>,
    /// Number of pitch classes kept.
    num_classes: usize,
    /// Map the strongest pitches to `classes` in order.
    sort_classes_by_power: bool,
    /// Fixed pitch ranking in song mode; `None` ranks by the running mean (live mode).
    song_ranking: Option<[usize; NUM_PITCH_CLASSES]>,
    /// Sum of the chroma so far, for the live ranking.
    chroma_sum: [f64; NUM_PITCH_CLASSES],
    /// Noise vector.
    z: Vec<f32>,
    /// Update direction per unit, ±1.
    direction: Vec<f32>,
    /// Last update per unit.
    update: Vec<f32>,
    /// Jitter mask per unit, 1 or `1 − jitter`.
    mask: Vec<f32>,
    /// Unsmoothed class vector of the last step; empty before the first step.
    y: Vec<f32>,
    /// Scratch for the next class vector.
    y_next: Vec<f32>,
    /// Source of the jitter masks.
    jitter_rng: ChaCha8Rng,
    /// Frames stepped so far.
    num_steps: u64,
    /// Class-vector smoothing.
    smoother: Smoother,
    /// Noise vectors of stepped frames whose smoothed class vector is not ready yet.
    pending_z: VecDeque<Vec<f32>>,
}

impl BigGanDirector {
    /// A director whose initial noise vector is drawn from the seed.
    pub fn new(settings: &BigGanSettings, mode: HarmonyMode) -> Result<Self, DirectorError> {
        settings.validate()?;
        let z =
            truncated_noise_sample(1, settings.z_dim, settings.truncation as f32, settings.seed);
        Self::with_initial_noise(settings, mode, z)
    }

    /// A director starting from the noise vector `z` (`z_dim` values), e.g. one from a previous
    /// run.
    pub fn with_initial_noise(
        settings: &BigGanSettings,
        mode: HarmonyMode,
        z: Vec<f32>,
    ) -> Result<Self, DirectorError> {
        settings.validate()?;
        check(
            "initial noise length",
            z.len() as f64,
            z.len() == settings.z_dim,
            "z_dim",
        )?;
        let rho = SEED_STEP_HZ / settings.fps;
        // At the seed's rate ρ is exactly 1 and these are the seed's constants to the bit.
        let update_decay = 0.75f64.powf(rho);
        let pitch = f64::from(settings.pitch_sensitivity);
        let harmony_decay = (pitch / (pitch + 2.0)).powf(rho);
        let pitch_step = if rho == 1.0 {
            pitch
        } else {
            2.0 * harmony_decay / (1.0 - harmony_decay)
        };
        let block_len = (f64::from(settings.smooth_factor) / rho).round().max(1.0) as usize;
        let jitter_period_frames = (SEED_JITTER_PERIOD_STEPS / rho).round().max(1.0) as u64;
        let song_ranking = match mode {
            HarmonyMode::Song { mean_chroma } => {
                Some(rank_pitches(&mean_chroma.map(|c| f64::from(sanitise(c)))))
            }
            HarmonyMode::Live => None,
        };
        let smoother = match mode {
            HarmonyMode::Song { .. } => {
                Smoother::Block(BlockSmoother::new(settings.class_dim, block_len))
            }
            HarmonyMode::Live => Smoother::Ema(EmaSmoother::new(block_len)),
        };
        let mut jitter_rng = ChaCha8Rng::seed_from_u64(settings.seed);
        jitter_rng.set_stream(JITTER_STREAM);
        let direction = z
            .iter()
            .map(|&v| if v < 0.0 { 1.0 } else { -1.0 })
            .collect();
        Ok(Self {
            tempo_step: (f64::from(settings.tempo_sensitivity) * rho) as f32,
            update_decay: update_decay as f32,
            pitch_step: pitch_step as f32,
            jitter_period_frames,
            jitter: settings.jitter,
            depth: settings.depth,
            z_limit: (2.0 * settings.truncation) as f32,
            classes: settings.resolved_classes(),
            num_classes: settings.num_classes,
            sort_classes_by_power: settings.sort_classes_by_power,
            song_ranking,
            chroma_sum: [0.0; NUM_PITCH_CLASSES],
            update: vec![0.0; z.len()],
            mask: vec![1.0; z.len()],
            direction,
            z,
            y: Vec::new(),
            y_next: vec![0.0; settings.class_dim],
            jitter_rng,
            num_steps: 0,
            smoother,
            pending_z: VecDeque::new(),
        })
    }

    /// The whole sequence at once: one [`FrameLatents`] per input, in order. Identical to
    /// pushing the inputs one by one, finishing and popping everything.
    pub fn run(
        settings: &BigGanSettings,
        mode: HarmonyMode,
        inputs: &[FrameInput],
    ) -> Result<Vec<FrameLatents>, DirectorError> {
        let mut director = Self::new(settings, mode)?;
        for input in inputs {
            director.push(input);
        }
        director.finish();
        Ok(std::iter::from_fn(|| director.pop()).collect())
    }

    /// The classes in use, as given or drawn: what `--use_previous_classes` reuses.
    pub fn classes(&self) -> &[u16] {
        &self.classes
    }

    /// Steps the dynamics with the next frame's features.
    pub fn push(&mut self, input: &FrameInput) {
        self.step_motion(input);
        self.pending_z.push_back(self.z.clone());
        self.step_harmony(input);
        match &mut self.smoother {
            Smoother::Block(s) => s.push(&self.y),
            Smoother::Ema(s) => s.push(&self.y),
        }
        self.num_steps += 1;
    }

    /// Marks the end of the input: every pushed frame becomes ready.
    pub fn finish(&mut self) {
        if let Smoother::Block(s) = &mut self.smoother {
            s.finish();
        }
    }

    /// The next frame's latents, once its smoothed class vector is known.
    pub fn pop(&mut self) -> Option<FrameLatents> {
        let y = match &mut self.smoother {
            Smoother::Block(s) => s.pop(),
            Smoother::Ema(s) => s.pop(),
        }?;
        // The smoothers emit exactly one row per pushed row, in order.
        let z = self.pending_z.pop_front()?;
        Some(FrameLatents { z, y })
    }

    fn step_motion(&mut self, input: &FrameInput) {
        if self.num_steps.is_multiple_of(self.jitter_period_frames) {
            for m in &mut self.mask {
                *m = if self.jitter_rng.random::<f64>() < 0.5 {
                    1.0
                } else {
                    1.0 - self.jitter
                };
            }
        }
        let drive = sanitise(input.power) + sanitise(input.power_rise);
        let decay = self.update_decay;
        for i in 0..self.z.len() {
            let target = self.tempo_step * drive * self.direction[i] * self.mask[i];
            self.update[i] = (1.0 - decay) * target + decay * self.update[i];
            self.z[i] += self.update[i];
            if self.z[i] >= self.z_limit - self.tempo_step {
                self.direction[i] = -1.0;
            } else if self.z[i] < -self.z_limit + self.tempo_step {
                self.direction[i] = 1.0;
            }
        }
    }

    fn step_harmony(&mut self, input: &FrameInput) {
        let chroma = input.chroma.map(sanitise);
        let chroma_rise = input.chroma_rise.map(sanitise);
        for (sum, &c) in self.chroma_sum.iter_mut().zip(&chroma) {
            *sum += f64::from(c);
        }
        // The running sum ranks like the running mean.
        let ranking = self
            .song_ranking
            .unwrap_or_else(|| rank_pitches(&self.chroma_sum));
        let kept = self.kept_pitches(&ranking);
        if self.y.is_empty() {
            // The seed's first class vector: the first frame's chroma on the kept classes.
            self.y = vec![0.0; self.y_next.len()];
            for &(pitch, class) in &kept {
                self.y[class] = chroma[pitch];
            }
        }
        self.y_next.iter_mut().for_each(|v| *v = 0.0);
        let pitch = self.pitch_step;
        for &(p, class) in &kept {
            self.y_next[class] =
                (self.y[class] + (chroma[p] + chroma_rise[p]) / pitch) / (1.0 + 2.0 / pitch);
        }
        // If the rescale is undefined, the largest kept entry (the strongest pitch's on ties)
        // is the one to win.
        let mut nudge_class = kept[0].1;
        for &(_, class) in &kept {
            if self.y_next[class] > self.y_next[nudge_class] {
                nudge_class = class;
            }
        }
        normalise_class_vector(&mut self.y_next, nudge_class, self.depth);
        std::mem::swap(&mut self.y, &mut self.y_next);
    }

    /// The kept pitches with their classes, strongest pitch first.
    fn kept_pitches(&self, ranking: &[usize; NUM_PITCH_CLASSES]) -> Vec<(usize, usize)> {
        let kept = &ranking[..self.num_classes];
        let class = |i: usize| usize::from(self.classes[i]);
        if self.sort_classes_by_power {
            kept.iter()
                .enumerate()
                .map(|(rank, &p)| (p, class(rank)))
                .collect()
        } else if self.classes.len() == NUM_PITCH_CLASSES {
            kept.iter().map(|&p| (p, class(p))).collect()
        } else {
            // `num_classes` classes for the kept pitches in pitch order.
            let mut in_pitch_order = kept.to_vec();
            in_pitch_order.sort_unstable();
            kept.iter()
                .map(|p| {
                    let slot = in_pitch_order.binary_search(p).unwrap_or(0);
                    (*p, class(slot))
                })
                .collect()
        }
    }
}

/// Non-finite feature values count as 0, so one bad frame cannot poison the state forever.
fn sanitise(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts two float slices agree within `tol`, naming the worst element.
    fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let (worst_idx, worst) = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g - w).abs())
            .enumerate()
            .fold(
                (0, 0.0f32),
                |acc, (i, e)| if e > acc.1 { (i, e) } else { acc },
            );
        assert!(
            worst <= tol,
            "{what}: worst element {worst_idx}: got {}, want {} (|error| {worst} > {tol})",
            got[worst_idx],
            want[worst_idx]
        );
    }

    fn drive(power: f32, power_rise: f32) -> FrameInput {
        FrameInput {
            power,
            power_rise,
            ..FrameInput::default()
        }
    }

    fn motion_settings(tempo: f32, z_dim: usize) -> BigGanSettings {
        BigGanSettings {
            tempo_sensitivity: tempo,
            jitter: 0.0,
            smooth_factor: 1,
            z_dim,
            classes: Some((0..12).collect()),
            ..BigGanSettings::default()
        }
    }

    fn song() -> HarmonyMode {
        HarmonyMode::Song {
            mean_chroma: [0.5; 12],
        }
    }

    #[test]
    fn motion_matches_hand_computed_steps() {
        let settings = motion_settings(0.2, 3);
        let mut director =
            BigGanDirector::with_initial_noise(&settings, song(), vec![0.5, -1.7, 1.9]).unwrap();
        // Directions start towards 0: (−1, +1, −1). Drive r + p = 1, then 1, then 0.
        // u = ¼·τ·drive·d + ¾·u; z += u.
        let expected = [
            [0.45, -1.65, 1.85],             // u = ∓0.05
            [0.3625, -1.5625, 1.7625],       // u = ∓0.0875
            [0.296875, -1.496875, 1.696875], // u = ∓0.065625
        ];
        for (input, want) in [drive(0.5, 0.5), drive(1.0, 0.0), drive(0.0, 0.0)]
            .iter()
            .zip(expected)
        {
            director.push(input);
            let frame = director.pop().expect("smooth_factor 1 emits at once");
            assert_close(&frame.z, &want, 1e-6, "z");
        }
    }

    #[test]
    fn units_bounce_off_the_truncation_limits() {
        // τ = 1, t = 1: a unit turns down at z ≥ 1 and up at z < −1. Drive 2 throughout.
        let settings = motion_settings(1.0, 1);
        let mut director =
            BigGanDirector::with_initial_noise(&settings, song(), vec![0.2]).unwrap();
        // u: −0.5, −0.875 (z = −1.175 < −1: turn up), ¼·2 − ¾·0.875 = −0.15625, 0.3828125.
        let expected = [-0.3, -1.175, -1.33125, -0.9484375];
        for want in expected {
            director.push(&drive(1.0, 1.0));
            let z = director.pop().unwrap().z[0];
            assert!((z - want).abs() < 1e-6, "got {z}, want {want}");
        }
    }

    #[test]
    fn jitter_mask_holds_for_100_seed_steps() {
        let settings = BigGanSettings {
            jitter: 1.0,
            ..motion_settings(0.01, 64)
        };
        let mut director =
            BigGanDirector::with_initial_noise(&settings, song(), vec![0.0; 64]).unwrap();
        let mut last = vec![0.0f32; 64];
        let mut patterns = Vec::new();
        for _ in 0..101 {
            director.push(&drive(0.5, 0.0));
            let z = director.pop().unwrap().z;
            // With jitter 1 a unit either moves at full speed or not at all.
            let moving: Vec<bool> = z.iter().zip(&last).map(|(a, b)| a != b).collect();
            patterns.push(moving);
            last = z;
        }
        let num_moving = patterns[0].iter().filter(|&&m| m).count();
        assert!(
            (16..=48).contains(&num_moving),
            "{num_moving} of 64 units move"
        );
        assert!(patterns[..100].iter().all(|p| *p == patterns[0]));
        assert_ne!(patterns[100], patterns[0], "a new mask at step 100");
    }

    fn chroma(pairs: &[(usize, f32)]) -> [f32; 12] {
        let mut c = [0.0; 12];
        for &(p, v) in pairs {
            c[p] = v;
        }
        c
    }

    #[test]
    fn harmony_matches_hand_computed_steps() {
        // Pitches ranked 3 > 7 > 5 > the rest; 12 classes given, pitch p drives class 10 + p.
        let mut mean_chroma = [0.1; 12];
        mean_chroma[3] = 0.9;
        mean_chroma[7] = 0.8;
        mean_chroma[5] = 0.7;
        let settings = BigGanSettings {
            pitch_sensitivity: 2.0,
            depth: 0.5,
            num_classes: 3,
            classes: Some((10..22).collect()),
            smooth_factor: 1,
            ..BigGanSettings::default()
        };
        let mut director =
            BigGanDirector::new(&settings, HarmonyMode::Song { mean_chroma }).unwrap();
        // With π = 2 the rule is y ← (y + (c + c')/2)/2 on classes 13, 17, 15; then zero entries
        // take the smallest non-zero value, min → 0, max → depth 0.5.
        let frames = [
            // y starts at the raw chroma 0.8, 0.4, 0.2 → 0.6, 0.3, 0.15; pitch 0 is not kept.
            (
                chroma(&[(3, 0.8), (7, 0.4), (5, 0.2), (0, 1.0)]),
                [0.0; 12],
                [0.5, 0.5 / 3.0, 0.0],
            ),
            // (0.5 + 0.1/2)/2 = 0.275, (1/6 + 1.2/2)/2 = 0.38333, (0 + 0.4/2)/2 = 0.1.
            (
                chroma(&[(3, 0.2), (7, 1.0), (5, 0.4)]),
                chroma(&[(3, -0.1), (7, 0.2)]),
                [0.175 / 0.283_333_33 * 0.5, 0.5, 0.0],
            ),
            // Silence: 0.154, 0.25, 0 → 0, 0.5, 0.
            (chroma(&[]), [0.0; 12], [0.0, 0.5, 0.0]),
            // 0, 0.25, 0: one entry alone is all the zero fill leaves, so it is nudged.
            (chroma(&[]), [0.0; 12], [0.0, 0.5, 0.0]),
            // (0.5 − 1/2)/2 = 0: nothing sounds, so the strongest pitch's class is nudged.
            (chroma(&[]), chroma(&[(7, -1.0)]), [0.5, 0.0, 0.0]),
        ];
        for (frame_idx, (chroma, chroma_rise, [want13, want17, want15])) in
            frames.into_iter().enumerate()
        {
            director.push(&FrameInput {
                chroma,
                chroma_rise,
                ..FrameInput::default()
            });
            let y = director.pop().unwrap().y;
            let mut want = vec![0.0; CLASS_DIM];
            want[13] = want13;
            want[17] = want17;
            want[15] = want15;
            assert_close(&y, &want, 1e-6, &format!("y of frame {frame_idx}"));
        }
    }

    /// The class indices that are non-zero in any frame when only `pitch` sounds.
    fn class_of_pitch(settings: &BigGanSettings, mode: HarmonyMode, pitch: usize) -> Vec<usize> {
        let input = FrameInput {
            chroma: chroma(&[(pitch, 1.0)]),
            ..FrameInput::default()
        };
        let frames = BigGanDirector::run(settings, mode, &[input; 3]).unwrap();
        let y = &frames[2].y;
        (0..CLASS_DIM).filter(|&c| y[c] > 0.0).collect()
    }

    #[test]
    fn classes_follow_pitch_order_or_priority_order() {
        // Pitches ranked 9 > 2 > 5 > the rest.
        let mut mean_chroma = [0.0; 12];
        mean_chroma[9] = 0.9;
        mean_chroma[2] = 0.8;
        mean_chroma[5] = 0.7;
        let mode = HarmonyMode::Song { mean_chroma };
        let n_classes = BigGanSettings {
            num_classes: 3,
            classes: Some(vec![100, 200, 300]),
            smooth_factor: 1,
            ..BigGanSettings::default()
        };
        // Pitch order: 2, 5, 9 take 100, 200, 300.
        assert_eq!(class_of_pitch(&n_classes, mode, 9), vec![300]);
        assert_eq!(class_of_pitch(&n_classes, mode, 2), vec![100]);
        let sorted = BigGanSettings {
            sort_classes_by_power: true,
            ..n_classes.clone()
        };
        // Priority order: the strongest pitch 9 takes the first class.
        assert_eq!(class_of_pitch(&sorted, mode, 9), vec![100]);
        assert_eq!(class_of_pitch(&sorted, mode, 5), vec![300]);
        // Twelve classes: pitch p takes classes[p], or the p-th strongest with sorting.
        let twelve = BigGanSettings {
            classes: Some((500..512).collect()),
            ..n_classes.clone()
        };
        assert_eq!(class_of_pitch(&twelve, mode, 9), vec![509]);
        let twelve_sorted = BigGanSettings {
            sort_classes_by_power: true,
            ..twelve
        };
        assert_eq!(class_of_pitch(&twelve_sorted, mode, 2), vec![501]);
    }

    /// Seeded pseudo-random features: a slow melody over changing loudness.
    fn test_inputs(num_frames: usize) -> Vec<FrameInput> {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        (0..num_frames)
            .map(|k| {
                let mut chroma: [f32; 12] = std::array::from_fn(|_| rng.random::<f32>() * 0.3);
                chroma[(k / 17) % 12] = 1.0;
                FrameInput {
                    kick: 0.0,
                    power: rng.random(),
                    power_rise: rng.random::<f32>() * 0.5,
                    chroma,
                    chroma_rise: std::array::from_fn(|_| rng.random::<f32>() - 0.5),
                }
            })
            .collect()
    }

    #[test]
    fn single_steps_equal_the_batch_form() {
        let inputs = test_inputs(157);
        for mode in [song(), HarmonyMode::Live] {
            let settings = BigGanSettings {
                seed: 7,
                fps: 30.0,
                ..BigGanSettings::default()
            };
            let batch = BigGanDirector::run(&settings, mode, &inputs).unwrap();
            assert_eq!(batch.len(), inputs.len());
            let mut director = BigGanDirector::new(&settings, mode).unwrap();
            let mut stepped = Vec::new();
            for input in &inputs {
                director.push(input);
                stepped.extend(std::iter::from_fn(|| director.pop()));
            }
            director.finish();
            stepped.extend(std::iter::from_fn(|| director.pop()));
            assert!(
                stepped == batch,
                "{mode:?}: stepping differs from the batch"
            );
        }
    }

    #[test]
    fn same_seed_gives_identical_vectors_and_another_seed_does_not() {
        let inputs = test_inputs(60);
        let settings = BigGanSettings {
            seed: 1234,
            ..BigGanSettings::default()
        };
        let a = BigGanDirector::run(&settings, song(), &inputs).unwrap();
        let b = BigGanDirector::run(&settings, song(), &inputs).unwrap();
        assert!(a == b);
        let other = BigGanSettings {
            seed: 1235,
            ..settings
        };
        let c = BigGanDirector::run(&other, song(), &inputs).unwrap();
        assert_ne!(a[0].z, c[0].z);
    }

    #[test]
    fn class_vectors_stay_in_range_on_the_chosen_classes() {
        let inputs = test_inputs(300);
        for (mode, num_classes, depth) in [(song(), 12, 1.0), (HarmonyMode::Live, 5, 0.4)] {
            let settings = BigGanSettings {
                depth,
                num_classes,
                seed: 3,
                ..BigGanSettings::default()
            };
            let classes = settings.resolved_classes();
            let frames = BigGanDirector::run(&settings, mode, &inputs).unwrap();
            for (k, frame) in frames.iter().enumerate() {
                let max = frame.y.iter().copied().fold(f32::MIN, f32::max);
                let min = frame.y.iter().copied().fold(f32::MAX, f32::min);
                assert!(
                    min == 0.0 && max <= depth + 1e-6,
                    "frame {k}: range {min}..{max}"
                );
                assert!(max > 0.0, "frame {k}: no class is active");
                for (c, &v) in frame.y.iter().enumerate() {
                    assert!(
                        v == 0.0 || classes.contains(&(c as u16)),
                        "frame {k}: class {c} = {v} was not chosen"
                    );
                }
                // A unit turns at 2t − τ but its momentum carries it on: at most τ·2 + ½τ·2·(1 + ¼)
                // further with the largest drive 2, so 2 + 0.4 + 0.25 for t = 1, τ = 0.2.
                assert!(
                    frame.z.iter().all(|v| v.abs() <= 2.65),
                    "frame {k}: z out of bounds"
                );
            }
        }
        // Unsmoothed, the strongest class reaches exactly `depth`.
        let raw = BigGanSettings {
            depth: 0.7,
            smooth_factor: 1,
            ..BigGanSettings::default()
        };
        for frame in BigGanDirector::run(&raw, song(), &inputs).unwrap() {
            assert_eq!(frame.y.iter().copied().fold(f32::MIN, f32::max), 0.7);
        }
    }

    #[test]
    fn random_classes_are_12_distinct_imagenet_indices() {
        let a = random_classes(5, CLASS_DIM);
        assert_eq!(a.len(), 12);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 12);
        assert!(a.iter().all(|&c| c < 1000));
        assert_eq!(a, random_classes(5, CLASS_DIM));
        assert_ne!(a, random_classes(6, CLASS_DIM));
    }

    #[test]
    fn motion_per_second_does_not_depend_on_the_frame_rate() {
        // Small τ so no unit reaches a limit within 2 s; a unit starting just below 0 moves up.
        let displacement = |fps: f64| {
            let settings = BigGanSettings {
                fps,
                ..motion_settings(0.01, 1)
            };
            let num_frames = (2.0 * fps).round() as usize;
            let inputs = vec![drive(0.6, 0.2); num_frames];
            let mut director =
                BigGanDirector::with_initial_noise(&settings, song(), vec![-0.01]).unwrap();
            inputs.iter().for_each(|i| director.push(i));
            director.finish();
            std::iter::from_fn(|| director.pop()).last().unwrap().z[0] + 0.01
        };
        let seed_rate = displacement(SEED_STEP_HZ);
        // 2 s at 43.07 steps/s with τ·drive = 0.008 per step, less the ramp-up of ~3 steps.
        assert!(
            (seed_rate - 0.008 * (86.0 - 3.0)).abs() < 0.005,
            "{seed_rate}"
        );
        for fps in [24.0, 30.0, 60.0] {
            let d = displacement(fps);
            assert!(
                (d / seed_rate - 1.0).abs() < 0.02,
                "{fps} fps: {d} vs {seed_rate}"
            );
        }
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let bad = BigGanSettings {
            jitter: 1.5,
            ..BigGanSettings::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("jitter"));
        let bad = BigGanSettings {
            num_classes: 4,
            classes: Some(vec![1, 2, 3]),
            ..BigGanSettings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            DirectorError::ClassCount {
                num_given: 3,
                num_classes: 4
            }
        );
        let bad = BigGanSettings {
            classes: Some(vec![1000; 12]),
            ..BigGanSettings::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("1000"));
    }
}
