//! The sled backend.
//!
//! Trees and what they hold (the registry that export and erasure will walk):
//!
//! | tree               | key                         | value                                  | consent id? |
//! |--------------------|-----------------------------|----------------------------------------|-------------|
//! | `ledger`           | seq (u64 BE)                | 81-byte entry header, then the payload | yes         |
//! | `consents`         | site 0x00 subject           | seq, receipt, payload of the latest    | yes         |
//! | `consent_history`  | site 0x00 subject seq       | empty                                  | yes         |
//! | `notices`          | SHA-256 of the document     | the policy or banner document          | no          |
//! | `meta`             | name                        | small values (health probe, counters, the subject and session secrets, `operator_token/<digest>`) | no |
//! | `events`           | site 0x00 time counter      | a buffered event (visitor as a number) | via number  |
//! |                    | site 0x01 day               | the day's live segment generation      | no          |
//! | `visitor_numbers`  | site 0x00 subject           | the id's visitor number                | yes         |
//! | `visitor_days`     | site 0x00 subject day       | empty: the days the id has events      | yes         |
//! | `erasures`         | site 0x00 subject           | a pending erasure job                  | yes         |
//! | `rights_log`       | time, monotonic id          | a rights request: type, channel, outcome | no        |
//! | `consent_stats`    | site 0x00 day action …      | decision counts, merged by addition    | no          |
//! | `api_keys`         | key id                      | site, label, SHA-256 of the key, times | no          |
//! | `query_log`        | time, monotonic id          | a marketer query: key id, parameters, rows | no      |
//! | `saved_segments`   | site 0x00 segment name      | a saved segment: description, filters  | no          |
//! | `purged`           | site 0x00 subject           | when the decision whose refusals were purged was made | yes |
//!
//! Sealed days live outside sled, in `events/` (see `sealed.rs`); their events hold the
//! visitor as a number too.
//!
//! "Consent id?" means the row can be tied to one consent id. No key or value holds the raw id:
//! it is written as its `Subject`, a SHA-256 of a per-database secret (`meta/subject_secret`),
//! the site and the id.

mod access;
mod anchor;
pub(crate) mod backup;
mod buffered;
mod cache;
mod check;
mod erase;
mod evaluator;
pub mod events;
mod kept;
mod keys;
mod ledger_sink;
#[cfg(test)]
pub(crate) mod registry_test;
mod retention;
mod sealed;
mod sightings;
mod state;
mod stats_days;
pub(crate) mod vault_tree;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::analytics::consent_stats::{self, StatRows};
use crate::analytics::engine::format::Need;
use crate::analytics::engine::{Day, Evaluation, FunnelCounts, FunnelEvaluation, FunnelQuery};
use crate::analytics::event::{AcceptedEvent, StoredEvent};
use crate::analytics::query::{Cancel, Groups, Query, Span};
use crate::domain::Timestamp;
use crate::domain::ledger::{parse_decision_payload, verify_chain};
use crate::domain::{ApiKey, ApiKeyId, Segment, SegmentName, TokenDigest};
use crate::domain::{ConsentId, ConsentRecord, Decision, EntryHash, EntryHeader, SiteId, Subject};
use crate::store::{
    AccessStore, AnalyticsStore, ConsentStore, Durability, LedgerReport, SegmentSaved,
    SightingStore, StoreError, StoreFuture, StoreOptions,
};
use crate::telemetry::Metrics;

pub(crate) use crate::store::ledger::Writer;
use events::EventWriter;

/// The names of every tree, in the order above.
pub const TREES: [&str; 16] = [
    "ledger",
    "consents",
    "consent_history",
    "notices",
    "meta",
    "events",
    "visitor_numbers",
    "visitor_days",
    "erasures",
    "rights_log",
    "consent_stats",
    "api_keys",
    "query_log",
    "saved_segments",
    "purged",
    "sightings",
];

