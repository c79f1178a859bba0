//! Rollups: per site, per hour, per dimension value, counters kept as events arrive, so reports
//! over months read rollups instead of raw events.
//!
//! Visits are derived here: a visitor's events belong to one visit until 30 minutes pass
//! without one. Visit-level dimensions (source, campaign, country, device…) come from the
//! visit's first event; a visit of one event is a bounce until a second arrives; the time
//! between a visit's events is its duration. Visit state lives in memory only (a restart
//! starts new visits).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::event::AcceptedEvent;

/// A visit ends after this long without an event.
pub const VISIT_TIMEOUT_MS: i64 = 30 * 60 * 1000;
const HOUR_MS: i64 = 3_600_000;

/// The dimensions rollups are kept for, by their code (the index).
pub const DIMENSIONS: [&str; 13] = [
    "total",
    "event:page",
    "event:name",
    "visit:source",
    "visit:referrer",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:country",
    "visit:region",
    "visit:browser",
    "visit:os",
    "visit:device",
];

const PAGE: u8 = 1;
const NAME: u8 = 2;

/// Counters of one rollup cell. Bounces can be negative in a delta (a visit un-bounced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub visitors: i64,
    pub visits: i64,
    pub pageviews: i64,
    pub events: i64,
    pub bounces: i64,
    pub duration_ms: i64,
}

impl Counters {
    pub const LEN: usize = 48;

    pub fn add(&mut self, o: &Counters) {
        self.visitors += o.visitors;
        self.visits += o.visits;
        self.pageviews += o.pageviews;
        self.events += o.events;
        self.bounces += o.bounces;
        self.duration_ms += o.duration_ms;
    }

    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let fields = [
            self.visitors,
            self.visits,
            self.pageviews,
            self.events,
            self.bounces,
            self.duration_ms,
        ];
        for (i, f) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Counters {
        let f = |i: usize| {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_le_bytes)
                .unwrap_or(0)
        };
        Counters {
            visitors: f(0),
            visits: f(1),
            pageviews: f(2),
            events: f(3),
            bounces: f(4),
            duration_ms: f(5),
        }
    }
}

/// A rollup cell's key: `site 0x00 hour(u32 BE) dimension(u8) value`.
pub fn key(site: &str, hour: u32, dim: u8, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 6 + value.len());
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(&hour.to_be_bytes());
    k.push(dim);
    k.extend_from_slice(value.as_bytes());
    k
}

/// The inverse of `key`.
pub fn parse_key(k: &[u8]) -> Option<(String, u32, u8, String)> {
    let zero = k.iter().position(|b| *b == 0)?;
    let site = std::str::from_utf8(&k[..zero]).ok()?.to_owned();
    let rest = k.get(zero + 1..)?;
    let hour = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let dim = *rest.get(4)?;
    let value = std::str::from_utf8(rest.get(5..)?).ok()?.to_owned();
    Some((site, hour, dim, value))
}

pub fn hour_of(at_ms: i64) -> u32 {
    u32::try_from(at_ms.div_euclid(HOUR_MS)).unwrap_or(0)
}

struct Visit {
    number: u64,
    start_hour: u32,
    last_ms: i64,
    events: u32,
    dims: Vec<(u8, String)>,
}

/// Turns accepted events into visit numbers and rollup deltas. Owned by one thread.
#[derive(Default)]
pub struct Aggregator {
    visits: HashMap<(String, u64), Visit>,
    seen: HashMap<u32, HashSet<u64>>,
    pending: HashMap<Vec<u8>, Counters>,
    next_visit: u64,
}

/// Past this many distinct (visitor, dimension value) pairs in an hour, uniques are counted
/// for the total only, to bound memory.
const SEEN_CAP: usize = 2_000_000;

fn visit_dims(e: &AcceptedEvent) -> Vec<(u8, String)> {
    let c = &e.context;
    let mut out = Vec::with_capacity(10);
    let mut push = |dim: u8, v: &Option<String>| {
        if let Some(v) = v {
            out.push((dim, v.clone()));
        }
    };
    push(3, &c.source);
    push(4, &c.referrer);
    push(5, &c.utm_source);
    push(6, &c.utm_medium);
    push(7, &c.utm_campaign);
    push(8, &c.country);
    push(9, &c.region);
    out.push((10, c.browser.clone()));
    out.push((11, c.os.clone()));
    out.push((12, c.device.clone()));
    out
}

impl Aggregator {
    fn bump(&mut self, site: &str, hour: u32, dim: u8, value: &str, delta: Counters) {
        self.pending
            .entry(key(site, hour, dim, value))
            .or_default()
            .add(&delta);
    }

    fn first_in_hour(&mut self, hour: u32, visitor: u64, site: &str, dim: u8, value: &str) -> bool {
        let set = self.seen.entry(hour).or_default();
        if dim != 0 && set.len() >= SEEN_CAP {
            return false;
        }
        let mut h = DefaultHasher::new();
        (visitor, site, dim, value).hash(&mut h);
        set.insert(h.finish())
    }

