//! The event writer for PostgreSQL: one thread per node that takes accepted events from a
//! bounded queue and writes a group every 200 ms, in one transaction.
//!
//! A group's transaction (1) reads, `FOR SHARE`, the current consent of every visitor in it
//! and drops the events of those who have none any more (an erasure on any node removes the
//! state first: its `DELETE` waits for this transaction, and its deletion of the visitor's
//! events, which runs after, finds what this one wrote); (2) gives each new visitor a number
//! from the `visitor_seq` sequence (in (site, subject) order, so two nodes inserting the same
//! visitors never wait on each other in a cycle); (3) inserts the events in the order they
//! came (their ids keep it, so the first event of a visit stays first), each encoded as in
//! the embedded store with the visit left to the reader (`analytics::visits::assign`: a
//! visitor's events can arrive at several nodes, and no node sees them all).

use std::collections::BTreeSet;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{BlockingClient, in_transaction, pg_err};
use crate::analytics::codec::{self, EncodeInput};
use crate::analytics::event::AcceptedEvent;
use crate::domain::Subject;
use crate::store::StoreError;
use crate::store::queue::{EventQueue, Taken};

const WRITE_EVERY: Duration = Duration::from_millis(200);
/// A group that fails (a lost connection, a deadlock victim) is tried this many times.
const ATTEMPTS: usize = 3;
pub(crate) const DAY_MS: i64 = 86_400_000;

enum Job {
    Events(Vec<AcceptedEvent>),
    Barrier(oneshot::Sender<()>),
}

pub(crate) struct PgEventWriter {
    queue: EventQueue<Job>,
}

