//! Rollups: per site, per hour and per day, per dimension value, counters kept as events
//! arrive, so reports over months read rollups instead of raw events.
//!
//! Visits are derived here: a visitor's events belong to one visit until 30 minutes pass
//! without one. Visit-level dimensions (source, campaign, country, device…) come from the
//! visit's first event; a visit of one event is a bounce until a second arrives; the time
//! between a visit's events is its duration. Visit state lives in memory only (a restart
//! starts new visits).
//!
//! Every dimension has daily cells; the total also has hourly ones (for "today" by hour).
//! Unique counts (`visitors`, `converters`) are unique per period of the cell: per hour in
//! hourly cells, per day in daily cells. Over a range of days they are summed, so a visitor
//! who returns on three days counts three times (as in Plausible and Fathom, whose daily salts
//! make the same choice).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::event::{AcceptedEvent, Context, StoredEvent};

/// A visit ends after this long without an event.
pub const VISIT_TIMEOUT_MS: i64 = 30 * 60 * 1000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

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

/// The source of visits that came with no referrer and no campaign.
pub const DIRECT: &str = "Direct / None";

pub const TOTAL: u8 = 0;
pub const PAGE: u8 = 1;
pub const NAME: u8 = 2;

/// The period a cell covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    /// Periods are hours since the epoch.
    Hour = 0,
    /// Periods are days since the epoch (UTC).
    Day = 1,
}

impl Grain {
    pub const ALL: [Grain; 2] = [Grain::Hour, Grain::Day];

    /// The period holding a time.
    pub fn period(self, at_ms: i64) -> u32 {
        let len = match self {
            Grain::Hour => HOUR_MS,
            Grain::Day => DAY_MS,
        };
        u32::try_from(at_ms.div_euclid(len)).unwrap_or(0)
    }

    /// The grains a dimension's cells are kept at: hourly for the total only (hourly series of
    /// a page or a country are read from raw events), daily for every dimension.
    pub fn of(dim: u8) -> &'static [Grain] {
        if dim == TOTAL {
            &Grain::ALL
        } else {
            &[Grain::Day]
        }
    }

    fn from_byte(b: u8) -> Option<Grain> {
        match b {
            0 => Some(Grain::Hour),
            1 => Some(Grain::Day),
            _ => None,
        }
    }
}

/// Counters of one rollup cell. Bounces can be negative in a delta (a visit un-bounced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub visitors: i64,
    pub visits: i64,
    pub pageviews: i64,
    /// Custom events (anything but a pageview).
    pub events: i64,
    pub bounces: i64,
    pub duration_ms: i64,
    /// Visitors with at least one custom event, unique per period like `visitors`.
    pub converters: i64,
}

impl Counters {
    pub const LEN: usize = 56;

    fn fields(&self) -> [i64; 7] {
        [
            self.visitors,
            self.visits,
            self.pageviews,
            self.events,
            self.bounces,
            self.duration_ms,
            self.converters,
        ]
    }

    pub fn add(&mut self, o: &Counters) {
        self.visitors += o.visitors;
        self.visits += o.visits;
        self.pageviews += o.pageviews;
        self.events += o.events;
        self.bounces += o.bounces;
        self.duration_ms += o.duration_ms;
        self.converters += o.converters;
    }

    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        for (i, f) in self.fields().iter().enumerate() {
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
            converters: f(6),
        }
    }
}

/// A rollup cell's key: `site 0x00 grain(u8) dimension(u8) period(u32 BE) value`, so one
/// dimension over a range of periods is one contiguous range of keys.
pub fn key(site: &str, grain: Grain, dim: u8, period: u32, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 7 + value.len());
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.push(grain as u8);
    k.push(dim);
    k.extend_from_slice(&period.to_be_bytes());
    k.extend_from_slice(value.as_bytes());
    k
}

/// A parsed rollup key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellKey {
    pub site: String,
    pub grain: Grain,
    pub dim: u8,
    pub period: u32,
    pub value: String,
}

/// The inverse of `key`.
pub fn parse_key(k: &[u8]) -> Option<CellKey> {
    let zero = k.iter().position(|b| *b == 0)?;
    let site = std::str::from_utf8(&k[..zero]).ok()?.to_owned();
    let rest = k.get(zero + 1..)?;
    let grain = Grain::from_byte(*rest.first()?)?;
    let dim = *rest.get(1)?;
    let period = u32::from_be_bytes(rest.get(2..6)?.try_into().ok()?);
    let value = std::str::from_utf8(rest.get(6..)?).ok()?.to_owned();
    Some(CellKey {
        site,
        grain,
        dim,
        period,
        value,
    })
}

