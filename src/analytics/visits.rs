//! Visits: a visitor's events belong to one visit until 30 minutes pass without one, or
//! midnight UTC comes (as in Google Analytics), so a day always holds whole visits.
//!
//! Two ways to the same rule: `Visits` follows the visits in progress as events arrive (the
//! embedded store's one event writer; after a restart a visitor's next event starts a new
//! visit), and `assign` derives them from a day's stored events alone (PostgreSQL, where
//! several nodes write one visitor's events and none sees them all).

use std::collections::HashMap;

use crate::analytics::engine::Row;

/// A visit ends after this long without an event.
pub const VISIT_TIMEOUT_MS: i64 = 30 * 60 * 1000;
const DAY_MS: i64 = 86_400_000;

struct Open {
    number: u64,
    last_ms: i64,
}

/// The visits in progress, per site and visitor number.
#[derive(Default)]
pub struct Visits {
    open: HashMap<(String, u64), Open>,
    next: u64,
}

impl Visits {
    /// The visit number of an event of `visitor` at `at_ms`: the ongoing visit's, or a new
    /// one. A visit number is its start (ms) shifted left 12 bits, and a counter below.
    pub fn visit_of(&mut self, site: &str, visitor: u64, at_ms: i64) -> u64 {
        let slot = (site.to_owned(), visitor);
        if let Some(v) = self.open.get_mut(&slot) {
            let same_day = at_ms.div_euclid(DAY_MS) == v.last_ms.div_euclid(DAY_MS);
            if same_day && at_ms - v.last_ms < VISIT_TIMEOUT_MS && at_ms >= v.last_ms {
                v.last_ms = at_ms;
                return v.number;
            }
        }
        self.next += 1;
        let number = (u64::try_from(at_ms).unwrap_or(0) << 12) | (self.next & 0xfff);
        self.open.insert(
            slot,
            Open {
                number,
                last_ms: at_ms,
            },
        );
        number
    }

    /// Forgets visits that have ended by `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.open.retain(|_, v| {
            now_ms - v.last_ms < VISIT_TIMEOUT_MS
                && now_ms.div_euclid(DAY_MS) == v.last_ms.div_euclid(DAY_MS)
        });
    }
}

/// Gives rows their visits from their times alone: a visitor's events, in time order, are one
/// visit until 30 minutes pass without one or midnight UTC comes. Sorts the rows by visitor
/// and time. A visit number is its start (ms) shifted left 12 bits, with the visitor's low
/// bits below.
pub fn assign(rows: &mut [Row]) {
    rows.sort_by_key(|r| (r.visitor, r.event.at.0));
    let mut open: Option<(u64, i64, u64)> = None;
    for row in rows.iter_mut() {
        let at = row.event.at.0;
        let visit = match open {
            Some((visitor, last, number))
                if visitor == row.visitor
                    && at - last < VISIT_TIMEOUT_MS
                    && at.div_euclid(DAY_MS) == last.div_euclid(DAY_MS) =>
            {
                number
            }
            _ => (u64::try_from(at).unwrap_or(0) << 12) | (row.visitor & 0xfff),
        };
        open = Some((row.visitor, at, visit));
        row.event.visit = visit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_795_000_000_000 / DAY_MS * DAY_MS + 12 * 60 * MIN;

    #[test]
    fn events_closer_than_thirty_minutes_are_one_visit() {
        let mut v = Visits::default();
        let a = v.visit_of("s", 1, T0);
        assert_eq!(v.visit_of("s", 1, T0 + 29 * MIN), a);
        assert_eq!(v.visit_of("s", 1, T0 + 58 * MIN), a);
        assert_ne!(v.visit_of("s", 1, T0 + 89 * MIN), a);
        assert_ne!(v.visit_of("s", 2, T0), a, "another visitor");
        assert_ne!(
            v.visit_of("t", 1, T0 + 89 * MIN),
            v.visit_of("s", 1, T0 + 89 * MIN)
        );
    }

    #[test]
    fn midnight_ends_a_visit() {
        let mut v = Visits::default();
        let midnight = T0 - 12 * 60 * MIN + DAY_MS;
        let a = v.visit_of("s", 1, midnight - MIN);
        let b = v.visit_of("s", 1, midnight + MIN);
        assert_ne!(a, b);
        assert_eq!(v.visit_of("s", 1, midnight + 2 * MIN), b);
    }

    fn row(visitor: u64, at: i64) -> Row {
        let event = crate::analytics::event::StoredEvent {
            at: crate::domain::Timestamp(at),
            visit: 0,
            name: "pageview".into(),
            category: "analytics".into(),
            path: "/".into(),
            props: Vec::new(),
            context: Default::default(),
        };
        Row { visitor, event }
    }

    #[test]
    fn assigned_visits_follow_the_same_rule_as_the_writers_in_any_order() {
        let midnight = T0 - 12 * 60 * MIN + DAY_MS;
        let times = [
            T0 + 89 * MIN,
            T0,
            T0 + 58 * MIN,
            T0 + 29 * MIN,
            midnight - MIN,
            midnight + MIN,
        ];
        let mut rows: Vec<Row> = times.iter().map(|t| row(1, *t)).collect();
        rows.push(row(2, T0 + MIN));
        assign(&mut rows);
        let visit_at = |visitor: u64, at: i64| {
            rows.iter()
                .find(|r| r.visitor == visitor && r.event.at.0 == at)
                .map(|r| r.event.visit)
                .unwrap()
        };
        let first = visit_at(1, T0);
        assert_eq!(visit_at(1, T0 + 29 * MIN), first);
        assert_eq!(visit_at(1, T0 + 58 * MIN), first);
        assert_ne!(visit_at(1, T0 + 89 * MIN), first, "31 minutes of silence");
        assert_ne!(visit_at(2, T0 + MIN), first, "another visitor");
        assert_ne!(
            visit_at(1, midnight - MIN),
            visit_at(1, midnight + MIN),
            "midnight"
        );
    }
}
