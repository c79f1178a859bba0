//! Analytics events in PostgreSQL, until the ClickHouse backend exists: every node writes to
//! and reads from the same `events` table, so every node answers every question the same way.
//!
//! A question reads its span a day at a time (`events` leads with site and day), derives the
//! day's visits from the stored times (`analytics::visits::assign`), builds the engine's `Day`
//! and hands it to the same evaluation as the embedded store. A built day is kept between
//! questions only under the fingerprint of its rows, checked at every question (`days`), so
//! every answer is computed from the rows stored when it is asked.
//!
//! The erasure and retention primitives (`PgVisitors`) delete rows by visitor number (found
//! through `visitor_numbers`), by day, or by category.

use std::sync::Arc;

use tokio_postgres::Client;

use super::days::{Fingerprint, KeptDays};
use super::events::PgEventWriter;
use super::{BlockingClient, pg_err};
use crate::analytics::codec;
use crate::analytics::engine::{Day, Evaluation, FunnelCounts, FunnelEvaluation, FunnelQuery, Row};
use crate::analytics::event::StoredEvent;
use crate::analytics::query::{Cancel, Groups, Query, Span};
use crate::analytics::visits;
use crate::domain::{SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::erasure::VisitorErasure;
use crate::store::retention::AnalyticsRetention;

/// Decodes rows read in the order they were written (so events of one instant keep it) and
/// gives them their visits.
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
    visits::assign(&mut rows);
    Ok(rows)
}

const DAY_MS: i64 = 86_400_000;
/// A day is kept between questions once it ended this long ago.
const SETTLED_AFTER_MS: i64 = 10 * 60 * 1000;

/// The fingerprint of a site's day as stored now.
async fn fingerprint(client: &Client, site: &str, day: i32) -> Result<Fingerprint, StoreError> {
    let row = client
        .query_one(
            "SELECT count(*), coalesce(max(id), 0) FROM events WHERE site_id = $1 AND day = $2",
            &[&site, &day],
        )
        .await
        .map_err(pg_err)?;
    Ok((row.get(0), row.get(1)))
}

/// A site's day of events, with their visits: the kept one when the day's rows are those it
/// was built from, else built from the rows (and kept).
async fn day(
    client: &Client,
    kept: &KeptDays,
    site: &str,
    day: i64,
) -> Result<Arc<Day>, StoreError> {
    let day32 = i32::try_from(day).unwrap_or(i32::MAX);
    let settled = settled(day);
    if settled {
        if let Some(d) = kept.get(site, day, fingerprint(client, site, day32).await?) {
            return Ok(d);
        }
    }
    let found = client
        .query(
            "SELECT visitor, at, body, id FROM events WHERE site_id = $1 AND day = $2 ORDER BY id",
            &[&site, &day32],
        )
        .await
        .map_err(pg_err)?;
    // The fingerprint of the rows read, not of the table a moment before.
    let newest = found.last().map_or(0, |r| r.get::<_, i64>(3));
    let built = Arc::new(Day::build(day, rows_of(&found)?));
    if settled {
        kept.put(site, built.clone(), (found.len() as i64, newest));
    }
    Ok(built)
}

/// Whether a day ended long enough ago that no node stamps an event with it any more (events
/// carry their node's time; `SETTLED_AFTER_MS` covers clocks apart and a group's retries), so
/// its rows can only be deleted from now on, which its fingerprint's count shows.
fn settled(day: i64) -> bool {
    let now = crate::domain::Clock::now(&crate::domain::SystemClock).0;
    (day + 1) * DAY_MS + SETTLED_AFTER_MS < now
}

/// Hands `add` each day of the span, read on this blocking thread; `Cancelled` once `cancel`
/// is set.
fn each_day(
    client: &Client,
    kept: &KeptDays,
    site: &SiteId,
    span: Span,
    cancel: &Cancel,
    mut add: impl FnMut(&Day),
) -> Result<(), StoreError> {
    let runtime = tokio::runtime::Handle::current();
    for d in Evaluation::days(span) {
        if cancel.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        let read = runtime.block_on(day(client, kept, site.as_str(), d))?;
        add(&read);
    }
    Ok(())
}

/// A query's groups. Blocking (the evaluation is CPU work): call on a blocking thread.
pub(crate) fn groups(
    client: &Client,
    kept: &KeptDays,
    site: &SiteId,
    query: &Query,
    span: Span,
    cancel: &Cancel,
) -> Result<Groups, StoreError> {
    let mut evaluation = Evaluation::new(query, span);
    each_day(client, kept, site, span, cancel, |d| evaluation.add(d))?;
    Ok(evaluation.finish())
}

