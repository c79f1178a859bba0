//! Storage behind a trait: the ledger, current consent state and the notice archive.
//!
//! Invariants:
//! - Nothing outside `store` names a backend: `store::open` is the one place that picks sled,
//!   PostgreSQL or ClickHouse, and their errors become `StoreError` here.
//! - No store call blocks an async worker thread: sled reads go to the blocking pool, ledger
//!   writes to the ledger writer thread, and PostgreSQL's access store awaits its connections
//!   (driven by a thread of their own).
//! - A consent write resolves only after its ledger entry is durable (flushed).
//! - No backend chains ledger entries: `ledger::Writer` does, for every backend, over the
//!   backend's `LedgerSink` (write a chained group durably, all or nothing).
//! - A backend is a submodule implementing the store traits and a `LedgerSink`: `sled` (the
//!   data folder) and `postgres` (one database for any number of nodes), whose analytics
//!   events are in an `EventTable`: its own, or `clickhouse`'s.

#[cfg(test)]
mod access_contract_test;
/// A decision for tests outside `store`, which name no backend.
#[cfg(test)]
pub(crate) use sled::registry_test::decision as test_decision;
pub mod backup;
pub mod clickhouse;
pub mod erasure;
pub(crate) mod integrity;
pub mod ledger;
pub mod postgres;
pub(crate) mod queue;
pub(crate) mod records;
pub mod retention;
pub mod sled;
pub mod vault;

use std::future::Future;
use std::pin::Pin;

use std::ops::Range;
use std::path::Path;

use crate::analytics::consent_stats::StatRows;
use crate::analytics::engine::{FunnelCounts, FunnelQuery};
use crate::analytics::event::{AcceptedEvent, StoredEvent};
use crate::analytics::query::{Cancel, Groups, Query, Span};
use crate::domain::ledger::ChainFault;
use crate::domain::{
    ApiKey, ApiKeyId, ConsentId, ConsentRecord, Decision, EntryHash, Segment, SegmentName, SiteId,
    TokenDigest,
};

/// How a store makes a consent write durable before it acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written, then `fsync`ed: survives a power loss or a kernel crash. The default.
    Fsync,
    /// Written to the operating system only: survives a crash of the process, not a power loss.
    Flush,
}

/// What opening a store needs besides its folder.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The page cache, in megabytes.
    pub cache_capacity_mb: u64,
    /// Decoded analytics days kept in memory for queries, in megabytes.
    pub analytics_cache_mb: u64,
    pub durability: Durability,
    /// The data folder's key-encryption key; `None`: stored as plain bytes.
    pub encryption_key: Option<vault::KeyEncryptionKey>,
}

/// What a store call resolves to.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// A storage failure, with no backend types in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// A server the store writes to could not be reached or did not answer (worth trying
    /// again), as opposed to one that refused what it was sent.
    #[error("storage unreachable: {0}")]
    Unreachable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the data folder is locked by another process (a running server: one process opens it at a time); stop the server (SIGTERM, it exits within seconds), run this command, then start the server again"
    )]
    Locked,
    /// The data folder's encryption refused to open it (no key, a wrong key, a key for a
    /// folder written without one).
    #[error("{0}")]
    Encryption(String),
    #[error("storage has shut down")]
    Closed,
    #[error("the event queue is full; try again shortly")]
    Overloaded,
    /// A decision renewing a consent id that was erased (or is being erased) meanwhile.
    #[error("there is no consent with this id")]
    UnknownConsent,
    /// Whoever asked is gone: the work stopped early.
    #[error("the request was cancelled")]
    Cancelled,
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

/// What an integrity check of the whole store found (`consentry store check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    pub visitors: u64,
    pub events: u64,
    pub tombstones: u64,
    /// The faults found, in words (at most `IntegrityReport::MAX_FAULTS`); empty when sound.
    pub faults: Vec<String>,
}

impl IntegrityReport {
    pub const MAX_FAULTS: usize = 20;

    pub fn fault(&mut self, what: String) {
        if self.faults.len() < Self::MAX_FAULTS {
            self.faults.push(what);
        }
    }
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    /// The hash of the tombstone entry it left in the ledger.
    pub tombstone: EntryHash,
    pub entries_redacted: u64,
    pub events_deleted: u64,
}

