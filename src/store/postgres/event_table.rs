//! Where a PostgreSQL store keeps its analytics events: its own `events` table
//! (`PgEventTable`), or a ClickHouse database (`store::clickhouse::ChEventTable`), picked by the
//! store factory. Everything else (consents, visitor numbers, the purge marks, consent
//! statistics) stays in PostgreSQL, and the writer, the questions and the erasure steps above
//! this trait are the same for both.
//!
//! Every method gets the PostgreSQL connection of its caller: the event writer's inside its
//! group's transaction (which holds the visitors' consents `FOR KEY SHARE` and has given them
//! numbers), a pool connection for questions, a job connection for erasures and sweeps.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use tokio_postgres::Client;

use super::pg_err;
use crate::analytics::codec::{self, EncodeInput};
use crate::analytics::engine::Row;
use crate::analytics::event::AcceptedEvent;
use crate::domain::{Subject, Timestamp};
use crate::store::StoreError;

/// A future borrowing its table and connection.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a day's rows are, in short: how many, the newest row id, and the XOR of a 64-bit hash
/// of every row id (each table hashes with its own function; only a table's own fingerprints
/// are compared). Row ids come from PostgreSQL's `events_id_seq` for either table, so they are
/// never reused: rows deleted and late rows together change the count or the newest id, or
/// else the XOR, unless those ids' hashes happen to cancel out (a 64-bit coincidence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: i64,
    pub newest: i64,
    pub hashes: i64,
}

/// An event whose visitor's consent is held, with that visitor's subject and the event's row
/// id (from `events_id_seq`; the same when a group is tried again).
pub struct LiveEvent<'a> {
    pub event: &'a AcceptedEvent,
    pub subject: Subject,
    pub id: i64,
}

/// Every event of the store, in short: for `consentry store check`.
pub struct EventFact {
    pub site: String,
    pub visitor: i64,
    pub at: i64,
    pub category: String,
}

pub trait EventTable: Send + Sync + 'static {
    /// What the table is, for logs and `/healthz`.
    fn name(&self) -> &'static str;

    /// How often the event writer writes a group: each write of a group is one insert.
    fn write_every(&self) -> std::time::Duration;

    /// Whether a write that failed with `e` may be tried again without end (the table is
    /// unreachable, not refusing the rows): the writer then holds its group and stops taking
    /// events, so the queue fills and refuses with 429, and no acknowledged event is dropped.
    fn retries_without_end(&self, e: &StoreError) -> bool;

    /// Inserts a group's events under their row ids, inside the writer's transaction on `pg`;
    /// every visitor already has a number in `visitor_numbers`. The rows of one call become
    /// visible all at once. A call that failed may have stored its rows all the same: the
    /// same rows come again under the same ids, and readers keep one row per id.
    fn insert<'a>(&'a self, pg: &'a Client, events: &'a [LiveEvent<'a>]) -> Pending<'a, ()>;

    /// The fingerprint of each of a site's days in `days` that holds a row, as stored now
    /// (one statement for the whole range); a day left out holds none (the default).
    fn fingerprints<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        days: std::ops::Range<i64>,
    ) -> Pending<'a, HashMap<i64, Fingerprint>>;

    /// A site's day in the order the rows were written (visits not yet assigned).
    fn day<'a>(&'a self, pg: &'a Client, site: &'a str, day: i64) -> Pending<'a, Vec<Row>>;

    /// Every event of a visitor number, in the order they were written.
    fn of_visitor<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Vec<Row>>;

    /// Deletes every event of a visitor number; returns once no answer can count them.
    fn delete_visitor<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, u64>;

    /// Deletes a site's events of the days before `day`; returns once no answer counts them.
    fn delete_days_before<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        day: i64,
    ) -> Pending<'a, u64>;

    /// Deletes, for each visitor number, its events in the categories named.
    fn delete_categories<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        refusals: &'a [(i64, Vec<String>)],
    ) -> Pending<'a, u64>;

    /// The last day holding an event of the visitor number.
    fn last_day<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Option<i64>>;

    /// Every event, in short.
    fn facts<'a>(&'a self, pg: &'a Client) -> Pending<'a, Vec<EventFact>>;
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// The day (since the epoch) of a time.
pub(crate) fn day_of(at: Timestamp) -> i64 {
    at.0.div_euclid(DAY_MS)
}

/// Events in PostgreSQL's own `events` table, each encoded as in the embedded store with its
/// visitor and visit left out (the row's `visitor` column holds the one, readers derive the
/// other).
pub struct PgEventTable;

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

/// Decodes rows of `(visitor, at, body)` read in the order they were written.
fn rows_of(found: &[tokio_postgres::Row]) -> Result<Vec<Row>, StoreError> {
    let mut rows = Vec::with_capacity(found.len());
    for r in found {
        let (visitor, at, body): (i64, i64, Vec<u8>) = (r.get(0), r.get(1), r.get(2));
        let (_, event) = codec::decode(Timestamp(at), &body)
            .ok_or_else(|| StoreError::Corrupt("a stored event cannot be read".into()))?;
        let visitor = u64::try_from(visitor)
            .map_err(|_| StoreError::Corrupt("a visitor number cannot be read".into()))?;
        rows.push(Row { visitor, event });
    }
    Ok(rows)
}

