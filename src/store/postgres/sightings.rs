//! Cookie and tracker sightings in PostgreSQL: the `sightings` table, one row per site, day,
//! kind, name and granted categories, each report counted in by one upsert per row (so reports
//! arriving at several nodes at once are all counted).

use std::sync::Arc;

use super::pg_err;
use super::pool::Pool;
use crate::detect::{MAX_PAGES, MAX_ROWS_PER_DAY, PageReport, SightingKind, SightingRow};
use crate::domain::{SiteId, Timestamp};
use crate::store::{SightingStore, StoreError, StoreFuture};

pub struct PgSightings {
    pool: Arc<Pool>,
}

impl PgSightings {
    pub fn new(pool: Arc<Pool>) -> PgSightings {
        PgSightings { pool }
    }
}

/// One row counted in: inserted when the day has room for it, else merged into the row of the
/// same key (first and last seen widened, one more report, the page added while there are
/// fewer than `MAX_PAGES`).
const UPSERT: &str = "INSERT INTO sightings AS s (site_id, day, kind, name, granted, first_ms, last_ms, reports, pages)
    SELECT $1, $2, $3, $4, $5, $6, $6, 1, ARRAY[$7::text]
    WHERE EXISTS (SELECT 1 FROM sightings WHERE site_id = $1 AND day = $2 AND kind = $3 AND name = $4 AND granted = $5)
       OR (SELECT count(*) FROM sightings WHERE site_id = $1 AND day = $2) < $8
    ON CONFLICT (site_id, day, kind, name, granted) DO UPDATE SET
        first_ms = least(s.first_ms, excluded.first_ms),
        last_ms = greatest(s.last_ms, excluded.last_ms),
        reports = s.reports + 1,
        pages = CASE WHEN $7 = ANY(s.pages) OR cardinality(s.pages) >= $9 THEN s.pages
                     ELSE s.pages || $7::text END";

impl SightingStore for PgSightings {
    fn add_sightings(&self, site: SiteId, report: PageReport) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            let day = report.day();
            let granted = crate::detect::granted_key(&report.granted);
            let limit = i64::try_from(MAX_ROWS_PER_DAY).unwrap_or(i64::MAX);
            let pages = i32::try_from(MAX_PAGES).unwrap_or(i32::MAX);
            for (kind, name) in &report.seen {
                let kind = i16::from(kind.code());
                client
                    .execute(
                        UPSERT,
                        &[
                            &site.as_str(),
                            &day,
                            &kind,
                            name,
                            &granted,
                            &report.at.0,
                            &report.path,
                            &limit,
                            &pages,
                        ],
                    )
                    .await
                    .map_err(pg_err)?;
            }
            Ok(())
        })
    }

    fn sightings(&self, site: SiteId, days: std::ops::Range<i64>) -> StoreFuture<Vec<SightingRow>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query(
                    "SELECT day, kind, name, granted, first_ms, last_ms, reports, pages FROM sightings
                     WHERE site_id = $1 AND day >= $2 AND day < $3",
                    &[&site.as_str(), &days.start, &days.end],
                )
                .await
                .map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    let kind = u8::try_from(r.get::<_, i16>(1))
                        .ok()
                        .and_then(SightingKind::from_code)
                        .ok_or_else(|| StoreError::Corrupt("a sighting cannot be read".into()))?;
                    Ok(SightingRow {
                        day: r.get(0),
                        kind,
                        name: r.get(2),
                        granted: r.get(3),
                        first: Timestamp(r.get(4)),
                        last: Timestamp(r.get(5)),
                        reports: u64::try_from(r.get::<_, i64>(6)).unwrap_or(0),
                        pages: r.get(7),
                    })
                })
                .collect()
        })
    }
}