/// How long one site keeps what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub site: SiteId,
    /// Events older than this are deleted (whole days).
    pub event_days: u32,
    /// Visitors with no decision and no event for this long are erased entirely.
    pub inactivity_days: u32,
    /// Events of a category the visitor has since refused (withdrawn) are deleted by the first
    /// sweep after this many hours.
    pub withdrawal_purge_hours: u32,
}

/// Rights-request log entries are kept this long (CCPA §7101: at least 24 months).
pub const RIGHTS_LOG_DAYS: u32 = 730;

/// A ledger entry as stored: its sequence number, its header, and its payload unless it was
/// erased.
pub type LedgerRow = (u64, Vec<u8>, Option<Vec<u8>>);

/// What a retention sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub events_deleted: u64,
    /// Events deleted because their category was withdrawn.
    pub withdrawn_events_deleted: u64,
    pub visitors_erased: u64,
    pub rights_log_deleted: u64,
    pub query_log_deleted: u64,
}

/// Consent storage.
pub trait ConsentStore: Send + Sync + 'static {
    /// Logs a rights request (kind, channel, outcome, time; never the id) for 24 months.
    fn log_rights_request(
        &self,
        at: crate::domain::Timestamp,
        kind: &'static str,
        channel: &'static str,
        outcome: &'static str,
    ) -> StoreFuture<()>;

    /// The rights-request log, oldest first, as text lines.
    fn rights_log(&self) -> StoreFuture<Vec<String>>;

    /// Applies retention: old raw events, inactive visitors (erased, with a tombstone each),
    /// old rights-log entries.
    /// Stops with `Cancelled` soon after `cancel` is set (shutdown); what it did stays done
    /// and the next sweep does the rest.
    fn sweep(
        &self,
        plan: Vec<Retention>,
        now: crate::domain::Timestamp,
        cancel: crate::analytics::query::Cancel,
    ) -> StoreFuture<SweepReport>;

    /// Erases everything held under a consent id: its state, its ledger payloads (headers stay,
    /// so the chain verifies), its events; appends a tombstone. `None` when nothing is held.
    /// Resolves once durable; a crash part-way is finished at the next start.
    fn erase(
        &self,
        site: SiteId,
        id: ConsentId,
        now: crate::domain::Timestamp,
        channel: &'static str,
    ) -> StoreFuture<Option<ErasureReceipt>>;

    /// Appends a decision to the ledger and makes it the id's current consent. Resolves once
    /// the entry is durable on disk. A decision that `renews` an id is refused with
    /// `UnknownConsent` when the id is erased before it is written, and so is any decision for
    /// an id whose erasure is under way: no consent outlives its erasure.
    fn record(&self, decision: Decision, renews: bool) -> StoreFuture<ConsentRecord>;

    /// The id's current consent.
    fn current(&self, site: SiteId, id: ConsentId) -> StoreFuture<Option<ConsentRecord>>;

    /// Every ledger entry of an id, oldest first.
    fn history(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<ConsentRecord>>;

    /// Keeps a notice document (a policy or banner text) retrievable by its hash. Durable.
    fn archive_notice(&self, hash: EntryHash, document: Vec<u8>) -> StoreFuture<()>;

    fn notice(&self, hash: EntryHash) -> StoreFuture<Option<Vec<u8>>>;

    /// Succeeds when a write reaches the store.
    fn check_writable(&self) -> StoreFuture<()>;

    /// Walks the ledger and checks each of its chains: the embedded store keeps one for every
    /// site (`None`), PostgreSQL one per site. Blocking: for the command line and tests.
    fn verify_ledger(&self) -> Result<Vec<(ledger::ChainKey, LedgerReport)>, StoreError>;

    /// At most `limit` entries after sequence number `after` of the chain that holds `site`'s
    /// entries, in order: the embedded store's one chain (every site's entries), PostgreSQL's
    /// chain of that site. Fewer than `limit` when the chain ends. For the audit export, which
    /// reads the chain a page at a time.
    fn ledger_page(&self, site: SiteId, after: u64, limit: usize) -> StoreFuture<Vec<LedgerRow>>;

    /// Checks what the ledger alone cannot: no visitor number is held by two visitors, every
    /// event belongs to a visitor and was allowed by one of that visitor's decisions (granting
    /// its category, recorded before it, not expired), and no erased subject holds anything.
    /// Blocking: for the command line, tests and the crash soak.
    fn check_integrity(&self) -> Result<IntegrityReport, StoreError>;

    /// Makes everything written so far durable. Blocking: for shutdown.
    fn flush(&self) -> Result<(), StoreError>;

    /// Copies everything stored into the new folder `to` while the store keeps serving (see
    /// `store::backup`). Blocking: for the command line and the administration API.
    fn backup(&self, to: &Path) -> Result<backup::BackupReport, backup::BackupError>;
}