    /// Adds one event of `visitor`; returns its visit number.
    pub fn add(&mut self, visitor: u64, e: &AcceptedEvent) -> u64 {
        let now = e.at.millis();
        let hour = hour_of(now);
        let site = e.site.as_str().to_owned();
        self.seen.retain(|h, _| *h + 1 >= hour);

        let slot = (site.clone(), visitor);
        let ongoing = self
            .visits
            .get(&slot)
            .is_some_and(|v| now - v.last_ms < VISIT_TIMEOUT_MS);
        let (number, start_hour, dims, fresh, gap, unbounce) = if ongoing {
            let v = self.visits.get_mut(&slot).map(|v| {
                let gap = (now - v.last_ms).max(0);
                v.last_ms = now;
                v.events += 1;
                (v.number, v.start_hour, v.dims.clone(), gap, v.events == 2)
            });
            let Some((n, h, d, gap, unbounce)) = v else {
                return 0;
            };
            (n, h, d, false, gap, unbounce)
        } else {
            self.next_visit += 1;
            let number = (u64::try_from(now).unwrap_or(0) << 12) | (self.next_visit & 0xfff);
            let dims = visit_dims(e);
            self.visits.insert(
                slot,
                Visit {
                    number,
                    start_hour: hour,
                    last_ms: now,
                    events: 1,
                    dims: dims.clone(),
                },
            );
            (number, hour, dims, true, 0, false)
        };

        // Visit-level counters go to the hour the visit started.
        let visit_delta = Counters {
            visits: i64::from(fresh),
            bounces: i64::from(fresh) - i64::from(unbounce),
            duration_ms: gap,
            ..Counters::default()
        };
        if visit_delta != Counters::default() {
            self.bump(&site, start_hour, 0, "", visit_delta);
            for (dim, value) in &dims {
                self.bump(&site, start_hour, *dim, value, visit_delta);
            }
        }

        // Event-level counters go to the event's hour.
        let base = Counters {
            pageviews: i64::from(e.is_pageview()),
            events: i64::from(!e.is_pageview()),
            ..Counters::default()
        };
        let mut cells: Vec<(u8, String)> = vec![(0, String::new())];
        if e.is_pageview() {
            cells.push((PAGE, e.path.clone()));
        } else {
            cells.push((NAME, e.name.clone()));
        }
        cells.extend(dims);
        for (dim, value) in cells {
            let mut delta = base;
            delta.visitors = i64::from(self.first_in_hour(hour, visitor, &site, dim, &value));
            self.bump(&site, hour, dim, &value, delta);
        }
        number
    }

    /// Forgets visits that have ended.
    pub fn expire_visits(&mut self, now_ms: i64) {
        self.visits
            .retain(|_, v| now_ms - v.last_ms < VISIT_TIMEOUT_MS);
    }

    /// The deltas gathered since the last call.
    pub fn drain(&mut self) -> Vec<(Vec<u8>, Counters)> {
        self.pending.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::event::Context;
    use crate::domain::{CategoryId, ConsentId, SiteId, Timestamp};

    fn event(at_min: i64, name: &str, path: &str) -> AcceptedEvent {
        AcceptedEvent {
            site: SiteId::parse("demo").unwrap(),
            consent_id: ConsentId::from_random([1; 16]),
            at: Timestamp(1_790_000_000_000 + at_min * 60_000),
            name: name.into(),
            category: CategoryId::parse("analytics").unwrap(),
            path: path.into(),
            props: vec![],
            context: Context {
                browser: "Firefox".into(),
                os: "Linux".into(),
                device: "desktop".into(),
                source: Some("Google".into()),
                ..Context::default()
            },
        }
    }

    fn totals(deltas: &[(Vec<u8>, Counters)], dim: u8, value: &str) -> Counters {
        let mut sum = Counters::default();
        for (k, c) in deltas {
            let (_, _, d, v) = parse_key(k).unwrap();
            if d == dim && v == value {
                sum.add(c);
            }
        }
        sum
    }

    #[test]
    fn a_visit_of_two_pageviews_is_one_visit_no_bounce_and_its_gap_is_its_duration() {
        let mut a = Aggregator::default();
        let v1 = a.add(1, &event(0, "pageview", "/"));
        let v2 = a.add(1, &event(5, "pageview", "/pricing"));
        assert_eq!(v1, v2);
        let d = a.drain();
        let t = totals(&d, 0, "");
        assert_eq!((t.visits, t.pageviews, t.bounces, t.visitors), (1, 2, 0, 1));
        assert_eq!(t.duration_ms, 5 * 60_000);
        assert_eq!(totals(&d, 3, "Google").visits, 1);
        assert_eq!(totals(&d, 1, "/pricing").pageviews, 1);
    }

    #[test]
    fn thirty_minutes_of_silence_starts_a_new_visit_and_a_lone_pageview_bounces() {
        let mut a = Aggregator::default();
        let v1 = a.add(1, &event(0, "pageview", "/"));
        let v2 = a.add(1, &event(31, "pageview", "/"));
        assert_ne!(v1, v2);
        let t = totals(&a.drain(), 0, "");
        assert_eq!((t.visits, t.bounces, t.duration_ms), (2, 2, 0));
    }

    #[test]
    fn custom_events_count_as_events_not_pageviews() {
        let mut a = Aggregator::default();
        a.add(1, &event(0, "signup", "/"));
        let d = a.drain();
        let t = totals(&d, 0, "");
        assert_eq!((t.pageviews, t.events), (0, 1));
        assert_eq!(totals(&d, 2, "signup").events, 1);
    }

    #[test]
    fn counters_and_keys_round_trip() {
        let c = Counters {
            visitors: 1,
            visits: -2,
            pageviews: 3,
            events: 4,
            bounces: -5,
            duration_ms: 6,
        };
        assert_eq!(Counters::from_bytes(&c.to_bytes()), c);
        let k = key("demo", 7, 3, "Google");
        assert_eq!(parse_key(&k), Some(("demo".into(), 7, 3, "Google".into())));
    }
}
