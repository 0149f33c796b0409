//! What crosses threads: the [`FeatureFrame`] the Analyzer emits once per hop, the lock-free
//! single-producer/single-consumer queue that carries every frame off the audio thread, and a
//! triple buffer that always holds the newest frame (for meters that only want the latest).
//!
//! Both channels are created by one constructor that returns both ends
//! ([`feature_queue`], [`latest_features`]). Neither end ever blocks or allocates after
//! construction. A full queue drops the new frame and counts it; the consumer can read the count
//! ([`FeatureConsumer::num_dropped`]) and sees the gap in [`FeatureFrame::frame_idx`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Number of pitch classes in a chroma vector, in librosa's order C, C#, …, B.
pub const NUM_CHROMA: usize = 12;

/// Default queue capacity in frames: about 95 s of features at the default 43 Hz feature rate,
/// or one second of a host bouncing at 100× real time between two reads by the render thread.
pub const DEFAULT_FEATURE_QUEUE_CAPACITY: usize = 4096;

/// The causal, adaptive 0..1 levels the plugin uses live (see `analysis::normalize`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LiveLevels {
    /// Kick-band energy mapped to 0..1 against its recent floor and peak.
    pub kick: f32,
    /// Mean mel power mapped to 0..1 against its recent floor and peak.
    pub power: f32,
    /// Rise of the mel power relative to its recent largest rise, 0..1.
    pub power_rise: f32,
    /// Onset strength relative to its recent peak, 0..1.
    pub onset: f32,
}

/// Everything the Analyzer knows about one hop of audio. Fixed size and `Copy`, so it moves
/// through the lock-free queue without allocation.
///
/// The spectral features (kick, power, rise, onset) describe a window centred
/// `spectral_latency_samples` before `end_position_samples`; the chroma describes a window centred
/// `chroma_latency_samples` before it (its bass filters are 1.6 s long, so it lags more). Offline
/// consumers re-align the two with these fields; the live preview uses each as soon as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FeatureFrame {
    /// Frames emitted since the Analyzer was last reset: 0, 1, 2, … A restart at 0 means the
    /// plugin was re-activated or reset (and perhaps its sample rate changed).
    pub frame_idx: u64,
    /// Transport position in samples of the sample just after this hop (the frame's end), from
    /// the host when it reports one, else counted since the last reset.
    pub end_position_samples: i64,
    /// Whether `end_position_samples` came from the host's transport.
    pub position_from_host: bool,
    /// Whether the host's transport was playing at the frame's end.
    pub playing: bool,
    /// Host tempo at the frame's end in beats per minute; 0 when the host reports none.
    pub tempo_bpm: f32,
    /// Sample rate the frame was computed at.
    pub sample_rate_hz: f32,
    /// Samples per hop (one frame per hop).
    pub hop_samples: u32,
    /// Distance from the centre of the spectral window to `end_position_samples`.
    pub spectral_latency_samples: u32,
    /// Distance from the centre of the chroma's constant-Q windows to `end_position_samples`.
    pub chroma_latency_samples: u32,
    /// Whether the kick was measured on the sidechain (selected and carrying signal).
    pub kick_from_sidechain: bool,
    /// Whether power, onset and chroma were measured on the sidechain.
    pub tonal_from_sidechain: bool,
    /// Kick-band energy: the sum of the power spectrum over the kick band, scaled so that it
    /// equals librosa's `|stft|**2` band sum at 22.05 kHz / n_fft 2048 whatever the sample rate.
    pub kick_energy: f32,
    /// Mean power over 128 mel bands up to 8 kHz (the seed's `melspectrogram(...).mean(0)`).
    pub mel_power: f32,
    /// Positive part of the change of `mel_power` since the previous frame (causal).
    pub power_rise: f32,
    /// Spectral-flux onset strength: mean positive change of the log-mel spectrum in dB.
    pub onset: f32,
    /// Pitch-class energy C, C#, …, B from a constant-Q transform, max-normalised (the largest
    /// is 1; all 0 in silence), like librosa's `chroma_cqt`.
    pub chroma: [f32; NUM_CHROMA],
    /// Kick, power, rise and onset mapped causally to 0..1, for the live visuals.
    pub live: LiveLevels,
}

/// Frames every feature queue of this process dropped: the plugin's own figure for a session
/// with several instances (the soak test reads it from the host's side).
static NUM_DROPPED_IN_PROCESS: AtomicU64 = AtomicU64::new(0);

/// Feature frames dropped so far by every queue in this process because their reader fell
/// behind.
pub fn num_dropped_in_process() -> u64 {
    // Relaxed: a statistic, read without ordering other memory.
    NUM_DROPPED_IN_PROCESS.load(Ordering::Relaxed)
}

/// The audio-thread end of the feature queue.
pub struct FeatureProducer {
    /// The lock-free ring's write end.
    ring: rtrb::Producer<FeatureFrame>,
    /// Frames dropped because the ring was full; shared with the consumer.
    num_dropped: Arc<AtomicU64>,
}

/// The reading end of the feature queue (the render thread's).
pub struct FeatureConsumer {
    /// The lock-free ring's read end.
    ring: rtrb::Consumer<FeatureFrame>,
    /// Frames the producer dropped because the ring was full.
    num_dropped: Arc<AtomicU64>,
}

