//! The event writer for PostgreSQL: one thread per node that takes accepted events from a
//! bounded queue and writes a group every 200 ms, in one transaction.
//!
//! A group is written in two transactions, each of which first reads, `FOR KEY SHARE`, the current
//! consent of every visitor in it and keeps only the events of those who still have one (an
//! erasure on any node removes the state first: its `DELETE` waits for these transactions, and
//! its deletion of the visitor's number and events, which runs after, finds what they wrote):
//! (1) gives each new visitor a number from the `visitor_seq` sequence (in (site, subject)
//! order, so two nodes inserting the same visitors never wait on each other in a cycle), and
//! commits; (2) inserts the events in the order they came, under row ids taken from
//! `events_id_seq` once per group (so the first event of a visit stays first, and a group
//! tried again carries the same ids: a reader drops a row id seen twice), through the event
//! table (`event_table`: PostgreSQL's own `events`, or ClickHouse) while the transaction still
//! holds the consents. Numbers are committed before any event names them, so a group tried
//! again never puts events under a number that no visitor holds. Events are encoded as in the
//! embedded store with the visit left to the reader (`analytics::visits::assign`: a visitor's
//! events can arrive at several nodes, and no node sees them all).
//!
//! A group that cannot be written is tried again; when the table says it may be tried without
//! end (ClickHouse unreachable), the writer holds the group and takes no more events until it
//! is written, so the queue fills and refuses with 429 instead of dropping what it accepted.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::event_table::{EventTable, LiveEvent};
use super::{BlockingClient, in_transaction, pg_err};
use crate::analytics::event::AcceptedEvent;
use crate::domain::Subject;
use crate::store::StoreError;
use crate::store::queue::{EventQueue, Taken};

/// A group that fails (a lost connection, a deadlock victim) is tried this many times, unless
/// its table may be tried without end.
const ATTEMPTS: usize = 3;
/// The longest wait between two tries of a group.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A group is written once it holds this many events, whatever the time.
const GROUP_EVENTS: usize = 10_000;

enum Job {
    Events(Vec<AcceptedEvent>),
    Barrier(oneshot::Sender<()>),
}

pub(crate) struct PgEventWriter {
    queue: EventQueue<Job>,
    /// Set when the writer is being stopped: a held group is then tried a few times only.
    closing: Arc<AtomicBool>,
    held: Held,
}

/// Why the writer holds a group it could not write yet, while it does.
type Held = Arc<Mutex<Option<String>>>;

/// What the writer thread holds.
struct Writer {
    conn: BlockingClient,
    secret: [u8; 32],
    table: Arc<dyn EventTable>,
    closing: Arc<AtomicBool>,
    held: Held,
}

impl PgEventWriter {
    pub fn start(
        conn: BlockingClient,
        secret: [u8; 32],
        table: Arc<dyn EventTable>,
    ) -> Result<PgEventWriter, StoreError> {
        let closing = Arc::new(AtomicBool::new(false));
        let held = Held::default();
        let writer = Writer {
            conn,
            secret,
            table,
            closing: closing.clone(),
            held: held.clone(),
        };
        Ok(PgEventWriter {
            queue: EventQueue::start("pg-event-writer", move |taken| writer.run(&taken))?,
            closing,
            held,
        })
    }

    /// Why accepted events are held unwritten right now (the last failure of the group being
    /// tried again), or `None` when the writer keeps up.
    pub fn held(&self) -> Option<String> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn append(&self, events: Vec<AcceptedEvent>) -> Result<(), StoreError> {
        let n = events.len();
        self.queue.send_events(Job::Events(events), n)
    }

    /// Resolves once everything queued before it is committed.
    pub fn barrier(&self) -> oneshot::Receiver<()> {
        let (reply, rx) = oneshot::channel();
        self.queue.send(Job::Barrier(reply));
        rx
    }
}

impl Drop for PgEventWriter {
    /// Before the queue closes and waits for the writer: a group held for an unreachable
    /// table is then given up after a few tries instead of holding the stop.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
    }
}

impl Writer {
    fn run(&self, taken: &Taken<Job>) {
        let every = self.table.write_every();
        let mut pending: Vec<AcceptedEvent> = Vec::new();
        let mut last_write = Instant::now();
        loop {
            match taken
                .jobs
                .recv_timeout(every.saturating_sub(last_write.elapsed()))
            {
                Ok(Job::Events(batch)) => {
                    taken.took(batch.len());
                    pending.extend(batch);
                }
                Ok(Job::Barrier(reply)) => {
                    self.write(&mut pending, true);
                    last_write = Instant::now();
                    let _ = reply.send(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Stopping: tried a few times only, so a stop never waits without end.
                    self.write(&mut pending, false);
                    return;
                }
            }
            if last_write.elapsed() >= every || pending.len() >= GROUP_EVENTS {
                self.write(&mut pending, true);
                last_write = Instant::now();
            }
        }
    }

    /// Writes and empties `pending`, trying again when a transaction fails: without end while
    /// `running`, not stopping, and the table says the failure allows it, else `ATTEMPTS`
    /// times before the group is dropped with an error in the log.
    fn write(&self, pending: &mut Vec<AcceptedEvent>, running: bool) {
        if pending.is_empty() {
            return;
        }
        let mut group = Group::of(&self.secret, pending);
        let mut attempt = 1;
        loop {
            let client = self.conn.client();
            match self
                .conn
                .block_on(group.write(&client, self.table.as_ref()))
            {
                Ok(()) => break,
                Err(e) if attempt < ATTEMPTS || self.endless(running, &e) => {
                    let why = format!(
                        "{} events held, the {} table's write failed (try {attempt}): {e}",
                        group.len(),
                        self.table.name()
                    );
                    log::warn!("{why}; trying again");
                    self.hold(Some(why));
                    let wait = Duration::from_millis(50 * attempt as u64).min(MAX_BACKOFF);
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    log::error!(
                        "an event group write failed; {} events lost: {e}",
                        group.len()
                    );
                    break;
                }
            }
            attempt += 1;
        }
        self.hold(None);
        pending.clear();
    }

    fn hold(&self, why: Option<String>) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }
}

