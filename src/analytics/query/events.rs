//! Answers from raw events: any dimension, any filter, property breakdowns and realtime, at the
//! cost of reading every event in the range. Counts follow the rollups' definitions exactly
//! (visit-level values from the visit's first event, visitors unique per day or per hour), so
//! both sources give the same answer where both can answer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::answer::{Groups, Part};
use super::span::{Span, period_at};
use super::{Dimension, Failure, Query, TimeGrain};
use crate::analytics::event::{PropValue, StoredEvent};
use crate::analytics::rollup::{NAME, PAGE, visit_dims};
use crate::domain::SiteId;
use crate::store::{AnalyticsStore, StoreError};

struct Visit {
    dims: Vec<(u8, String)>,
    events: u32,
    first_ms: i64,
    last_ms: i64,
    matched: bool,
}

#[derive(Default)]
struct Scan {
    read: u64,
    over_budget: bool,
    cancelled: bool,
    visits: HashMap<u64, Visit>,
    index: HashMap<Vec<Part>, usize>,
    groups: Vec<(Vec<Part>, crate::analytics::rollup::Counters)>,
    visitors: HashSet<(usize, u64, i64)>,
    converters: HashSet<(usize, u64, i64)>,
}

fn prop_text(v: &PropValue) -> String {
    match v {
        PropValue::Str(s) => s.clone(),
        PropValue::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        PropValue::Num(n) => n.to_string(),
        PropValue::Bool(b) => b.to_string(),
    }
}

/// An event's value for a (non-time) dimension; none when it has none (a pageview has no
/// event name, a custom event no page).
fn value_of(dim: &Dimension, e: &StoredEvent, visit: &[(u8, String)]) -> Option<String> {
    let pageview = e.name == "pageview";
    match dim {
        Dimension::Kept(PAGE) => pageview.then(|| e.path.clone()),
        Dimension::Kept(NAME) => (!pageview).then(|| e.name.clone()),
        Dimension::Kept(code) => visit
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, v)| v.clone()),
        Dimension::Prop(key) => e
            .props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| prop_text(v)),
        Dimension::Time(_) => None,
    }
}

impl Scan {
    fn group(&mut self, key: Vec<Part>) -> usize {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = self.groups.len();
        self.index.insert(key.clone(), i);
        self.groups.push((key, Default::default()));
        i
    }

    fn event(&mut self, query: &Query, visitor: u64, e: StoredEvent) {
        let at = e.at.millis();
        let visit = self.visits.entry(e.visit).or_insert_with(|| Visit {
            dims: visit_dims(&e.context),
            events: 0,
            first_ms: at,
            last_ms: at,
            matched: false,
        });
        visit.events += 1;
        visit.last_ms = at;
        let dims = &visit.dims;
        if !query
            .filters
            .iter()
            .all(|f| f.admits(value_of(&f.dimension, &e, dims).as_deref()))
        {
            return;
        }
        visit.matched = true;
        let mut key = Vec::with_capacity(query.dimensions.len());
        for d in &query.dimensions {
            match d {
                Dimension::Time(g) => key.push(Part::Period(period_at(*g, at))),
                other => match value_of(other, &e, dims) {
                    Some(v) => key.push(Part::Text(v)),
                    None => return,
                },
            }
        }
        let unit = unique_unit(query, at);
        let custom = e.name != "pageview";
        let i = self.group(key);
        let fresh = self.visitors.insert((i, visitor, unit));
        let converted = custom && self.converters.insert((i, visitor, unit));
        let c = &mut self.groups[i].1;
        c.pageviews += i64::from(!custom);
        c.events += i64::from(custom);
        c.visitors += i64::from(fresh);
        c.converters += i64::from(converted);
    }

    /// Visit counters go to the group of the visit's first event, in the period it started.
    fn finish(mut self, query: &Query, span: Span) -> Groups {
        let range = span.millis();
        let splits_visits = query.dimensions.iter().any(|d| d.is_event_level());
        let visits = std::mem::take(&mut self.visits);
        for (number, v) in visits {
            let start = i64::try_from(number >> 12).unwrap_or(0);
            if splits_visits || !v.matched || !range.contains(&start) {
                continue;
            }
            let mut key = Vec::with_capacity(query.dimensions.len());
            for d in &query.dimensions {
                match d {
                    Dimension::Time(g) => key.push(Part::Period(period_at(*g, start))),
                    Dimension::Kept(code) => match v.dims.iter().find(|(c, _)| c == code) {
                        Some((_, value)) => key.push(Part::Text(value.clone())),
                        None => break,
                    },
                    Dimension::Prop(_) => break,
                }
            }
            if key.len() != query.dimensions.len() {
                continue;
            }
            let i = self.group(key);
            let c = &mut self.groups[i].1;
            c.visits += 1;
            c.bounces += i64::from(v.events == 1);
            c.duration_ms += v.last_ms - v.first_ms;
        }
        self.groups.into_iter().collect()
    }
}

/// What makes a visitor unique: the day, the hour for hourly series, the whole span for
/// realtime.
fn unique_unit(query: &Query, at: i64) -> i64 {
    if matches!(query.span, Span::Realtime { .. }) {
        0
    } else if query.dimensions.contains(&Dimension::Time(TimeGrain::Hour)) {
        period_at(TimeGrain::Hour, at)
    } else {
        period_at(TimeGrain::Day, at)
    }
}

/// The most events one query to the server may read from raw events: past it, the query is
/// refused rather than let one request hold a core and gigabytes for tens of seconds.
pub const SCAN_BUDGET: u64 = 2_000_000;

/// A scan's bounds: how many raw events it may read, and a flag that stops it early.
#[derive(Debug, Clone)]
pub struct ScanLimit {
    pub budget: u64,
    pub cancel: Cancel,
}

/// Set when whoever asked is gone (the request was dropped: its client disconnected, or the
/// server is shutting down): a running scan stops at its next event instead of running on for
/// no one.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels when dropped: held by a request for as long as it runs.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its `Cancel` when dropped.
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub async fn collect(
    store: &dyn AnalyticsStore,
    site: &SiteId,
    query: &Query,
    span: Span,
    limit: &ScanLimit,
) -> Result<Groups, Failure> {
    let scan = Arc::new(Mutex::new(Scan::default()));
    let sink = {
        let scan = scan.clone();
        let query = query.clone();
        let ScanLimit { budget, cancel } = limit.clone();
        Box::new(move |visitor: u64, e: StoredEvent| match scan.lock() {
            Ok(mut s) if cancel.is_cancelled() => {
                s.cancelled = true;
                false
            }
            Ok(mut s) if s.read < budget => {
                s.read += 1;
                s.event(&query, visitor, e);
                true
            }
            Ok(mut s) => {
                s.over_budget = true;
                false
            }
            Err(_) => false,
        })
    };
    store.scan_events(site.clone(), span.millis(), sink).await?;
    let scan = Arc::try_unwrap(scan)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .ok_or_else(|| StoreError::Io("an event scan did not finish".into()))?;
    if scan.cancelled {
        return Err(Failure::Cancelled);
    }
    if scan.over_budget {
        return Err(Failure::TooExpensive);
    }
    Ok(scan.finish(query, span))
}