/// Creates the feature queue with room for `capacity` frames and returns both ends.
///
/// Allocates; call it off the audio thread.
pub fn feature_queue(capacity: usize) -> (FeatureProducer, FeatureConsumer) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity.max(1));
    let num_dropped = Arc::new(AtomicU64::new(0));
    (
        FeatureProducer {
            ring: producer,
            num_dropped: num_dropped.clone(),
        },
        FeatureConsumer {
            ring: consumer,
            num_dropped,
        },
    )
}

impl FeatureProducer {
    /// Queues a frame. Returns false (and counts the frame as dropped) when the queue is full.
    /// Never blocks or allocates.
    pub fn push(&mut self, frame: FeatureFrame) -> bool {
        match self.ring.push(frame) {
            Ok(()) => true,
            Err(_) => {
                // Relaxed: the counts are statistics; no other memory is published through them.
                self.num_dropped.fetch_add(1, Ordering::Relaxed);
                NUM_DROPPED_IN_PROCESS.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Frames dropped so far because the queue was full.
    pub fn num_dropped(&self) -> u64 {
        // Relaxed: a statistic, read without ordering other memory.
        self.num_dropped.load(Ordering::Relaxed)
    }

    /// Free slots left.
    pub fn num_free(&self) -> usize {
        self.ring.slots()
    }
}

impl FeatureConsumer {
    /// Takes the oldest queued frame, if any.
    pub fn pop(&mut self) -> Option<FeatureFrame> {
        self.ring.pop().ok()
    }

    /// Frames waiting in the queue.
    pub fn len(&self) -> usize {
        self.ring.slots()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Frames the producer dropped so far because the queue was full.
    pub fn num_dropped(&self) -> u64 {
        // Relaxed: a statistic, read without ordering other memory.
        self.num_dropped.load(Ordering::Relaxed)
    }

    /// Whether the producer end still exists (the plugin instance is alive).
    pub fn is_connected(&self) -> bool {
        !self.ring.is_abandoned()
    }
}

impl Iterator for FeatureConsumer {
    type Item = FeatureFrame;

    /// Drains the queue frame by frame; `None` when it is empty right now.
    fn next(&mut self) -> Option<FeatureFrame> {
        self.pop()
    }
}

/// The audio-thread end of the newest-frame triple buffer.
pub struct LatestFeaturesInput {
    /// The triple buffer's write end.
    input: triple_buffer::Input<FeatureFrame>,
}

/// The reading end of the newest-frame triple buffer (for meters in the editor).
pub struct LatestFeaturesOutput {
    /// The triple buffer's read end.
    output: triple_buffer::Output<FeatureFrame>,
}

/// Creates the newest-frame triple buffer (initially a default, all-zero frame) and returns both
/// ends. Allocates; call it off the audio thread.
pub fn latest_features() -> (LatestFeaturesInput, LatestFeaturesOutput) {
    let (input, output) = triple_buffer::triple_buffer(&FeatureFrame::default());
    (
        LatestFeaturesInput { input },
        LatestFeaturesOutput { output },
    )
}

impl LatestFeaturesInput {
    /// Publishes `frame` as the newest. Wait-free; overwrites whatever the reader has not seen.
    pub fn publish(&mut self, frame: FeatureFrame) {
        self.input.write(frame);
    }
}

impl LatestFeaturesOutput {
    /// The newest published frame.
    pub fn read(&mut self) -> &FeatureFrame {
        self.output.read()
    }

    /// Whether a frame was published since the last [`read`](Self::read).
    pub fn has_update(&self) -> bool {
        self.output.updated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(idx: u64) -> FeatureFrame {
        FeatureFrame {
            frame_idx: idx,
            ..FeatureFrame::default()
        }
    }

    #[test]
    fn queue_delivers_in_order_and_counts_drops_when_full() {
        let (mut tx, mut rx) = feature_queue(3);
        for idx in 0..5 {
            let accepted = tx.push(frame(idx));
            assert_eq!(accepted, idx < 3, "frame {idx}");
        }
        assert_eq!(tx.num_dropped(), 2);
        assert_eq!(rx.num_dropped(), 2);
        let got: Vec<u64> = rx.by_ref().map(|f| f.frame_idx).collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert!(tx.push(frame(5)));
        assert_eq!(rx.pop().map(|f| f.frame_idx), Some(5));
        assert_eq!(rx.num_dropped(), 2);
    }

    #[test]
    fn queue_works_across_threads() {
        let (mut tx, mut rx) = feature_queue(16);
        let writer = std::thread::spawn(move || {
            let mut idx = 0;
            while idx < 10_000 {
                if tx.push(frame(idx)) {
                    idx += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            tx.num_dropped()
        });
        let mut expected = 0;
        while expected < 10_000 {
            if let Some(f) = rx.pop() {
                assert_eq!(f.frame_idx, expected);
                expected += 1;
            } else {
                std::thread::yield_now();
            }
        }
        // Every failed push above was retried, so each was also counted once.
        let failed_pushes = writer.join().unwrap();
        assert_eq!(rx.num_dropped(), failed_pushes);
        assert!(!rx.is_connected());
    }

    #[test]
    fn triple_buffer_keeps_the_newest_frame() {
        let (mut input, mut output) = latest_features();
        assert_eq!(output.read().frame_idx, 0);
        input.publish(frame(7));
        input.publish(frame(8));
        assert!(output.has_update());
        assert_eq!(output.read().frame_idx, 8);
        assert!(!output.has_update());
    }
}
