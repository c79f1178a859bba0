//! From summed counters per group to the rows a client sees: metrics computed, small groups
//! suppressed, rows ordered and cut, the previous period joined.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::span::{Span, label};
use super::{Dimension, Metric, OrderKey, Query};

/// What is counted for one group of an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Distinct visitors (consent ids) in the group.
    pub visitors: i64,
    pub visits: i64,
    pub pageviews: i64,
    /// Custom events (anything but a pageview).
    pub events: i64,
    /// Visits of a single event.
    pub bounces: i64,
    /// The summed time from each visit's first event to its last.
    pub duration_ms: i64,
    /// Distinct visitors who completed a goal.
    pub converters: i64,
    /// Goal completions (see `analytics::goals`).
    pub conversions: i64,
    /// The revenue of the completions, in thousandths of the site's currency.
    pub revenue: i64,
}

/// One part of a group's key: a dimension value, or a period of the query's time dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Text(String),
    Period(i64),
}

/// Counters summed per group (one part per dimension of the query).
pub type Groups = HashMap<Vec<Part>, Counters>;

/// A metric's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
}

impl Value {
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
        }
    }
}

/// A row of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub dimensions: Vec<String>,
    pub metrics: Vec<Value>,
    /// The previous period's metrics and the change in percent (none when it was 0).
    pub comparison: Option<(Vec<Value>, Vec<Option<f64>>)>,
}

/// An answer to a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rows: Vec<Row>,
    /// Rows left out because they held fewer visitors than the minimum group size.
    pub suppressed: usize,
    pub span: Span,
    pub previous: Option<Span>,
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        round1(part as f64 * 100.0 / whole as f64)
    }
}

/// A metric's value from a group's counters; `base_visitors` is the conversion rate's
/// denominator.
pub fn value(metric: Metric, c: &Counters, base_visitors: i64) -> Value {
    match metric {
        Metric::Visitors => Value::Int(c.visitors),
        Metric::Visits => Value::Int(c.visits),
        Metric::Pageviews => Value::Int(c.pageviews),
        Metric::Events => Value::Int(c.pageviews + c.events),
        Metric::BounceRate => Value::Float(ratio(c.bounces, c.visits)),
        Metric::VisitDuration => Value::Int(if c.visits > 0 {
            (c.duration_ms as f64 / c.visits as f64 / 1000.0).round() as i64
        } else {
            0
        }),
        Metric::Conversions => Value::Int(c.conversions),
        Metric::ConversionRate => Value::Float(ratio(c.converters, base_visitors)),
        // Cents: a sum of amounts with up to three decimals, rounded once, here.
        Metric::Revenue => Value::Float((c.revenue as f64 / 10.0).round() / 100.0),
    }
}

fn time_grains(query: &Query) -> Vec<Option<super::TimeGrain>> {
    query
        .dimensions
        .iter()
        .map(|d| match d {
            Dimension::Time(g) => Some(*g),
            _ => None,
        })
        .collect()
}

/// The key with periods made relative to the span's start, to match a period with the one
/// at the same distance in the previous span.
fn aligned(key: &[Part], grains: &[Option<super::TimeGrain>], span: Span) -> Vec<Part> {
    key.iter()
        .zip(grains)
        .map(|(part, grain)| match (part, grain) {
            (Part::Period(p), Some(g)) => Part::Period(p - span.start_period(*g)),
            _ => part.clone(),
        })
        .collect()
}

/// A group on its way to a row: key, counters, conversion-rate denominator.
type Group = (Vec<Part>, Counters, i64);

