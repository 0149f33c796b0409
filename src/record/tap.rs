//! The audio thread's end of take recording: a copy of every sample that passed through, with
//! its transport position, into a lock-free ring. No allocation, lock, I/O or waiting: a block
//! that does not fit is counted as lost, and the count travels to the take's manifest.

use rtrb::{Consumer, Producer, RingBuffer};

/// Seconds of audio the ring holds: how far the writer thread may fall behind (a busy machine,
/// a bounce faster than the disk) before samples are lost. 16 s is 160 ms of a bounce at 100×
/// real time, and 6 MB for stereo at 48 kHz (touched only while recording).
pub const RING_SECONDS: u32 = 16;

/// A host's transport position within this many samples of where the previous block ended
/// counts as continuous: hosts that report the position in seconds or beats round it.
const POSITION_TOLERANCE_SAMPLES: i64 = 1;

/// What the writer thread learns from the audio thread, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapEvent {
    /// `num_frames` sample frames, interleaved in the sample ring, whose first frame sat at
    /// transport position `position_samples`.
    Block {
        /// Transport position of the first frame, in samples.
        position_samples: i64,
        /// Sample frames in the sample ring for this block.
        num_frames: u32,
    },
    /// Sample frames the ring had no room for, in the take being recorded.
    Lost {
        /// How many.
        num_frames: u64,
    },
    /// The take ends: the transport stopped, recording was switched off, or the plugin was
    /// deactivated.
    End,
}

/// The audio thread's end.
pub struct RecordTap {
    /// Interleaved samples.
    samples: Producer<f32>,
    /// What the samples are.
    events: Producer<TapEvent>,
    /// Channels per sample frame.
    num_channels: usize,
    /// A take is open (blocks were sent since the last end).
    in_take: bool,
    /// Where the next block continues the current segment.
    next_position_samples: i64,
    /// Lost frames not yet reported.
    pending_lost_frames: u64,
    /// An end not yet reported (the event ring was full).
    pending_end: bool,
}

/// The writer thread's end.
pub struct TapReader {
    /// Interleaved samples.
    samples: Consumer<f32>,
    /// What the samples are.
    events: Consumer<TapEvent>,
    /// Channels per sample frame.
    num_channels: usize,
}

/// A ring for `num_channels` channels holding `capacity_frames` sample frames. Allocates: call
/// it off the audio thread (on activation).
pub fn record_ring(num_channels: usize, capacity_frames: usize) -> (RecordTap, TapReader) {
    let num_channels = num_channels.max(1);
    let (samples_tx, samples_rx) = RingBuffer::new(capacity_frames.max(1) * num_channels);
    // Room for one event per 16 frames: hosts' smallest blocks are 16–32 frames.
    let (events_tx, events_rx) = RingBuffer::new((capacity_frames / 16).max(1024));
    (
        RecordTap {
            samples: samples_tx,
            events: events_tx,
            num_channels,
            in_take: false,
            next_position_samples: 0,
            pending_lost_frames: 0,
            pending_end: false,
        },
        TapReader {
            samples: samples_rx,
            events: events_rx,
            num_channels,
        },
    )
}

impl RecordTap {
    /// Whether a take is open.
    pub fn is_recording(&self) -> bool {
        self.in_take
    }

    /// Called once per `process()` with the block that passed through (`channels`, one slice per
    /// channel, all the same length). `armed`: the `record` parameter; `playing` and
    /// `position_samples`: the host's transport (a host that gives no position is taken to play
    /// on from where the last block ended).
    pub fn process<C: AsRef<[f32]>>(
        &mut self,
        armed: bool,
        playing: bool,
        position_samples: Option<i64>,
        channels: &[C],
    ) {
        self.flush_pending();
        if !(armed && playing) {
            self.end_take();
            return;
        }
        let num_frames = channels.first().map_or(0, |c| c.as_ref().len());
        if num_frames == 0 || channels.len() != self.num_channels {
            return;
        }
        if self.pending_end {
            // The previous take is not closed yet; this block cannot start the next one.
            self.pending_lost_frames += num_frames as u64;
            return;
        }
        let position = match position_samples {
            Some(p)
                if !self.in_take
                    || (p - self.next_position_samples).abs() > POSITION_TOLERANCE_SAMPLES =>
            {
                p
            }
            _ => self.next_position_samples,
        };
        self.in_take = true;
        self.next_position_samples = position.saturating_add(num_frames as i64);
        // A lost-frames report waiting means the event ring is full: this block would not fit.
        if self.pending_lost_frames > 0 || self.events.slots() == 0 {
            self.pending_lost_frames += num_frames as u64;
            return;
        }
        let num_samples = num_frames * self.num_channels;
        let Ok(chunk) = self.samples.write_chunk_uninit(num_samples) else {
            self.pending_lost_frames += num_frames as u64;
            return;
        };
        let interleaved = (0..num_frames).flat_map(|i| channels.iter().map(move |c| c.as_ref()[i]));
        chunk.fill_from_iter(interleaved);
        // The event slot was checked above and only this thread fills the ring.
        let _ = self.events.push(TapEvent::Block {
            position_samples: position,
            num_frames: num_frames as u32,
        });
    }

