//! The PostgreSQL backend, selected by `postgres_url`: `PgStore` (`store`) implements every
//! store trait over one database that any number of nodes share. Its rooms: the schema and its
//! migrations (`schema`), the ledger (`PgLedger`, the `LedgerSink`), the consent side of
//! erasure and retention (`consents`), marketer access (`PgAccess`: keys, query log, segments,
//! operator tokens, the session secret), analytics events (`events`: the writer; `analytics`:
//! questions answered from the stored rows, and the analytics side of erasure and retention),
//! the integrity check (`integrity`).
//!
//! Every table leads with the site id, so the tables can be sharded by site; the server's own
//! rows (the subject secret, notices) use the site id `''`. Each site's ledger is a chain of its
//! own: nodes appending for different sites never wait on each other, and nodes appending for
//! one site take turns on that site's advisory lock, held from reading the head to the commit.

pub mod access;
pub mod analytics;
pub mod consents;
mod events;
mod integrity;
pub mod ledger_sink;
pub mod pool;
pub mod schema;
mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_cluster;

pub use store::PgStore;

use tokio_postgres::{Client, GenericClient, NoTls};

use crate::store::StoreError;

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Io(format!("PostgreSQL: {e}"))
}

/// Takes the advisory lock named `name` (its SHA-256 folded to the lock's 64-bit key) until the
/// end of the current transaction: the ledger's `ledger <site>`, the segments' `segments
/// <site>`, the schema's `migrations`.
pub(crate) async fn lock(client: &impl GenericClient, name: &str) -> Result<(), StoreError> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("consentry {name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    client
        .execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&i64::from_be_bytes(first)],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// A blocking connection to a migrated database, and its subject secret.
pub fn open_blocking(url: &str) -> Result<(BlockingClient, [u8; 32]), StoreError> {
    let mut conn = BlockingClient::connect(url)?;
    let runtime = conn.runtime.take();
    let migrated = runtime
        .as_ref()
        .map(|rt| rt.block_on(schema::migrate(&mut conn.client)));
    conn.runtime = runtime;
    migrated.unwrap_or(Err(StoreError::Closed))?;
    let secret = conn.block_on(schema::secret(&conn.client, "subject_secret"))?;
    Ok((conn, secret))
}

/// A connection for blocking callers (the ledger writer thread): its own runtime, which drives
/// the connection whenever a call is waited on.
pub struct BlockingClient {
    pub client: Client,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BlockingClient {
    pub fn connect(url: &str) -> Result<BlockingClient, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start a runtime: {e}")))?;
        let client = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg_err)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::error!("the PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, StoreError>(client)
        })?;
        Ok(BlockingClient {
            client,
            runtime: Some(runtime),
        })
    }

    /// Waits for `f` on this connection's runtime.
    pub fn block_on<T>(&self, f: impl Future<Output = T>) -> T {
        match &self.runtime {
            Some(runtime) => runtime.block_on(f),
            None => unreachable!("the runtime is only taken when the client is dropped"),
        }
    }
}

impl Drop for BlockingClient {
    /// Without waiting: the last owner may be dropped on an async runtime's thread.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