fn compare_rows(query: &Query, a: &Group, b: &Group) -> Ordering {
    let has_time = query
        .dimensions
        .iter()
        .any(|d| matches!(d, Dimension::Time(_)));
    let default = [if has_time {
        super::Order {
            key: OrderKey::Dimension(
                query
                    .dimensions
                    .iter()
                    .position(|d| matches!(d, Dimension::Time(_)))
                    .unwrap_or(0),
            ),
            descending: false,
        }
    } else {
        super::Order {
            key: OrderKey::Metric(0),
            descending: true,
        }
    }];
    let orders = if query.order.is_empty() {
        &default[..]
    } else {
        &query.order[..]
    };
    for o in orders {
        let ord = match o.key {
            OrderKey::Metric(i) => {
                let m = query.metrics[i];
                value(m, &a.1, a.2)
                    .as_f64()
                    .partial_cmp(&value(m, &b.1, b.2).as_f64())
                    .unwrap_or(Ordering::Equal)
            }
            OrderKey::Dimension(i) => a.0.get(i).cmp(&b.0.get(i)),
        };
        let ord = if o.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.0.cmp(&b.0)
}

/// Whether the query narrows below "everyone in a period": then small groups are suppressed.
fn narrows(query: &Query) -> bool {
    !query.filters.is_empty()
        || query
            .dimensions
            .iter()
            .any(|d| !matches!(d, Dimension::Time(_)))
}

/// A query's groups, and for conversion rates of pages, goals or properties, the visitors of
/// the surrounding groups (keyed by the query's non-event-level parts, in order).
pub(super) struct Collected {
    pub groups: Groups,
    pub base: Option<Groups>,
}

impl Collected {
    /// The denominator of a group's conversion rate.
    fn base_visitors(&self, query: &Query, key: &[Part], own: &Counters) -> i64 {
        let Some(base) = &self.base else {
            return own.visitors;
        };
        let base_key: Vec<Part> = key
            .iter()
            .zip(&query.dimensions)
            .filter(|(_, d)| !d.is_event_level())
            .map(|(p, _)| p.clone())
            .collect();
        base.get(&base_key).map_or(0, |b| b.visitors)
    }
}

pub(super) fn build(
    query: &Query,
    current: Collected,
    previous: Option<(Span, Collected)>,
    min_group_size: u32,
) -> Answer {
    let k = i64::from(min_group_size);
    let small = |c: &Counters| narrows(query) && c.visitors > 0 && c.visitors < k;
    let grains = time_grains(query);
    // Cells an erasure emptied hold zeros: they are no group at all.
    let mut rows: Vec<Group> = current
        .groups
        .iter()
        .filter(|(_, c)| **c != Counters::default())
        .map(|(key, c)| (key.clone(), *c, current.base_visitors(query, key, c)))
        .collect();
    if rows.is_empty() && query.dimensions.is_empty() {
        // A total always has its one row, zero when nothing happened.
        rows.push((Vec::new(), Counters::default(), 0));
    }
    let before = rows.len();
    rows.retain(|(_, c, _)| !small(c));
    let suppressed = before - rows.len();
    rows.sort_by(|a, b| compare_rows(query, a, b));
    rows.truncate(query.limit);

    let previous_span = previous.as_ref().map(|(s, _)| *s);
    let earlier: Option<HashMap<Vec<Part>, (Counters, i64)>> = previous.map(|(span, collected)| {
        collected
            .groups
            .iter()
            .filter(|(_, c)| !small(c))
            .map(|(key, c)| {
                let base = collected.base_visitors(query, key, c);
                (aligned(key, &grains, span), (*c, base))
            })
            .collect()
    });

    let rows = rows
        .into_iter()
        .map(|(key, c, base)| {
            let metrics: Vec<Value> = query.metrics.iter().map(|m| value(*m, &c, base)).collect();
            let comparison = earlier.as_ref().map(|earlier| {
                let (before, base) = earlier
                    .get(&aligned(&key, &grains, query.span))
                    .copied()
                    .unwrap_or_default();
                let old: Vec<Value> = query
                    .metrics
                    .iter()
                    .map(|m| value(*m, &before, base))
                    .collect();
                let change = metrics
                    .iter()
                    .zip(&old)
                    .map(|(now, then)| {
                        let (now, then) = (now.as_f64(), then.as_f64());
                        (then != 0.0).then(|| round1((now - then) * 100.0 / then))
                    })
                    .collect();
                (old, change)
            });
            let dimensions = key
                .iter()
                .zip(&grains)
                .map(|(part, grain)| match (part, grain) {
                    (Part::Period(p), Some(g)) => label(*g, *p),
                    (Part::Text(t), _) => t.clone(),
                    (Part::Period(p), None) => p.to_string(),
                })
                .collect();
            Row {
                dimensions,
                metrics,
                comparison,
            }
        })
        .collect();
    Answer {
        rows,
        suppressed,
        span: query.span,
        previous: previous_span,
    }
}
