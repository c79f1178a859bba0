//! Analytics questions for a PostgreSQL store, whichever event table holds the events
//! (`event_table`: PostgreSQL's own, or ClickHouse): every node writes to and reads from the
//! same table, so every node answers every question the same way.
//!
//! A question reads its span a day at a time (`events` leads with site and day), derives the
//! day's visits from the stored times (`analytics::visits::assign`), builds the engine's `Day`
//! and hands it to the same evaluation as the embedded store. A built day is kept between
//! questions only under the fingerprint of its rows, checked at every question (`days`), so
//! every answer is computed from the rows stored when it is asked.
//!
//! The erasure and retention primitives (`PgVisitors`) find a subject's visitor number in
//! `visitor_numbers` and have the event table delete by number, by day, or by category.

use std::sync::Arc;

use tokio_postgres::Client;

use super::days::KeptDays;
use super::event_table::Fingerprint;
use super::event_table::{DAY_MS, EventTable};
use super::events::PgEventWriter;
use super::{BlockingClient, pg_err};
use crate::analytics::engine::{Day, Evaluation, FunnelCounts, FunnelEvaluation, FunnelQuery};
use crate::analytics::event::StoredEvent;
use crate::analytics::query::{Cancel, Groups, Query, Span};
use crate::analytics::visits;
use crate::domain::{SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::erasure::VisitorErasure;
use crate::store::retention::AnalyticsRetention;

/// A day is kept between questions once it ended this long ago.
const SETTLED_AFTER_MS: i64 = 10 * 60 * 1000;

/// What a question reads through: a PostgreSQL connection and the event table.
pub(crate) struct Reader<'a> {
    pub client: &'a Client,
    pub table: &'a dyn EventTable,
    pub kept: &'a KeptDays,
}

/// A site's day of events, with their visits: the kept one when the day's rows are those it
/// was built from, else built from the rows (and kept).
async fn day(
    r: &Reader<'_>,
    site: &str,
    day: i64,
    now: Option<Fingerprint>,
) -> Result<Arc<Day>, StoreError> {
    if let Some(now) = now {
        if let Some(d) = r.kept.get(site, day, now) {
            return Ok(d);
        }
    }
    let mut rows = r.table.day(r.client, site, day).await?;
    visits::assign(&mut rows);
    let built = Arc::new(Day::build(day, rows));
    // Kept under the fingerprint read before the rows: rows that changed in between were
    // read as they are now, and the next question's fingerprint differs, so it builds again.
    if let Some(now) = now {
        r.kept.put(site, built.clone(), now);
    }
    Ok(built)
}

/// The first day that has not settled: days before it ended long enough ago that no node
/// stamps an event with them any more (events carry their node's time; `SETTLED_AFTER_MS`
/// covers clocks apart and a group's retries), so their rows can only be deleted from now
/// on (or, after an outage, get late rows), which their fingerprints show.
fn first_unsettled_day() -> i64 {
    let now = crate::domain::Clock::now(&crate::domain::SystemClock).0;
    // Day d is settled when (d + 1) * DAY_MS + SETTLED_AFTER_MS < now.
    (now - SETTLED_AFTER_MS - 1).div_euclid(DAY_MS)
}

/// Hands `add` each day of the span, read on this blocking thread; `Cancelled` once `cancel`
/// is set.
fn each_day(
    r: &Reader<'_>,
    site: &SiteId,
    span: Span,
    cancel: &Cancel,
    mut add: impl FnMut(&Day),
) -> Result<(), StoreError> {
    let runtime = tokio::runtime::Handle::current();
    let days = Evaluation::days(span);
    // The settled days' fingerprints, read in one statement: a kept day is used under its own.
    let settled_end = days.end.min(first_unsettled_day()).max(days.start);
    let fingerprints = if settled_end > days.start {
        runtime.block_on(
            r.table
                .fingerprints(r.client, site.as_str(), days.start..settled_end),
        )?
    } else {
        Default::default()
    };
    for d in days {
        if cancel.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        let now = (d < settled_end).then(|| fingerprints.get(&d).copied().unwrap_or_default());
        let read = runtime.block_on(day(r, site.as_str(), d, now))?;
        add(&read);
    }
    Ok(())
}

