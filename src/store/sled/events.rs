//! Analytics events in sled: one writer thread that numbers visitors, derives visits, encodes
//! events compactly and writes them with their rollup deltas every 200 ms.
//!
//! Trees (see the registry in `mod.rs`): `events` (site 0x00 time(ms, u64 BE) counter(u32 BE)
//! → encoded event), `rollups` (see `analytics::rollup::key`; merged by addition),
//! `visitor_numbers` (site 0x00 subject → u64 BE) and `visitor_days` (site 0x00 subject
//! day(u32 BE) → empty), the last two so export and erasure find a visitor's events
//! without a full scan.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Trees, keys, map_err};
use crate::analytics::codec::{self, EncodeInput};
use crate::analytics::event::{AcceptedEvent, StoredEvent};
use crate::analytics::rollup::{Aggregator, Counters};
use crate::domain::{ConsentId, SiteId, Subject, Timestamp};
use crate::store::StoreError;

/// Batches of events the queue holds before `append_events` answers `Overloaded`.
const QUEUE: usize = 1024;
const WRITE_EVERY: Duration = Duration::from_millis(200);
const DAY_MS: i64 = 86_400_000;
/// Visitor numbers are leased in blocks: `meta/visitor_seq` holds the end of the lease, made
/// durable before any number in it is handed out, so no crash can hand a number out twice.
const LEASE: u64 = 1024;

pub(crate) enum Job {
    Events(Vec<AcceptedEvent>),
    Barrier(oneshot::Sender<()>),
}

pub(crate) struct EventWriter {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl EventWriter {
    pub fn start(trees: Trees) -> Result<EventWriter, StoreError> {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || run(trees, rx))
            .map_err(|e| StoreError::Io(format!("cannot start the event writer: {e}")))?;
        Ok(EventWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn append(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError> {
        let Some(tx) = &self.tx else {
            return Err(StoreError::Closed);
        };
        tx.try_send(Job::Events(events)).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded,
            TrySendError::Disconnected(_) => StoreError::Closed,
        })
    }

    pub fn barrier(&self) -> oneshot::Receiver<()> {
        let (reply, rx) = oneshot::channel();
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Barrier(reply));
        }
        rx
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The key prefix of a visitor's rows in `visitor_numbers` and `visitor_days`.
pub fn visitor_key(site: &str, subject: &Subject) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 17);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(&subject.0);
    k
}

pub fn event_key(site: &str, at_ms: i64, counter: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 13);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(&u64::try_from(at_ms).unwrap_or(0).to_be_bytes());
    k.extend_from_slice(&counter.to_be_bytes());
    k
}

/// The time in an event key.
pub fn event_time(key: &[u8]) -> Option<i64> {
    let zero = key.iter().position(|b| *b == 0)?;
    let t = key.get(zero + 1..zero + 9)?;
    i64::try_from(u64::from_be_bytes(t.try_into().ok()?)).ok()
}

/// A visitor's events and the day-index rows that led to them.
pub(crate) struct VisitorEvents {
    /// Each event with its key in `events`, oldest first.
    pub events: Vec<(sled::IVec, StoredEvent)>,
    /// The visitor's rows in `visitor_days`.
    pub days: Vec<sled::IVec>,
}

/// Every stored event of a visitor (`vkey` from `visitor_key`, `number` its visitor number),
/// found through the day index rather than a scan of the site's events.
pub(crate) fn visitor_events(
    t: &Trees,
    site: &str,
    vkey: &[u8],
    number: u64,
) -> Result<VisitorEvents, StoreError> {
    let mut out = VisitorEvents {
        events: Vec::new(),
        days: Vec::new(),
    };
    for row in t.visitor_days.scan_prefix(vkey) {
        let (dk, _) = row.map_err(map_err)?;
        let Some(day) = dk
            .get(vkey.len()..)
            .and_then(|d| d.try_into().ok())
            .map(u32::from_be_bytes)
        else {
            continue;
        };
        let from = i64::from(day) * DAY_MS;
        let start = event_key(site, from, 0);
        let end = event_key(site, from + DAY_MS, 0);
        for item in t.events.range(start..end) {
            let (k, v) = item.map_err(map_err)?;
            let Some(at) = event_time(&k) else { continue };
            if let Some((visitor, e)) = codec::decode(Timestamp(at), &v) {
                if visitor == number {
                    out.events.push((k, e));
                }
            }
        }
        out.days.push(dk);
    }
    Ok(out)
}

/// Adds rollup counters.
pub fn merge_counters(_key: &[u8], old: Option<&[u8]>, delta: &[u8]) -> Option<Vec<u8>> {
    let mut sum = old.map(Counters::from_bytes).unwrap_or_default();
    sum.add(&Counters::from_bytes(delta));
    Some(sum.to_bytes().to_vec())
}

struct State {
    trees: Trees,
    aggregator: Aggregator,
    numbers: HashMap<Vec<u8>, u64>,
    days: HashMap<Vec<u8>, u32>,
    next_visitor: u64,
    /// The last number of the durable lease: `next_visitor` never passes it unwritten.
    leased_until: u64,
    counter: u32,
    events: Vec<(Vec<u8>, Vec<u8>)>,
    index: sled::Batch,
    pending: usize,
    /// Whether each consent seen since the last write is still held (and its subject).
    live: HashMap<(SiteId, ConsentId), Option<Subject>>,
    /// The newest event time seen: visits expire against event time, not the wall clock.
    latest_ms: i64,
}

