//! Cookie and tracker sightings in the `sightings` tree: one entry per site, day, kind, name
//! and granted categories, key `site \0 day(be i64, days since the epoch, never negative) kind
//! name \0 granted`, the value JSON.

use serde::{Deserialize, Serialize};

use super::{Trees, map_err};
use crate::detect::{MAX_ROWS_PER_DAY, PageReport, SightingKind, SightingRow};
use crate::domain::{SiteId, Timestamp};
use crate::store::StoreError;

#[derive(Serialize, Deserialize)]
struct Stored {
    first: i64,
    last: i64,
    reports: u64,
    pages: Vec<String>,
}

fn day_prefix(site: &SiteId, day: i64) -> Vec<u8> {
    let mut k = site.as_str().as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

fn key(site: &SiteId, day: i64, kind: SightingKind, name: &str, granted: &str) -> Vec<u8> {
    let mut k = day_prefix(site, day);
    k.push(kind.code());
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(granted.as_bytes());
    k
}

fn row(site: &SiteId, k: &[u8], v: &[u8]) -> Result<SightingRow, StoreError> {
    let corrupt = || StoreError::Corrupt("a sighting cannot be read".into());
    let rest = k.get(site.as_str().len() + 1..).ok_or_else(corrupt)?;
    let day = i64::from_be_bytes(
        rest.get(..8)
            .and_then(|d| d.try_into().ok())
            .ok_or_else(corrupt)?,
    );
    let kind = SightingKind::from_code(*rest.get(8).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
    let tail = rest.get(9..).ok_or_else(corrupt)?;
    let split = tail.iter().position(|b| *b == 0).ok_or_else(corrupt)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt());
    let stored: Stored = serde_json::from_slice(v).map_err(|_| corrupt())?;
    Ok(SightingRow {
        day,
        kind,
        name: text(&tail[..split])?,
        granted: text(&tail[split + 1..])?,
        first: Timestamp(stored.first),
        last: Timestamp(stored.last),
        reports: stored.reports,
        pages: stored.pages,
    })
}

/// Counts a page report into its day, each row merged in place (`update_and_fetch`, so two
/// reports at once are both counted); a name new to a day that already holds
/// `MAX_ROWS_PER_DAY` rows is left out.
pub fn add(t: &Trees, site: &SiteId, report: &PageReport) -> Result<(), StoreError> {
    let day = report.day();
    let granted = crate::detect::granted_key(&report.granted);
    let mut rows_today: Option<usize> = None;
    for (kind, name) in &report.seen {
        let k = key(site, day, *kind, name, &granted);
        if !t.sightings.contains_key(&k).map_err(map_err)? {
            let n = match rows_today {
                Some(n) => n,
                None => t.sightings.scan_prefix(day_prefix(site, day)).count(),
            };
            rows_today = Some(n);
            if n >= MAX_ROWS_PER_DAY {
                continue;
            }
            rows_today = Some(n + 1);
        }
        t.sightings
            .update_and_fetch(&k, |old| Some(merged(old, report, *kind, name)))
            .map_err(map_err)?;
    }
    Ok(())
}

/// The stored row with one more report (a row that cannot be read is started again).
fn merged(old: Option<&[u8]>, report: &PageReport, kind: SightingKind, name: &str) -> Vec<u8> {
    let mut r = SightingRow::first(report, kind, name);
    if let Some(s) = old.and_then(|v| serde_json::from_slice::<Stored>(v).ok()) {
        r.first = Timestamp(s.first);
        r.last = Timestamp(s.last);
        r.reports = s.reports;
        r.pages = s.pages;
        r.add(report);
    }
    let stored = Stored {
        first: r.first.0,
        last: r.last.0,
        reports: r.reports,
        pages: r.pages,
    };
    serde_json::to_vec(&stored).unwrap_or_default()
}

/// The site's rows of the days in `days`.
pub fn rows(
    t: &Trees,
    site: &SiteId,
    days: std::ops::Range<i64>,
) -> Result<Vec<SightingRow>, StoreError> {
    let mut out = Vec::new();
    let range = day_prefix(site, days.start.max(0))..day_prefix(site, days.end.max(0));
    for item in t.sightings.range(range) {
        let (k, v) = item.map_err(map_err)?;
        out.push(row(site, &k, &v)?);
    }
    Ok(out)
}

/// Deletes the site's rows of every day before `day`.
pub fn drop_before(t: &Trees, site: &SiteId, day: i64) -> Result<(), StoreError> {
    let range = day_prefix(site, 0)..day_prefix(site, day.max(0));
    for item in t.sightings.range(range) {
        let (k, _) = item.map_err(map_err)?;
        t.sightings.remove(k).map_err(map_err)?;
    }
    Ok(())
}