/// A query's groups. Blocking (the evaluation is CPU work): call on a blocking thread.
pub(crate) fn groups(
    r: &Reader<'_>,
    site: &SiteId,
    query: &Query,
    span: Span,
    cancel: &Cancel,
) -> Result<Groups, StoreError> {
    let mut evaluation = Evaluation::new(query, span);
    each_day(r, site, span, cancel, |d| evaluation.add(d))?;
    Ok(evaluation.finish())
}

/// A funnel's counts. Blocking, like `groups`.
pub(crate) fn funnel(
    r: &Reader<'_>,
    site: &SiteId,
    query: &FunnelQuery,
    cancel: &Cancel,
) -> Result<FunnelCounts, StoreError> {
    let mut evaluation = FunnelEvaluation::new(query);
    each_day(r, site, query.span, cancel, |d| evaluation.add(d))?;
    Ok(evaluation.finish())
}

/// The visitor number a subject holds, if it holds one.
pub(crate) async fn number_of(
    client: &Client,
    site: &str,
    subject: &Subject,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt(
            "SELECT number FROM visitor_numbers WHERE site_id = $1 AND subject = $2",
            &[&site, &&subject.0[..]],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.map(|r| r.get(0)))
}

/// Every stored event of a visitor, oldest first.
pub(crate) async fn events_of(
    client: &Client,
    table: &dyn EventTable,
    site: &SiteId,
    subject: &Subject,
) -> Result<Vec<StoredEvent>, StoreError> {
    let Some(number) = number_of(client, site.as_str(), subject).await? else {
        return Ok(Vec::new());
    };
    let mut rows = table.of_visitor(client, site.as_str(), number).await?;
    visits::assign(&mut rows);
    let mut events: Vec<StoredEvent> = rows.into_iter().map(|r| r.event).collect();
    events.sort_by_key(|e| e.at.0);
    Ok(events)
}

/// The analytics side of an erasure and of retention, on a connection of its own.
pub struct PgVisitors {
    pub(crate) conn: BlockingClient,
    pub(crate) writer: Arc<PgEventWriter>,
    pub(crate) table: Arc<dyn EventTable>,
}

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

    /// The subject's visitor number, if it holds one.
    fn number(&self, site: &SiteId, subject: &Subject) -> Result<Option<i64>, StoreError> {
        let client = self.conn.client();
        self.conn
            .block_on(number_of(&client, site.as_str(), subject))
    }
}

impl VisitorErasure for PgVisitors {
    fn settle(&self) {
        // This node's queue; a group another node is writing holds the visitor's consent
        // `FOR KEY SHARE` until its rows are inserted, so the state's removal waited for it and
        // its events are found below.
        let _ = self.conn.block_on(self.writer.barrier());
    }

    fn delete_visitor(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
        let deleted = match self.number(site, subject)? {
            Some(number) => {
                let client = self.conn.client();
                self.conn
                    .block_on(self.table.delete_visitor(&client, site.as_str(), number))?
            }
            None => 0,
        };
        let (site, subject) = (site.as_str(), &subject.0[..]);
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
        let client = self.conn.client();
        self.conn
            .block_on(self.table.delete_days_before(&client, site.as_str(), day))
    }

    fn last_event_day(&self, site: &SiteId, subject: &Subject) -> Result<Option<i64>, StoreError> {
        let Some(number) = self.number(site, subject)? else {
            return Ok(None);
        };
        let client = self.conn.client();
        self.conn
            .block_on(self.table.last_day(&client, site.as_str(), number))
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
        let mut numbered = Vec::with_capacity(refusals.len());
        for (subject, categories) in refusals {
            if cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            if let Some(number) = self.number(site, subject)? {
                numbered.push((number, categories.clone()));
            }
        }
        let client = self.conn.client();
        self.conn.block_on(
            self.table
                .delete_categories(&client, site.as_str(), &numbered),
        )
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