fn day32(day: i64) -> i32 {
    i32::try_from(day).unwrap_or(i32::MAX)
}

impl EventTable for PgEventTable {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn write_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(200)
    }

    fn retries_without_end(&self, _: &StoreError) -> bool {
        false
    }

    fn insert<'a>(&'a self, pg: &'a Client, events: &'a [LiveEvent<'a>]) -> Pending<'a, ()> {
        Box::pin(async move {
            let mut sites = Vec::with_capacity(events.len());
            let mut subjects = Vec::with_capacity(events.len());
            let mut days = Vec::with_capacity(events.len());
            let mut times = Vec::with_capacity(events.len());
            let mut categories = Vec::with_capacity(events.len());
            let mut bodies = Vec::with_capacity(events.len());
            let mut ids = Vec::with_capacity(events.len());
            for live in events {
                ids.push(live.id);
                let e = live.event;
                sites.push(e.site.as_str());
                subjects.push(&live.subject.0[..]);
                days.push(day32(day_of(e.at)));
                times.push(e.at.0);
                categories.push(e.category.as_str());
                bodies.push(encode_body(e));
            }
            pg.execute(
                "INSERT INTO events (site_id, day, id, visitor, at, category, body)
                 SELECT e.site, e.day, e.id, n.number, e.at, e.category, e.body
                 FROM unnest($1::text[], $2::bytea[], $3::int[], $4::bigint[], $5::text[], $6::bytea[], $7::bigint[])
                   AS e(site, subject, day, at, category, body, id)
                 JOIN visitor_numbers n ON n.site_id = e.site AND n.subject = e.subject",
                &[&sites, &subjects, &days, &times, &categories, &bodies, &ids],
            )
            .await
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn fingerprints<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        days: std::ops::Range<i64>,
    ) -> Pending<'a, HashMap<i64, Fingerprint>> {
        Box::pin(async move {
            let rows = pg
                .query(
                    "SELECT day, count(*), max(id), bit_xor(hashint8extended(id, 0)) FROM events
                     WHERE site_id = $1 AND day >= $2 AND day < $3 GROUP BY day",
                    &[&site, &day32(days.start), &day32(days.end)],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let print = Fingerprint {
                        rows: r.get(1),
                        newest: r.get(2),
                        hashes: r.get(3),
                    };
                    (i64::from(r.get::<_, i32>(0)), print)
                })
                .collect())
        })
    }

    fn day<'a>(&'a self, pg: &'a Client, site: &'a str, day: i64) -> Pending<'a, Vec<Row>> {
        Box::pin(async move {
            let found = pg
                .query(
                    "SELECT visitor, at, body FROM events WHERE site_id = $1 AND day = $2 ORDER BY id",
                    &[&site, &day32(day)],
                )
                .await
                .map_err(pg_err)?;
            rows_of(&found)
        })
    }

    fn of_visitor<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Vec<Row>> {
        Box::pin(async move {
            let found = pg
                .query(
                    "SELECT visitor, at, body FROM events WHERE site_id = $1 AND visitor = $2 ORDER BY id",
                    &[&site, &visitor],
                )
                .await
                .map_err(pg_err)?;
            rows_of(&found)
        })
    }

    fn delete_visitor<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, u64> {
        Box::pin(async move {
            pg.execute(
                "DELETE FROM events WHERE site_id = $1 AND visitor = $2",
                &[&site, &visitor],
            )
            .await
            .map_err(pg_err)
        })
    }

    fn delete_days_before<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        day: i64,
    ) -> Pending<'a, u64> {
        Box::pin(async move {
            pg.execute(
                "DELETE FROM events WHERE site_id = $1 AND day < $2",
                &[&site, &day32(day)],
            )
            .await
            .map_err(pg_err)
        })
    }

    fn delete_categories<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        refusals: &'a [(i64, Vec<String>)],
    ) -> Pending<'a, u64> {
        Box::pin(async move {
            let mut deleted = 0;
            for (visitor, categories) in refusals {
                deleted += pg
                    .execute(
                        "DELETE FROM events WHERE site_id = $1 AND visitor = $2 AND category = ANY($3)",
                        &[&site, visitor, categories],
                    )
                    .await
                    .map_err(pg_err)?;
            }
            Ok(deleted)
        })
    }

    fn last_day<'a>(
        &'a self,
        pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Option<i64>> {
        Box::pin(async move {
            let row = pg
                .query_one(
                    "SELECT max(day) FROM events WHERE site_id = $1 AND visitor = $2",
                    &[&site, &visitor],
                )
                .await
                .map_err(pg_err)?;
            Ok(row.get::<_, Option<i32>>(0).map(i64::from))
        })
    }

    fn facts<'a>(&'a self, pg: &'a Client) -> Pending<'a, Vec<EventFact>> {
        Box::pin(async move {
            let rows = pg
                .query("SELECT site_id, visitor, at, category FROM events", &[])
                .await
                .map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| EventFact {
                    site: r.get(0),
                    visitor: r.get(1),
                    at: r.get(2),
                    category: r.get(3),
                })
                .collect())
        })
    }
}
