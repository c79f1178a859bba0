//! Answers from rollups: one dimension (or none), optionally one `is` filter with one value on
//! that same dimension, whole days; by the hour for the total only. Anything else goes to raw events.

use super::answer::{Groups, Part};
use super::span::{Span, period_of_cell};
use super::{Dimension, Failure, FilterOp, Query, TimeGrain};
use crate::analytics::rollup::{Grain, NAME, PAGE, TOTAL};
use crate::domain::SiteId;
use crate::store::AnalyticsStore;

/// The rollup dimension and value a query reads, when rollups can answer it.
fn cell_of(query: &Query) -> Option<(u8, Option<String>)> {
    if !matches!(query.span, Span::Days { .. }) {
        return None;
    }
    let mut kept = None;
    for d in &query.dimensions {
        match d {
            Dimension::Time(_) => {}
            Dimension::Prop(_) => return None,
            Dimension::Kept(code) if kept.is_none() => kept = Some(*code),
            Dimension::Kept(_) => return None,
        }
    }
    let value = match query.filters.as_slice() {
        [] => None,
        [f] => match (&f.dimension, f.op, f.values.as_slice()) {
            (Dimension::Kept(code), FilterOp::Is, [v]) if kept.is_none_or(|k| k == *code) => {
                kept = Some(*code);
                Some(v.clone())
            }
            _ => return None,
        },
        _ => return None,
    };
    let dim = kept.unwrap_or(TOTAL);
    let hourly = query.dimensions.contains(&Dimension::Time(TimeGrain::Hour));
    if hourly && dim != TOTAL {
        // Only the total is kept by the hour.
        return None;
    }
    let session = query.metrics.iter().any(|m| m.is_session());
    if session && (dim == PAGE || dim == NAME) {
        return None;
    }
    Some((dim, value))
}

pub fn can_answer(query: &Query) -> bool {
    cell_of(query).is_some()
}

pub async fn collect(
    store: &dyn AnalyticsStore,
    site: &SiteId,
    query: &Query,
    span: Span,
) -> Result<Groups, Failure> {
    let Some((dim, value)) = cell_of(query) else {
        return Ok(Groups::new());
    };
    let grain = if query.dimensions.contains(&Dimension::Time(TimeGrain::Hour)) {
        Grain::Hour
    } else {
        Grain::Day
    };
    let cells = store
        .rollup(site.clone(), grain, dim, span.periods(grain), value)
        .await?;
    let mut groups = Groups::new();
    for (period, value, counters) in cells {
        let key: Vec<Part> = query
            .dimensions
            .iter()
            .map(|d| match d {
                Dimension::Time(g) => Part::Period(period_of_cell(*g, grain, period)),
                _ => Part::Text(value.clone()),
            })
            .collect();
        groups.entry(key).or_default().add(&counters);
    }
    Ok(groups)
}
