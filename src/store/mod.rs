//! Storage behind a trait: the ledger, current consent state and the notice archive.
//!
//! Invariants:
//! - Nothing outside `store` names sled: its errors become `StoreError` here.
//! - No store call runs on an async worker thread: reads go to the blocking pool, writes to the
//!   ledger writer thread.
//! - A consent write resolves only after its ledger entry is durable (flushed).
//! - A second backend is a new submodule implementing `ConsentStore`.

pub mod sled;

use std::future::Future;
use std::pin::Pin;

use crate::domain::ledger::ChainFault;
use crate::domain::{ConsentId, ConsentRecord, Decision, EntryHash, SiteId};

/// What a store call resolves to.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// A storage failure, with no backend types in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the data folder is locked by another process; stop the running server first, or use the server's own endpoints"
    )]
    Locked,
    #[error("storage has shut down")]
    Closed,
}

/// The result of walking the whole ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerReport {
    pub entries: u64,
    /// The first fault found, if any.
    pub fault: Option<ChainFault>,
    /// The hash of the last entry: anchors the chain for an outside observer.
    pub head: Option<EntryHash>,
}

/// Consent storage.
pub trait ConsentStore: Send + Sync + 'static {
    /// Appends a decision to the ledger and makes it the id's current consent. Resolves once
    /// the entry is durable on disk.
    fn record(&self, decision: Decision) -> StoreFuture<ConsentRecord>;

    /// The id's current consent.
    fn current(&self, site: SiteId, id: ConsentId) -> StoreFuture<Option<ConsentRecord>>;

    /// Every ledger entry of an id, oldest first.
    fn history(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<ConsentRecord>>;

    /// Keeps a notice document (a policy or banner text) retrievable by its hash. Durable.
    fn archive_notice(&self, hash: EntryHash, document: Vec<u8>) -> StoreFuture<()>;

    fn notice(&self, hash: EntryHash) -> StoreFuture<Option<Vec<u8>>>;

    /// Succeeds when a write reaches the store.
    fn check_writable(&self) -> StoreFuture<()>;

    /// Walks the ledger and checks its chain. Blocking: for the command line and tests.
    fn verify_ledger(&self) -> Result<LedgerReport, StoreError>;

    /// Makes everything written so far durable. Blocking: for shutdown.
    fn flush(&self) -> Result<(), StoreError>;
}
