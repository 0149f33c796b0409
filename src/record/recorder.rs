//! The writer thread: drains the audio thread's ring into takes on disk as it goes, closes a
//! take when the transport stops, and hands it to the take renderer.
//!
//! It never makes the audio thread wait: when it falls behind, the ring fills and the audio
//! thread counts the samples as lost, which end up in the take's manifest and the panel. It does
//! not wait for the disk either: it hands each block to the disk thread ([`super::disk`]),
//! which writes, syncs and closes the take in order, so a disk that stalls (another program's
//! writeback throttles every writer) fills memory, up to [`MAX_QUEUED_BYTES`], not the ring. When the output folder cannot be
//! written, the take is refused with an error in the panel and the ring is drained and
//! discarded, so audio keeps flowing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::disk::DiskThread;
use super::names::take_name;
use super::status::{RenderRequest, TakeState, TakesHub};
use super::tap::{TapEvent, TapReader};
use crate::params::DeepVisualizerParams;
use crate::take::{TakeError, TakeManifest, TakeWriter};

/// How often an open take is pushed to the disk (audio and manifest), so a crash loses at most
/// this much of it (plus the time the disk takes).
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
    /// Starts the writer thread on `reader`, and its disk thread.
    pub fn start(reader: TapReader, context: RecorderContext) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let disk = DiskThread::start()?;
        let thread = std::thread::Builder::new()
            .name("deep-visualizer-takes".to_owned())
            .spawn(move || run(reader, context, disk, &thread_stop))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Drains what the audio thread sent, closes the open take, waits until it reached the disk
    /// and joins the thread.
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

/// Most audio the disk thread may hold queued and not yet written, in bytes (23 minutes of
/// stereo at 48 kHz): beyond it, a disk far slower than the audio for that long loses blocks,
/// counted like the ring's.
const MAX_QUEUED_BYTES: usize = 512 << 20;

/// A take's writing as the writer thread sees it; the disk thread updates it.
#[derive(Default)]
struct DiskState {
    /// A sync is queued or running: the next waits for it rather than piling up behind a slow
    /// disk.
    sync_in_flight: AtomicBool,
    /// A write or sync failed (the panel says why): the take is written no further.
    failed: AtomicBool,
    /// Bytes of audio queued for the disk thread and not yet written.
    queued_bytes: AtomicUsize,
}

/// The take being written.
enum Open {
    /// Writing into this take.
    Writing {
        /// The writer; only the disk thread's jobs use it, in order.
        writer: Arc<Mutex<TakeWriter>>,
        /// Its panel entry.
        id: u64,
        /// When its last sync was queued.
        synced_at: Instant,
        /// Its writing on the disk thread.
        disk: Arc<DiskState>,
        /// Sample frames received (queued or written).
        num_frames: u64,
        /// Sample frames lost (the ring or the queue was full).
        num_lost_frames: u64,
    },
    /// The take could not start or went bad: its audio is discarded until the transport stops.
    Refused {
        /// Its panel entry, when it got one.
        id: Option<u64>,
    },
}

