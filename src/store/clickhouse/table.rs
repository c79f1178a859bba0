//! `ChEventTable`: a PostgreSQL store's events kept in ClickHouse (`event_table::EventTable`).
//!
//! - **Inserts** come from each node's event writer, one `INSERT … FORMAT RowBinary` per group,
//!   a group every second (`WRITE_EVERY`), so ClickHouse makes one part per node per second,
//!   never one per request. The visitor numbers are PostgreSQL's (`visitor_numbers`), read
//!   in the writer's transaction. An insert sent but not answered (a timeout, a cut
//!   connection) may still run: before the writer's transaction lets its visitors' consents
//!   go, the insert is killed by its query id and seen gone from `system.processes`
//!   (`finish`), so an erasure that follows finds every row it stored.
//! - **Reads** take a site's day (or a visitor's events) in row-id order and keep one row per
//!   id: a group whose insert was stored but not acknowledged is sent again under the same
//!   ids.
//! - **Deletions** are mutations (`ALTER TABLE events DELETE WHERE …`, the only deletion
//!   18.16 has), each awaited until `system.mutations` says no mutation of the table is left
//!   to do, so an erasure or a purge is reported done only once no answer can count the rows.
//!   Retention drops a site's whole months (`DROP PARTITION`) and deletes the rest of the
//!   days by mutation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::client::{ChClient, ChError, quote};
use super::rows;
use super::schema::{self, READ_COLUMNS, date, of_site};
use crate::analytics::engine::Row;
use crate::domain::Subject;
use crate::settings::ClickHouse;
use crate::store::StoreError;
use crate::store::postgres::event_table::{
    EventFact, EventTable, Fingerprint, LiveEvent, Pending, day_of,
};
use crate::store::postgres::pg_err;

/// How often a node inserts: ClickHouse wants few, large inserts.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// The longest an erasure, a purge or retention waits for its mutation.
const MUTATION_TIMEOUT: Duration = Duration::from_secs(600);
/// How many visitors' refusals one purge mutation names.
const REFUSALS_PER_MUTATION: usize = 500;

/// How many times an insert whose answer was lost is made sure to have ended.
const FINISH_TRIES: u32 = 4;

pub struct ChEventTable {
    client: ChClient,
    /// Numbers this node's inserts' query ids, after `node`.
    inserts: AtomicU64,
    node: u64,
}

impl ChEventTable {
    /// Connects and creates the database and table when missing. Blocking.
    pub fn open(settings: &ClickHouse) -> Result<ChEventTable, StoreError> {
        let client = ChClient::new(settings);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(schema::create(&client))?;
        log::info!(
            "analytics events are in ClickHouse at {}",
            settings.summary()
        );
        let node = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        Ok(ChEventTable {
            client,
            inserts: AtomicU64::new(0),
            node,
        })
    }

    /// A query id no other insert of any node takes.
    fn next_query_id(&self) -> String {
        let n = self.inserts.fetch_add(1, Ordering::Relaxed);
        format!("consentry-insert-{:016x}-{n}", self.node)
    }

    /// Makes sure the insert `query_id` has ended, trying a few times; logs when it cannot.
    async fn finish(&self, query_id: &str) {
        for attempt in 1..=FINISH_TRIES {
            match self.client.finish(query_id).await {
                Ok(()) => return,
                Err(e) if attempt == FINISH_TRIES => log::error!(
                    "an insert whose answer was lost may still be running in ClickHouse \
                     ({query_id}: {e:?}); an erasure of its visitors that ends before it does \
                     can miss the rows it stores"
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(250 << attempt)).await,
            }
        }
    }