impl Writer {
    fn endless(&self, running: bool, e: &StoreError) -> bool {
        running && !self.closing.load(Ordering::SeqCst) && self.table.retries_without_end(e)
    }
}

/// A group's events with their visitors' subjects, and the row ids it took.
struct Group<'a> {
    events: &'a [AcceptedEvent],
    /// Each event's visitor: its site and subject.
    visitors: Vec<(&'a str, Subject)>,
    /// Each event's row id, taken at the first try and kept for the others.
    ids: Vec<i64>,
}

impl<'a> Group<'a> {
    fn of(secret: &[u8; 32], events: &'a [AcceptedEvent]) -> Group<'a> {
        let visitors = events
            .iter()
            .map(|e| {
                (
                    e.site.as_str(),
                    Subject::derive(secret, &e.site, &e.consent_id),
                )
            })
            .collect();
        Group {
            events,
            visitors,
            ids: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.events.len()
    }

    /// Writes the group: its ids (once), its visitors' numbers, then its events.
    async fn write(
        &mut self,
        client: &tokio_postgres::Client,
        table: &dyn EventTable,
    ) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            self.ids = take_ids(client, self.len()).await?;
        }
        in_transaction(client, async |c| self.number(c).await).await?;
        in_transaction(client, async |c| self.insert(c, table).await).await
    }

    /// The visitors of the group whose consent is held, locked against an erasure until the
    /// transaction ends.
    async fn held(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<BTreeSet<(&'a str, Subject)>, StoreError> {
        let distinct: BTreeSet<(&'a str, Subject)> = self.visitors.iter().copied().collect();
        let sites: Vec<&str> = distinct.iter().map(|(s, _)| *s).collect();
        let subjects: Vec<&[u8]> = distinct.iter().map(|(_, s)| &s.0[..]).collect();
        let live = client
            .query(
                "SELECT c.site_id, c.subject FROM consents c
                   JOIN unnest($1::text[], $2::bytea[]) AS v(site, subject)
                     ON c.site_id = v.site AND c.subject = v.subject
                 ORDER BY c.site_id, c.subject
                 FOR KEY SHARE OF c",
                &[&sites, &subjects],
            )
            .await
            .map_err(pg_err)?;
        let found: BTreeSet<(String, Subject)> = live
            .iter()
            .filter_map(|r| {
                let subject = Subject(r.get::<_, &[u8]>(1).try_into().ok()?);
                Some((r.get::<_, String>(0), subject))
            })
            .collect();
        // Matched back to the group's own visitors, so the events are checked without copies.
        Ok(distinct
            .into_iter()
            .filter(|(site, subject)| found.contains(&((*site).to_owned(), *subject)))
            .collect())
    }

    /// Gives each held visitor without a number one.
    async fn number(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        let held = self.held(client).await?;
        let (sites, subjects): (Vec<&str>, Vec<&[u8]>) =
            held.iter().map(|(site, s)| (*site, &s.0[..])).unzip();
        client
            .execute(
                "INSERT INTO visitor_numbers (site_id, subject, number)
                 SELECT v.site, v.subject, nextval('visitor_seq')
                 FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS v(site, subject, i)
                 ORDER BY v.i
                 ON CONFLICT (site_id, subject) DO NOTHING",
                &[&sites, &subjects],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    /// Inserts the events of the held visitors through the table.
    async fn insert(
        &self,
        client: &tokio_postgres::Client,
        table: &dyn EventTable,
    ) -> Result<(), StoreError> {
        let held = self.held(client).await?;
        let live: Vec<LiveEvent<'_>> = self
            .events
            .iter()
            .zip(&self.visitors)
            .zip(&self.ids)
            .filter(|((_, visitor), _)| held.contains(visitor))
            .map(|((event, visitor), id)| LiveEvent {
                event,
                subject: visitor.1,
                id: *id,
            })
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        table.insert(client, &live).await
    }
}

/// `n` row ids from `events_id_seq`, in increasing order.
async fn take_ids(client: &tokio_postgres::Client, n: usize) -> Result<Vec<i64>, StoreError> {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    let rows = client
        .query(
            "SELECT nextval('events_id_seq') FROM generate_series(1, $1)",
            &[&n],
        )
        .await
        .map_err(pg_err)?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}
