//! Connections for the async stores: a few clients shared round-robin by every request, and one
//! more behind a lock for the few operations that need a transaction of their own. Their
//! connections are driven by one thread of their own, so any runtime (actix's workers, a
//! command's) can wait on a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::{Client, NoTls};

use super::pg_err;
use crate::store::StoreError;

pub struct Pool {
    shared: Vec<Arc<Client>>,
    next: AtomicUsize,
    /// For transactions: a statement of another request must not land inside one.
    pub transactions: Arc<tokio::sync::Mutex<Client>>,
    /// Dropping it ends the driver thread, and so the connections.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Pool {
    /// `size` shared connections (at least one) and the transaction connection.
    pub fn connect(url: &str, size: usize) -> Result<Pool, StoreError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("postgres-io".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx
                            .send(Err(StoreError::Io(format!("cannot start a runtime: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut clients = Vec::new();
                    for _ in 0..size.max(1) + 1 {
                        match tokio_postgres::connect(&url, NoTls).await {
                            Ok((client, connection)) => {
                                tokio::spawn(async move {
                                    if let Err(e) = connection.await {
                                        log::error!("a PostgreSQL connection ended: {e}");
                                    }
                                });
                                clients.push(client);
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(pg_err(e)));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok(clients));
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Io(format!("cannot start the PostgreSQL thread: {e}")))?;
        let mut clients = ready_rx
            .recv()
            .map_err(|_| StoreError::Io("the PostgreSQL thread stopped".into()))??;
        let transactions = clients
            .pop()
            .ok_or_else(|| StoreError::Io("no PostgreSQL connection".into()))?;
        Ok(Pool {
            shared: clients.into_iter().map(Arc::new).collect(),
            next: AtomicUsize::new(0),
            transactions: Arc::new(tokio::sync::Mutex::new(transactions)),
            _stop: stop,
        })
    }

    /// A shared client, for single statements.
    pub fn client(&self) -> Arc<Client> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shared.len();
        self.shared[i].clone()
    }
}
