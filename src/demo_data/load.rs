//! Driving the store the way the HTTP API does: decisions through `ConsentStore::record`,
//! thousands in flight at once so the ledger's group commits share flushes, while generation
//! goes on; a window's events through `AnalyticsStore::append_events` only once its decisions
//! are durable, in large batches, retried after a short sleep when the queue is full, with a
//! barrier now and then so the queue never holds more than a few batches. Last, the
//! retention sweep the server runs at start-up, as of the end of the range, so the folder
//! holds what a running server would (without it, events of categories withdrawn over a
//! day before the end would vanish 30 s after the server starts, and every number with them).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::catalog::Catalog;
use super::generator::{Generator, Plan, Stats};
use super::people::Shown;
use super::visits::Planned;
use crate::analytics::query::Cancel;
use crate::domain::{ConsentRecord, Decision, Site, Timestamp};
use crate::notices::SiteNotices;
use crate::store::{AnalyticsStore, ConsentStore, StoreError, StoreFuture, SweepReport};

/// The most decisions the ledger writer commits (and flushes) at once.
const LEDGER_GROUP: usize = 1024;
/// Decisions held or submitted and not yet durable, at most.
const MAX_DECISIONS_IN_FLIGHT: usize = 8192;
/// Windows whose events wait for their decisions, at most.
const MAX_WINDOWS_IN_FLIGHT: usize = 48;
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
    pub waiting: Duration,
    /// `append_events` calls answered `Overloaded` and retried.
    pub retries: u64,
    /// What the closing retention sweep deleted.
    pub swept: SweepReport,
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
    S: ConsentStore + AnalyticsStore + ?Sized,
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
        appended: 0,
    };
    let mut progress = Progress {
        target: plan.target,
        next_tenth: 1,
        started,
    };
    let mut pipeline = Pipeline {
        store,
        windows: VecDeque::new(),
        held: 0,
        in_flight: 0,
        waiting: Duration::ZERO,
    };
    while let Some(decisions) = generator.open()? {
        pipeline.push(decisions, generator.close());
        while pipeline.is_full() && pipeline.land_oldest(&mut sink, cat).await? {}
        progress.report(sink.appended, &generator);
    }
    while pipeline.land_oldest(&mut sink, cat).await? {
        progress.report(sink.appended, &generator);
    }
    sink.finish(cat).await?;
    progress.report(sink.appended, &generator);
    let swept = store
        .sweep(
            crate::sites::retention_plan(std::slice::from_ref(site)),
            Timestamp(plan.end),
            Cancel::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())?;
    Ok(Report {
        stats: generator.stats.clone(),
        elapsed: started.elapsed(),
        waiting: pipeline.waiting,
        retries: sink.retries,
        swept,
    })
}

/// Prints a line to stderr at every tenth of the target appended.
struct Progress {
    target: u64,
    next_tenth: u64,
    started: Instant,
}

impl Progress {
    fn report(&mut self, appended: u64, generator: &Generator<'_>) {
        while self.next_tenth <= 10 && appended * 10 >= self.target * self.next_tenth {
            let s = &generator.stats;
            eprintln!(
                "demo-data: {:>3}% {appended} events appended; generated up to {} ({} visitors, \
                 {} decisions); {:.1} s",
                self.next_tenth * 10,
                super::date(generator.reached()),
                s.new_visitors,
                s.decisions,
                self.started.elapsed().as_secs_f64()
            );
            self.next_tenth += 1;
        }
    }
}

/// A window on its way to the store: its decisions (held, then submitted) and the events
/// that wait for them.
struct Window {
    held: Vec<Decision>,
    records: Vec<StoreFuture<ConsentRecord>>,
    /// When each decision was made, to check the records come back in order.
    times: Vec<i64>,
    events: Vec<Planned>,
}

/// Windows between the generator and the store. Decisions are held until a full ledger group
/// is ready (every group commit flushes, so small groups cost a flush each), then submitted
/// in order; a window's events go to the sink once its decisions are durable.
struct Pipeline<'s, S: ?Sized> {
    store: &'s S,
    windows: VecDeque<Window>,
    held: usize,
    in_flight: usize,
    /// Time spent waiting for decisions to be durable.
    waiting: Duration,
}

impl<S: ConsentStore + AnalyticsStore + ?Sized> Pipeline<'_, S> {
    fn push(&mut self, decisions: Vec<Decision>, events: Vec<Planned>) {
        self.held += decisions.len();
        self.windows.push_back(Window {
            times: decisions.iter().map(|d| d.recorded_at.0).collect(),
            held: decisions,
            records: Vec::new(),
            events,
        });
        if self.held >= LEDGER_GROUP {
            self.submit();
        }
    }

    /// Submits every held decision, oldest first.
    fn submit(&mut self) {
        for w in &mut self.windows {
            let store = self.store;
            w.records
                .extend(w.held.drain(..).map(|d| store.record(d, false)));
        }
        self.in_flight += self.held;
        self.held = 0;
    }

    fn is_full(&self) -> bool {
        self.in_flight + self.held > MAX_DECISIONS_IN_FLIGHT
            || self.windows.len() > MAX_WINDOWS_IN_FLIGHT
    }

    /// Waits until the oldest window's decisions are durable and hands its events to the
    /// sink; `false` when no window is left.
    async fn land_oldest(&mut self, sink: &mut Sink<'_, S>, cat: &Catalog) -> Result<bool, String> {
        if self.windows.front().is_some_and(|w| !w.held.is_empty()) {
            self.submit();
        }
        let Some(window) = self.windows.pop_front() else {
            return Ok(false);
        };
        self.in_flight -= window.records.len();
        let t = Instant::now();
        let records = join_all(window.records).await;
        self.waiting += t.elapsed();
        for (record, at) in records.into_iter().zip(window.times) {
            let record = record.map_err(|e| e.to_string())?;
            if record.decision.recorded_at.0 != at {
                return Err("the ledger answered decisions out of order".into());
            }
        }
        sink.push(cat, window.events).await?;
        Ok(true)
    }
}

/// Events on their way to the event writer.
struct Sink<'s, S: ?Sized> {
    store: &'s S,
    pending: Vec<Planned>,
    since_barrier: usize,
    barrier: Option<StoreFuture<()>>,
    retries: u64,
    /// Events the event writer has accepted.
    appended: u64,
}

impl<S: AnalyticsStore + ?Sized> Sink<'_, S> {
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
                Ok(()) => {
                    self.appended += batch.len() as u64;
                    break;
                }
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
        self.store.settle_events().await.map_err(|e| e.to_string())
    }
}
