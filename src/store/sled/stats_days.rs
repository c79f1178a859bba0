//! The `consent_stats` tree, behind the one type that writes and reads it: each day's rows are
//! read (and opened) once and kept until a decision of that day is merged.
//!
//! The consent panel reads every row of 30 days (tens of thousands: a row per day, action,
//! jurisdiction, variant and granted count or category), and opening each one costs more than
//! the panel's arithmetic. Rows change only when the ledger writer merges a group's decisions
//! into them, through `merge` here, which counts a write for that day once it is visible; a
//! kept day is used only while its day's count is the one read before its rows were. So no
//! answer is built from rows the tree no longer holds. Memory only, at most `KEEP_ROWS` rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::map_err;
use super::vault_tree::{MergeFn, Tree};
use crate::analytics::consent_stats::{self, StatCounts, StatRows};
use crate::store::StoreError;

/// Rows kept at most, about 60 bytes each: a year of a site with a thousand rows a day.
const KEEP_ROWS: usize = 400_000;

/// (site, day).
type DayKey = (String, u32);

#[derive(Default)]
struct Kept {
    /// Writes merged into each day's rows since the store opened.
    writes: HashMap<DayKey, u64>,
    /// Days read, with the day's write count read before their rows were.
    days: HashMap<DayKey, (u64, StatRows)>,
    rows: usize,
}

pub(crate) struct StatsDays {
    tree: Tree,
    kept: Mutex<Kept>,
}

impl StatsDays {
    pub fn new(tree: Tree, merge: MergeFn) -> StatsDays {
        tree.set_merge_operator(merge);
        StatsDays {
            tree,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The tree, for a backup, which copies its rows as stored.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Adds `counts` to the row `key` (a `consent_stats::key`) of a site's day.
    pub fn merge(
        &self,
        site: &str,
        day: u32,
        key: Vec<u8>,
        counts: StatCounts,
    ) -> sled::Result<()> {
        let merged = self.tree.merge(key, counts.to_bytes().to_vec());
        if let Ok(mut kept) = self.kept.lock() {
            *kept.writes.entry((site.to_owned(), day)).or_default() += 1;
        }
        merged
    }

    /// The rows of a site's days in `days`, a chunk per day that has any.
    pub fn read(
        &self,
        site: &str,
        days: std::ops::Range<u32>,
    ) -> Result<Vec<StatRows>, StoreError> {
        let end = consent_stats::day_prefix(site, days.end);
        let mut out = Vec::new();
        let mut next = days.start;
        while next < days.end {
            // The next day with rows: one seek, however many empty days lie between.
            let from = consent_stats::day_prefix(site, next);
            let Some(first) = self.tree.range(from..end.clone()).next() else {
                break;
            };
            let (k, _) = first.map_err(map_err)?;
            let Some(day) = day_of(site, &k) else { break };
            out.push(self.day(site, day)?);
            next = day.saturating_add(1);
            if day == u32::MAX {
                break;
            }
        }
        Ok(out)
    }

    fn day(&self, site: &str, day: u32) -> Result<StatRows, StoreError> {
        let key = (site.to_owned(), day);
        let writes = {
            let kept = self
                .kept
                .lock()
                .map_err(|_| StoreError::Io("consent statistics lock".into()))?;
            let writes = kept.writes.get(&key).copied().unwrap_or(0);
            if let Some((at, rows)) = kept.days.get(&key) {
                if *at == writes {
                    return Ok(rows.clone());
                }
            }
            writes
        };
        let from = consent_stats::day_prefix(site, day);
        let mut rows = Vec::new();
        for item in self.tree.scan_prefix(&from) {
            let (k, v) = item.map_err(map_err)?;
            if let Some(stat) = consent_stats::parse_key(&k) {
                rows.push((stat, StatCounts::from_bytes(&v)));
            }
        }
        let rows: StatRows = Arc::new(rows);
        if let Ok(mut kept) = self.kept.lock() {
            if let Some((_, old)) = kept.days.insert(key, (writes, rows.clone())) {
                kept.rows -= old.len();
            }
            kept.rows += rows.len();
            while kept.rows > KEEP_ROWS {
                // The oldest day goes first: recent days are asked for most.
                let Some(oldest) = kept.days.keys().min_by_key(|(_, d)| *d).cloned() else {
                    break;
                };
                if let Some((_, gone)) = kept.days.remove(&oldest) {
                    kept.rows -= gone.len();
                }
            }
        }
        Ok(rows)
    }
}

/// The day in a row's key (`site 0x00 day …`).
fn day_of(site: &str, key: &[u8]) -> Option<u32> {
    let at = site.len() + 1;
    let bytes = key.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::consent_stats::{StatKey, StatKind};

    fn stats() -> (tempfile::TempDir, StatsDays) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = Tree::new(db.open_tree("consent_stats").unwrap(), None);
        (dir, StatsDays::new(tree, consent_stats::merge))
    }

    fn add(s: &StatsDays, day: u32, jurisdiction: &str, n: i64) {
        let key = StatKey {
            day,
            action: "accept_all".into(),
            jurisdiction: jurisdiction.into(),
            variant: None,
            kind: StatKind::Granted(3),
        };
        let counts = StatCounts {
            decisions: n,
            granted: n,
        };
        s.merge("demo", day, consent_stats::key("demo", &key), counts)
            .unwrap();
    }

    fn decisions(s: &StatsDays, days: std::ops::Range<u32>) -> Vec<(u32, i64)> {
        s.read("demo", days)
            .unwrap()
            .iter()
            .flat_map(|d| d.iter().map(|(k, c)| (k.day, c.decisions)))
            .collect()
    }

    #[test]
    fn a_day_read_again_after_a_merge_holds_the_merge() {
        let (_dir, s) = stats();
        add(&s, 10, "EEA", 2);
        add(&s, 12, "EEA", 1);
        assert_eq!(decisions(&s, 0..100), [(10, 2), (12, 1)]);
        add(&s, 12, "EEA", 4);
        add(&s, 12, "US-CA", 1);
        assert_eq!(decisions(&s, 0..100), [(10, 2), (12, 5), (12, 1)]);
        assert_eq!(decisions(&s, 11..12), []);
        assert_eq!(decisions(&s, 12..13), [(12, 5), (12, 1)]);
    }

    #[test]
    fn the_last_day_of_the_range_is_left_out_and_no_day_past_it_is_read() {
        let (_dir, s) = stats();
        add(&s, 5, "EEA", 1);
        add(&s, u32::MAX, "EEA", 1);
        assert_eq!(decisions(&s, 0..5), []);
        assert_eq!(decisions(&s, 0..u32::MAX), [(5, 1)]);
    }
}