/// Analytics storage: events that passed the gate, and the answers computed from them.
///
/// Events are acknowledged once queued and are durable within `EVENT_DURABILITY` (a group
/// write every 200 ms, and sled's flush every 500 ms); consent writes keep their stronger
/// guarantee.
pub trait AnalyticsStore: Send + Sync + 'static {
    /// Queues events for writing. `Overloaded` when the queue is full.
    fn append_events(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError>;

    /// Resolves once everything queued before it is written and flushed to disk.
    fn sync_events(&self) -> StoreFuture<()>;

    /// Why accepted events wait unwritten right now (their writes fail and are tried again),
    /// or `None` while they are written as they come.
    fn events_held(&self) -> Option<String>;

    /// Like `sync_events`, and then puts every stored event in its final form (the embedded
    /// engine seals every day that is over). For loaders and tests; answers do not change.
    fn settle_events(&self) -> StoreFuture<()>;

    /// Every stored event of a consent id, oldest first.
    fn events_of(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<StoredEvent>>;

    /// A query's groups over a span, computed from the stored events (see
    /// `analytics::engine::eval` for what is counted). `Cancelled` once `cancel` is set.
    fn groups(&self, site: SiteId, query: Query, span: Span, cancel: Cancel)
    -> StoreFuture<Groups>;

    /// How many visitors reached each step of a funnel over its span (and per value of its
    /// dimension), computed from the stored events. `Cancelled` once `cancel` is set.
    fn funnel(&self, site: SiteId, query: FunnelQuery, cancel: Cancel)
    -> StoreFuture<FunnelCounts>;

    /// The consent-statistics rows of a site over a range of days, in runs of rows.
    fn consent_stats(&self, site: SiteId, days: Range<u32>) -> StoreFuture<Vec<StatRows>>;
}

/// Every store a process needs, in one: what the factory hands out.
pub trait Store: ConsentStore + AnalyticsStore + AccessStore + SightingStore {
    fn consents(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn ConsentStore>;
    fn analytics(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn AnalyticsStore>;
    fn access(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn AccessStore>;
    fn sightings(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn SightingStore>;
}

impl<T: ConsentStore + AnalyticsStore + AccessStore + SightingStore> Store for T {
    fn consents(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn ConsentStore> {
        self
    }

    fn analytics(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn AnalyticsStore> {
        self
    }

    fn access(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn AccessStore> {
        self
    }

    fn sightings(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn SightingStore> {
        self
    }
}

/// Cookie and tracker sightings (`detect`), counted per site and day. Retention drops them
/// with the site's events (`AnalyticsRetention::drop_days_before`).
pub trait SightingStore: Send + Sync + 'static {
    /// Counts one page report into its site's day. Not flushed when it resolves: a sighting is
    /// a hint, and a crash may lose the last second's.
    fn add_sightings(&self, site: SiteId, report: crate::detect::PageReport) -> StoreFuture<()>;

    /// The site's rows of the days (since the epoch) in `days`.
    fn sightings(
        &self,
        site: SiteId,
        days: std::ops::Range<i64>,
    ) -> StoreFuture<Vec<crate::detect::SightingRow>>;
}

/// Opens the stores the settings name: the one place that picks a backend. `postgres_url`
/// set: PostgreSQL (`postgres::PgStore`) for everything, analytics events included unless
/// `clickhouse_url` puts them in ClickHouse (`clickhouse::ChEventTable`); else the data folder
/// (sled and the embedded analytics engine). Blocking work runs on a thread of its own, so an
/// async caller may call it.
pub fn open(
    settings: &crate::settings::Settings,
    metrics: std::sync::Arc<crate::telemetry::Metrics>,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match &settings.postgres_url {
        Some(url) => std::thread::scope(|s| {
            s.spawn(|| {
                let table: std::sync::Arc<dyn postgres::event_table::EventTable> =
                    match &settings.clickhouse {
                        Some(ch) => std::sync::Arc::new(clickhouse::ChEventTable::open(ch)?),
                        None => std::sync::Arc::new(postgres::event_table::PgEventTable),
                    };
                postgres::PgStore::open(
                    url.expose(),
                    settings.data_dir.clone(),
                    settings.analytics_cache_mb,
                    metrics,
                    table,
                )
                .map(|store| std::sync::Arc::new(store) as std::sync::Arc<dyn Store>)
            })
            .join()
            .unwrap_or_else(|_| Err(StoreError::Io("opening PostgreSQL failed".into())))
        }),
        None => Ok(std::sync::Arc::new(sled::SledStore::open(
            &settings.data_dir,
            settings.store_options(),
            metrics,
        )?)),
    }
}

/// Restores a backup (`ConsentStore::backup`) into the settings' data folder, which must be
/// empty. Blocking.
pub fn restore(
    from: &Path,
    settings: &crate::settings::Settings,
) -> Result<backup::BackupReport, backup::BackupError> {
    match &settings.postgres_url {
        Some(_) => Err(backup::BackupError::Unavailable(
            "with `postgres_url` set the data lives in PostgreSQL: restore it with PostgreSQL's \
             own tools (pg_basebackup, point-in-time recovery)"
                .into(),
        )),
        None => sled::backup::restore(from, &settings.data_dir),
    }
}

/// Query-log entries are kept this long.
pub const QUERY_LOG_DAYS: u32 = 90;

/// What saving a segment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentSaved {
    Created,
    /// A segment of that name was there and is replaced.
    Replaced,
    /// Nothing was written: the site already keeps `Segment::MAX_PER_SITE` others.
    LimitReached,
}

/// Marketer access: API keys, the log of what they queried, and saved segments.
pub trait AccessStore: Send + Sync + 'static {
    /// Stores a key record (new, or revoked). Durable when it resolves.
    fn put_key(&self, key: ApiKey) -> StoreFuture<()>;

    /// The key record with this id.
    fn key(&self, id: ApiKeyId) -> StoreFuture<Option<ApiKey>>;

    /// A site's key records, oldest first.
    fn keys(&self, site: SiteId) -> StoreFuture<Vec<ApiKey>>;

    /// Logs one query (key id, endpoint, parameters, rows), kept `QUERY_LOG_DAYS`.
    fn log_query(&self, at: crate::domain::Timestamp, line: String) -> StoreFuture<()>;

    /// The query log, oldest first.
    fn query_log(&self) -> StoreFuture<Vec<String>>;

    /// Creates or replaces a site's segment, unless that would make the site keep more than
    /// `Segment::MAX_PER_SITE`. Durable when it resolves.
    fn put_segment(&self, site: SiteId, segment: Segment) -> StoreFuture<SegmentSaved>;

    /// A site's segment by name.
    fn segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<Option<Segment>>;

    /// A site's segments, by name.
    fn segments(&self, site: SiteId) -> StoreFuture<Vec<Segment>>;

    /// Removes a site's segment; `false` when there was none. Durable when it resolves.
    fn delete_segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<bool>;

    /// Keeps an operator token's digest: it opens the administration API from the next
    /// request on. Durable when it resolves.
    fn add_operator_token(
        &self,
        digest: TokenDigest,
        at: crate::domain::Timestamp,
    ) -> StoreFuture<()>;

    /// The digests of the operator tokens made with `consentry admin-token create`, with when
    /// each was made.
    fn operator_tokens(&self) -> StoreFuture<Vec<(TokenDigest, crate::domain::Timestamp)>>;

    /// Forgets an operator token: it is refused from the next request on. `false` when there
    /// was none. Durable when it resolves.
    fn remove_operator_token(&self, digest: TokenDigest) -> StoreFuture<bool>;

    /// The secret dashboard sessions and form tokens are signed with: made once and kept, so a
    /// session survives a restart and holds on every node sharing the store.
    fn session_secret(&self) -> StoreFuture<[u8; 32]>;
}

/// The longest an acknowledged event may wait before it is on disk.
pub const EVENT_DURABILITY: std::time::Duration = std::time::Duration::from_secs(1);
