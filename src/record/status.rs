//! What the recorder, the take renderer and the editor's takes panel share: the list of takes
//! with their state, the last error, and the render queue.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Where a take is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeState {
    /// Audio is being written.
    Recording,
    /// Closed and waiting for the take renderer.
    Waiting,
    /// Being rendered.
    Rendering {
        /// What the renderer is doing, in words (analysing, loading the model, frames).
        stage: String,
        /// 0 to 1 over the frames.
        fraction: f32,
    },
    /// The video is written.
    Rendered {
        /// The MP4.
        video: PathBuf,
    },
    /// The user cancelled the render; the take is kept.
    Cancelled,
    /// The take could not be written or rendered; the message says why and what to do. The take
    /// (or what reached the disk) is kept.
    Failed(String),
}

/// One take in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeEntry {
    /// Stable within this plugin instance, while the folder is renamed.
    pub id: u64,
    /// The take's folder (`NAME.take.partial` while recording).
    pub dir: PathBuf,
    /// Its name (`NAME`).
    pub name: String,
    /// Seconds of audio kept.
    pub length_s: f64,
    /// Sample frames lost because the disk fell behind.
    pub num_lost_frames: u64,
    /// Where it is.
    pub state: TakeState,
}

/// A take to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRequest {
    /// The panel entry.
    pub id: u64,
    /// The take folder.
    pub dir: PathBuf,
    /// Render at this size instead of the take's; the video gets the size in its name.
    pub resolution_px: Option<u32>,
}

/// The shared state; one per plugin instance.
#[derive(Debug, Default)]
pub struct TakesHub {
    /// The takes, oldest first.
    takes: Mutex<Vec<TakeEntry>>,
    /// The newest error worth showing (a folder that cannot be written, …); cleared by the next
    /// take that starts fine.
    error: Mutex<Option<String>>,
    /// Takes waiting for the renderer.
    queue: Mutex<VecDeque<RenderRequest>>,
    /// Wakes the renderer.
    queued: Condvar,
    /// The user asked to cancel the running render.
    cancel: Arc<AtomicBool>,
    /// The next entry id.
    next_id: Mutex<u64>,
}

impl TakesHub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The takes, oldest first.
    pub fn takes(&self) -> Vec<TakeEntry> {
        lock(&self.takes).clone()
    }

    /// The newest error, if any.
    pub fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    /// Shows `message` (and logs it).
    pub fn set_error(&self, message: String) {
        nice_plug::nice_log!("{message}");
        *lock(&self.error) = Some(message);
    }

    /// Clears the error.
    pub fn clear_error(&self) {
        *lock(&self.error) = None;
    }

    /// Adds a take to the panel; returns its id.
    pub fn add(&self, dir: PathBuf, name: String, length_s: f64, state: TakeState) -> u64 {
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            *next
        };
        lock(&self.takes).push(TakeEntry {
            id,
            dir,
            name,
            length_s,
            num_lost_frames: 0,
            state,
        });
        id
    }

    /// Changes entry `id`.
    pub fn update(&self, id: u64, f: impl FnOnce(&mut TakeEntry)) {
        if let Some(entry) = lock(&self.takes).iter_mut().find(|e| e.id == id) {
            f(entry);
        }
    }

    /// Whether a take in `dir` is in the panel already.
    pub fn knows(&self, dir: &std::path::Path) -> bool {
        lock(&self.takes).iter().any(|e| e.dir == dir)
    }

    /// Queues a render of entry `id`.
    pub fn request_render(&self, request: RenderRequest) {
        self.update(request.id, |e| e.state = TakeState::Waiting);
        let mut queue = lock(&self.queue);
        if !queue.iter().any(|r| r == &request) {
            queue.push_back(request);
        }
        self.queued.notify_all();
    }

    /// Waits up to `timeout` for the next render request.
    pub fn next_request(&self, timeout: Duration) -> Option<RenderRequest> {
        let mut queue = lock(&self.queue);
        if queue.is_empty() {
            queue = self
                .queued
                .wait_timeout(queue, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        queue.pop_front()
    }

    /// Wakes a renderer waiting in [`next_request`](Self::next_request) (to stop it).
    pub fn wake(&self) {
        self.queued.notify_all();
    }

    /// Asks the running render to stop.
    pub fn cancel_render(&self) {
        // Release/Acquire: a flag only; the renderer reads nothing else through it.
        self.cancel.store(true, Ordering::Release);
    }

    /// The cancel flag the running render reads.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
