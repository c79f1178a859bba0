//! An event writer thread and the queue in front of it, for every backend: bounded in events
//! (counted as they are sent and as the writer takes them), not in jobs, so one large batch and
//! many small ones weigh the same; past the bound, `Overloaded` (429) before memory grows.
//! Dropping it closes the queue and waits for the writer to finish what was queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use crate::store::StoreError;

/// Events a writer's queue holds before `send_events` answers `Overloaded`: about half a
/// second of what a writer writes, so the pause of a group write never sheds a request.
const QUEUED_EVENTS: usize = 50_000;
/// Jobs the channel holds (batches, barriers); `QUEUED_EVENTS` binds first.
const JOBS: usize = 65_536;

/// The sending side, and the writer thread it feeds.
pub(crate) struct EventQueue<J> {
    tx: Option<SyncSender<J>>,
    queued: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

/// The writer's side: its jobs, and the count it lowers as it takes events.
pub(crate) struct Taken<J> {
    pub jobs: Receiver<J>,
    queued: Arc<AtomicUsize>,
}

impl<J> Taken<J> {
    /// Says that the writer took `n` events off the queue.
    pub fn took(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

impl<J: Send + 'static> EventQueue<J> {
    /// Starts the writer thread `name`, running `writer` over the jobs until the queue closes.
    pub fn start(
        name: &str,
        writer: impl FnOnce(Taken<J>) + Send + 'static,
    ) -> Result<EventQueue<J>, StoreError> {
        let (tx, jobs) = sync_channel(JOBS);
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = Taken {
            jobs,
            queued: queued.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || writer(taken))
            .map_err(|e| StoreError::Io(format!("cannot start the {name}: {e}")))?;
        Ok(EventQueue {
            tx: Some(tx),
            queued,
            thread: Some(thread),
        })
    }
}

impl<J> EventQueue<J> {
    /// Queues a job carrying `n` events; `Overloaded` when the queue holds too many already.
    pub fn send_events(&self, job: J, n: usize) -> Result<(), StoreError> {
        let Some(tx) = &self.tx else {
            return Err(StoreError::Closed);
        };
        if self.queued.fetch_add(n, Ordering::Relaxed) + n > QUEUED_EVENTS {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(StoreError::Overloaded);
        }
        tx.try_send(job).map_err(|e| {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => StoreError::Overloaded,
                TrySendError::Disconnected(_) => StoreError::Closed,
            }
        })
    }

    /// Queues a job that carries no event (a barrier), waiting for room.
    pub fn send(&self, job: J) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }
}

impl<J> Drop for EventQueue<J> {
    /// Stops taking jobs, and waits for the writer to do those queued.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
