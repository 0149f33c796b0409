//! The recorder's disk thread: writes, syncs and closes takes, in the order they were asked
//! for, so that the thread draining the audio ring never waits for the disk. A sync can take seconds
//! while another program writes a lot, and the ring holds [`RING_SECONDS`] of audio: 160 ms of a
//! bounce at 100× real time.
//!
//! [`RING_SECONDS`]: super::tap::RING_SECONDS

use std::sync::mpsc::{channel, SendError, Sender};
use std::thread::JoinHandle;

/// Work for the disk thread.
type Job = Box<dyn FnOnce() + Send>;

/// The running disk thread; dropping it runs the jobs still queued and joins the thread.
pub struct DiskThread {
    /// Where jobs go; `None` once stopping.
    jobs: Option<Sender<Job>>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl DiskThread {
    /// Starts the thread.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("deep-visualizer-take-disk".to_owned())
            .spawn(move || {
                for job in queue {
                    // A panic in one job (a bug) must not take the queued closes with it.
                    if let Err(panic) = crate::panic_guard::catch(std::panic::AssertUnwindSafe(job))
                    {
                        log::error!("deep visualizer take recording: {panic}");
                    }
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `job` on the disk thread after the jobs queued before it; on the calling thread if
    /// the disk thread is gone.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        let job: Job = Box::new(job);
        match &self.jobs {
            Some(jobs) => {
                if let Err(SendError(job)) = jobs.send(job) {
                    job();
                }
            }
            None => job(),
        }
    }

    /// Runs the queued jobs and joins the thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // Closing the channel ends the thread's loop once the queue is empty.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DiskThread {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn jobs_run_in_order_and_all_before_stop_returns_even_after_a_panic() {
        let disk = DiskThread::start().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..50 {
            let order = order.clone();
            disk.run(move || {
                if i == 10 {
                    panic!("a bug in one job");
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
                order.lock().unwrap().push(i);
            });
        }
        disk.stop();
        let expected: Vec<i32> = (0..50).filter(|&i| i != 10).collect();
        assert_eq!(*order.lock().unwrap(), expected);
    }
}