pub fn hour_of(at_ms: i64) -> u32 {
    Grain::Hour.period(at_ms)
}

/// The visit-level dimension values of a context, by dimension code.
pub fn visit_dims(c: &Context) -> Vec<(u8, String)> {
    let mut out = Vec::with_capacity(10);
    out.push((3, c.source.clone().unwrap_or_else(|| DIRECT.to_owned())));
    let mut push = |dim: u8, v: &Option<String>| {
        if let Some(v) = v {
            out.push((dim, v.clone()));
        }
    };
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

/// Every cell (dimension, value) an event is counted in, given its visit's dimensions.
pub fn event_cells(name: &str, path: &str, visit: &[(u8, String)]) -> Vec<(u8, String)> {
    let mut cells = Vec::with_capacity(visit.len() + 2);
    cells.push((TOTAL, String::new()));
    if name == "pageview" {
        cells.push((PAGE, path.to_owned()));
    } else {
        cells.push((NAME, name.to_owned()));
    }
    cells.extend(visit.iter().cloned());
    cells
}

/// What one visitor's events added to the rollups, negated: erasing the visitor subtracts it,
/// so no count anywhere still includes them. `events` are the visitor's, oldest first.
pub fn retraction(events: &[StoredEvent]) -> BTreeMap<(Grain, u32, u8, String), Counters> {
    let mut cells: BTreeMap<(Grain, u32, u8, String), Counters> = BTreeMap::new();
    let mut converted = HashSet::new();
    struct Seen {
        dims: Vec<(u8, String)>,
        events: u32,
        first: i64,
        last: i64,
    }
    let mut visits: HashMap<u64, Seen> = HashMap::new();
    for e in events {
        let at = e.at.millis();
        let visit = visits.entry(e.visit).or_insert_with(|| Seen {
            dims: visit_dims(&e.context),
            events: 0,
            first: at,
            last: at,
        });
        visit.events += 1;
        visit.last = at;
        let custom = e.name != "pageview";
        for (dim, value) in event_cells(&e.name, &e.path, &visit.dims) {
            for &grain in Grain::of(dim) {
                let cell = (grain, grain.period(at), dim, value.clone());
                let first_custom = custom && converted.insert(cell.clone());
                let c = cells.entry(cell).or_insert(Counters {
                    visitors: -1,
                    ..Counters::default()
                });
                c.pageviews -= i64::from(!custom);
                c.events -= i64::from(custom);
                c.converters -= i64::from(first_custom);
            }
        }
    }
    for (number, v) in visits {
        let start = i64::try_from(number >> 12).unwrap_or(v.first);
        let cells_of_visit = std::iter::once((TOTAL, String::new())).chain(v.dims);
        for (dim, value) in cells_of_visit {
            for &grain in Grain::of(dim) {
                let c = cells
                    .entry((grain, grain.period(start), dim, value.clone()))
                    .or_default();
                c.visits -= 1;
                c.bounces -= i64::from(v.events == 1);
                c.duration_ms -= v.last - v.first;
            }
        }
    }
    cells
}

struct Visit {
    number: u64,
    start_ms: i64,
    last_ms: i64,
    events: u32,
    dims: Vec<(u8, String)>,
}

/// Turns accepted events into visit numbers and rollup deltas. Owned by one thread.
#[derive(Default)]
pub struct Aggregator {
    visits: HashMap<(String, u64), Visit>,
    seen: HashMap<(Grain, u32), HashSet<u64>>,
    pending: HashMap<Vec<u8>, Counters>,
    next_visit: u64,
}

/// Past this many distinct (visitor, cell) pairs in a period, uniques are counted for the
/// total only, to bound memory.
const SEEN_CAP: usize = 2_000_000;

impl Aggregator {
    fn bump(&mut self, site: &str, at_ms: i64, dim: u8, value: &str, delta: Counters) {
        for &grain in Grain::of(dim) {
            self.pending
                .entry(key(site, grain, dim, grain.period(at_ms), value))
                .or_default()
                .add(&delta);
        }
    }

    /// Whether this is the visitor's first time in this cell in this period (`conversion`
    /// keeps a separate set for converters).
    fn first(&mut self, grain: Grain, at_ms: i64, cell: (u64, &str, u8, &str, bool)) -> bool {
        let set = self.seen.entry((grain, grain.period(at_ms))).or_default();
        if cell.2 != TOTAL && set.len() >= SEEN_CAP {
            return false;
        }
        let mut h = DefaultHasher::new();
        cell.hash(&mut h);
        set.insert(h.finish())
    }

    /// Adds one event of `visitor`; returns its visit number.
    pub fn add(&mut self, visitor: u64, e: &AcceptedEvent) -> u64 {
        let now = e.at.millis();
        let site = e.site.as_str().to_owned();
        let (hour, day) = (Grain::Hour.period(now), Grain::Day.period(now));
        self.seen.retain(|(g, p), _| match g {
            Grain::Hour => *p + 1 >= hour,
            Grain::Day => *p + 1 >= day,
        });

        let slot = (site.clone(), visitor);
        let ongoing = self
            .visits
            .get(&slot)
            .is_some_and(|v| now - v.last_ms < VISIT_TIMEOUT_MS);
        let (number, start_ms, dims, fresh, gap, unbounce) = if ongoing {
            let v = self.visits.get_mut(&slot).map(|v| {
                let gap = (now - v.last_ms).max(0);
                v.last_ms = now;
                v.events += 1;
                (v.number, v.start_ms, v.dims.clone(), gap, v.events == 2)
            });
            let Some((n, s, d, gap, unbounce)) = v else {
                return 0;
            };
            (n, s, d, false, gap, unbounce)
        } else {
            self.next_visit += 1;
            let number = (u64::try_from(now).unwrap_or(0) << 12) | (self.next_visit & 0xfff);
            let dims = visit_dims(&e.context);
            self.visits.insert(
                slot,
                Visit {
                    number,
                    start_ms: now,
                    last_ms: now,
                    events: 1,
                    dims: dims.clone(),
                },
            );
            (number, now, dims, true, 0, false)
        };

        // Visit-level counters go to the hour and day the visit started.
        let visit_delta = Counters {
            visits: i64::from(fresh),
            bounces: i64::from(fresh) - i64::from(unbounce),
            duration_ms: gap,
            ..Counters::default()
        };
        if visit_delta != Counters::default() {
            self.bump(&site, start_ms, TOTAL, "", visit_delta);
            for (dim, value) in &dims {
                self.bump(&site, start_ms, *dim, value, visit_delta);
            }
        }

        // Event-level counters go to the event's hour and day.
        let custom = !e.is_pageview();
        for (dim, value) in event_cells(&e.name, &e.path, &dims) {
            for &grain in Grain::of(dim) {
                let cell = (visitor, site.as_str(), dim, value.as_str(), false);
                let converted =
                    custom && self.first(grain, now, (visitor, &site, dim, &value, true));
                let delta = Counters {
                    pageviews: i64::from(!custom),
                    events: i64::from(custom),
                    visitors: i64::from(self.first(grain, now, cell)),
                    converters: i64::from(converted),
                    ..Counters::default()
                };
                let period = grain.period(now);
                self.pending
                    .entry(key(&site, grain, dim, period, &value))
                    .or_default()
                    .add(&delta);
            }
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
            let cell = parse_key(k).unwrap();
            if cell.grain == Grain::Day && cell.dim == dim && cell.value == value {
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
        assert_eq!((t.pageviews, t.events, t.converters), (0, 1, 1));
        assert_eq!(totals(&d, 2, "signup").events, 1);
    }

    #[test]
    fn a_visitor_counts_once_per_day_but_once_per_hour_in_hourly_cells() {
        let mut a = Aggregator::default();
        a.add(1, &event(0, "pageview", "/"));
        a.add(1, &event(5, "signup", "/"));
        a.add(1, &event(120, "pageview", "/"));
        a.add(1, &event(130, "signup", "/"));
        let d = a.drain();
        let day = totals(&d, 0, "");
        assert_eq!((day.visitors, day.converters, day.events), (1, 1, 2));
        let hourly: i64 = d
            .iter()
            .filter_map(|(k, c)| {
                let cell = parse_key(k)?;
                (cell.grain == Grain::Hour && cell.dim == 0).then_some(c.visitors)
            })
            .sum();
        assert_eq!(hourly, 2);
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
            converters: 7,
        };
        assert_eq!(Counters::from_bytes(&c.to_bytes()), c);
        let k = key("demo", Grain::Day, 3, 7, "Google");
        let cell = parse_key(&k).unwrap();
        assert_eq!(
            (
                cell.site.as_str(),
                cell.grain,
                cell.dim,
                cell.period,
                cell.value.as_str()
            ),
            ("demo", Grain::Day, 3, 7, "Google")
        );
    }
}
