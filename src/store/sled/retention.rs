//! The retention sweep: raw events past their site's limit, visitors inactive past theirs,
//! rights-log entries past 24 months.

use std::collections::{BTreeMap, HashMap};

use super::erase::{Eraser, log_request};
use super::events::event_key;
use super::{Trees, keys, map_err};
use crate::analytics::query::Cancel;
use crate::domain::ledger::{payload_recorded_at, payload_refused};
use crate::domain::{SiteId, Subject, Timestamp};
use crate::store::{QUERY_LOG_DAYS, RIGHTS_LOG_DAYS, Retention, StoreError, SweepReport};

const DAY_MS: i64 = 86_400_000;

pub fn sweep(
    eraser: &Eraser<'_>,
    plan: &[Retention],
    now: Timestamp,
    cancel: &Cancel,
) -> Result<SweepReport, StoreError> {
    let t = eraser.trees;
    let mut report = SweepReport::default();
    for r in plan {
        // Whole days: every event of a day older than the limit goes, and a day is not kept
        // in part.
        let cutoff = (now.0 - i64::from(r.event_days) * DAY_MS).div_euclid(DAY_MS) * DAY_MS;
        let start = event_key(r.site.as_str(), 0, 0);
        let end = event_key(r.site.as_str(), cutoff.max(0), 0);
        for item in t.events.range(start..end) {
            let (k, _) = item.map_err(map_err)?;
            t.events.remove(k).map_err(map_err)?;
            report.events_deleted += 1;
        }
        report.events_deleted +=
            t.sealed
                .drop_before(t, r.site.as_str(), cutoff.div_euclid(DAY_MS))?;
        let cutoff_day = u32::try_from(cutoff.div_euclid(DAY_MS)).unwrap_or(0);
        let mut site_prefix = r.site.as_str().as_bytes().to_vec();
        site_prefix.push(0);
        for (n, item) in t.visitor_days.scan_prefix(&site_prefix).enumerate() {
            stop_if(cancel, n)?;
            let (k, _) = item.map_err(map_err)?;
            let day = k
                .get(k.len().saturating_sub(4)..)
                .and_then(|d| d.try_into().ok())
                .map(u32::from_be_bytes);
            if day.is_some_and(|d| d < cutoff_day) {
                t.visitor_days.remove(k).map_err(map_err)?;
            }
        }
        report.withdrawn_events_deleted += purge_withdrawn(t, r, now, cancel)?;
        report.visitors_erased += erase_inactive(eraser, r, now, cancel)?;
    }
    let cutoff = (now.0 - i64::from(QUERY_LOG_DAYS) * DAY_MS).max(0);
    for item in t.query_log.range(..cutoff.to_be_bytes()) {
        let (k, _) = item.map_err(map_err)?;
        t.query_log.remove(k).map_err(map_err)?;
        report.query_log_deleted += 1;
    }
    let cutoff = (now.0 - i64::from(RIGHTS_LOG_DAYS) * DAY_MS).max(0);
    for item in t.rights_log.range(..cutoff.to_be_bytes()) {
        let (k, _) = item.map_err(map_err)?;
        t.rights_log.remove(k).map_err(map_err)?;
        report.rights_log_deleted += 1;
    }
    t.db.flush().map_err(map_err)?;
    Ok(report)
}

/// The last time a visitor did anything: its latest decision or its latest day with events.
fn last_active(t: &Trees, site: &SiteId, subject: &Subject, state: &[u8]) -> Option<i64> {
    let decided = payload_recorded_at(state.get(40..)?).map(|at| at.0);
    let vkey = super::events::visitor_key(site.as_str(), subject);
    let last_day = t
        .visitor_days
        .scan_prefix(&vkey)
        .filter_map(Result::ok)
        .filter_map(|(k, _)| k.get(vkey.len()..)?.try_into().ok().map(u32::from_be_bytes))
        .max()
        .map(|d| i64::from(d) * DAY_MS + DAY_MS - 1);
    decided.max(last_day)
}

/// `Cancelled` once `cancel` is set, checked every 1,024 items of a scan.
fn stop_if(cancel: &Cancel, n: usize) -> Result<(), StoreError> {
    if n % 1024 == 0 && cancel.is_cancelled() {
        return Err(StoreError::Cancelled);
    }
    Ok(())
}

