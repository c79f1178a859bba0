//! Connections for the async stores: a few clients shared round-robin by every request, and one
//! more behind a lock for the few operations that need a transaction of their own. Their
//! connections are driven by one thread of their own, so any runtime (actix's workers, a
//! command's) can wait on a client.
//!
//! A connection that broke (the database restarted, or failed over to a standby behind the same
//! address) is opened anew: a shared one in the background as soon as a request finds it
//! closed (that request fails, 503; the next ones get the new connection), the transaction one
//! by the next operation that needs it. Every connection is opened on the connection thread's
//! runtime (`open_client`), whose reactor then drives its socket.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_postgres::Client;

use super::open_client;
use crate::store::StoreError;

/// A shared connection, and whether it is being opened anew.
struct Slot {
    client: Mutex<Arc<Client>>,
    reopening: AtomicBool,
}

pub struct Pool {
    url: String,
    shared: Arc<Vec<Slot>>,
    next: AtomicUsize,
    /// For transactions: a statement of another request must not land inside one.
    transactions: tokio::sync::Mutex<Client>,
    /// The connection thread's runtime: every connection is driven there.
    io: tokio::runtime::Handle,
    /// Dropping it ends the driver thread, and so the connections.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Pool {
    /// `size` shared connections (at least one) and the transaction connection.
    pub fn connect(url: &str, size: usize) -> Result<Pool, StoreError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let owned = url.to_owned();
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
                    let io = tokio::runtime::Handle::current();
                    let mut clients = Vec::new();
                    for _ in 0..size.max(1) + 1 {
                        match open_client(&owned).await {
                            Ok(client) => clients.push(client),
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok((clients, io)));
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Io(format!("cannot start the PostgreSQL thread: {e}")))?;
        let (mut clients, io) = ready_rx
            .recv()
            .map_err(|_| StoreError::Io("the PostgreSQL thread stopped".into()))??;
        let transactions = clients
            .pop()
            .ok_or_else(|| StoreError::Io("no PostgreSQL connection".into()))?;
        let shared = clients
            .into_iter()
            .map(|c| Slot {
                client: Mutex::new(Arc::new(c)),
                reopening: AtomicBool::new(false),
            })
            .collect();
        Ok(Pool {
            url: url.to_owned(),
            shared: Arc::new(shared),
            next: AtomicUsize::new(0),
            transactions: tokio::sync::Mutex::new(transactions),
            io,
            _stop: stop,
        })
    }

    /// A shared client, for single statements. A broken one is opened anew in the background.
    pub fn client(&self) -> Arc<Client> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shared.len();
        let slot = &self.shared[i];
        let client = slot
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if client.is_closed() && !slot.reopening.swap(true, Ordering::AcqRel) {
            let (shared, url) = (self.shared.clone(), self.url.clone());
            self.io.spawn(async move {
                let slot = &shared[i];
                match open_client(&url).await {
                    Ok(fresh) => {
                        log::warn!("PostgreSQL: a broken connection was opened again");
                        *slot.client.lock().unwrap_or_else(PoisonError::into_inner) =
                            Arc::new(fresh);
                    }
                    Err(e) => {
                        log::error!("PostgreSQL: a broken connection cannot be opened again: {e}")
                    }
                }
                slot.reopening.store(false, Ordering::Release);
            });
        }
        client
    }

    /// The transaction connection, held until the guard is dropped; opened anew first if it
    /// broke.
    pub async fn transaction_client(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Client>, StoreError> {
        let mut client = self.transactions.lock().await;
        if client.is_closed() {
            // Connected on the connection thread, whose reactor then drives the socket.
            let url = self.url.clone();
            *client = self
                .io
                .spawn(async move { open_client(&url).await })
                .await
                .map_err(|_| StoreError::Closed)??;
            log::warn!("PostgreSQL: the transaction connection was opened again");
        }
        Ok(client)
    }
}
