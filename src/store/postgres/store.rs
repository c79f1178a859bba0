//! `PgStore`: every store trait over one PostgreSQL database, for any number of nodes.
//!
//! What runs where: consent writes go to the ledger writer thread (`PgLedger`), events to the
//! event writer thread (`events`), single reads to the shared pool, erasures and sweeps to a
//! blocking thread holding this node's job connections (one erasure or sweep at a time per
//! node; nodes run theirs side by side, kept whole by the site locks and `FOR SHARE` reads
//! described in `consents` and `events`), analytics evaluations to blocking threads that read
//! through the pool.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::access::PgAccess;
use super::analytics::{self, PgVisitors, Reader};
use super::consents::PgConsents;
use super::days::KeptDays;
use super::event_table::EventTable;
use super::events::PgEventWriter;
use super::ledger_sink::{self, PgLedger};
use super::pool::Pool;
use super::sightings::PgSightings;
use super::{BlockingClient, integrity, open_blocking, pg_err};
use crate::analytics::consent_stats::{self, StatCounts, StatRows};
use crate::analytics::engine::{FunnelCounts, FunnelQuery};
use crate::analytics::event::{AcceptedEvent, StoredEvent};
use crate::analytics::query::{Cancel, Groups, Query, Span};
use crate::domain::ledger::parse_decision_payload;
use crate::domain::{
    ApiKey, ApiKeyId, ConsentId, ConsentRecord, Decision, EntryHash, EntryHeader, Segment,
    SegmentName, SiteId, Subject, Timestamp, TokenDigest,
};
use crate::store::erasure::Eraser;
use crate::store::ledger::{ChainKey, Writer};
use crate::store::records::{rights_line, rights_request};
use crate::store::retention::Sweep;
use crate::store::{
    AccessStore, AnalyticsStore, ConsentStore, ErasureReceipt, IntegrityReport, LedgerReport,
    Retention, SegmentSaved, SightingStore, StoreError, StoreFuture, SweepReport,
};
use crate::telemetry::Metrics;

/// Shared connections besides the transaction connection: reads are short statements.
const POOL_SIZE: usize = 4;

/// The connections an erasure or a sweep works on, one job at a time.
struct Jobs {
    consents: PgConsents,
    visitors: PgVisitors,
}

impl Jobs {
    fn open(
        url: &str,
        secret: [u8; 32],
        events: &Arc<PgEventWriter>,
        table: &Arc<dyn EventTable>,
    ) -> Result<Jobs, StoreError> {
        Ok(Jobs {
            consents: PgConsents::new(BlockingClient::connect(url)?, secret),
            visitors: PgVisitors {
                conn: BlockingClient::connect(url)?,
                writer: events.clone(),
                table: table.clone(),
            },
        })
    }
}

pub struct PgStore {
    url: String,
    pause_key: PathBuf,
    pool: Arc<Pool>,
    access: PgAccess,
    sightings: PgSightings,
    writer: Arc<Writer>,
    events: Arc<PgEventWriter>,
    /// Where the events are: PostgreSQL's own table, or ClickHouse.
    table: Arc<dyn EventTable>,
    /// Built days, kept under their rows' fingerprints.
    kept: Arc<KeptDays>,
    /// Erasures and the sweep have connections of their own: an erasure never waits for a
    /// sweep of this node.
    erasures: Arc<Mutex<Jobs>>,
    sweeps: Arc<Mutex<Jobs>>,
    secret: [u8; 32],
}