    /// Closes the open take, if any (the transport stopped, or the plugin deactivates).
    pub fn end_take(&mut self) {
        if self.in_take {
            self.in_take = false;
            self.pending_end = true;
        }
        self.flush_pending();
    }

    /// Sends what is owed to the writer, in order: lost frames, then the end.
    fn flush_pending(&mut self) {
        if self.pending_lost_frames > 0 {
            let num_frames = self.pending_lost_frames;
            if self.events.push(TapEvent::Lost { num_frames }).is_ok() {
                self.pending_lost_frames = 0;
            } else {
                return;
            }
        }
        if self.pending_end && self.events.push(TapEvent::End).is_ok() {
            self.pending_end = false;
        }
    }
}

impl TapReader {
    /// Channels per sample frame.
    pub fn num_channels(&self) -> usize {
        self.num_channels
    }

    /// The next event, with a block's interleaved samples in `samples` (replaced); `None` when
    /// the audio thread has sent nothing new.
    pub fn next(&mut self, samples: &mut Vec<f32>) -> Option<TapEvent> {
        let event = self.events.pop().ok()?;
        if let TapEvent::Block { num_frames, .. } = event {
            let num_samples = num_frames as usize * self.num_channels;
            samples.clear();
            // The samples were written before the event was pushed, so they are all there.
            if let Ok(chunk) = self.samples.read_chunk(num_samples) {
                let (a, b) = chunk.as_slices();
                samples.extend_from_slice(a);
                samples.extend_from_slice(b);
                chunk.commit_all();
            }
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(reader: &mut TapReader) -> Vec<(TapEvent, Vec<f32>)> {
        let mut out = Vec::new();
        let mut samples = Vec::new();
        while let Some(event) = reader.next(&mut samples) {
            let block = match event {
                TapEvent::Block { .. } => samples.clone(),
                _ => Vec::new(),
            };
            out.push((event, block));
        }
        out
    }

    #[test]
    fn blocks_arrive_interleaved_with_their_positions_and_a_stop_ends_the_take() {
        let (mut tap, mut reader) = record_ring(2, 64);
        let left = [1.0f32, 2.0, 3.0];
        let right = [-1.0f32, -2.0, -3.0];
        tap.process(true, true, Some(100), &[&left[..], &right[..]]);
        // No position: continues where the last block ended.
        tap.process(true, true, None, &[&left[..2], &right[..2]]);
        tap.process(true, false, Some(105), &[&left[..], &right[..]]);
        let events = drain(&mut reader);
        assert_eq!(
            events,
            vec![
                (
                    TapEvent::Block {
                        position_samples: 100,
                        num_frames: 3
                    },
                    vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0]
                ),
                (
                    TapEvent::Block {
                        position_samples: 103,
                        num_frames: 2
                    },
                    vec![1.0, -1.0, 2.0, -2.0]
                ),
                (TapEvent::End, vec![]),
            ]
        );
    }

    #[test]
    fn record_off_sends_nothing() {
        let (mut tap, mut reader) = record_ring(1, 64);
        tap.process(false, true, Some(0), &[&[0.5f32; 8][..]]);
        assert!(drain(&mut reader).is_empty());
    }

    #[test]
    fn a_jump_keeps_its_position_and_rounding_does_not() {
        let (mut tap, mut reader) = record_ring(1, 64);
        let block = [0.25f32; 4];
        tap.process(true, true, Some(0), &[&block[..]]);
        tap.process(true, true, Some(5), &[&block[..]]); // 1 sample off: rounding
        tap.process(true, true, Some(1000), &[&block[..]]); // a jump
        let positions: Vec<i64> = drain(&mut reader)
            .into_iter()
            .filter_map(|(e, _)| match e {
                TapEvent::Block {
                    position_samples, ..
                } => Some(position_samples),
                _ => None,
            })
            .collect();
        assert_eq!(positions, vec![0, 4, 1000]);
    }

    #[test]
    fn a_full_ring_counts_lost_frames_and_never_blocks() {
        let (mut tap, mut reader) = record_ring(1, 10);
        let block = [0.5f32; 6];
        tap.process(true, true, Some(0), &[&block[..]]);
        tap.process(true, true, Some(6), &[&block[..]]); // does not fit: lost
        let mut samples = Vec::new();
        assert!(matches!(
            reader.next(&mut samples),
            Some(TapEvent::Block { num_frames: 6, .. })
        ));
        tap.process(true, true, Some(12), &[&block[..]]);
        tap.end_take();
        let events: Vec<TapEvent> = drain(&mut reader).into_iter().map(|(e, _)| e).collect();
        assert_eq!(
            events,
            vec![
                TapEvent::Lost { num_frames: 6 },
                TapEvent::Block {
                    position_samples: 12,
                    num_frames: 6
                },
                TapEvent::End
            ]
        );
    }
}