fn erase_inactive(
    eraser: &Eraser<'_>,
    r: &Retention,
    now: Timestamp,
    cancel: &Cancel,
) -> Result<u64, StoreError> {
    let t = eraser.trees;
    let cutoff = now.0 - i64::from(r.inactivity_days) * DAY_MS;
    let mut prefix = r.site.as_str().as_bytes().to_vec();
    prefix.push(0);
    let mut inactive = Vec::new();
    for (n, item) in t.consents.scan_prefix(&prefix).enumerate() {
        stop_if(cancel, n)?;
        let (k, v) = item.map_err(map_err)?;
        let Some(subject) = k
            .get(prefix.len()..)
            .and_then(|s| s.try_into().ok())
            .map(Subject)
        else {
            continue;
        };
        // A decision since the cutoff is activity enough: the day index is read only for
        // visitors whose last decision is older.
        let decided = v.get(40..).and_then(payload_recorded_at).map(|at| at.0);
        if decided.is_some_and(|at| at >= cutoff) {
            continue;
        }
        if last_active(t, &r.site, &subject, &v).is_some_and(|at| at < cutoff) {
            inactive.push(subject);
        }
    }
    // Each erasure is whole; a shutdown stops between two, and the ones done are logged.
    let mut erased = 0u64;
    for subject in &inactive {
        if cancel.is_cancelled() {
            break;
        }
        eraser.erase_subject(&r.site, subject, now, "retention")?;
        erased += 1;
        debug_assert!(
            !t.consents
                .contains_key(keys::consent(&r.site, subject))
                .unwrap_or(true)
        );
    }
    if erased > 0 {
        let line = format!(
            "type=retention\nsite={}\nchannel=sweeper\noutcome=erased {erased} inactive visitors\ncompleted_at={}\n",
            r.site, now.0
        );
        log_request(t, now, line.as_bytes())?;
    }
    if erased < inactive.len() as u64 {
        return Err(StoreError::Cancelled);
    }
    Ok(erased)
}

/// Deletes the events of categories a visitor refused after granting them (a withdrawal, or a
/// narrower choice), once the refusal is `withdrawal_purge_hours` old. Events of categories
/// still granted stay. Sealed days are rewritten once each, for all their visitors at once;
/// a decision's purge is recorded (`purged`) once done, so the next sweep skips it.
fn purge_withdrawn(
    t: &Trees,
    r: &Retention,
    now: Timestamp,
    cancel: &Cancel,
) -> Result<u64, StoreError> {
    let due = now.0 - i64::from(r.withdrawal_purge_hours) * 3_600_000;
    let mut prefix = r.site.as_str().as_bytes().to_vec();
    prefix.push(0);
    let mut deleted = 0;
    // Sealed day → (visitor number → the categories to drop).
    let mut sealed: BTreeMap<i64, HashMap<u64, Vec<String>>> = BTreeMap::new();
    let mut done: Vec<(Vec<u8>, i64)> = Vec::new();
    for (n, item) in t.consents.scan_prefix(&prefix).enumerate() {
        stop_if(cancel, n)?;
        let (k, v) = item.map_err(map_err)?;
        let payload = v.get(40..).unwrap_or_default();
        let refused = payload_refused(payload).unwrap_or_default();
        let Some(decided) = payload_recorded_at(payload).map(|at| at.0) else {
            continue;
        };
        if refused.is_empty() || decided > due {
            continue;
        }
        let Some(subject) = k
            .get(prefix.len()..)
            .and_then(|s| s.try_into().ok())
            .map(Subject)
        else {
            continue;
        };
        let vkey = super::events::visitor_key(r.site.as_str(), &subject);
        if already_purged(t, &vkey, decided)? {
            continue;
        }
        let Some(number) = t
            .visitor_numbers
            .get(&vkey)
            .map_err(map_err)?
            .and_then(|n| n.as_ref().try_into().ok().map(u64::from_be_bytes))
        else {
            continue;
        };
        for (_, day) in super::events::visitor_day_rows(t, &vkey)? {
            for (k, row) in super::events::buffered_rows(t, r.site.as_str(), day)? {
                if row.visitor == number && refused.contains(&row.event.category) {
                    t.events.remove(k).map_err(map_err)?;
                    deleted += 1;
                }
            }
            sealed
                .entry(day)
                .or_default()
                .insert(number, refused.clone());
        }
        done.push((vkey, decided));
    }
    for (day, visitors) in sealed {
        deleted += t.sealed.rewrite(t, r.site.as_str(), day, |row| {
            visitors
                .get(&row.visitor)
                .is_some_and(|refused| refused.contains(&row.event.category))
        })?;
    }
    // Recorded only after every rewrite: a sweep cut short purges these again.
    for (vkey, decided) in done {
        t.purged
            .insert(vkey, &decided.to_be_bytes())
            .map_err(map_err)?;
    }
    Ok(deleted)
}

/// Whether the refusals of the decision made at `decided` were purged by an earlier sweep.
fn already_purged(t: &Trees, vkey: &[u8], decided: i64) -> Result<bool, StoreError> {
    Ok(t.purged
        .get(vkey)
        .map_err(map_err)?
        .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
        == Some(decided))
}
