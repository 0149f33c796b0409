//! Class-vector smoothing.
//!
//! The seed smooths the class vectors after computing all of them: it averages blocks of
//! `s` steps and interpolates linearly from each block's mean to the next one's, so that small
//! pitch fluctuations do not make the picture flicker between classes:
//!
//! ```text
//! frame c·s + j  =  M_c · (1 − j/(s−1))  +  M_{c+1} · j/(s−1)        j = 0 … s−1
//! ```
//!
//! where `M_c` is the mean of block `c`. The seed then drops everything from the second-last
//! block on; we keep every frame: a block without a successor (the last one, possibly shorter
//! than `s`) holds its own mean, and a partial last block still serves as the successor of the
//! block before it. For `s = 1` the rows pass through unchanged. [`smooth_song`] is that formula
//! over a whole sequence; [`BlockSmoother`] computes the same frames while the rows stream in,
//! holding only two block means.
//!
//! The block smoother looks up to `2s − 1` frames ahead, which a live view cannot. Its causal
//! counterpart [`EmaSmoother`] is a one-pole low-pass `y ← y + α (x − y)` with `α = 2/(s + 1)`:
//! its mean delay `(1 − α)/α = (s − 1)/2` equals that of an `s`-frame block mean, and its
//! variance `(1 − α)/α² ≈ s²/4` matches the block mean followed by the linear interpolation
//! (`s²/12 + s²/6`), so both smear a class change over the same time.

use std::collections::VecDeque;

/// The seed's smoothing over a complete sequence of rows (all of the same length), computed
/// literally from the formula in the module docs. Returns as many rows as it was given.
pub fn smooth_song(rows: &[Vec<f32>], block_len: usize) -> Vec<Vec<f32>> {
    let block_len = block_len.max(1);
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let dim = first.len();
    let means: Vec<Vec<f64>> = rows
        .chunks(block_len)
        .map(|block| {
            let mut mean = vec![0.0f64; dim];
            for row in block {
                for (m, &x) in mean.iter_mut().zip(row) {
                    *m += f64::from(x);
                }
            }
            mean.iter_mut().for_each(|m| *m /= block.len() as f64);
            mean
        })
        .collect();
    (0..rows.len())
        .map(|frame_idx| {
            let block_idx = frame_idx / block_len;
            let j = frame_idx % block_len;
            match means.get(block_idx + 1) {
                Some(next) if block_len > 1 => {
                    interpolate(&means[block_idx], next, j as f64 / (block_len - 1) as f64)
                }
                _ => means[block_idx].iter().map(|&m| m as f32).collect(),
            }
        })
        .collect()
}

/// `a · (1 − w) + b · w`, the seed's form (it matters for rounding at the block ends).
fn interpolate(a: &[f64], b: &[f64], w: f64) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(&a, &b)| (a * (1.0 - w) + b * w) as f32)
        .collect()
}

/// The seed's block smoothing, streaming: push rows, pop smoothed rows (the same as
/// [`smooth_song`] gives), call [`BlockSmoother::finish`] after the last row.
#[derive(Debug, Clone)]
pub struct BlockSmoother {
    /// Rows per block (`s`).
    block_len: usize,
    /// Mean of the last complete block whose frames are not yet emitted, with its row count.
    pending: Option<(Vec<f64>, usize)>,
    /// Running sum of the rows of the block being filled.
    sum: Vec<f64>,
    /// Number of rows in `sum`.
    num_summed: usize,
    /// Smoothed rows ready to pop.
    ready: VecDeque<Vec<f32>>,
}

impl BlockSmoother {
    /// A smoother for rows of `dim` values, averaging blocks of `block_len` rows (at least 1).
    pub fn new(dim: usize, block_len: usize) -> Self {
        Self {
            block_len: block_len.max(1),
            pending: None,
            sum: vec![0.0; dim],
            num_summed: 0,
            ready: VecDeque::new(),
        }
    }

    /// Adds the next row. Rows of block `c` become ready once block `c + 1` is complete.
    pub fn push(&mut self, row: &[f32]) {
        for (s, &x) in self.sum.iter_mut().zip(row) {
            *s += f64::from(x);
        }
        self.num_summed += 1;
        if self.num_summed == self.block_len {
            self.close_block();
        }
    }

    /// Ends the sequence: everything pushed becomes ready.
    pub fn finish(&mut self) {
        if self.num_summed > 0 {
            self.close_block();
        }
        if let Some((mean, num_rows)) = self.pending.take() {
            let row: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
            for _ in 0..num_rows {
                self.ready.push_back(row.clone());
            }
        }
    }

    /// The next smoothed row, if one is ready.
    pub fn pop(&mut self) -> Option<Vec<f32>> {
        self.ready.pop_front()
    }