impl PgStore {
    /// Connects, migrates the schema, starts the writers and finishes any erasure an unclean
    /// stop of a node left. Blocking, and not on an async runtime's thread. `pause_key` names
    /// this store for the test suite's pause points (`fault`); `table` is where the events
    /// are (`PgEventTable` unless the factory names another).
    pub fn open(
        url: &str,
        pause_key: PathBuf,
        analytics_cache_mb: u64,
        metrics: Arc<Metrics>,
        table: Arc<dyn EventTable>,
    ) -> Result<PgStore, StoreError> {
        // Migrated, and the subject secret read, once for every part below; the connection that
        // did it is the ledger writer's.
        let (conn, secret) = open_blocking(url)?;
        let pool = Arc::new(Pool::connect(url, POOL_SIZE)?);
        let writer = Arc::new(Writer::start(
            Box::new(PgLedger::new(conn, secret)),
            metrics,
            pause_key.clone(),
        )?);
        let events = Arc::new(PgEventWriter::start(
            BlockingClient::connect(url)?,
            secret,
            table.clone(),
        )?);
        let erasures = Jobs::open(url, secret, &events, &table)?;
        eraser(&erasures, &writer, |e| e.resume_at_start())?;
        Ok(PgStore {
            url: url.to_owned(),
            pause_key,
            access: PgAccess::new(pool.clone()),
            sightings: PgSightings::new(pool.clone()),
            pool,
            writer,
            sweeps: Arc::new(Mutex::new(Jobs::open(url, secret, &events, &table)?)),
            events,
            table,
            kept: Arc::new(KeptDays::new(analytics_cache_mb)),
            erasures: Arc::new(Mutex::new(erasures)),
            secret,
        })
    }

    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        Subject::derive(&self.secret, site, id)
    }

    /// Runs `job` on a blocking thread with one of this node's sets of job connections.
    fn job<T, F>(&self, jobs: &Arc<Mutex<Jobs>>, job: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Jobs, &Writer) -> Result<T, StoreError> + Send + 'static,
    {
        let (jobs, writer) = (jobs.clone(), self.writer.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let jobs = jobs.lock().map_err(|_| StoreError::Closed)?;
                job(&jobs, &writer)
            })
            .await
            .map_err(|_| StoreError::Closed)?
        })
    }

    /// Runs `f` on a thread of its own with a connection of its own: for the blocking calls
    /// (verification, checks), which may come from an async runtime's thread.
    fn on_own_thread<T: Send>(
        &self,
        f: impl FnOnce(&BlockingClient) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        std::thread::scope(|s| {
            s.spawn(|| f(&BlockingClient::connect(&self.url)?))
                .join()
                .unwrap_or_else(|_| Err(StoreError::Io("a PostgreSQL check failed".into())))
        })
    }
}

fn eraser<T>(
    jobs: &Jobs,
    writer: &Writer,
    f: impl FnOnce(&Eraser<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    f(&Eraser {
        consents: &jobs.consents,
        analytics: &jobs.visitors,
        writer,
    })
}

fn record_of(
    id: &ConsentId,
    seq: i64,
    receipt: &[u8],
    payload: &[u8],
) -> Result<ConsentRecord, StoreError> {
    let decision = parse_decision_payload(payload, id)
        .ok_or_else(|| StoreError::Corrupt(format!("ledger payload {seq} cannot be read")))?;
    let receipt: [u8; 32] = receipt
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("the receipt of entry {seq} cannot be read")))?;
    Ok(ConsentRecord {
        decision,
        seq: u64::try_from(seq).unwrap_or(0),
        receipt: EntryHash(receipt).hex(),
    })
}

