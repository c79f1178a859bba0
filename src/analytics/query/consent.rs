//! Consent statistics queries: the banner's own funnel. How many decisions were made, by
//! action, jurisdiction and category, and what share opted in or out.
//!
//! A decision opted in when it granted at least one optional category; split by category, when
//! it granted that category. Opting out is the rest, so the two rates add up to 100. The
//! opt-in rate's 95 % interval is Wilson's score interval, which stays inside 0 to 100 and is
//! honest for small groups and rates near the ends: what comparing banner variants needs.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::answer::{Part, Row, Value};
use super::parse::{RawQuery, parse_direction, parse_limit, parse_span};
use super::span::{Span, label, month_of};
use super::{Matcher, QueryError, TimeGrain};
use crate::analytics::consent_stats::StatKind;
use crate::domain::{SiteId, Timestamp};
use crate::store::{AnalyticsStore, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatMetric {
    Decisions,
    OptInRate,
    OptOutRate,
    /// The lower end of the opt-in rate's 95 % interval.
    OptInRateLow,
    /// The upper end of the opt-in rate's 95 % interval.
    OptInRateHigh,
}

impl StatMetric {
    const ALL: [StatMetric; 5] = [
        StatMetric::Decisions,
        StatMetric::OptInRate,
        StatMetric::OptOutRate,
        StatMetric::OptInRateLow,
        StatMetric::OptInRateHigh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StatMetric::Decisions => "decisions",
            StatMetric::OptInRate => "opt_in_rate",
            StatMetric::OptOutRate => "opt_out_rate",
            StatMetric::OptInRateLow => "opt_in_rate_low",
            StatMetric::OptInRateHigh => "opt_in_rate_high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatDim {
    Action,
    Jurisdiction,
    Category,
    /// The banner variant shown, `(none)` for decisions outside an experiment.
    Variant,
    Time(TimeGrain),
}

impl StatDim {
    const NAMED: [(&'static str, StatDim); 6] = [
        ("consent:action", StatDim::Action),
        ("consent:jurisdiction", StatDim::Jurisdiction),
        ("consent:category", StatDim::Category),
        ("consent:variant", StatDim::Variant),
        ("time:day", StatDim::Time(TimeGrain::Day)),
        ("time:month", StatDim::Time(TimeGrain::Month)),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("", |(n, _)| n)
    }
}

/// A consent-statistics query that can be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct StatQuery {
    pub metrics: Vec<StatMetric>,
    pub dimensions: Vec<StatDim>,
    pub filters: Vec<(Matcher, StatDim)>,
    /// (index into metrics then dimensions, descending)
    pub order: Vec<(usize, bool)>,
    pub limit: usize,
    pub span: Span,
}

fn invalid(code: &'static str, message: String) -> QueryError {
    QueryError { code, message }
}

fn dim(raw: &str, field: &str, time_ok: bool) -> Result<StatDim, QueryError> {
    match StatDim::NAMED.iter().find(|(n, _)| *n == raw) {
        Some((_, StatDim::Time(_))) if !time_ok => Err(invalid(
            "invalid_request",
            format!("`{field}` cannot use `{raw}`: time is set by `date_range`"),
        )),
        Some((_, d)) => Ok(*d),
        None => Err(invalid(
            "unknown_dimension",
            format!(
                "`{field}` has `{raw}`; consent statistics have consent:action, consent:jurisdiction, consent:category, consent:variant, time:day and time:month"
            ),
        )),
    }
}

/// Checks a consent-statistics query.
pub fn parse(raw: &RawQuery, now: Timestamp) -> Result<StatQuery, QueryError> {
    let mut metrics = Vec::new();
    for m in &raw.metrics {
        let m = StatMetric::ALL
            .into_iter()
            .find(|k| k.name() == m)
            .ok_or_else(|| {
                invalid(
                    "unknown_metric",
                    format!("`metrics` has `{m}`; consent statistics have decisions, opt_in_rate, opt_out_rate, opt_in_rate_low and opt_in_rate_high"),
                )
            })?;
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    if metrics.is_empty() {
        return Err(invalid(
            "invalid_request",
            "`metrics` needs at least one metric".into(),
        ));
    }
    let span = parse_span(raw.date_range.as_ref(), now)?;
    if matches!(span, Span::Realtime { .. }) {
        return Err(invalid(
            "unsupported_combination",
            "consent statistics are kept per day; `realtime` is not available".into(),
        ));
    }
    if raw.compare.is_some() {
        return Err(invalid(
            "unsupported_combination",
            "`compare` is not available for consent statistics".into(),
        ));
    }
    let mut dimensions = Vec::new();
    for d in &raw.dimensions {
        let d = dim(d, "dimensions", true)?;
        if !dimensions.contains(&d) {
            dimensions.push(d);
        }
    }
    if dimensions
        .iter()
        .filter(|d| matches!(d, StatDim::Time(_)))
        .count()
        > 1
    {
        return Err(invalid(
            "unsupported_combination",
            "`dimensions` can hold one time dimension".into(),
        ));
    }
    if raw.filters.len() > 10 {
        return Err(invalid(
            "invalid_request",
            "`filters` has more than 10 filters".into(),
        ));
    }
    let mut filters = Vec::new();
    for (op, d, values) in &raw.filters {
        if values.is_empty() || values.len() > 50 || values.iter().any(|v| v.chars().count() > 200)
        {
            return Err(invalid(
                "invalid_request",
                format!("`filters` on `{d}` needs 1 to 50 values of at most 200 characters"),
            ));
        }
        filters.push((Matcher::parse(op, values, d)?, dim(d, "filters", false)?));
    }
    let mut order = Vec::new();
    for (name, direction) in &raw.order_by {
        let descending = parse_direction(direction)?;
        let position = metrics
            .iter()
            .position(|m| m.name() == name)
            .or_else(|| {
                dimensions
                    .iter()
                    .position(|d| d.name() == name)
                    .map(|i| metrics.len() + i)
            })
            .ok_or_else(|| {
                invalid(
                    "invalid_request",
                    format!("`order_by` has `{name}`, which is neither a metric nor a dimension of this query"),
                )
            })?;
        order.push((position, descending));
    }
    let limit = parse_limit(raw.limit)?;
    Ok(StatQuery {
        metrics,
        dimensions,
        filters,
        order,
        limit,
        span,
    })
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    decisions: i64,
    opted_in: i64,
}

/// A share in percent, to one decimal.
fn percent(share: f64) -> f64 {
    (share * 1000.0).round() / 10.0
}

/// Wilson's 95 % score interval of `part` out of `n`, as shares; (0, 0) for no decisions.
fn wilson(part: i64, n: i64) -> (f64, f64) {
    if n <= 0 {
        return (0.0, 0.0);
    }
    const Z: f64 = 1.959_964;
    let (n, p) = (n as f64, part as f64 / n as f64);
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn metric_value(m: StatMetric, t: &Tally) -> Value {
    let rate = |part: i64| {
        if t.decisions == 0 {
            0.0
        } else {
            percent(part as f64 / t.decisions as f64)
        }
    };
    match m {
        StatMetric::Decisions => Value::Int(t.decisions),
        StatMetric::OptInRate => Value::Float(rate(t.opted_in)),
        StatMetric::OptOutRate => Value::Float(rate(t.decisions - t.opted_in)),
        StatMetric::OptInRateLow => Value::Float(percent(wilson(t.opted_in, t.decisions).0)),
        StatMetric::OptInRateHigh => Value::Float(percent(wilson(t.opted_in, t.decisions).1)),
    }
}

/// Answers a consent-statistics query. `required` are the site's required categories, which
/// are never a choice and so never count as opting in.
pub async fn execute(
    store: &dyn AnalyticsStore,
    site: &SiteId,
    query: &StatQuery,
    required: &[String],
    min_group_size: u32,
) -> Result<super::Answer, StoreError> {
    let Span::Days { first, last } = query.span else {
        return Ok(super::Answer {
            rows: vec![],
            suppressed: 0,
            span: query.span,
            previous: None,
        });
    };
    let clamp = |d: i64| u32::try_from(d.max(0)).unwrap_or(u32::MAX);
    let stats = store
        .consent_stats(site.clone(), clamp(first)..clamp(last + 1))
        .await?;
    let by_category = query.dimensions.contains(&StatDim::Category)
        || query.filters.iter().any(|(_, d)| *d == StatDim::Category);
    let mut groups: HashMap<Vec<Part>, Tally> = HashMap::new();
    for (key, counts) in stats.iter().flat_map(|run| run.iter()) {
        let (category, opted_in) = match (&key.kind, by_category) {
            (StatKind::Category(c), true) if !required.contains(c) => (c.as_str(), counts.granted),
            (StatKind::Granted(n), false) => {
                let optional_granted = usize::from(*n) > required.len();
                (
                    "",
                    if optional_granted {
                        counts.decisions
                    } else {
                        0
                    },
                )
            }
            _ => continue,
        };
        let text = |d: StatDim| match d {
            StatDim::Action => key.action.as_str(),
            StatDim::Jurisdiction => key.jurisdiction.as_str(),
            StatDim::Variant => key.variant.as_deref().unwrap_or("(none)"),
            _ => category,
        };
        if !query
            .filters
            .iter()
            .all(|(matcher, d)| matcher.admits(Some(text(*d))))
        {
            continue;
        }
        let group = query
            .dimensions
            .iter()
            .map(|d| match d {
                StatDim::Time(TimeGrain::Month) => Part::Period(month_of(i64::from(key.day))),
                StatDim::Time(_) => Part::Period(i64::from(key.day)),
                other => Part::Text(text(*other).to_owned()),
            })
            .collect();
        let t = groups.entry(group).or_default();
        t.decisions += counts.decisions;
        t.opted_in += opted_in;
    }

    let narrows = !query.filters.is_empty()
        || query
            .dimensions
            .iter()
            .any(|d| !matches!(d, StatDim::Time(_)));
    let mut rows: Vec<(Vec<Part>, Tally)> = groups.into_iter().collect();
    let before = rows.len();
    rows.retain(|(_, t)| !(narrows && t.decisions < i64::from(min_group_size)));
    let suppressed = before - rows.len();
    let time_at = query
        .dimensions
        .iter()
        .position(|d| matches!(d, StatDim::Time(_)));
    let default = match time_at {
        Some(i) => vec![(query.metrics.len() + i, false)],
        None => vec![(0, true)],
    };
    let order = if query.order.is_empty() {
        &default
    } else {
        &query.order
    };
    rows.sort_by(|a, b| {
        for (at, descending) in order {
            let ord = match at.checked_sub(query.metrics.len()) {
                None => metric_value(query.metrics[*at], &a.1)
                    .as_f64()
                    .partial_cmp(&metric_value(query.metrics[*at], &b.1).as_f64())
                    .unwrap_or(Ordering::Equal),
                Some(i) => a.0.get(i).cmp(&b.0.get(i)),
            };
            let ord = if *descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.0.cmp(&b.0)
    });
    rows.truncate(query.limit);
    let rows = rows
        .into_iter()
        .map(|(key, t)| Row {
            dimensions: key
                .iter()
                .zip(&query.dimensions)
                .map(|(part, d)| match (part, d) {
                    (Part::Period(p), StatDim::Time(g)) => label(*g, *p),
                    (Part::Text(s), _) => s.clone(),
                    (Part::Period(p), _) => p.to_string(),
                })
                .collect(),
            metrics: query.metrics.iter().map(|m| metric_value(*m, &t)).collect(),
            comparison: None,
        })
        .collect();
    Ok(super::Answer {
        rows,
        suppressed,
        span: query.span,
        previous: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_matches_wilsons_published_values_and_stays_within_bounds() {
        // 81 of 263 (Wilson 1927 as tabulated by Newcombe 1998, case 3): 0.2553 to 0.3662.
        let (low, high) = wilson(81, 263);
        assert!(
            (low - 0.2553).abs() < 5e-4 && (high - 0.3662).abs() < 5e-4,
            "{low} {high}"
        );
        // 0 of 10: 0 to 0.2775; 10 of 10: 0.7225 to 1.
        let (low, high) = wilson(0, 10);
        assert!(low == 0.0 && (high - 0.2775).abs() < 5e-4, "{low} {high}");
        let (low, high) = wilson(10, 10);
        assert!(
            (low - 0.7225).abs() < 5e-4 && (high - 1.0).abs() < 1e-9,
            "{low} {high}"
        );
        assert_eq!(wilson(0, 0), (0.0, 0.0));
    }
}