    fn close_block(&mut self) {
        let n = self.num_summed as f64;
        let mean: Vec<f64> = self.sum.iter().map(|&s| s / n).collect();
        let num_rows = self.num_summed;
        self.sum.iter_mut().for_each(|s| *s = 0.0);
        self.num_summed = 0;
        if self.block_len == 1 {
            // Nothing to interpolate: each row is its own block's mean.
            self.ready
                .push_back(mean.iter().map(|&m| m as f32).collect());
            return;
        }
        if let Some((prev, prev_rows)) = self.pending.take() {
            for j in 0..prev_rows {
                let w = j as f64 / (self.block_len - 1) as f64;
                self.ready.push_back(interpolate(&prev, &mean, w));
            }
        }
        self.pending = Some((mean, num_rows));
    }
}

/// The causal counterpart of [`BlockSmoother`]: a one-pole low-pass with the same time
/// constant (see the module docs). Each pushed row is ready at once.
#[derive(Debug, Clone)]
pub struct EmaSmoother {
    /// Weight of the new row, `2/(s + 1)`.
    alpha: f32,
    /// The smoothed row; `None` until the first row, which is taken as is.
    state: Option<Vec<f32>>,
    /// Smoothed rows ready to pop.
    ready: VecDeque<Vec<f32>>,
}

impl EmaSmoother {
    /// A low-pass equivalent to block smoothing over `block_len` rows (at least 1; 1 passes rows
    /// through).
    pub fn new(block_len: usize) -> Self {
        Self {
            alpha: 2.0 / (block_len.max(1) as f32 + 1.0),
            state: None,
            ready: VecDeque::new(),
        }
    }

    /// Adds the next row; its smoothed value is ready at once.
    pub fn push(&mut self, row: &[f32]) {
        let state = match self.state.as_mut() {
            Some(state) => {
                for (s, &x) in state.iter_mut().zip(row) {
                    *s += self.alpha * (x - *s);
                }
                state
            }
            None => self.state.insert(row.to_vec()),
        };
        self.ready.push_back(state.clone());
    }

    /// The next smoothed row, if one is ready.
    pub fn pop(&mut self) -> Option<Vec<f32>> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[f32]) -> Vec<Vec<f32>> {
        values.iter().map(|&v| vec![v, -v]).collect()
    }

    #[test]
    fn song_smoothing_interpolates_between_block_means() {
        // Blocks of 3: means 2, 5, 8 (the last block is partial: 8 alone).
        let input = rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]);
        let out = smooth_song(&input, 3);
        let first: Vec<f32> = out.iter().map(|r| r[0]).collect();
        // Block 0: 2 → 5 over j = 0, 1, 2 (w = 0, ½, 1); block 1: 5 → 8; block 2 holds 8.
        assert_eq!(first, vec![2.0, 3.5, 5.0, 5.0, 6.5, 8.0, 8.0]);
        assert!(out.iter().all(|r| r[1] == -r[0]));
    }

    #[test]
    fn song_smoothing_with_block_of_one_is_identity() {
        let input = rows(&[0.25, -1.0, 3.5]);
        assert_eq!(smooth_song(&input, 1), input);
    }

    #[test]
    fn streaming_block_smoother_equals_the_formula() {
        for block_len in [1, 2, 3, 5, 10] {
            for num_rows in [0, 1, 2, 7, 10, 23] {
                let input: Vec<Vec<f32>> = (0..num_rows)
                    .map(|i| vec![(i as f32 * 0.37).sin(), (i * i) as f32 * 0.01])
                    .collect();
                let expected = smooth_song(&input, block_len);
                let mut smoother = BlockSmoother::new(2, block_len);
                let mut got = Vec::new();
                for (row_idx, row) in input.iter().enumerate() {
                    smoother.push(row);
                    while let Some(r) = smoother.pop() {
                        got.push(r);
                    }
                    // A frame waits at most for the rest of its block and all of the next one.
                    assert!(
                        row_idx + 1 - got.len() < 2 * block_len,
                        "lag at row {row_idx}"
                    );
                }
                smoother.finish();
                while let Some(r) = smoother.pop() {
                    got.push(r);
                }
                assert_eq!(got, expected, "block_len {block_len}, {num_rows} rows");
            }
        }
    }

    #[test]
    fn ema_smoother_follows_a_step_with_the_expected_weight() {
        let mut ema = EmaSmoother::new(3);
        for x in [0.0, 1.0, 1.0] {
            ema.push(&[x]);
        }
        let out: Vec<f32> = std::iter::from_fn(|| ema.pop()).map(|r| r[0]).collect();
        // α = 2/(3+1) = 0.5: 0, 0.5, 0.75.
        assert_eq!(out, vec![0.0, 0.5, 0.75]);
    }
}