impl ConsentStore for PgStore {
    fn log_rights_request(
        &self,
        at: Timestamp,
        kind: &'static str,
        channel: &'static str,
        outcome: &'static str,
    ) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            let line = rights_request(at, kind, channel, outcome);
            client
                .execute(
                    "INSERT INTO rights_log (site_id, at, line) VALUES ('', $1, $2)",
                    &[&at.0, &line],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn rights_log(&self) -> StoreFuture<Vec<String>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query("SELECT line FROM rights_log ORDER BY at, id", &[])
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(|r| rights_line(r.get(0))).collect())
        })
    }

    fn sweep(
        &self,
        plan: Vec<Retention>,
        now: Timestamp,
        cancel: Cancel,
    ) -> StoreFuture<SweepReport> {
        // One node sweeps at a time: the others find the lock taken and leave it to that one
        // (two sweeps erasing the same inactive visitor could each append its tombstone).
        self.job(&self.sweeps, move |jobs, writer| {
            let swept = jobs.consents.exclusively("sweep", || {
                eraser(jobs, writer, |eraser| {
                    Sweep {
                        consents: &jobs.consents,
                        analytics: &jobs.visitors,
                        eraser,
                    }
                    .run(&plan, now, &cancel)
                })
            })?;
            Ok(swept.unwrap_or_else(|| {
                log::info!("another node is sweeping; this node's sweep is left to it");
                SweepReport::default()
            }))
        })
    }

    fn erase(
        &self,
        site: SiteId,
        id: ConsentId,
        now: Timestamp,
        channel: &'static str,
    ) -> StoreFuture<Option<ErasureReceipt>> {
        // Erasures of one id take turns across nodes: the second finds nothing left to erase,
        // rather than appending a second tombstone.
        let turn = format!("erasure {site} {}", self.subject(&site, &id).hex());
        self.job(&self.erasures, move |jobs, writer| {
            jobs.consents.in_turn(&turn, || {
                eraser(jobs, writer, |e| e.erase(&site, &id, now, channel))
            })
        })
    }

    fn record(&self, decision: Decision, renews: bool) -> StoreFuture<ConsentRecord> {
        Box::pin(self.writer.submit_decision(decision, renews))
    }

    fn current(&self, site: SiteId, id: ConsentId) -> StoreFuture<Option<ConsentRecord>> {
        let client = self.pool.client();
        let subject = self.subject(&site, &id);
        Box::pin(async move {
            let row = client
                .query_opt(
                    "SELECT seq, receipt, payload FROM consents WHERE site_id = $1 AND subject = $2",
                    &[&site.as_str(), &&subject.0[..]],
                )
                .await
                .map_err(pg_err)?;
            row.map(|r| {
                let (receipt, payload): (Vec<u8>, Vec<u8>) = (r.get(1), r.get(2));
                record_of(&id, r.get(0), &receipt, &payload)
            })
            .transpose()
        })
    }

    fn history(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<ConsentRecord>> {
        let client = self.pool.client();
        let subject = self.subject(&site, &id);
        Box::pin(async move {
            let rows = client
                .query(
                    "SELECT l.seq, l.header, l.payload FROM consent_history h
                       JOIN ledger l ON l.site_id = h.site_id AND l.seq = h.seq
                     WHERE h.site_id = $1 AND h.subject = $2 AND l.payload <> ''
                     ORDER BY h.seq",
                    &[&site.as_str(), &&subject.0[..]],
                )
                .await
                .map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    let (seq, header, payload): (i64, Vec<u8>, Vec<u8>) =
                        (r.get(0), r.get(1), r.get(2));
                    let header = EntryHeader::from_bytes(&header).ok_or_else(|| {
                        StoreError::Corrupt(format!("ledger entry {seq} cannot be read"))
                    })?;
                    record_of(&id, seq, &header.hash().0, &payload)
                })
                .collect()
        })
    }

    fn archive_notice(&self, hash: EntryHash, document: Vec<u8>) -> StoreFuture<()> {
        Box::pin(self.writer.submit_notice(hash, document))
    }

    fn notice(&self, hash: EntryHash) -> StoreFuture<Option<Vec<u8>>> {
        let client = self.pool.client();
        Box::pin(async move {
            let row = client
                .query_opt(
                    "SELECT document FROM notices WHERE site_id = '' AND hash = $1",
                    &[&&hash.0[..]],
                )
                .await
                .map_err(pg_err)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn check_writable(&self) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            client
                .execute(
                    "INSERT INTO meta (site_id, name, value) VALUES ('', 'health', '\\x01')
                     ON CONFLICT (site_id, name) DO UPDATE SET value = excluded.value",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn verify_ledger(&self) -> Result<Vec<(ChainKey, LedgerReport)>, StoreError> {
        let chains = self.on_own_thread(ledger_sink::verify)?;
        chains
            .into_iter()
            .map(|(site, report)| {
                let site = SiteId::parse(&site).map_err(|_| {
                    StoreError::Corrupt(format!("the ledger holds an unknown site id `{site}`"))
                })?;
                Ok((Some(site), report))
            })
            .collect()
    }

    fn ledger_page(
        &self,
        site: SiteId,
        after: u64,
        limit: usize,
    ) -> StoreFuture<Vec<crate::store::LedgerRow>> {
        let client = self.pool.client();
        Box::pin(async move { ledger_sink::site_page(&client, site.as_str(), after, limit).await })
    }

    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        self.on_own_thread(|conn| integrity::check(conn, self.table.as_ref()))
    }

    /// Every commit is durable when it returns; the queued events are written by
    /// `sync_events`.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The data lives in PostgreSQL: its own backups cover it.
    fn backup(
        &self,
        _to: &std::path::Path,
    ) -> Result<crate::store::backup::BackupReport, crate::store::backup::BackupError> {
        Err(crate::store::backup::BackupError::Unavailable(
            "with `postgres_url` set the data lives in PostgreSQL: back it up with PostgreSQL's \
             own tools (pg_basebackup, continuous archiving)"
                .into(),
        ))
    }
}

impl AnalyticsStore for PgStore {
    fn append_events(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError> {
        self.events.append(events)
    }

    fn sync_events(&self) -> StoreFuture<()> {
        let done = self.events.barrier();
        Box::pin(async move { done.await.map_err(|_| StoreError::Closed) })
    }

    fn events_held(&self) -> Option<String> {
        self.events.held()
    }

    /// Nothing is sealed in PostgreSQL: written is final.
    fn settle_events(&self) -> StoreFuture<()> {
        self.sync_events()
    }

    fn events_of(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<StoredEvent>> {
        let (client, table) = (self.pool.client(), self.table.clone());
        let subject = self.subject(&site, &id);
        Box::pin(
            async move { analytics::events_of(&client, table.as_ref(), &site, &subject).await },
        )
    }

    fn groups(
        &self,
        site: SiteId,
        query: Query,
        span: Span,
        cancel: Cancel,
    ) -> StoreFuture<Groups> {
        let (client, kept, table) = (self.pool.client(), self.kept.clone(), self.table.clone());
        let pause_key = self.pause_key.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                crate::fault::pause_point(&pause_key, "event_scan");
                let reader = Reader {
                    client: &client,
                    table: table.as_ref(),
                    kept: &kept,
                };
                analytics::groups(&reader, &site, &query, span, &cancel)
            })
            .await
            .map_err(|_| StoreError::Closed)?
        })
    }

    fn funnel(
        &self,
        site: SiteId,
        query: FunnelQuery,
        cancel: Cancel,
    ) -> StoreFuture<FunnelCounts> {
        let (client, kept, table) = (self.pool.client(), self.kept.clone(), self.table.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let reader = Reader {
                    client: &client,
                    table: table.as_ref(),
                    kept: &kept,
                };
                analytics::funnel(&reader, &site, &query, &cancel)
            })
            .await
            .map_err(|_| StoreError::Closed)?
        })
    }

    fn consent_stats(&self, site: SiteId, days: Range<u32>) -> StoreFuture<Vec<StatRows>> {
        let client = self.pool.client();
        Box::pin(async move {
            let (from, to) = (
                consent_stats::day_prefix("", days.start),
                consent_stats::day_prefix("", days.end),
            );
            let rows = client
                .query(
                    "SELECT key, decisions, granted FROM consent_stats
                     WHERE site_id = $1 AND key >= $2 AND key < $3 ORDER BY key",
                    &[&site.as_str(), &from, &to],
                )
                .await
                .map_err(pg_err)?;
            let rows = rows
                .iter()
                .filter_map(|r| {
                    let key: Vec<u8> = r.get(0);
                    let counts = StatCounts {
                        decisions: r.get(1),
                        granted: r.get(2),
                    };
                    Some((consent_stats::parse_key(&key)?, counts))
                })
                .collect();
            Ok(vec![std::sync::Arc::new(rows)])
        })
    }
}

