//! The queue in front of an event writer thread, for every backend: bounded in events (counted
//! as they are sent and as the writer takes them), not in jobs, so one large batch and many
//! small ones weigh the same; past the bound, `Overloaded` (429) before memory grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::store::StoreError;

/// Events a writer's queue holds before `send_events` answers `Overloaded`: about half a
/// second of what a writer writes, so the pause of a group write never sheds a request.
const QUEUED_EVENTS: usize = 50_000;
/// Jobs the channel holds (batches, barriers); `QUEUED_EVENTS` binds first.
const JOBS: usize = 65_536;

/// The sending side. Dropping it (or `close`) ends the writer's receiving loop.
pub(crate) struct EventQueue<J> {
    tx: Option<SyncSender<J>>,
    queued: Arc<AtomicUsize>,
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

impl<J> EventQueue<J> {
    pub fn new() -> (EventQueue<J>, Taken<J>) {
        let (tx, jobs) = sync_channel(JOBS);
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = Taken {
            jobs,
            queued: queued.clone(),
        };
        (
            EventQueue {
                tx: Some(tx),
                queued,
            },
            taken,
        )
    }

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

    /// Stops taking jobs: the writer ends once it has done those queued.
    pub fn close(&mut self) {
        self.tx.take();
    }
}
