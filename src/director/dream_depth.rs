//! Kick → DeepDream depth, the seed's envelope: a kick raises the level at once, and without
//! kicks it decays by a constant factor per video frame.
//!
//! `level ← max(kick, decay × level)`, `depth = round(1 + level × (max_depth − 1))`, so the depth
//! runs from 1 (silence) to `max_depth` (a full kick). With the default decay of 0.93 a full kick
//! takes about 10 frames to fall to half depth.

/// The envelope's state between video frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DreamDepth {
    /// Current level in `[0, 1]`.
    level: f32,
    /// Factor the level keeps per frame without a stronger kick, in `[0, 1]`.
    decay: f32,
    /// Depth (steps per octave) at level 1; at least 1.
    max_depth: u32,
}

impl DreamDepth {
    /// A silent envelope. `decay` is clamped to `[0, 1]` (NaN counts as 0) and `max_depth` to at
    /// least 1.
    pub fn new(decay: f32, max_depth: u32) -> Self {
        Self {
            level: 0.0,
            decay: clamp_unit(decay),
            max_depth: max_depth.max(1),
        }
    }

    /// The current level in `[0, 1]`.
    pub fn level(&self) -> f32 {
        self.level
    }

    /// The depth of the current level.
    pub fn depth(&self) -> u32 {
        depth_for_level(self.level, self.max_depth)
    }

    /// Changes decay and maximum depth (automated parameters) without resetting the level.
    pub fn set_shape(&mut self, decay: f32, max_depth: u32) {
        self.decay = clamp_unit(decay);
        self.max_depth = max_depth.max(1);
    }

    /// Advances one video frame with that frame's kick strength (`[0, 1]`; values outside are
    /// clamped, NaN counts as no kick) and returns the frame's depth.
    pub fn next_frame(&mut self, kick: f32) -> u32 {
        self.level = clamp_unit(kick).max(self.decay * self.level);
        self.depth()
    }
}

/// `round(1 + level × (max_depth − 1))` for a level in `[0, 1]`.
pub fn depth_for_level(level: f32, max_depth: u32) -> u32 {
    let max_depth = max_depth.max(1);
    let depth = 1.0 + clamp_unit(level) * (max_depth - 1) as f32;
    (depth.round() as u32).clamp(1, max_depth)
}

/// The depth of every frame of a kick sequence, starting from silence.
pub fn dream_depths(kicks: &[f32], decay: f32, max_depth: u32) -> Vec<u32> {
    let mut envelope = DreamDepth::new(decay, max_depth);
    kicks
        .iter()
        .map(|&kick| envelope.next_frame(kick))
        .collect()
}

fn clamp_unit(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kick_sequence_gives_known_depths() {
        // By hand: levels 0, 1, .93, .8649, max(.5, .804357), .748052, max(.2, .695688).
        let kicks = [0.0, 1.0, 0.0, 0.0, 0.5, 0.0, 0.2];
        assert_eq!(
            dream_depths(&kicks, 0.93, 20),
            vec![1, 20, 19, 17, 16, 15, 14]
        );
    }

    #[test]
    fn single_frames_equal_the_sequence() {
        let kicks: Vec<f32> = (0..200)
            .map(|i| ((i * 37 % 23) as f32 / 22.0).powi(3))
            .collect();
        let mut envelope = DreamDepth::new(0.9, 12);
        let one_by_one: Vec<u32> = kicks.iter().map(|&k| envelope.next_frame(k)).collect();
        assert_eq!(one_by_one, dream_depths(&kicks, 0.9, 12));
    }

    #[test]
    fn level_decays_geometrically_and_stays_in_range() {
        let mut envelope = DreamDepth::new(0.93, 20);
        envelope.next_frame(7.0); // clamped to 1
        assert_eq!(envelope.level(), 1.0);
        for _ in 0..10 {
            envelope.next_frame(f32::NAN);
        }
        assert!((envelope.level() - 0.93f32.powi(10)).abs() < 1e-6);
        assert_eq!(depth_for_level(0.0, 20), 1);
        assert_eq!(depth_for_level(1.0, 20), 20);
        assert_eq!(depth_for_level(0.5, 1), 1);
        assert_eq!(DreamDepth::new(0.93, 0).next_frame(1.0), 1);
    }
}
