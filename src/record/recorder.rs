//! The writer thread: drains the audio thread's ring into takes on disk as it goes, closes a
//! take when the transport stops, and hands it to the take renderer.
//!
//! It never makes the audio thread wait: when it falls behind, the ring fills and the audio
//! thread counts the samples as lost, which end up in the take's manifest and the panel. When the
//! output folder cannot be written, the take is refused with an error in the panel and the ring
//! is drained and discarded, so audio keeps flowing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::names::take_name;
use super::status::{RenderRequest, TakeState, TakesHub};
use super::tap::{TapEvent, TapReader};
use crate::params::DeepVisualizerParams;
use crate::take::{TakeManifest, TakeWriter};

/// How often an open take is pushed to the disk (audio and manifest), so a crash loses at most
/// this much of it.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// How long the thread sleeps when the ring is empty.
const IDLE_SLEEP: Duration = Duration::from_millis(2);

/// What the writer thread needs besides the ring.
pub struct RecorderContext {
    /// The host's sample rate.
    pub sample_rate_hz: u32,
    /// The settings and the output folder in force when a take starts.
    pub params: Arc<DeepVisualizerParams>,
    /// The panel and the render queue.
    pub takes: Arc<TakesHub>,
}

/// The running writer thread; dropping it closes the open take and joins the thread.
pub struct TakeRecorder {
    /// Set to stop the thread (after it drained the ring).
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl TakeRecorder {
    /// Starts the writer thread on `reader`.
    pub fn start(reader: TapReader, context: RecorderContext) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("deep-visualizer-takes".to_owned())
            .spawn(move || run(reader, context, &thread_stop))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Drains what the audio thread sent, closes the open take and joins the thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // Release: the thread's Acquire load sees the tap's last events.
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TakeRecorder {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The take being written.
enum Open {
    /// Writing into this take.
    Writing {
        /// The writer (boxed: it carries the manifest and its settings).
        writer: Box<TakeWriter>,
        /// Its panel entry.
        id: u64,
        /// When it was last synced.
        synced_at: Instant,
    },
    /// The take could not start or went bad: its audio is discarded until the transport stops.
    Refused {
        /// Its panel entry, when it got one.
        id: Option<u64>,
    },
}

/// The writer thread.
fn run(mut reader: TapReader, context: RecorderContext, stop: &AtomicBool) {
    let mut samples = Vec::new();
    let mut open: Option<Open> = None;
    loop {
        // Acquire: pairs with the Release store in `stop_and_join`; events pushed before it are
        // visible to the drain below.
        let stopping = stop.load(Ordering::Acquire);
        let mut busy = false;
        while let Some(event) = reader.next(&mut samples) {
            busy = true;
            handle(&context, &mut open, event, &samples, reader.num_channels());
        }
        if stopping {
            close(&context, open.take());
            return;
        }
        if let Some(Open::Writing {
            writer,
            id,
            synced_at,
        }) = &mut open
        {
            if synced_at.elapsed() >= SYNC_INTERVAL {
                *synced_at = Instant::now();
                if let Err(err) = writer.sync() {
                    context.takes.set_error(format!(
                        "the take could not be saved: {err}. Free space or choose another \
                         output folder; what reached the disk is kept"
                    ));
                    let id = *id;
                    context
                        .takes
                        .update(id, |e| e.state = TakeState::Failed(err.to_string()));
                    open = Some(Open::Refused { id: Some(id) });
                }
            }
        }
        if !busy {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
}

/// Acts on one event from the audio thread.
fn handle(
    context: &RecorderContext,
    open: &mut Option<Open>,
    event: TapEvent,
    samples: &[f32],
    num_channels: usize,
) {
    match event {
        TapEvent::Block {
            position_samples, ..
        } => {
            let current = open.get_or_insert_with(|| start(context, num_channels));
            let Open::Writing { writer, id, .. } = current else {
                return;
            };
            let id = *id;
            match writer.write_block(position_samples, samples) {
                Ok(()) => {
                    let length_s =
                        writer.manifest().num_frames as f64 / f64::from(context.sample_rate_hz);
                    context.takes.update(id, |e| e.length_s = length_s);
                }
                Err(err) => {
                    context.takes.set_error(format!(
                        "the take stopped being written: {err}. Free space or choose another \
                         output folder; what reached the disk is kept"
                    ));
                    context
                        .takes
                        .update(id, |e| e.state = TakeState::Failed(err.to_string()));
                    *open = Some(Open::Refused { id: Some(id) });
                }
            }
        }
        TapEvent::Lost { num_frames } => match open {
            Some(Open::Writing { writer, id, .. }) => {
                writer.add_lost_frames(num_frames);
                let lost = writer.manifest().num_lost_frames;
                context.takes.update(*id, |e| e.num_lost_frames = lost);
            }
            Some(Open::Refused { id: Some(id) }) => {
                context
                    .takes
                    .update(*id, |e| e.num_lost_frames += num_frames);
            }
            _ => {}
        },
        TapEvent::End => close(context, open.take()),
    }
}

/// Starts a take in the output folder with the settings in force.
fn start(context: &RecorderContext, num_channels: usize) -> Open {
    let session = context
        .params
        .session
        .read()
        .map(|s| s.clone())
        .unwrap_or_default();
    let folder: PathBuf = super::output_dir(session.output_dir.as_deref());
    let name = take_name(SystemTime::now());
    let manifest = TakeManifest::new(
        context.sample_rate_hz,
        num_channels as u16,
        context.params.visual_settings(),
    );
    match TakeWriter::create(&folder, &name, manifest) {
        Ok(writer) => {
            context.takes.clear_error();
            let dir = writer.partial_dir().to_owned();
            let name = crate::take::take_name(&dir);
            let id = context.takes.add(dir, name, 0.0, TakeState::Recording);
            Open::Writing {
                writer: Box::new(writer),
                id,
                synced_at: Instant::now(),
            }
        }
        Err(err) => {
            context.takes.set_error(format!(
                "recording is on but the take cannot be written: {err}. Choose an output folder \
                 you can write to (Output folder, or ${})",
                super::OUTPUT_DIR_ENV
            ));
            Open::Refused { id: None }
        }
    }
}

/// Closes a take: renames it into place and queues its render.
fn close(context: &RecorderContext, open: Option<Open>) {
    let Some(Open::Writing { writer, id, .. }) = open else {
        return;
    };
    match writer.finish() {
        Ok(dir) => {
            let name = crate::take::take_name(&dir);
            context.takes.update(id, |e| {
                e.dir = dir.clone();
                e.name = name;
            });
            context.takes.request_render(RenderRequest {
                id,
                dir,
                resolution_px: None,
            });
        }
        Err(err) => {
            context.takes.set_error(format!(
                "the take could not be closed: {err}. What reached the disk is kept and renders \
                 the next time the plugin loads"
            ));
            context
                .takes
                .update(id, |e| e.state = TakeState::Failed(err.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tap::record_ring;
    use crate::take::Take;

    /// The bounce case: 48 kHz stereo arriving at 100× real time, in 512-frame blocks,
    /// reaches the take whole (the writer keeps up with the ring of [`RING_SECONDS`]).
    #[test]
    fn a_bounce_at_100x_real_time_loses_no_sample() {
        let out = tempfile::tempdir().unwrap();
        let params = Arc::new(DeepVisualizerParams::default());
        params.session.write().unwrap().output_dir = Some(out.path().to_owned());
        let takes = TakesHub::new();
        let rate_hz = 48_000u32;
        let (mut tap, reader) =
            record_ring(2, (rate_hz * super::super::tap::RING_SECONDS) as usize);
        let recorder = TakeRecorder::start(
            reader,
            RecorderContext {
                sample_rate_hz: rate_hz,
                params,
                takes: takes.clone(),
            },
        )
        .unwrap();
        let block = 512usize;
        let seconds = 60usize;
        let num_blocks = seconds * rate_hz as usize / block;
        let block_wall = Duration::from_secs_f64(block as f64 / f64::from(rate_hz) / 100.0);
        let started = Instant::now();
        let mut left = vec![0.0f32; block];
        let mut right = vec![0.0f32; block];
        for b in 0..num_blocks {
            for i in 0..block {
                let n = (b * block + i) as f32;
                left[i] = (n * 0.001).sin();
                right[i] = (n * 0.0013).cos();
            }
            tap.process(
                true,
                true,
                Some((b * block) as i64),
                &[&left[..], &right[..]],
            );
            // Paced as a host bouncing at 100×: block k is handed over at k × block / (100 × rate).
            let due = block_wall * (b as u32 + 1);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        tap.end_take();
        recorder.stop();
        let entries = takes.takes();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].num_lost_frames, 0,
            "nothing lost at 100× real time"
        );
        let take = Take::open(&entries[0].dir).unwrap();
        assert_eq!(take.manifest.num_lost_frames, 0);
        assert_eq!(take.num_frames(), (num_blocks * block) as u64);
        let flat = take.flatten().unwrap();
        let n = 12_345usize;
        assert_eq!(flat.channels[1][n], (n as f32 * 0.0013).cos());
    }

    #[test]
    fn an_output_folder_that_cannot_be_written_is_shown_and_the_ring_still_drains() {
        let out = tempfile::tempdir().unwrap();
        // A file where the folder should be: nobody, root included, can create takes there.
        let blocked = out.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let params = Arc::new(DeepVisualizerParams::default());
        params.session.write().unwrap().output_dir = Some(blocked.join("takes"));
        let takes = TakesHub::new();
        let (mut tap, reader) = record_ring(1, 4_096);
        let recorder = TakeRecorder::start(
            reader,
            RecorderContext {
                sample_rate_hz: 48_000,
                params,
                takes: takes.clone(),
            },
        )
        .unwrap();
        let block = [0.25f32; 1_024];
        // Twice the ring: the writer must drain (and drop) the audio it cannot keep.
        for b in 0..8 {
            tap.process(true, true, Some(b * 1_024), &[&block[..]]);
            std::thread::sleep(Duration::from_millis(20));
        }
        tap.end_take();
        recorder.stop();
        let error = takes.error().expect("the panel shows an error");
        assert!(
            error.contains("cannot be written") && error.contains("takes"),
            "{error}"
        );
        assert!(error.contains("Output folder"), "says what to do: {error}");
        assert!(takes.takes().is_empty(), "no take is listed");
        assert!(!tap.is_recording());
    }
}