/// Opened trees, cheap to clone.
#[derive(Clone)]
pub(crate) struct Trees {
    pub db: sled::Db,
    pub ledger: vault_tree::Tree,
    pub consents: vault_tree::Tree,
    pub history: vault_tree::Tree,
    pub notices: vault_tree::Tree,
    pub meta: vault_tree::Tree,
    pub events: vault_tree::Tree,
    pub visitor_numbers: vault_tree::Tree,
    pub visitor_days: vault_tree::Tree,
    pub erasures: vault_tree::Tree,
    pub rights_log: vault_tree::Tree,
    /// Every write and read of `consent_stats` goes through it.
    pub consent_stats: Arc<stats_days::StatsDays>,
    pub api_keys: vault_tree::Tree,
    pub query_log: vault_tree::Tree,
    pub saved_segments: vault_tree::Tree,
    /// Withdrawals already purged: the purge of a decision runs once, not every sweep.
    pub purged: vault_tree::Tree,
    /// Cookie and tracker sightings (`sightings`).
    pub sightings: vault_tree::Tree,
    /// The secret consent ids are hashed with at rest.
    pub secret: [u8; 32],
    /// The sealed days.
    pub sealed: Arc<sealed::Sealed>,
    /// The buffered days questions read, built once until the `events` tree changes.
    pub buffered: Arc<buffered::BufferedDays>,
}

impl Trees {
    /// Every tree with its name, in the order of `TREES`.
    pub fn named(&self) -> [(&'static str, &vault_tree::Tree); 16] {
        [
            (TREES[0], &self.ledger),
            (TREES[1], &self.consents),
            (TREES[2], &self.history),
            (TREES[3], &self.notices),
            (TREES[4], &self.meta),
            (TREES[5], &self.events),
            (TREES[6], &self.visitor_numbers),
            (TREES[7], &self.visitor_days),
            (TREES[8], &self.erasures),
            (TREES[9], &self.rights_log),
            (TREES[10], self.consent_stats.tree()),
            (TREES[11], &self.api_keys),
            (TREES[12], &self.query_log),
            (TREES[13], &self.saved_segments),
            (TREES[14], &self.purged),
            (TREES[15], &self.sightings),
        ]
    }

    pub fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        Subject::derive(&self.secret, site, id)
    }
}

/// A per-database secret kept in `meta` under `name`, made (durably) the first time it is asked
/// for: `subject_secret` hashes consent ids, `session_secret` signs dashboard sessions.
pub(crate) fn meta_secret(meta: &vault_tree::Tree, name: &str) -> Result<[u8; 32], StoreError> {
    if let Some(v) = meta.get(name).map_err(map_err)? {
        return v
            .as_ref()
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("the {name} cannot be read")));
    }
    let secret: [u8; 32] = rand::random();
    meta.insert(name, &secret[..]).map_err(map_err)?;
    meta.flush().map_err(map_err)?;
    Ok(secret)
}

pub(crate) fn map_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => StoreError::Locked,
        sled::Error::Io(io) if io.to_string().contains("lock") => StoreError::Locked,
        sled::Error::Corruption { at, .. } => StoreError::Corrupt(format!("at {at:?}")),
        sled::Error::Unsupported(why) if why == vault_tree::UNREADABLE => StoreError::Corrupt(why),
        other => StoreError::Io(other.to_string()),
    }
}

