//! The threads analytics evaluations run on: one per core, fed from one queue.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            // A job that panics loses its answer (its caller sees the evaluator gone), not
            // the thread.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