/// A funnel's counts. Blocking, like `groups`.
pub(crate) fn funnel(
    client: &Client,
    kept: &KeptDays,
    site: &SiteId,
    query: &FunnelQuery,
    cancel: &Cancel,
) -> Result<FunnelCounts, StoreError> {
    let mut evaluation = FunnelEvaluation::new(query);
    each_day(client, kept, site, query.span, cancel, |d| {
        evaluation.add(d)
    })?;
    Ok(evaluation.finish())
}

/// Every stored event of a visitor, oldest first.
pub(crate) async fn events_of(
    client: &Client,
    site: &SiteId,
    subject: &Subject,
) -> Result<Vec<StoredEvent>, StoreError> {
    let found = client
        .query(
            "SELECT e.visitor, e.at, e.body FROM events e
               JOIN visitor_numbers n ON n.site_id = e.site_id AND n.number = e.visitor
             WHERE n.site_id = $1 AND n.subject = $2
             ORDER BY e.id",
            &[&site.as_str(), &&subject.0[..]],
        )
        .await
        .map_err(pg_err)?;
    let mut events: Vec<StoredEvent> = rows_of(&found)?.into_iter().map(|r| r.event).collect();
    events.sort_by_key(|e| e.at.0);
    Ok(events)
}

/// The analytics side of an erasure and of retention, on a connection of its own.
pub struct PgVisitors {
    pub(crate) conn: BlockingClient,
    pub(crate) writer: Arc<PgEventWriter>,
}

/// The visitor number of a subject, as SQL.
const NUMBER_OF: &str = "(SELECT number FROM visitor_numbers WHERE site_id = $1 AND subject = $2)";

impl PgVisitors {
    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.conn
            .block_on(self.conn.client().execute(sql, params))
            .map_err(pg_err)
    }
}

impl VisitorErasure for PgVisitors {
    fn settle(&self) {
        // This node's queue; a group another node is writing holds the visitor's consent
        // `FOR SHARE`, so the state's removal waited for it and its events are found below.
        let _ = self.conn.block_on(self.writer.barrier());
    }

    fn delete_visitor(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
        let (site, subject) = (site.as_str(), &subject.0[..]);
        let deleted = self.execute(
            &format!("DELETE FROM events WHERE site_id = $1 AND visitor = {NUMBER_OF}"),
            &[&site, &subject],
        )?;
        self.execute(
            "DELETE FROM visitor_numbers WHERE site_id = $1 AND subject = $2",
            &[&site, &subject],
        )?;
        self.execute(
            "DELETE FROM purged WHERE site_id = $1 AND subject = $2",
            &[&site, &subject],
        )?;
        Ok(deleted)
    }
}

impl AnalyticsRetention for PgVisitors {
    fn drop_days_before(&self, site: &SiteId, day: i64) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM sightings WHERE site_id = $1 AND day < $2",
            &[&site.as_str(), &day],
        )?;
        let day = i32::try_from(day).unwrap_or(i32::MAX);
        self.execute(
            "DELETE FROM events WHERE site_id = $1 AND day < $2",
            &[&site.as_str(), &day],
        )
    }

    fn last_event_day(&self, site: &SiteId, subject: &Subject) -> Result<Option<i64>, StoreError> {
        let row = self
            .conn
            .block_on(self.conn.client().query_one(
                &format!(
                    "SELECT max(day) FROM events WHERE site_id = $1 AND visitor = {NUMBER_OF}"
                ),
                &[&site.as_str(), &&subject.0[..]],
            ))
            .map_err(pg_err)?;
        Ok(row.get::<_, Option<i32>>(0).map(i64::from))
    }

    fn purged_at(&self, site: &SiteId, subject: &Subject) -> Result<Option<Timestamp>, StoreError> {
        let row = self
            .conn
            .block_on(self.conn.client().query_opt(
                "SELECT decided_at FROM purged WHERE site_id = $1 AND subject = $2",
                &[&site.as_str(), &&subject.0[..]],
            ))
            .map_err(pg_err)?;
        Ok(row.map(|r| Timestamp(r.get(0))))
    }

    fn purge_categories(
        &self,
        site: &SiteId,
        refusals: &[(Subject, Vec<String>)],
        cancel: &Cancel,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for (subject, categories) in refusals {
            if cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            deleted += self.execute(
                &format!(
                    "DELETE FROM events WHERE site_id = $1 AND visitor = {NUMBER_OF}
                       AND category = ANY($3)"
                ),
                &[&site.as_str(), &&subject.0[..], categories],
            )?;
        }
        Ok(deleted)
    }

    fn mark_purged(
        &self,
        site: &SiteId,
        subject: &Subject,
        decided_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO purged (site_id, subject, decided_at) VALUES ($1, $2, $3)
             ON CONFLICT (site_id, subject) DO UPDATE SET decided_at = excluded.decided_at",
            &[&site.as_str(), &&subject.0[..], &decided_at.0],
        )?;
        Ok(())
    }
}