/// Sightings are `PgSightings`'s.
impl SightingStore for PgStore {
    fn add_sightings(&self, site: SiteId, report: crate::detect::PageReport) -> StoreFuture<()> {
        self.sightings.add_sightings(site, report)
    }

    fn sightings(
        &self,
        site: SiteId,
        days: std::ops::Range<i64>,
    ) -> StoreFuture<Vec<crate::detect::SightingRow>> {
        self.sightings.sightings(site, days)
    }
}

/// Marketer access is `PgAccess`'s.
impl AccessStore for PgStore {
    fn put_key(&self, key: ApiKey) -> StoreFuture<()> {
        self.access.put_key(key)
    }

    fn key(&self, id: ApiKeyId) -> StoreFuture<Option<ApiKey>> {
        self.access.key(id)
    }

    fn keys(&self, site: SiteId) -> StoreFuture<Vec<ApiKey>> {
        self.access.keys(site)
    }

    fn log_query(&self, at: Timestamp, line: String) -> StoreFuture<()> {
        self.access.log_query(at, line)
    }

    fn query_log(&self) -> StoreFuture<Vec<String>> {
        self.access.query_log()
    }

    fn put_segment(&self, site: SiteId, segment: Segment) -> StoreFuture<SegmentSaved> {
        self.access.put_segment(site, segment)
    }

    fn segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<Option<Segment>> {
        self.access.segment(site, name)
    }

    fn segments(&self, site: SiteId) -> StoreFuture<Vec<Segment>> {
        self.access.segments(site)
    }

    fn delete_segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<bool> {
        self.access.delete_segment(site, name)
    }

    fn add_operator_token(&self, digest: TokenDigest, at: Timestamp) -> StoreFuture<()> {
        self.access.add_operator_token(digest, at)
    }

    fn operator_tokens(&self) -> StoreFuture<Vec<(TokenDigest, Timestamp)>> {
        self.access.operator_tokens()
    }

    fn remove_operator_token(&self, digest: TokenDigest) -> StoreFuture<bool> {
        self.access.remove_operator_token(digest)
    }

    fn session_secret(&self) -> StoreFuture<[u8; 32]> {
        self.access.session_secret()
    }
}