/// The writer of a take, for a job on the disk thread (a job that panicked leaves it usable).
fn lock(writer: &Mutex<TakeWriter>) -> std::sync::MutexGuard<'_, TakeWriter> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer thread.
fn run(mut reader: TapReader, context: RecorderContext, disk: DiskThread, stop: &AtomicBool) {
    let mut samples = Vec::new();
    let mut open: Option<Open> = None;
    loop {
        // Acquire: pairs with the Release store in `stop_and_join`; events pushed before it are
        // visible to the drain below.
        let stopping = stop.load(Ordering::Acquire);
        let mut busy = false;
        while let Some(event) = reader.next(&mut samples) {
            busy = true;
            handle(
                &context,
                &disk,
                &mut open,
                event,
                &samples,
                reader.num_channels(),
            );
        }
        if stopping {
            close(&context, &disk, open.take());
            disk.stop();
            return;
        }
        tend_sync(&context, &disk, &mut open);
        if !busy {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
}

/// Queues a sync of the open take every [`SYNC_INTERVAL`] (when the previous one is done), and
/// stops writing a take whose write or sync failed.
fn tend_sync(context: &RecorderContext, disk_thread: &DiskThread, open: &mut Option<Open>) {
    let Some(Open::Writing {
        writer,
        id,
        synced_at,
        disk,
        ..
    }) = open
    else {
        return;
    };
    // Acquire: pairs with the disk thread's Release stores, after its panel updates.
    if disk.failed.load(Ordering::Acquire) {
        *open = Some(Open::Refused { id: Some(*id) });
        return;
    }
    if synced_at.elapsed() < SYNC_INTERVAL || disk.sync_in_flight.load(Ordering::Acquire) {
        return;
    }
    *synced_at = Instant::now();
    queue_sync(context, disk_thread, writer, *id, disk);
}

/// Queues pushing what the take's writer wrote to the disk.
fn queue_sync(
    context: &RecorderContext,
    disk_thread: &DiskThread,
    writer: &Arc<Mutex<TakeWriter>>,
    id: u64,
    disk: &Arc<DiskState>,
) {
    let (writer, disk, takes) = (writer.clone(), disk.clone(), context.takes.clone());
    // Relaxed: only this thread sets it; the disk thread's Release store below clears it.
    disk.sync_in_flight.store(true, Ordering::Relaxed);
    disk_thread.run(move || {
        if !disk.failed.load(Ordering::Acquire) {
            if let Err(err) = lock(&writer).sync() {
                disk.fail(&takes, id, "the take could not be saved", &err);
            }
        }
        disk.sync_in_flight.store(false, Ordering::Release);
    });
}

impl DiskState {
    /// Shows in the panel that take `id` failed and why, then stops its writing.
    fn fail(&self, takes: &TakesHub, id: u64, what: &str, err: &TakeError) {
        takes.set_error(format!(
            "{what}: {err}. Free space or choose another output folder; what reached the disk \
             is kept"
        ));
        takes.update(id, |e| e.state = TakeState::Failed(err.to_string()));
        // Release: the writer thread sees the panel's update before the flag.
        self.failed.store(true, Ordering::Release);
    }
}

/// Counts `lost` sample frames in the open take: in its manifest (on the disk thread, after
/// the blocks before them) and in the panel.
fn count_lost(
    context: &RecorderContext,
    disk_thread: &DiskThread,
    writer: &Arc<Mutex<TakeWriter>>,
    id: u64,
    num_lost_frames: &mut u64,
    lost: u64,
) {
    *num_lost_frames += lost;
    let writer = writer.clone();
    disk_thread.run(move || lock(&writer).add_lost_frames(lost));
    let total = *num_lost_frames;
    context.takes.update(id, |e| e.num_lost_frames = total);
}

/// Acts on one event from the audio thread.
fn handle(
    context: &RecorderContext,
    disk_thread: &DiskThread,
    open: &mut Option<Open>,
    event: TapEvent,
    samples: &[f32],
    num_channels: usize,
) {
    match event {
        TapEvent::Block {
            position_samples,
            num_frames: block_frames,
        } => {
            let current = open.get_or_insert_with(|| start(context, disk_thread, num_channels));
            let Open::Writing {
                writer,
                id,
                disk,
                num_frames,
                num_lost_frames,
                ..
            } = current
            else {
                return;
            };
            let (id, block_frames) = (*id, u64::from(block_frames));
            let bytes = std::mem::size_of_val(samples);
            // Acquire: pairs with the disk thread's Release subtraction after each write.
            if disk.queued_bytes.load(Ordering::Acquire) + bytes > MAX_QUEUED_BYTES {
                count_lost(
                    context,
                    disk_thread,
                    writer,
                    id,
                    num_lost_frames,
                    block_frames,
                );
                return;
            }
            disk.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
            *num_frames += block_frames;
            let length_s = *num_frames as f64 / f64::from(context.sample_rate_hz);
            context.takes.update(id, |e| e.length_s = length_s);
            let (writer, disk, takes) = (writer.clone(), disk.clone(), context.takes.clone());
            let block = samples.to_vec();
            disk_thread.run(move || {
                if !disk.failed.load(Ordering::Acquire) {
                    if let Err(err) = lock(&writer).write_block(position_samples, &block) {
                        disk.fail(&takes, id, "the take stopped being written", &err);
                    }
                }
                disk.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            });
        }
        TapEvent::Lost { num_frames: lost } => match open {
            Some(Open::Writing {
                writer,
                id,
                num_lost_frames,
                ..
            }) => count_lost(context, disk_thread, writer, *id, num_lost_frames, lost),
            Some(Open::Refused { id: Some(id) }) => {
                context.takes.update(*id, |e| e.num_lost_frames += lost);
            }
            _ => {}
        },
        TapEvent::End => close(context, disk_thread, open.take()),
    }
}

/// Starts a take in the output folder with the settings in force, and queues its first sync
/// (which makes its manifest durable).
fn start(context: &RecorderContext, disk_thread: &DiskThread, num_channels: usize) -> Open {
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
            let (writer, disk) = (Arc::new(Mutex::new(writer)), Arc::new(DiskState::default()));
            queue_sync(context, disk_thread, &writer, id, &disk);
            Open::Writing {
                writer,
                id,
                synced_at: Instant::now(),
                disk,
                num_frames: 0,
                num_lost_frames: 0,
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

/// Queues closing a take: after its queued writes and syncs, the last sync, the rename into
/// place and its render request.
fn close(context: &RecorderContext, disk_thread: &DiskThread, open: Option<Open>) {
    let Some(Open::Writing {
        writer, id, disk, ..
    }) = open
    else {
        return;
    };
    let takes = context.takes.clone();
    disk_thread.run(move || {
        // Acquire: pairs with a failed job's Release store; that take's failure is shown.
        if disk.failed.load(Ordering::Acquire) {
            return;
        }
        // The jobs before this one have run and dropped their handles on the writer.
        let Some(writer) = Arc::into_inner(writer) else {
            return;
        };
        let writer = writer.into_inner().unwrap_or_else(PoisonError::into_inner);
        match writer.finish() {
            Ok(dir) => {
                let name = crate::take::take_name(&dir);
                takes.update(id, |e| {
                    e.dir = dir.clone();
                    e.name = name;
                });
                takes.request_render(RenderRequest {
                    id,
                    dir,
                    resolution_px: None,
                });
            }
            Err(err) => {
                takes.set_error(format!(
                    "the take could not be closed: {err}. What reached the disk is kept and \
                     renders the next time the plugin loads"
                ));
                takes.update(id, |e| e.state = TakeState::Failed(err.to_string()));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tap::{record_ring, RecordTap};
    use crate::take::Take;

    /// A recorder of `num_channels` at `rate_hz` writing into `output_dir`, with a ring of
    /// `capacity_frames`.
    fn recorder_into(
        output_dir: PathBuf,
        num_channels: usize,
        capacity_frames: usize,
        rate_hz: u32,
    ) -> (RecordTap, TakeRecorder, Arc<TakesHub>) {
        let params = Arc::new(DeepVisualizerParams::default());
        params.session.write().unwrap().output_dir = Some(output_dir);
        let takes = TakesHub::new();
        let (tap, reader) = record_ring(num_channels, capacity_frames);
        let context = RecorderContext {
            sample_rate_hz: rate_hz,
            params,
            takes: takes.clone(),
        };
        (tap, TakeRecorder::start(reader, context).unwrap(), takes)
    }

    /// The bounce case: 48 kHz stereo arriving at 100× real time, in 512-frame blocks,
    /// reaches the take whole (the writer keeps up with the ring of [`RING_SECONDS`]).
    #[test]
    fn a_bounce_at_100x_real_time_loses_no_sample() {
        let out = tempfile::tempdir().unwrap();
        let rate_hz = 48_000u32;
        let capacity_frames = (rate_hz * super::super::tap::RING_SECONDS) as usize;
        let (mut tap, recorder, takes) =
            recorder_into(out.path().to_owned(), 2, capacity_frames, rate_hz);
        let block = 512usize;
        let seconds = 60usize;
        let num_blocks = seconds * rate_hz as usize / block;
        let block_wall = Duration::from_secs_f64(block as f64 / f64::from(rate_hz) / 100.0);
        // Made before the clock starts: a host's own work between blocks is not the plugin's.
        let num_frames = num_blocks * block;
        let left: Vec<f32> = (0..num_frames).map(|n| (n as f32 * 0.001).sin()).collect();
        let right: Vec<f32> = (0..num_frames).map(|n| (n as f32 * 0.0013).cos()).collect();
        let started = Instant::now();
        for b in 0..num_blocks {
            let span = b * block..(b + 1) * block;
            tap.process(
                true,
                true,
                Some((b * block) as i64),
                &[&left[span.clone()], &right[span]],
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

    /// A take whose folder vanishes while it records (a drive unplugged, a cleanup script): its
    /// next sync fails on the disk thread, the panel says so, and the audio keeps draining.
    #[test]
    fn a_sync_that_fails_mid_take_is_shown_and_the_take_is_written_no_further() {
        let out = tempfile::tempdir().unwrap();
        let (mut tap, recorder, takes) = recorder_into(out.path().to_owned(), 1, 48_000, 48_000);
        let block = [0.5f32; 480];
        let mut position = 0i64;
        let mut play = |tap: &mut RecordTap| {
            tap.process(true, true, Some(position), &[&block[..]]);
            position += block.len() as i64;
            std::thread::sleep(Duration::from_millis(10));
        };
        let started = Instant::now();
        while takes.takes().is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no take started"
            );
            play(&mut tap);
        }
        std::fs::remove_dir_all(&takes.takes()[0].dir).unwrap();
        // Until the next sync fails, then a few blocks for the writer thread to notice.
        let removed = Instant::now();
        while !matches!(takes.takes()[0].state, TakeState::Failed(_)) {
            assert!(
                removed.elapsed() < Duration::from_secs(30),
                "no sync failed"
            );
            play(&mut tap);
        }
        for _ in 0..5 {
            play(&mut tap);
        }
        let length_s = takes.takes()[0].length_s;
        for _ in 0..10 {
            play(&mut tap);
        }
        tap.end_take();
        recorder.stop();
        let error = takes.error().expect("the panel shows an error");
        assert!(error.contains("could not be saved"), "{error}");
        assert!(error.contains("choose another output folder"), "{error}");
        let entries = takes.takes();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].length_s, length_s,
            "nothing written after the failure"
        );
        let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "no take appears: {left:?}");
    }

    #[test]
    fn an_output_folder_that_cannot_be_written_is_shown_and_the_ring_still_drains() {
        let out = tempfile::tempdir().unwrap();
        // A file where the folder should be: nobody, root included, can create takes there.
        let blocked = out.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let (mut tap, recorder, takes) = recorder_into(blocked.join("takes"), 1, 4_096, 48_000);
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
