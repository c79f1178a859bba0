//! Analytics events: one writer thread that numbers visitors, derives visits, encodes events
//! compactly, writes them to the write buffer every 200 ms, and seals days that are over
//! into day segments (`sealed.rs`).
//!
//! Trees (see the registry in `mod.rs`): `events` (the write buffer: site 0x00 time(ms,
//! u64 BE) counter(u32 BE) → encoded event; and site 0x01 day → the day's segment
//! generation), `visitor_numbers` (site 0x00 subject → u64 BE) and `visitor_days` (site 0x00
//! subject day(u32 BE) → empty), the last two so export and erasure find a visitor's events
//! without a full scan.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Trees, keys, map_err};
use crate::analytics::codec::{self, EncodeInput};
use crate::analytics::engine::Row;
use crate::analytics::event::{AcceptedEvent, StoredEvent};
use crate::analytics::visits::Visits;
use crate::domain::{ConsentId, SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::queue::{EventQueue, Taken};

const WRITE_EVERY: Duration = Duration::from_millis(200);
const DAY_MS: i64 = 86_400_000;
/// Visitor numbers are leased in blocks: `meta/visitor_seq` holds the end of the lease, made
/// durable before any number in it is handed out, so no crash can hand a number out twice.
const LEASE: u64 = 1024;
/// A day is sealed once it ended this long ago and no event for it came in the last write.
const SEAL_GRACE_MS: i64 = 10 * 60 * 1000;

pub(crate) enum Job {
    Events(Vec<AcceptedEvent>),
    Barrier(oneshot::Sender<()>),
    /// A barrier that also seals every day that is over, at once (loaders and tests).
    Settle(oneshot::Sender<()>),
}

pub(crate) struct EventWriter {
    queue: EventQueue<Job>,
}

impl EventWriter {
    pub fn start(trees: Trees) -> Result<EventWriter, StoreError> {
        Ok(EventWriter {
            queue: EventQueue::start("event-writer", move |taken| run(trees, &taken))?,
        })
    }

    pub fn append(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError> {
        let n = events.len();
        self.queue.send_events(Job::Events(events), n)
    }

    pub fn barrier(&self) -> oneshot::Receiver<()> {
        let (reply, rx) = oneshot::channel();
        self.queue.send(Job::Barrier(reply));
        rx
    }

    pub fn settle(&self) -> oneshot::Receiver<()> {
        let (reply, rx) = oneshot::channel();
        self.queue.send(Job::Settle(reply));
        rx
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
    /// Each buffered event with its key in `events`, oldest first.
    pub events: Vec<(sled::IVec, StoredEvent)>,
    /// The sealed days holding at least one of the visitor's events, with those events.
    pub sealed: Vec<(i64, Vec<StoredEvent>)>,
    /// The visitor's rows in `visitor_days`.
    pub days: Vec<sled::IVec>,
}

impl VisitorEvents {
    /// Every event, oldest first.
    pub fn all(&self) -> Vec<StoredEvent> {
        let mut all: Vec<StoredEvent> = self
            .sealed
            .iter()
            .flat_map(|(_, events)| events.iter().cloned())
            .chain(self.events.iter().map(|(_, e)| e.clone()))
            .collect();
        all.sort_by_key(|e| e.at.0);
        all
    }
}

/// The visitor's rows in `visitor_days`, with their days.
pub(crate) fn visitor_day_rows(
    t: &Trees,
    vkey: &[u8],
) -> Result<Vec<(sled::IVec, i64)>, StoreError> {
    let mut out = Vec::new();
    for row in t.visitor_days.scan_prefix(vkey) {
        let (dk, _) = row.map_err(map_err)?;
        if let Some(day) = dk
            .get(vkey.len()..)
            .and_then(|d| d.try_into().ok())
            .map(u32::from_be_bytes)
        {
            out.push((dk, i64::from(day)));
        }
    }
    Ok(out)
}

/// Every stored event of a visitor (`vkey` from `visitor_key`, `number` its visitor number),
/// buffered or sealed, found through the day index rather than a scan of the site's events.
pub(crate) fn visitor_events(
    t: &Trees,
    site: &str,
    vkey: &[u8],
    number: u64,
) -> Result<VisitorEvents, StoreError> {
    let mut out = VisitorEvents {
        events: Vec::new(),
        sealed: Vec::new(),
        days: Vec::new(),
    };
    for (dk, day) in visitor_day_rows(t, vkey)? {
        for (k, row) in buffered_rows(t, site, day)? {
            if row.visitor == number {
                out.events.push((k, row.event));
            }
        }
        if let Some(sealed) = t.sealed.read(site, day)? {
            let mine: Vec<StoredEvent> = sealed
                .rows_of(number)
                .into_iter()
                .map(|r| r.event)
                .collect();
            if !mine.is_empty() {
                out.sealed.push((day, mine));
            }
        }
        out.days.push(dk);
    }
    Ok(out)
}

/// The buffered (not yet sealed) events of a site's day, with their keys.
pub(crate) fn buffered_rows(
    t: &Trees,
    site: &str,
    day: i64,
) -> Result<Vec<(sled::IVec, Row)>, StoreError> {
    let mut out = Vec::new();
    for item in t.events.range(super::sealed::day_keys(site, day)) {
        let (k, v) = item.map_err(map_err)?;
        let Some(at) = event_time(&k) else { continue };
        if let Some((visitor, event)) = codec::decode(Timestamp(at), &v) {
            out.push((k, Row { visitor, event }));
        }
    }
    Ok(out)
}

struct State {
    trees: Trees,
    visits: Visits,
    numbers: HashMap<Vec<u8>, u64>,
    days: HashMap<Vec<u8>, u32>,
    next_visitor: u64,
    /// The last number of the durable lease: `next_visitor` never passes it unwritten.
    leased_until: u64,
    counter: u32,
    events: Vec<(Vec<u8>, Vec<u8>)>,
    index: super::vault_tree::Batch,
    pending: usize,
    /// Whether each consent seen since the last write is still held (and its subject).
    live: HashMap<(SiteId, ConsentId), Option<Subject>>,
    /// The newest event time seen: visits expire against event time, not the wall clock.
    latest_ms: i64,
    /// Days with buffered events, waiting to be sealed.
    unsealed: BTreeSet<(String, i64)>,
    /// Days that received events since the last write.
    touched: HashSet<(String, i64)>,
}

fn run(trees: Trees, taken: &Taken<Job>) {
    let next_visitor = trees
        .meta
        .get("visitor_seq")
        .ok()
        .flatten()
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    let mut st = State {
        trees,
        visits: Visits::default(),
        numbers: HashMap::new(),
        days: HashMap::new(),
        // Numbers of the last lease may have been handed out before a crash: start after it.
        next_visitor,
        leased_until: next_visitor,
        counter: 0,
        events: Vec::new(),
        index: super::vault_tree::Batch::default(),
        pending: 0,
        live: HashMap::new(),
        latest_ms: 0,
        unsealed: BTreeSet::new(),
        touched: HashSet::new(),
    };
    match buffered_days(&st.trees) {
        Ok(days) => st.unsealed = days,
        Err(e) => log::error!("cannot list the buffered days: {e}"),
    }
    let mut last_write = Instant::now();
    loop {
        let wait = WRITE_EVERY.saturating_sub(last_write.elapsed());
        match taken.jobs.recv_timeout(wait) {
            Ok(Job::Events(batch)) => {
                taken.took(batch.len());
                for e in &batch {
                    st.add(e);
                }
            }
            Ok(Job::Settle(reply)) => {
                st.write();
                st.seal(true);
                let _ = reply.send(());
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
            st.seal(false);
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
        let visit = self
            .visits
            .visit_of(e.site.as_str(), visitor, e.at.millis());
        self.latest_ms = self.latest_ms.max(e.at.millis());
        let at_day = (e.site.as_str().to_owned(), i64::from(day));
        if !self.touched.contains(&at_day) {
            self.touched.insert(at_day.clone());
            self.unsealed.insert(at_day);
        }
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
        if self.pending == 0 {
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
            Ok(())
        })();
        if let Err(e) = result {
            log::error!("an event group write failed: {}", map_err(e));
            // The day rows this write meant to add may be missing: write them again next time.
            self.days.clear();
        }
        self.pending = 0;
        self.visits.expire(self.latest_ms);
    }

    /// Seals the buffered days that are over: those that ended `SEAL_GRACE_MS` ago and got no
    /// event in the last write, or (`all`) every day before today.
    fn seal(&mut self, all: bool) {
        let now = crate::domain::Clock::now(&crate::domain::SystemClock).0;
        let today = now.div_euclid(DAY_MS);
        let over = (now - SEAL_GRACE_MS).div_euclid(DAY_MS);
        let touched = std::mem::take(&mut self.touched);
        let due: Vec<(String, i64)> = self
            .unsealed
            .iter()
            .filter(|(site, day)| {
                if all {
                    *day < today
                } else {
                    *day < over && !touched.contains(&(site.clone(), *day))
                }
            })
            .cloned()
            .collect();
        for (site, day) in due {
            match self.trees.sealed.seal(&self.trees, &site, day) {
                Ok(_) => {
                    self.unsealed.remove(&(site, day));
                }
                Err(e) => log::error!("cannot seal {site}/{day}: {e}"),
            }
        }
    }
}

/// The (site, day)s with buffered events, found by skipping from day to day.
fn buffered_days(t: &Trees) -> Result<BTreeSet<(String, i64)>, StoreError> {
    let mut days = BTreeSet::new();
    let mut from: Vec<u8> = Vec::new();
    while let Some(item) = t.events.range(from.clone()..).next() {
        let (k, _) = item.map_err(map_err)?;
        let Some(split) = k.iter().position(|b| *b <= 1) else {
            break;
        };
        let Ok(site) = std::str::from_utf8(&k[..split]) else {
            break;
        };
        match (k[split], event_time(&k)) {
            (0, Some(at)) => {
                let day = at.div_euclid(DAY_MS);
                days.insert((site.to_owned(), day));
                from = event_key(site, (day + 1) * DAY_MS, 0);
            }
            _ => from = [&k[..split], &[2]].concat(),
        }
    }
    Ok(days)
}
