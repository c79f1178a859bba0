//! Visits: a visitor's events belong to one visit until 30 minutes pass without one, or
//! midnight UTC comes (as in Google Analytics), so a day always holds whole visits. Visit
//! state lives in the event writer's memory only: after a restart a visitor's next event
//! starts a new visit.

use std::collections::HashMap;

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
}