    async fn numbers(
        &self,
        pg: &Client,
        events: &[LiveEvent<'_>],
    ) -> Result<HashMap<(String, Subject), u64>, StoreError> {
        let mut sites = Vec::with_capacity(events.len());
        let mut subjects = Vec::with_capacity(events.len());
        for live in events {
            sites.push(live.event.site.as_str());
            subjects.push(&live.subject.0[..]);
        }
        let rows = pg
            .query(
                "SELECT DISTINCT n.site_id, n.subject, n.number FROM visitor_numbers n
                   JOIN unnest($1::text[], $2::bytea[]) AS v(site, subject)
                     ON n.site_id = v.site AND n.subject = v.subject",
                &[&sites, &subjects],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let subject = Subject(r.get::<_, &[u8]>(1).try_into().ok()?);
                let number = u64::try_from(r.get::<_, i64>(2)).ok()?;
                Some(((r.get::<_, String>(0), subject), number))
            })
            .collect())
    }

    /// A statement's rows as text, split into lines of tab-separated fields.
    async fn tab_separated(&self, sql: &str) -> Result<Vec<Vec<String>>, StoreError> {
        let body = self
            .client
            .query(&format!("{sql} FORMAT TabSeparated"))
            .await?;
        let text = String::from_utf8(body).map_err(|_| {
            StoreError::Corrupt("ClickHouse answered with text that is not UTF-8".into())
        })?;
        Ok(text
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    }

    /// The first field of the first line, as a number.
    async fn number(&self, sql: &str) -> Result<i64, StoreError> {
        self.tab_separated(sql)
            .await?
            .first()
            .and_then(|line| line.first())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("ClickHouse gave no number for `{sql}`")))
    }

    /// Rows read in row-id order, one per id.
    async fn rows(&self, condition: &str) -> Result<Vec<Row>, StoreError> {
        let answer = self
            .client
            .query(&format!(
                "SELECT {READ_COLUMNS} FROM events WHERE {condition} ORDER BY id FORMAT RowBinary"
            ))
            .await?;
        rows::events(&answer)
            .ok_or_else(|| StoreError::Corrupt("ClickHouse's rows cannot be read".into()))
    }

    /// Deletes the rows matching `condition` and waits until the deletion is done; how many
    /// events (row ids) it deleted.
    async fn delete(&self, condition: &str) -> Result<u64, StoreError> {
        let count = self
            .number(&format!(
                "SELECT uniqExact(id) FROM events WHERE {condition}"
            ))
            .await?;
        if count == 0 {
            return Ok(0);
        }
        self.client
            .query(&format!("ALTER TABLE events DELETE WHERE {condition}"))
            .await?;
        self.mutations_done().await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Returns once no mutation of the events table is left to do.
    async fn mutations_done(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND table = 'events' AND is_done = 0",
            quote(&self.client.database)
        );
        let mut wait = Duration::from_millis(10);
        while self.number(&sql).await? > 0 {
            if started.elapsed() > MUTATION_TIMEOUT {
                return Err(StoreError::Io(format!(
                    "a ClickHouse mutation of the events table was not done within {MUTATION_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(500));
        }
        Ok(())
    }
}

/// The condition naming a site's day.
fn of_day(site: &str, day: i64) -> String {
    format!("{} AND day = {}", of_site(site), date(day))
}

fn of_visitor(site: &str, visitor: i64) -> String {
    format!("{} AND visitor = {visitor}", of_site(site))
}

/// The first day of the month after the one `day` is in, and that month as `YYYYMM`.
fn month_of(day: i64) -> Option<(u32, i64)> {
    let d = time::Date::from_julian_day(i32::try_from(day + 2_440_588).ok()?).ok()?;
    let month = u32::try_from(d.year()).ok()? * 100 + u32::from(u8::from(d.month()));
    let next = match d.month() {
        time::Month::December => {
            time::Date::from_calendar_date(d.year() + 1, time::Month::January, 1)
        }
        m => time::Date::from_calendar_date(d.year(), m.next(), 1),
    }
    .ok()?;
    Some((month, i64::from(next.to_julian_day()) - 2_440_588))
}

impl EventTable for ChEventTable {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn write_every(&self) -> Duration {
        WRITE_EVERY
    }

    /// ClickHouse unreachable or not answering: yes; refusing the rows (a permission, the
    /// schema): no, the group is given up after a few tries, with an error in the log.
    fn retries_without_end(&self, e: &StoreError) -> bool {
        matches!(e, StoreError::Unreachable(_))
    }

    fn insert<'a>(&'a self, pg: &'a Client, events: &'a [LiveEvent<'a>]) -> Pending<'a, ()> {
        Box::pin(async move {
            let numbers = self.numbers(pg, events).await?;
            let mut data = Vec::with_capacity(events.len() * 160);
            for live in events {
                let e = live.event;
                let key = (e.site.as_str().to_owned(), live.subject);
                let Some(&visitor) = numbers.get(&key) else {
                    // Numbers are committed before the insert and the consent is held, so
                    // this is a bug: the event is left out rather than stored unerasable.
                    log::error!("an event's visitor has no number; the event is not stored");
                    continue;
                };
                let day = u16::try_from(day_of(e.at)).unwrap_or(0);
                let id = u64::try_from(live.id).unwrap_or(0);
                rows::put_event(&mut data, e, day, visitor, id);
            }
            let query_id = self.next_query_id();
            match self
                .client
                .insert("INSERT INTO events FORMAT RowBinary", &data, &query_id)
                .await
            {
                Ok(()) => Ok(()),
                Err(e @ ChError::Unreachable(_)) => {
                    // Sent, not answered: the insert may still run. It is made to end while
                    // the writer's transaction still holds these visitors' consents, so an
                    // erasure that follows finds every row it stored.
                    self.finish(&query_id).await;
                    Err(e.into())
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn fingerprints<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        days: std::ops::Range<i64>,
    ) -> Pending<'a, HashMap<i64, Fingerprint>> {
        Box::pin(async move {
            let lines = self
                .tab_separated(&format!(
                    "SELECT toUInt32(day), uniqExact(id), max(id), groupBitXor(sipHash64(id)) FROM events \
                     WHERE {} AND day >= {} AND day < {} GROUP BY day",
                    of_site(site),
                    date(days.start),
                    date(days.end)
                ))
                .await?;
            lines
                .iter()
                .map(|l| {
                    let field = |i: usize| l.get(i).and_then(|n| n.parse::<i64>().ok());
                    // The XOR is a UInt64: its bits, read as an i64.
                    let hashes = l.get(3).and_then(|n| n.parse::<u64>().ok())? as i64;
                    let print = Fingerprint {
                        rows: field(1)?,
                        newest: field(2)?,
                        hashes,
                    };
                    Some((field(0)?, print))
                })
                .collect::<Option<HashMap<_, _>>>()
                .ok_or_else(|| {
                    StoreError::Corrupt("ClickHouse gave no fingerprints for a range".into())
                })
        })
    }

    fn day<'a>(&'a self, _pg: &'a Client, site: &'a str, day: i64) -> Pending<'a, Vec<Row>> {
        Box::pin(async move { self.rows(&of_day(site, day)).await })
    }

    fn of_visitor<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Vec<Row>> {
        Box::pin(async move { self.rows(&of_visitor(site, visitor)).await })
    }

    fn delete_visitor<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, u64> {
        Box::pin(async move { self.delete(&of_visitor(site, visitor)).await })
    }

    fn delete_days_before<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        day: i64,
    ) -> Pending<'a, u64> {
        Box::pin(async move {
            let before = format!("{} AND day < {}", of_site(site), date(day));
            let count = self
                .number(&format!("SELECT uniqExact(id) FROM events WHERE {before}"))
                .await?;
            if count == 0 {
                return Ok(0);
            }
            // Whole months first: a partition of the site that ends before `day` goes at once.
            let months = self
                .tab_separated(&format!(
                    "SELECT toUInt32(toYYYYMM(day)), toUInt32(max(day)) FROM events \
                     WHERE {before} GROUP BY toYYYYMM(day)"
                ))
                .await?;
            for line in months {
                let Some(month) = line.first().and_then(|m| m.parse::<u32>().ok()) else {
                    continue;
                };
                let Some(last) = line.get(1).and_then(|d| d.parse::<i64>().ok()) else {
                    continue;
                };
                if month_of(last).is_some_and(|(m, next)| m == month && next <= day) {
                    self.client
                        .query(&format!(
                            "ALTER TABLE events DROP PARTITION ({}, {month})",
                            quote(site)
                        ))
                        .await?;
                }
            }
            self.delete(&before).await?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn delete_categories<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        refusals: &'a [(i64, Vec<String>)],
    ) -> Pending<'a, u64> {
        Box::pin(async move {
            let mut deleted = 0;
            for chunk in refusals.chunks(REFUSALS_PER_MUTATION) {
                let each: Vec<String> = chunk
                    .iter()
                    .filter(|(_, categories)| !categories.is_empty())
                    .map(|(visitor, categories)| {
                        let list: Vec<String> = categories.iter().map(|c| quote(c)).collect();
                        format!(
                            "(visitor = {visitor} AND category IN ({}))",
                            list.join(", ")
                        )
                    })
                    .collect();
                if each.is_empty() {
                    continue;
                }
                deleted += self
                    .delete(&format!("{} AND ({})", of_site(site), each.join(" OR ")))
                    .await?;
            }
            Ok(deleted)
        })
    }

    fn last_day<'a>(
        &'a self,
        _pg: &'a Client,
        site: &'a str,
        visitor: i64,
    ) -> Pending<'a, Option<i64>> {
        Box::pin(async move {
            let lines = self
                .tab_separated(&format!(
                    "SELECT count(), toUInt32(max(day)) FROM events WHERE {}",
                    of_visitor(site, visitor)
                ))
                .await?;
            let field = |i: usize| {
                lines
                    .first()
                    .and_then(|l| l.get(i))
                    .and_then(|n| n.parse::<i64>().ok())
            };
            Ok(match (field(0), field(1)) {
                (Some(count), Some(day)) if count > 0 => Some(day),
                _ => None,
            })
        })
    }

    fn facts<'a>(&'a self, _pg: &'a Client) -> Pending<'a, Vec<EventFact>> {
        Box::pin(async move {
            let lines = self
                .tab_separated("SELECT site_id, visitor, at, category FROM events LIMIT 1 BY id")
                .await?;
            lines
                .into_iter()
                .map(|l| match l.as_slice() {
                    [site, visitor, at, category] => Some(EventFact {
                        site: site.clone(),
                        visitor: visitor.parse().ok()?,
                        at: at.parse().ok()?,
                        category: category.clone(),
                    }),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| StoreError::Corrupt("ClickHouse's events cannot be read".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_day_gives_its_month_and_the_first_day_of_the_next() {
        // 2026-11-30 is day 20,787; 2026-12-01 is day 20,788.
        assert_eq!(month_of(20_787), Some((202_611, 20_788)));
        assert_eq!(month_of(20_788), Some((202_612, 20_819)));
    }

    /// Whether the query `id` is running, on the server of `client`.
    async fn running(client: &ChClient, id: &str) -> bool {
        let sql = format!(
            "SELECT count() FROM system.processes WHERE query_id = {}",
            quote(id)
        );
        let answer = client.query(&sql).await.unwrap();
        String::from_utf8_lossy(&answer).trim() != "0"
    }

    #[test]
    fn an_insert_still_running_is_made_to_end_and_one_that_ended_is_left_as_it_is() {
        let (server, db) = super::super::test_server::database();
        let settings = ClickHouse::parse(&server, Some(&db)).unwrap();
        let table = ChEventTable::open(&settings).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = Arc::new(ChClient::new(&settings));
            client
                .query("CREATE TABLE sink (n UInt64) ENGINE = Null")
                .await
                .unwrap();
            // An insert of ten billion rows: minutes, were it not ended.
            let id = table.next_query_id();
            let slow = tokio::spawn({
                let (client, id) = (client.clone(), id.clone());
                async move {
                    let insert =
                        "INSERT INTO sink SELECT number FROM system.numbers LIMIT 10000000000";
                    client.insert(insert, b"", &id).await
                }
            });
            let started = Instant::now();
            while !running(&client, &id).await {
                assert!(started.elapsed() < Duration::from_secs(10), "it never ran");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            table.finish(&id).await;
            assert!(!running(&client, &id).await, "it runs no more");
            let ended = tokio::time::timeout(Duration::from_secs(5), slow)
                .await
                .expect("its caller hears at once")
                .unwrap();
            assert!(ended.is_err(), "it did not end on its own");
            client
                .finish(&id)
                .await
                .expect("an ended query is left as it is");
            assert_ne!(
                table.next_query_id(),
                id,
                "each insert has an id of its own"
            );
        });
    }
}