impl PgEventWriter {
    pub fn start(conn: BlockingClient, secret: [u8; 32]) -> Result<PgEventWriter, StoreError> {
        Ok(PgEventWriter {
            queue: EventQueue::start("pg-event-writer", move |taken| run(&conn, &secret, &taken))?,
        })
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

fn run(conn: &BlockingClient, secret: &[u8; 32], taken: &Taken<Job>) {
    let mut pending: Vec<AcceptedEvent> = Vec::new();
    let mut last_write = Instant::now();
    loop {
        match taken
            .jobs
            .recv_timeout(WRITE_EVERY.saturating_sub(last_write.elapsed()))
        {
            Ok(Job::Events(batch)) => {
                taken.took(batch.len());
                pending.extend(batch);
            }
            Ok(Job::Barrier(reply)) => {
                write(conn, secret, &mut pending);
                last_write = Instant::now();
                let _ = reply.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                write(conn, secret, &mut pending);
                return;
            }
        }
        if last_write.elapsed() >= WRITE_EVERY || pending.len() >= 10_000 {
            write(conn, secret, &mut pending);
            last_write = Instant::now();
        }
    }
}

/// Writes and empties `pending`, trying again when a transaction fails.
fn write(conn: &BlockingClient, secret: &[u8; 32], pending: &mut Vec<AcceptedEvent>) {
    if pending.is_empty() {
        return;
    }
    let group = Group::of(secret, pending);
    for attempt in 1..=ATTEMPTS {
        match conn.block_on(group.write(&conn.client())) {
            Ok(()) => break,
            Err(e) if attempt < ATTEMPTS => {
                log::warn!("an event group write failed, trying again: {e}");
                std::thread::sleep(Duration::from_millis(50 * attempt as u64));
            }
            Err(e) => log::error!(
                "an event group write failed; {} events lost: {e}",
                group.len()
            ),
        }
    }
    pending.clear();
}

/// A group's events as the columns of its statements, borrowing the events' strings.
struct Group<'a> {
    /// Each event's visitor: its site and subject.
    visitors: Vec<(&'a str, Subject)>,
    days: Vec<i32>,
    times: Vec<i64>,
    categories: Vec<&'a str>,
    /// Encoded with visitor and visit 0: the visitor number is put in by the statement.
    bodies: Vec<Vec<u8>>,
}

impl<'a> Group<'a> {
    fn of(secret: &[u8; 32], events: &'a [AcceptedEvent]) -> Group<'a> {
        let mut g = Group {
            visitors: Vec::with_capacity(events.len()),
            days: Vec::with_capacity(events.len()),
            times: Vec::with_capacity(events.len()),
            categories: Vec::with_capacity(events.len()),
            bodies: Vec::with_capacity(events.len()),
        };
        for e in events {
            let subject = Subject::derive(secret, &e.site, &e.consent_id);
            g.visitors.push((e.site.as_str(), subject));
            g.days
                .push(i32::try_from(e.at.0.div_euclid(DAY_MS)).unwrap_or(0));
            g.times.push(e.at.0);
            g.categories.push(e.category.as_str());
            g.bodies.push(encode_body(e));
        }
        g
    }

    fn len(&self) -> usize {
        self.times.len()
    }

    async fn write(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        in_transaction(client, async |c| self.statements(c).await).await
    }

    async fn statements(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        let distinct: BTreeSet<(&str, Subject)> = self.visitors.iter().copied().collect();
        let sites: Vec<&str> = distinct.iter().map(|(s, _)| *s).collect();
        let subjects: Vec<&[u8]> = distinct.iter().map(|(_, s)| &s.0[..]).collect();
        // The visitors whose consent is held, locked against an erasure until the commit.
        let live = client
            .query(
                "SELECT c.site_id, c.subject FROM consents c
                   JOIN unnest($1::text[], $2::bytea[]) AS v(site, subject)
                     ON c.site_id = v.site AND c.subject = v.subject
                 ORDER BY c.site_id, c.subject
                 FOR SHARE OF c",
                &[&sites, &subjects],
            )
            .await
            .map_err(pg_err)?;
        // Matched back to the group's own visitors, so the events are checked without copies.
        let held: BTreeSet<(&str, Subject)> = live
            .iter()
            .filter_map(|r| {
                let subject = Subject(r.get::<_, &[u8]>(1).try_into().ok()?);
                distinct.get(&(r.get::<_, &str>(0), subject)).copied()
            })
            .collect();
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
        let mut cols = EventRows::default();
        for (i, visitor) in self.visitors.iter().enumerate() {
            if !held.contains(visitor) {
                continue;
            }
            cols.sites.push(visitor.0);
            cols.subjects.push(&visitor.1.0[..]);
            cols.days.push(self.days[i]);
            cols.times.push(self.times[i]);
            cols.categories.push(self.categories[i]);
            cols.bodies.push(self.bodies[i].as_slice());
        }
        client
            .execute(
                "INSERT INTO events (site_id, day, visitor, at, category, body)
                 SELECT e.site, e.day, n.number, e.at, e.category, e.body
                 FROM unnest($1::text[], $2::bytea[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
                   WITH ORDINALITY AS e(site, subject, day, at, category, body, i)
                 JOIN visitor_numbers n ON n.site_id = e.site AND n.subject = e.subject
                 ORDER BY e.i",
                &[
                    &cols.sites,
                    &cols.subjects,
                    &cols.days,
                    &cols.times,
                    &cols.categories,
                    &cols.bodies,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }
}

#[derive(Default)]
struct EventRows<'a> {
    sites: Vec<&'a str>,
    subjects: Vec<&'a [u8]>,
    days: Vec<i32>,
    times: Vec<i64>,
    categories: Vec<&'a str>,
    bodies: Vec<&'a [u8]>,
}

/// An event in the embedded store's encoding, without its visitor and visit (the row's
/// `visitor` column holds the one; readers derive the other).
fn encode_body(e: &AcceptedEvent) -> Vec<u8> {
    codec::encode(&EncodeInput {
        visitor: 0,
        visit: 0,
        category: e.category.as_str(),
        name: &e.name,
        path: &e.path,
        props: &e.props,
        context: &e.context,
    })
}