/// Consent storage in a sled database.
pub struct SledStore {
    /// The data folder (names this store for the test suite's pause points).
    dir: std::path::PathBuf,
    trees: Trees,
    cache: Arc<cache::ConsentCache>,
    writer: Arc<Writer>,
    event_writer: Arc<EventWriter>,
    metrics: Arc<Metrics>,
    /// Analytics evaluations are CPU-bound: they run on one thread per core, so parallel
    /// questions queue instead of each holding its own days in memory (and the allocator keeps
    /// one arena per evaluation thread, not one per blocking-pool thread that ever ran one).
    evaluations: Arc<evaluator::Evaluator>,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`. A database that another process holds gives
    /// `Locked`; one that sled finds corrupt gives `Corrupt`, and the caller must not serve.
    pub fn open(
        dir: &Path,
        options: StoreOptions,
        metrics: Arc<Metrics>,
    ) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("cannot create the data folder: {e}")))?;
        let vault = crate::store::vault::open(dir, options.encryption_key.as_ref())?.map(Arc::new);
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(options.cache_capacity_mb * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()
            .map_err(map_err)?;
        let open = |name: &str| {
            db.open_tree(name)
                .map(|t| vault_tree::Tree::new(t, vault.clone()))
                .map_err(map_err)
        };
        let events = open(TREES[5])?;
        let trees = Trees {
            ledger: open(TREES[0])?,
            consents: open(TREES[1])?,
            history: open(TREES[2])?,
            notices: open(TREES[3])?,
            meta: open(TREES[4])?,
            events: events.clone(),
            visitor_numbers: open(TREES[6])?,
            visitor_days: open(TREES[7])?,
            erasures: open(TREES[8])?,
            rights_log: open(TREES[9])?,
            consent_stats: Arc::new(stats_days::StatsDays::new(
                open(TREES[10])?,
                consent_stats::merge,
            )),
            api_keys: open(TREES[11])?,
            query_log: open(TREES[12])?,
            saved_segments: open(TREES[13])?,
            purged: open(TREES[14])?,
            sightings: open(TREES[15])?,
            secret: [0; 32],
            sealed: Arc::new(sealed::Sealed::open(
                dir,
                &events,
                options.analytics_cache_mb,
                vault.clone(),
            )?),
            buffered: Arc::default(),
            db,
        };
        // Rollups were a second copy of the events (before the analytics engine); nothing
        // reads them.
        if trees
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"rollups")
        {
            trees.db.drop_tree("rollups").map_err(map_err)?;
        }
        let mut trees = trees;
        trees.secret = meta_secret(&trees.meta, "subject_secret")?;
        let upgraded = trees.sealed.upgrade(&trees)?;
        if upgraded > 0 {
            log::warn!("rewrote {upgraded} sealed days in the current segment format");
        }
        let anchor = check_anchor(dir, &trees)?;
        ledger_sink::reconcile(&trees, anchor.map_or(1, |a| a.seq + 1))?;
        let cache = Arc::new(cache::ConsentCache::default());
        let syncer = match options.durability {
            Durability::Fsync => Some(ledger_sink::Syncer::open(&dir.join("sled"))?),
            Durability::Flush => None,
        };
        let writer = Writer::start(
            Box::new(ledger_sink::SledLedger::new(
                trees.clone(),
                cache.clone(),
                syncer,
                dir.to_path_buf(),
            )),
            metrics.clone(),
            dir.to_path_buf(),
        )?;
        let writer = Arc::new(writer);
        let event_writer = Arc::new(EventWriter::start(trees.clone())?);
        // On a thread of its own: resuming waits on the writers, which an async runtime's
        // thread (where `open` may be called) must never do.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    erase::with_eraser(&trees, &writer, &event_writer, &cache, |eraser| {
                        eraser.resume_at_start()
                    })
                })
                .join()
                .unwrap_or_else(|_| Err(StoreError::Io("resuming erasures failed".into())))
        })?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            trees,
            cache,
            writer,
            event_writer,
            metrics,
            evaluations: Arc::new(evaluator::Evaluator::start(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )?),
        })
    }

    /// Runs a read on the blocking pool and times it.
    /// Runs an analytics evaluation on the evaluation threads.
    fn evaluate<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Trees) -> Result<T, StoreError> + Send + 'static,
    {
        let trees = self.trees.clone();
        let metrics = self.metrics.clone();
        let done = self.evaluations.run(move || f(&trees));
        Box::pin(async move {
            let started = Instant::now();
            let out = done.await.map_err(|_| StoreError::Closed)?;
            metrics.storage_read.observe(started.elapsed());
            out
        })
    }

    fn read<T, F>(&self, f: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Trees) -> Result<T, StoreError> + Send + 'static,
    {
        let trees = self.trees.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = Instant::now();
            let out = tokio::task::spawn_blocking(move || f(&trees))
                .await
                .map_err(|_| StoreError::Closed)?;
            metrics.storage_read.observe(started.elapsed());
            out
        })
    }
}

/// Hands `add` every day of a span a question reads: the sealed day (with at least the columns
/// in `need`) and the day's buffered rows, built into a day of their own. `Cancelled` once
/// `cancel` is set.
fn each_day(
    t: &Trees,
    site: &SiteId,
    span: Span,
    need: Need,
    cancel: &Cancel,
    mut add: impl FnMut(&Day),
) -> Result<(), StoreError> {
    for day in Evaluation::days(span) {
        if cancel.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        if let Some(sealed) = t.sealed.read_for_query(site.as_str(), day, need)? {
            add(&sealed);
        }
        if let Some(buffered) = t.buffered.day(t, site.as_str(), day)? {
            add(&buffered);
        }
    }
    Ok(())
}

/// Feeds an evaluation the days of a span: a sealed day wholly in the span, for a question
/// that has a shape (no filter), by its kept answer; every other day by its columns.
fn answer_days(
    t: &Trees,
    site: &SiteId,
    span: Span,
    query: &Query,
    cancel: &Cancel,
    evaluation: &mut Evaluation,
) -> Result<(), StoreError> {
    let need = Evaluation::need(query, span);
    let shape = evaluation.shape();
    for day in Evaluation::days(span) {
        if cancel.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        match shape.as_ref().filter(|_| evaluation.holds_day(day)) {
            Some(shape) => {
                let answer = t
                    .sealed
                    .answer_for_query(site.as_str(), day, need, shape, |d| evaluation.answer(d))?;
                if let Some(answer) = answer {
                    evaluation.merge(&answer);
                }
            }
            None => {
                if let Some(sealed) = t.sealed.read_for_query(site.as_str(), day, need)? {
                    evaluation.add(&sealed);
                }
            }
        }
        if let Some(buffered) = t.buffered.day(t, site.as_str(), day)? {
            evaluation.add(&buffered);
        }
    }
    Ok(())
}

/// Refuses a ledger that no longer holds the last entry the anchor file knows was durable.
fn check_anchor(dir: &Path, trees: &Trees) -> Result<Option<anchor::Anchor>, StoreError> {
    let Some(anchor) = anchor::read(dir)? else {
        return Ok(None);
    };
    let found = trees
        .ledger
        .get(anchor.seq.to_be_bytes())
        .map_err(map_err)?
        .and_then(|h| EntryHeader::from_bytes(split_entry(&h).0))
        .map(|h| h.hash());
    if found == Some(anchor.hash) {
        return Ok(Some(anchor));
    }
    Err(StoreError::Corrupt(format!(
        "ledger entry {} was durable before, but the database no longer holds it intact; \
         refusing to serve (restore the data folder from a backup)",
        anchor.seq
    )))
}

/// A ledger value: the fixed header, then the payload (empty once erased).
pub(crate) fn split_entry(value: &[u8]) -> (&[u8], &[u8]) {
    value.split_at(value.len().min(EntryHeader::LEN))
}

fn record_at(trees: &Trees, seq: u64, id: &ConsentId) -> Result<Option<ConsentRecord>, StoreError> {
    let key = seq.to_be_bytes();
    let Some(entry) = trees.ledger.get(key).map_err(map_err)? else {
        return Ok(None);
    };
    let (header, payload) = split_entry(&entry);
    if payload.is_empty() {
        return Ok(None);
    }
    let header = EntryHeader::from_bytes(header)
        .ok_or_else(|| StoreError::Corrupt(format!("ledger entry {seq} cannot be read")))?;
    let decision = parse_decision_payload(payload, id)
        .ok_or_else(|| StoreError::Corrupt(format!("ledger payload {seq} cannot be read")))?;
    Ok(Some(ConsentRecord {
        decision,
        seq,
        receipt: header.hash().hex(),
    }))
}

impl ConsentStore for SledStore {
    fn log_rights_request(
        &self,
        at: Timestamp,
        kind: &'static str,
        channel: &'static str,
        outcome: &'static str,
    ) -> StoreFuture<()> {
        self.read(move |t| {
            let line = crate::store::records::rights_request(at, kind, channel, outcome);
            erase::log_request(t, at, line.as_bytes())
        })
    }

    fn rights_log(&self) -> StoreFuture<Vec<String>> {
        self.read(|t| {
            let mut out = Vec::new();
            for item in t.rights_log.iter() {
                let (_, v) = item.map_err(map_err)?;
                out.push(crate::store::records::rights_line(
                    &String::from_utf8_lossy(&v),
                ));
            }
            Ok(out)
        })
    }

    fn sweep(
        &self,
        plan: Vec<crate::store::Retention>,
        now: Timestamp,
        cancel: Cancel,
    ) -> StoreFuture<crate::store::SweepReport> {
        let (writer, events, cache) = (
            self.writer.clone(),
            self.event_writer.clone(),
            self.cache.clone(),
        );
        self.read(move |trees| {
            let consents = erase::SledConsents {
                trees,
                cache: &cache,
            };
            let visitors = erase::SledVisitors {
                trees,
                events: &events,
            };
            let eraser = crate::store::erasure::Eraser {
                consents: &consents,
                analytics: &visitors,
                writer: &writer,
            };
            let sweep = crate::store::retention::Sweep {
                consents: &consents,
                analytics: &visitors,
                eraser: &eraser,
            };
            let report = sweep.run(&plan, now, &cancel);
            // A sweep reads every consent: give what it allocated back.
            evaluator::release_free_memory();
            let report = report?;
            if report.visitors_erased > 0 {
                cache.clear();
            }
            Ok(report)
        })
    }

    fn erase(
        &self,
        site: SiteId,
        id: ConsentId,
        now: Timestamp,
        channel: &'static str,
    ) -> StoreFuture<Option<crate::store::ErasureReceipt>> {
        let (writer, events, cache) = (
            self.writer.clone(),
            self.event_writer.clone(),
            self.cache.clone(),
        );
        self.read(move |trees| {
            erase::with_eraser(trees, &writer, &events, &cache, |eraser| {
                eraser.erase(&site, &id, now, channel)
            })
        })
    }

    fn record(&self, decision: Decision, renews: bool) -> StoreFuture<ConsentRecord> {
        let pending = self.writer.submit_decision(decision, renews);
        Box::pin(pending)
    }

    fn current(&self, site: SiteId, id: ConsentId) -> StoreFuture<Option<ConsentRecord>> {
        if let Some(hit) = self.cache.get(&site, &id) {
            return Box::pin(std::future::ready(Ok(Some(hit))));
        }
        let cache = self.cache.clone();
        self.read(move |t| {
            match t
                .consents
                .get(keys::consent(&site, &t.subject(&site, &id)))
                .map_err(map_err)?
            {
                Some(v) => {
                    let record = state::decode(t, &v, &id)?;
                    if let Some(record) = &record {
                        cache.put(record);
                    }
                    Ok(record)
                }
                None => Ok(None),
            }
        })
    }

    fn history(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<ConsentRecord>> {
        self.read(move |t| {
            let mut out = Vec::new();
            let subject = t.subject(&site, &id);
            for item in t.history.scan_prefix(keys::history_prefix(&site, &subject)) {
                let (k, _) = item.map_err(map_err)?;
                let Some(seq) = keys::seq_from_history(&k) else {
                    return Err(StoreError::Corrupt("a history key cannot be read".into()));
                };
                if let Some(r) = record_at(t, seq, &id)? {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }

    fn archive_notice(&self, hash: EntryHash, document: Vec<u8>) -> StoreFuture<()> {
        Box::pin(self.writer.submit_notice(hash, document))
    }

    fn notice(&self, hash: EntryHash) -> StoreFuture<Option<Vec<u8>>> {
        self.read(move |t| Ok(t.notices.get(hash.0).map_err(map_err)?.map(|v| v.to_vec())))
    }

    fn check_writable(&self) -> StoreFuture<()> {
        self.read(|t| {
            t.meta.insert("health", &[1u8][..]).map_err(map_err)?;
            Ok(())
        })
    }

    fn verify_ledger(
        &self,
    ) -> Result<Vec<(crate::store::ledger::ChainKey, LedgerReport)>, StoreError> {
        Ok(vec![(None, verify(&self.trees)?)])
    }

    fn ledger_page(
        &self,
        _site: SiteId,
        after: u64,
        limit: usize,
    ) -> StoreFuture<Vec<crate::store::LedgerRow>> {
        use std::ops::Bound;
        self.read(move |t| {
            let range = (Bound::Excluded(after.to_be_bytes()), Bound::Unbounded);
            t.ledger
                .range(range)
                .take(limit)
                .map(|item| ledger_row(item.map_err(map_err)?))
                .collect()
        })
    }

    fn check_integrity(&self) -> Result<crate::store::IntegrityReport, StoreError> {
        check::check(&self.trees)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.trees.db.flush().map(|_| ()).map_err(map_err)
    }

    fn backup(
        &self,
        to: &Path,
    ) -> Result<crate::store::backup::BackupReport, crate::store::backup::BackupError> {
        backup::backup(&self.dir, &self.trees, &self.writer, to)
    }
}

/// The ledger's entries in order (one chain for every site).
fn read_chain(trees: &Trees) -> Result<Vec<crate::store::LedgerRow>, StoreError> {
    trees
        .ledger
        .iter()
        .map(|item| ledger_row(item.map_err(map_err)?))
        .collect()
}

/// A ledger tree's key and value as a row: an erased entry keeps its header only.
fn ledger_row(
    (key, value): (sled::IVec, sled::IVec),
) -> Result<crate::store::LedgerRow, StoreError> {
    let seq =
        keys::seq(&key).ok_or_else(|| StoreError::Corrupt("a ledger key cannot be read".into()))?;
    let (header, payload) = split_entry(&value);
    let payload = (!payload.is_empty()).then(|| payload.to_vec());
    Ok((seq, header.to_vec(), payload))
}

fn verify(trees: &Trees) -> Result<LedgerReport, StoreError> {
    let entries = read_chain(trees)?;
    let head = entries
        .iter()
        .rev()
        .find_map(|(_, h, _)| EntryHeader::from_bytes(h))
        .map(|h| h.hash());
    match verify_chain(entries) {
        Ok(n) => Ok(LedgerReport {
            entries: n,
            fault: None,
            head,
        }),
        Err(fault) => Ok(LedgerReport {
            entries: 0,
            fault: Some(fault),
            head,
        }),
    }
}

impl AnalyticsStore for SledStore {
    fn append_events(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError> {
        self.event_writer.append(events)
    }

    fn sync_events(&self) -> StoreFuture<()> {
        let done = self.event_writer.barrier();
        Box::pin(async move { done.await.map_err(|_| StoreError::Closed) })
    }

    /// The data folder's writer never holds a group: a write it cannot make fails the store.
    fn events_held(&self) -> Option<String> {
        None
    }

    fn events_of(&self, site: SiteId, id: ConsentId) -> StoreFuture<Vec<StoredEvent>> {
        self.read(move |t| {
            let vkey = events::visitor_key(site.as_str(), &t.subject(&site, &id));
            let Some(number) = t.visitor_numbers.get(&vkey).map_err(map_err)? else {
                return Ok(Vec::new());
            };
            let number = u64::from_be_bytes(
                number
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a visitor number cannot be read".into()))?,
            );
            Ok(events::visitor_events(t, site.as_str(), &vkey, number)?.all())
        })
    }

    fn consent_stats(&self, site: SiteId, days: Range<u32>) -> StoreFuture<Vec<StatRows>> {
        self.read(move |t| t.consent_stats.read(site.as_str(), days))
    }

    fn groups(
        &self,
        site: SiteId,
        query: Query,
        span: Span,
        cancel: Cancel,
    ) -> StoreFuture<Groups> {
        let dir = self.dir.clone();
        self.evaluate(move |t| {
            crate::fault::pause_point(&dir, "event_scan");
            let mut evaluation = Evaluation::new(&query, span);
            answer_days(t, &site, span, &query, &cancel, &mut evaluation)?;
            Ok(evaluation.finish())
        })
    }

    fn funnel(
        &self,
        site: SiteId,
        query: FunnelQuery,
        cancel: Cancel,
    ) -> StoreFuture<FunnelCounts> {
        self.evaluate(move |t| {
            let mut evaluation = FunnelEvaluation::new(&query);
            let need = FunnelEvaluation::need(&query);
            each_day(t, &site, query.span, need, &cancel, |d| evaluation.add(d))?;
            Ok(evaluation.finish())
        })
    }

    fn settle_events(&self) -> StoreFuture<()> {
        let done = self.event_writer.settle();
        Box::pin(async move { done.await.map_err(|_| StoreError::Closed) })
    }
}

impl SightingStore for SledStore {
    fn add_sightings(&self, site: SiteId, report: crate::detect::PageReport) -> StoreFuture<()> {
        self.read(move |t| sightings::add(t, &site, &report))
    }

    fn sightings(
        &self,
        site: SiteId,
        days: std::ops::Range<i64>,
    ) -> StoreFuture<Vec<crate::detect::SightingRow>> {
        self.read(move |t| sightings::rows(t, &site, days))
    }
}

impl AccessStore for SledStore {
    fn put_key(&self, key: ApiKey) -> StoreFuture<()> {
        self.read(move |t| access::put_key(t, &key))
    }

    fn key(&self, id: ApiKeyId) -> StoreFuture<Option<ApiKey>> {
        self.read(move |t| access::key(t, &id))
    }

    fn keys(&self, site: SiteId) -> StoreFuture<Vec<ApiKey>> {
        self.read(move |t| access::keys(t, &site))
    }

    fn log_query(&self, at: Timestamp, line: String) -> StoreFuture<()> {
        self.read(move |t| access::log_query(t, at, &line))
    }

    fn query_log(&self) -> StoreFuture<Vec<String>> {
        self.read(access::query_log)
    }

    fn put_segment(&self, site: SiteId, segment: Segment) -> StoreFuture<SegmentSaved> {
        self.read(move |t| access::put_segment(t, &site, &segment))
    }

    fn segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<Option<Segment>> {
        self.read(move |t| access::segment(t, &site, &name))
    }

    fn segments(&self, site: SiteId) -> StoreFuture<Vec<Segment>> {
        self.read(move |t| access::segments(t, &site))
    }

    fn delete_segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<bool> {
        self.read(move |t| access::delete_segment(t, &site, &name))
    }

    fn add_operator_token(&self, digest: TokenDigest, at: Timestamp) -> StoreFuture<()> {
        self.read(move |t| access::add_operator_token(t, &digest, at))
    }

    fn operator_tokens(&self) -> StoreFuture<Vec<(TokenDigest, Timestamp)>> {
        self.read(access::operator_tokens)
    }

    fn remove_operator_token(&self, digest: TokenDigest) -> StoreFuture<bool> {
        self.read(move |t| access::remove_operator_token(t, &digest))
    }

    fn session_secret(&self) -> StoreFuture<[u8; 32]> {
        self.read(|t| meta_secret(&t.meta, "session_secret"))
    }
}
