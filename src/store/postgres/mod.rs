//! The PostgreSQL backend, selected by `postgres_url`: `PgStore` (`store`) implements every
//! store trait over one database that any number of nodes share. Its rooms: the schema and its
//! migrations (`schema`), the ledger (`PgLedger`, the `LedgerSink`), the consent side of
//! erasure and retention (`consents`), marketer access (`PgAccess`: keys, query log, segments,
//! operator tokens, the session secret), analytics events (`event_table`: where they are,
//! PostgreSQL's own `events` or ClickHouse; `events`: the writer; `analytics`: questions
//! answered from the stored rows, and the analytics side of erasure and retention),
//! the integrity check (`integrity`).
//!
//! Every table leads with the site id, so the tables can be sharded by site; the server's own
//! rows (the subject secret, notices) use the site id `''`. Each site's ledger is a chain of its
//! own: nodes appending for different sites never wait on each other, and nodes appending for
//! one site take turns on that site's advisory lock, held from reading the head to the commit.

pub mod access;
pub mod analytics;
pub mod consents;
mod days;
pub mod event_table;
mod events;
mod integrity;
pub mod ledger_sink;
pub mod pool;
pub mod schema;
mod sightings;
mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_cluster;

pub use store::PgStore;

use std::sync::Arc;

use tokio_postgres::{Client, GenericClient, NoTls};

use crate::store::StoreError;

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Io(format!("PostgreSQL: {e}"))
}

/// The 64-bit key of the advisory lock named `name`: its SHA-256, folded.
fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("consentry {name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Takes the advisory lock named `name` until the end of the current transaction: the ledger's
/// `ledger <site>`, the segments' `segments <site>`, the schema's `migrations`.
pub(crate) async fn lock(client: &impl GenericClient, name: &str) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(name)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// Takes the session-level advisory lock named `name` if no other session holds it (the
/// retention sweep's `sweep`); held until `unlock_session`, or until the connection ends.
pub(crate) async fn try_lock_session(client: &Client, name: &str) -> Result<bool, StoreError> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&lock_key(name)])
        .await
        .map_err(pg_err)?;
    Ok(row.get(0))
}

/// Takes the session-level advisory lock named `name`, waiting for another session to let it go
/// (an erasure's `erasure <site> <subject>`).
pub(crate) async fn lock_session(client: &Client, name: &str) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&lock_key(name)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn unlock_session(client: &Client, name: &str) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&lock_key(name)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// A blocking connection to a migrated database, and its subject secret.
pub fn open_blocking(url: &str) -> Result<(BlockingClient, [u8; 32]), StoreError> {
    let conn = BlockingClient::connect(url)?;
    let client = conn.client();
    conn.block_on(schema::migrate(&client))?;
    let secret = conn.block_on(schema::secret(&client, "subject_secret"))?;
    Ok((conn, secret))
}

/// A connection for blocking callers (the writer threads, erasures, checks): its own runtime,
/// which drives the connection whenever a call is waited on. When the connection breaks (the
/// database restarted, or failed over to a standby behind the same address), the next
/// `client()` opens a new one: the calls in between fail, the ones after work.
pub struct BlockingClient {
    url: String,
    client: std::sync::Mutex<Arc<Client>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BlockingClient {
    pub fn connect(url: &str) -> Result<BlockingClient, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start a runtime: {e}")))?;
        let client = runtime.block_on(open_client(url))?;
        Ok(BlockingClient {
            url: url.to_owned(),
            client: std::sync::Mutex::new(Arc::new(client)),
            runtime: Some(runtime),
        })
    }

    /// The connection, opened anew first if the last one broke. Not to be called inside
    /// `block_on` (it may wait itself).
    pub fn client(&self) -> Arc<Client> {
        let mut current = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.is_closed() {
            match self.block_on(open_client(&self.url)) {
                Ok(fresh) => {
                    log::warn!("PostgreSQL: a broken connection was opened again");
                    *current = Arc::new(fresh);
                }
                Err(e) => {
                    log::error!("PostgreSQL: a broken connection cannot be opened again: {e}")
                }
            }
        }
        current.clone()
    }

    /// Waits for `f` on this connection's runtime.
    pub fn block_on<T>(&self, f: impl Future<Output = T>) -> T {
        match &self.runtime {
            Some(runtime) => runtime.block_on(f),
            None => unreachable!("the runtime is only taken when the client is dropped"),
        }
    }
}

/// Runs `statements` in one transaction on `client`: committed when they succeed, rolled back
/// when they fail.
pub(crate) async fn in_transaction<T>(
    client: &Client,
    statements: impl AsyncFnOnce(&Client) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    client.batch_execute("BEGIN").await.map_err(pg_err)?;
    match statements(client).await {
        Ok(v) => {
            client.batch_execute("COMMIT").await.map_err(pg_err)?;
            Ok(v)
        }
        Err(e) => {
            rollback(client).await;
            Err(e)
        }
    }
}

/// Ends a transaction that will not commit; a connection that cannot even do that is broken,
/// and its next statement fails (and `client()` opens it anew).
pub(crate) async fn rollback(client: &Client) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        log::error!("PostgreSQL: a transaction could not be rolled back: {e}");
    }
}

/// Connects and drives the connection on the current runtime.
pub(crate) async fn open_client(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg_err)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!("a PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

impl Drop for BlockingClient {
    /// Without waiting: the last owner may be dropped on an async runtime's thread.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
