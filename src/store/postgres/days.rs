//! Built days kept between questions on PostgreSQL, each under the fingerprint of its rows
//! (`event_table::Fingerprint`: their count, newest id and the XOR of their ids' hashes). Only
//! settled days are kept (ended more than ten minutes ago: events carry their node's time, so
//! rows only come to such a day late, after an outage of ClickHouse or from the demo-data
//! loader), and every question reads its days' fingerprints first (one statement) and uses a
//! kept day only under the same fingerprint.
//!
//! Why a change is not missed: row ids come from a sequence and are never reused, so rows
//! deleted (an erasure, a purge, retention) and late rows together leave the same count,
//! newest id and XOR only when the hashes of the ids gone and come cancel out, a 64-bit
//! coincidence. A day is kept under the fingerprint read before its rows: rows that changed
//! in between were read as they are now, and the next question sees a different fingerprint
//! and builds the day again. Bounded by bytes (`analytics_cache_mb`); the least recently used
//! go first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::analytics::engine::Day;

use super::event_table::Fingerprint;

#[derive(Default)]
struct Inner {
    days: HashMap<(String, i64), Kept>,
    bytes: usize,
    tick: u64,
}

struct Kept {
    fingerprint: Fingerprint,
    day: Arc<Day>,
    bytes: usize,
    used: u64,
}

pub(crate) struct KeptDays {
    inner: Mutex<Inner>,
    budget: usize,
}

impl KeptDays {
    pub fn new(budget_mb: u64) -> KeptDays {
        KeptDays {
            inner: Mutex::new(Inner::default()),
            budget: usize::try_from(budget_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
        }
    }

    /// The kept day of `site`, when it was built from rows with this fingerprint.
    pub fn get(&self, site: &str, day: i64, fingerprint: Fingerprint) -> Option<Arc<Day>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.tick += 1;
        let tick = inner.tick;
        let kept = inner.days.get_mut(&(site.to_owned(), day))?;
        if kept.fingerprint != fingerprint {
            return None;
        }
        kept.used = tick;
        Some(kept.day.clone())
    }

    /// Keeps a day built from rows with this fingerprint, making room if needed.
    pub fn put(&self, site: &str, day: Arc<Day>, fingerprint: Fingerprint) {
        let bytes = day.footprint();
        if bytes > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.tick += 1;
        let kept = Kept {
            fingerprint,
            bytes,
            used: inner.tick,
            day: day.clone(),
        };
        if let Some(old) = inner.days.insert((site.to_owned(), day.day), kept) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget {
            let Some(oldest) = inner
                .days
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(gone) = inner.days.remove(&oldest) {
                inner.bytes -= gone.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(rows: i64, newest: i64) -> Fingerprint {
        Fingerprint {
            rows,
            newest,
            hashes: rows ^ newest,
        }
    }

    fn day(n: i64) -> Arc<Day> {
        Arc::new(Day {
            day: n,
            ev_at: vec![0; 1000],
            ..Day::default()
        })
    }

    #[test]
    fn a_kept_day_is_used_only_under_the_fingerprint_it_was_built_from() {
        let kept = KeptDays::new(1);
        kept.put("demo", day(7), fp(10, 100));
        assert!(kept.get("demo", 7, fp(10, 100)).is_some());
        assert!(kept.get("demo", 7, fp(11, 101)).is_none(), "a row came");
        assert!(kept.get("demo", 7, fp(9, 100)).is_none(), "a row went");
        assert!(kept.get("shop", 7, fp(10, 100)).is_none(), "another site");
        let other_rows = Fingerprint {
            hashes: 1,
            ..fp(10, 100)
        };
        assert!(
            kept.get("demo", 7, other_rows).is_none(),
            "a row went and a late one came"
        );
    }

    #[test]
    fn the_least_recently_used_day_goes_when_the_budget_is_spent() {
        let kept = KeptDays::new(1);
        let each = day(0).footprint();
        let fit = (1024 * 1024) / each;
        for n in 0..fit as i64 {
            kept.put("demo", day(n), fp(1, n));
        }
        assert!(kept.get("demo", 0, fp(1, 0)).is_some(), "day 0 used again");
        kept.put("demo", day(fit as i64), fp(1, fit as i64));
        assert!(
            kept.get("demo", 0, fp(1, 0)).is_some(),
            "recently used stays"
        );
        assert!(kept.get("demo", 1, fp(1, 1)).is_none(), "the oldest went");
    }
}
