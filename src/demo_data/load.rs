//! Driving the store the way the HTTP API does: decisions through `ConsentStore::record`, many
//! in flight at once so the ledger's group commits share flushes; events through
//! `AnalyticsStore::append_events` in large batches, retried after a short sleep when the
//! queue is full, with a barrier now and then so the queue never holds more than a few
//! batches.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::catalog::Catalog;
use super::generator::{Generator, Plan, Stats};
use super::people::Shown;
use super::visits::Planned;
use crate::domain::{ConsentRecord, Decision, Site};
use crate::notices::SiteNotices;
use crate::store::{AnalyticsStore, ConsentStore, StoreError, StoreFuture};

/// Decisions submitted together; two such groups are in flight at once.
const RECORD_CHUNK: usize = 512;
/// Events per `append_events` call.
const BATCH: usize = 5_000;
/// Events between two barriers on the event writer.
const BARRIER_EVERY: usize = 100_000;
const BACK_OFF: Duration = Duration::from_millis(3);

/// What a fill did, and how long it took.
#[derive(Debug, Clone)]
pub struct Report {
    pub stats: Stats,
    pub elapsed: Duration,
    /// Time spent waiting for decisions to be durable.
    pub recording: Duration,
    /// `append_events` calls answered `Overloaded` and retried.
    pub retries: u64,
}

/// Fills the store with the plan's traffic.
pub async fn fill<S>(
    store: &S,
    site: &Site,
    cat: &Catalog,
    notices: &SiteNotices,
    shown: Shown,
    plan: Plan,
) -> Result<Report, String>
where
    S: ConsentStore + AnalyticsStore,
{
    let started = Instant::now();
    // The documents the decisions name by hash, as the server archives them at start-up.
    for (hash, document) in notices.documents() {
        store
            .archive_notice(hash, document)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut generator = Generator::new(site, cat, shown, plan)?;
    let mut sink = Sink {
        store,
        pending: Vec::new(),
        since_barrier: 0,
        barrier: None,
        retries: 0,
    };
    let mut recording = Duration::ZERO;
    let mut next_tenth = 1;
    while let Some(decisions) = generator.open()? {
        let t = Instant::now();
        let records = record_all(store, decisions)
            .await
            .map_err(|e| e.to_string())?;
        recording += t.elapsed();
        let events = generator.close(records);
        sink.push(cat, events).await?;
        let done = generator.stats.released;
        while next_tenth <= 10 && done * 10 >= plan.target * next_tenth {
            eprintln!(
                "demo-data: {:>3}% {done} events, {} visitors, {} decisions, up to {} ({:.1} s)",
                next_tenth * 10,
                generator.stats.new_visitors,
                generator.stats.decisions,
                super::date(generator.reached()),
                started.elapsed().as_secs_f64()
            );
            next_tenth += 1;
        }
    }
    sink.finish(cat).await?;
    store.flush().map_err(|e| e.to_string())?;
    Ok(Report {
        stats: generator.stats.clone(),
        elapsed: started.elapsed(),
        recording,
        retries: sink.retries,
    })
}

/// Records decisions in order, with up to two chunks in flight.
async fn record_all<S: ConsentStore>(
    store: &S,
    decisions: Vec<Decision>,
) -> Result<Vec<ConsentRecord>, StoreError> {
    let mut out = Vec::with_capacity(decisions.len());
    let mut rest = decisions.into_iter();
    let mut previous: Option<Vec<StoreFuture<ConsentRecord>>> = None;
    loop {
        let next: Vec<_> = rest
            .by_ref()
            .take(RECORD_CHUNK)
            .map(|d| store.record(d))
            .collect();
        if let Some(chunk) = previous.take() {
            for record in join_all(chunk).await {
                out.push(record?);
            }
        }
        if next.is_empty() {
            return Ok(out);
        }
        previous = Some(next);
    }
}

/// Events on their way to the event writer.
struct Sink<'s, S> {
    store: &'s S,
    pending: Vec<Planned>,
    since_barrier: usize,
    barrier: Option<StoreFuture<()>>,
    retries: u64,
}

impl<S: AnalyticsStore> Sink<'_, S> {
    async fn push(&mut self, cat: &Catalog, events: Vec<Planned>) -> Result<(), String> {
        self.pending.extend(events);
        while self.pending.len() >= BATCH {
            let rest = self.pending.split_off(BATCH);
            let batch = std::mem::replace(&mut self.pending, rest);
            self.send(cat, &batch).await?;
        }
        Ok(())
    }

    /// Appends one batch, never dropping it: `Overloaded` is retried after a short sleep.
    async fn send(&mut self, cat: &Catalog, batch: &[Planned]) -> Result<(), String> {
        loop {
            let events = batch.iter().map(|p| cat.event(p)).collect();
            match self.store.append_events(events) {
                Ok(()) => break,
                Err(StoreError::Overloaded) => {
                    self.retries += 1;
                    tokio::time::sleep(BACK_OFF).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        self.since_barrier += batch.len();
        if self.since_barrier >= BARRIER_EVERY {
            self.since_barrier = 0;
            // Wait for the barrier before last, so one stays in flight while generation goes on.
            let next = self.store.sync_events();
            if let Some(previous) = self.barrier.replace(next) {
                previous.await.map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    async fn finish(&mut self, cat: &Catalog) -> Result<(), String> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.send(cat, &rest).await?;
        }
        if let Some(previous) = self.barrier.take() {
            previous.await.map_err(|e| e.to_string())?;
        }
        self.store.sync_events().await.map_err(|e| e.to_string())
    }
}