fn run(trees: Trees, rx: Receiver<Job>) {
    let next_visitor = trees
        .meta
        .get("visitor_seq")
        .ok()
        .flatten()
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    let mut st = State {
        trees,
        aggregator: Aggregator::default(),
        numbers: HashMap::new(),
        days: HashMap::new(),
        // Numbers of the last lease may have been handed out before a crash: start after it.
        next_visitor,
        leased_until: next_visitor,
        counter: 0,
        events: Vec::new(),
        index: sled::Batch::default(),
        pending: 0,
        live: HashMap::new(),
        latest_ms: 0,
    };
    let mut last_write = Instant::now();
    loop {
        let wait = WRITE_EVERY.saturating_sub(last_write.elapsed());
        match rx.recv_timeout(wait) {
            Ok(Job::Events(batch)) => {
                for e in &batch {
                    st.add(e);
                }
            }
            Ok(Job::Barrier(reply)) => {
                st.write();
                // What a barrier waits for is on disk, not only in sled's buffers.
                if let Err(e) = st.trees.db.flush() {
                    log::error!("an event flush failed: {}", map_err(e));
                }
                last_write = Instant::now();
                let _ = reply.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                st.write();
                let _ = st.trees.db.flush();
                return;
            }
        }
        if last_write.elapsed() >= WRITE_EVERY || st.pending >= 20_000 {
            st.write();
            last_write = Instant::now();
        }
    }
}

impl State {
    fn visitor_number(&mut self, key: &[u8]) -> Option<u64> {
        if let Some(n) = self.numbers.get(key) {
            return Some(*n);
        }
        let stored = self
            .trees
            .visitor_numbers
            .get(key)
            .ok()
            .flatten()
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes));
        let n = match stored {
            Some(n) => n,
            None => self.new_visitor_number(key)?,
        };
        if self.numbers.len() > 200_000 {
            self.numbers.clear();
        }
        self.numbers.insert(key.to_vec(), n);
        Some(n)
    }

    /// The next number, under a durable lease. `None` when the lease cannot be written: then
    /// the event is not stored, rather than stored under a number that could be reused.
    fn new_visitor_number(&mut self, key: &[u8]) -> Option<u64> {
        if self.next_visitor >= self.leased_until {
            let until = self.next_visitor + LEASE;
            let leased = self
                .trees
                .meta
                .insert("visitor_seq", &until.to_be_bytes())
                .and_then(|_| self.trees.db.flush());
            if let Err(e) = leased {
                log::error!("cannot lease visitor numbers: {}", map_err(e));
                return None;
            }
            self.leased_until = until;
        }
        self.next_visitor += 1;
        let n = self.next_visitor;
        // Written at once (not batched) so a later lookup in this batch window finds it.
        if let Err(e) = self.trees.visitor_numbers.insert(key, &n.to_be_bytes()) {
            log::error!("cannot store a visitor number: {}", map_err(e));
            return None;
        }
        crate::fault::crash_point("after_visitor_number", || {
            let _ = self.trees.db.flush();
        });
        Some(n)
    }

    fn add(&mut self, e: &AcceptedEvent) {
        // An erasure may have begun since the gate let this event through: then it is not
        // written. The erasure deletes the state first and then waits for this queue.
        // The answer is remembered until the next write, which every erasure's barrier forces.
        let memo_key = (e.site.clone(), e.consent_id.clone());
        let live = match self.live.get(&memo_key) {
            Some(known) => *known,
            None => {
                let subject = self.trees.subject(&e.site, &e.consent_id);
                let live = self
                    .trees
                    .consents
                    .contains_key(keys::consent(&e.site, &subject))
                    .unwrap_or(false)
                    .then_some(subject);
                self.live.insert(memo_key, live);
                live
            }
        };
        let Some(subject) = live else {
            return;
        };
        let vkey = visitor_key(e.site.as_str(), &subject);
        let Some(visitor) = self.visitor_number(&vkey) else {
            return;
        };
        let day = u32::try_from(e.at.millis().div_euclid(DAY_MS)).unwrap_or(0);
        if self.days.get(&vkey) != Some(&day) {
            let mut dkey = vkey.clone();
            dkey.extend_from_slice(&day.to_be_bytes());
            self.index.insert(dkey, &[][..]);
            if self.days.len() > 200_000 {
                self.days.clear();
            }
            self.days.insert(vkey, day);
        }
        let visit = self.aggregator.add(visitor, e);
        self.latest_ms = self.latest_ms.max(e.at.millis());
        self.counter = self.counter.wrapping_add(1);
        let bytes = codec::encode(&EncodeInput {
            visitor,
            visit,
            category: e.category.as_str(),
            name: &e.name,
            path: &e.path,
            props: &e.props,
            context: &e.context,
        });
        self.events.push((
            event_key(e.site.as_str(), e.at.millis(), self.counter),
            bytes,
        ));
        self.pending += 1;
    }

    fn write(&mut self) {
        self.live.clear();
        let deltas = self.aggregator.drain();
        if self.pending == 0 && deltas.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        let index = std::mem::take(&mut self.index);
        let result = (|| -> Result<(), sled::Error> {
            // The day index first: export and erasure find a visitor's events through it, so
            // a crash part-way must never leave an event that the index does not lead to (an
            // index row without its events is harmless). sled recovers its log in order.
            self.trees.visitor_days.apply_batch(index)?;
            crate::fault::crash_point("between_day_index_and_events", || {
                let _ = self.trees.db.flush();
            });
            // Plain inserts, not one big batch: sled 0.34's batch holds a database-wide lock
            // that would stall every reader (the consent gate among them) for the whole write.
            for (k, v) in events {
                self.trees.events.insert(k, v)?;
            }
            for (k, c) in deltas {
                self.trees.rollups.merge(k, c.to_bytes())?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            log::error!("an event group write failed: {}", map_err(e));
            // The day rows this write meant to add may be missing: write them again next time.
            self.days.clear();
        }
        self.pending = 0;
        self.aggregator.expire_visits(self.latest_ms);
    }
}
