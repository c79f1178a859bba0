//! The threads analytics evaluations run on: one per core, fed from one queue.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::store::StoreError;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Evaluator {
    tx: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Evaluator {
    pub fn start(threads: usize) -> Result<Evaluator, StoreError> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..threads.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("analytics-{i}"))
                    .spawn(move || work(&rx))
                    .map_err(|e| StoreError::Io(format!("cannot start an analytics thread: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Evaluator {
            tx: Some(tx),
            threads,
        })
    }

    /// Queues `f`; the receiver answers its result, or fails if the evaluator is gone.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (reply, rx) = oneshot::channel();
        if let Some(tx) = &self.tx {
            let _ = tx.send(Box::new(move || {
                let _ = reply.send(f());
            }));
        }
        rx
    }
}

/// How long an evaluation thread waits idle before it gives freed memory back.
const IDLE: Duration = Duration::from_secs(2);

fn work(rx: &Mutex<Receiver<Job>>) {
    let mut trimmed = true;
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv_timeout(IDLE),
            Err(_) => return,
        };
        match job {
            // A job that panics loses its answer (its caller sees the evaluator gone), not
            // the thread.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                trimmed = false;
            }
            // Idle after evaluations: what they allocated goes back to the system, so an idle
            // server holds its caches, not the high-water mark of its busiest minute. Not
            // between the queries of a burst (a dashboard view), which would pay for it.
            Err(RecvTimeoutError::Timeout) if !trimmed => {
                release_free_memory();
                trimmed = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Returns the allocator's free pages to the system (glibc keeps them per thread arena).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: `malloc_trim` only releases memory the allocator holds free; it takes no
    // pointer and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn release_free_memory() {}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
