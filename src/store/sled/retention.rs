//! Retention in sled: the primitives `store::retention::Sweep` applies the policy with (what is
//! due is decided there, for every backend).

use std::collections::{BTreeMap, HashMap};

use super::erase::{SledConsents, SledVisitors, log_request};
use super::events::{buffered_rows, event_key, visitor_day_rows, visitor_key};
use super::{Trees, map_err};
use crate::analytics::query::Cancel;
use crate::domain::{SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::retention::{AnalyticsRetention, ConsentRetention, StateSummary};

const DAY_MS: i64 = 86_400_000;

fn site_prefix(site: &SiteId) -> Vec<u8> {
    let mut prefix = site.as_str().as_bytes().to_vec();
    prefix.push(0);
    prefix
}

/// Removes the keys of `tree` below `before` (a time as i64 BE leads them); how many.
fn trim_log(
    t: &Trees,
    tree: &super::vault_tree::Tree,
    before: Timestamp,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for item in tree.range(..before.0.max(0).to_be_bytes()) {
        let (k, _) = item.map_err(map_err)?;
        tree.remove(k).map_err(map_err)?;
        removed += 1;
    }
    t.db.flush().map_err(map_err)?;
    Ok(removed)
}

impl ConsentRetention for SledConsents<'_> {
    fn each_state(
        &self,
        site: &SiteId,
        visit: &mut dyn FnMut(Subject, StateSummary) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let prefix = site_prefix(site);
        for item in self.trees.consents.scan_prefix(&prefix) {
            let (k, v) = item.map_err(map_err)?;
            let Some(subject) = k
                .get(prefix.len()..)
                .and_then(|s| s.try_into().ok())
                .map(Subject)
            else {
                continue;
            };
            visit(subject, super::state::summary(&v))?;
        }
        Ok(())
    }

    fn log_rights(&self, at: Timestamp, line: &str) -> Result<(), StoreError> {
        log_request(self.trees, at, line.as_bytes())
    }

    fn trim_rights_log(&self, before: Timestamp) -> Result<u64, StoreError> {
        trim_log(self.trees, &self.trees.rights_log, before)
    }

    fn trim_query_log(&self, before: Timestamp) -> Result<u64, StoreError> {
        trim_log(self.trees, &self.trees.query_log, before)
    }
}

fn visitor_number(t: &Trees, vkey: &[u8]) -> Result<Option<u64>, StoreError> {
    Ok(t.visitor_numbers
        .get(vkey)
        .map_err(map_err)?
        .and_then(|n| n.as_ref().try_into().ok().map(u64::from_be_bytes)))
}

impl AnalyticsRetention for SledVisitors<'_> {
    fn drop_days_before(&self, site: &SiteId, day: i64) -> Result<u64, StoreError> {
        let t = self.trees;
        let mut deleted = 0;
        let start = event_key(site.as_str(), 0, 0);
        let end = event_key(site.as_str(), day.max(0) * DAY_MS, 0);
        for item in t.events.range(start..end) {
            let (k, _) = item.map_err(map_err)?;
            t.events.remove(k).map_err(map_err)?;
            deleted += 1;
        }
        deleted += t.sealed.drop_before(t, site.as_str(), day)?;
        super::sightings::drop_before(t, site, day)?;
        let cutoff_day = u32::try_from(day).unwrap_or(0);
        for item in t.visitor_days.scan_prefix(site_prefix(site)) {
            let (k, _) = item.map_err(map_err)?;
            let row_day = k
                .get(k.len().saturating_sub(4)..)
                .and_then(|d| d.try_into().ok())
                .map(u32::from_be_bytes);
            if row_day.is_some_and(|d| d < cutoff_day) {
                t.visitor_days.remove(k).map_err(map_err)?;
            }
        }
        t.db.flush().map_err(map_err)?;
        Ok(deleted)
    }

    fn last_event_day(&self, site: &SiteId, subject: &Subject) -> Result<Option<i64>, StoreError> {
        let vkey = visitor_key(site.as_str(), subject);
        let mut last = None;
        for item in self.trees.visitor_days.scan_prefix(&vkey) {
            let (k, _) = item.map_err(map_err)?;
            let day = k
                .get(vkey.len()..)
                .and_then(|d| d.try_into().ok())
                .map(u32::from_be_bytes);
            last = last.max(day.map(i64::from));
        }
        Ok(last)
    }

    fn purged_at(&self, site: &SiteId, subject: &Subject) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .trees
            .purged
            .get(visitor_key(site.as_str(), subject))
            .map_err(map_err)?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .map(Timestamp))
    }

    /// Buffered rows are deleted as found; each sealed day is rewritten once, for all its
    /// visitors at once.
    fn purge_categories(
        &self,
        site: &SiteId,
        refusals: &[(Subject, Vec<String>)],
        cancel: &Cancel,
    ) -> Result<u64, StoreError> {
        let t = self.trees;
        let mut deleted = 0;
        // Sealed day → (visitor number → the categories to drop).
        let mut sealed: BTreeMap<i64, HashMap<u64, &Vec<String>>> = BTreeMap::new();
        for (n, (subject, refused)) in refusals.iter().enumerate() {
            if n % 1024 == 0 && cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            let vkey = visitor_key(site.as_str(), subject);
            let Some(number) = visitor_number(t, &vkey)? else {
                continue;
            };
            for (_, day) in visitor_day_rows(t, &vkey)? {
                for (k, row) in buffered_rows(t, site.as_str(), day)? {
                    if row.visitor == number && refused.contains(&row.event.category) {
                        t.events.remove(k).map_err(map_err)?;
                        deleted += 1;
                    }
                }
                sealed.entry(day).or_default().insert(number, refused);
            }
        }
        for (day, visitors) in sealed {
            deleted += t.sealed.rewrite(t, site.as_str(), day, |row| {
                visitors
                    .get(&row.visitor)
                    .is_some_and(|refused| refused.contains(&row.event.category))
            })?;
        }
        Ok(deleted)
    }

    /// Only for a visitor with events: one that has none has nothing to purge, and keeps no row.
    fn mark_purged(
        &self,
        site: &SiteId,
        subject: &Subject,
        decided_at: Timestamp,
    ) -> Result<(), StoreError> {
        let t = self.trees;
        let vkey = visitor_key(site.as_str(), subject);
        if visitor_number(t, &vkey)?.is_some() {
            t.purged
                .insert(vkey, &decided_at.0.to_be_bytes())
                .map_err(map_err)?;
        }
        Ok(())
    }
}
