//! Marketer queries over consented analytics: what can be asked (parsed here into a `Query`
//! that cannot hold an unanswerable request) and how an answer is shaped from the groups the
//! analytics store computes.
//!
//! Invariants:
//! - Every answer is computed from stored events, and stored events are only those the gate
//!   let through: nothing dropped or erased can appear, and no second copy (a rollup, a
//!   cache) can disagree with them.
//! - Answers are aggregates: no visitor number, consent id or event leaves this module, and
//!   groups narrower than the site's minimum group size are suppressed.
//! - This module knows nothing of HTTP, JSON or storage: the handler turns its wire types
//!   into `RawQuery` and the `Answer` into JSON; the store answers `groups` for a `Query`.

mod answer;
pub mod consent;
mod dimension;
mod filter;
mod parse;
mod span;

pub use answer::{Answer, Counters, Groups, Part, Row, Value};
pub use dimension::{Dimension, NAMED, VisitField};
pub use filter::{Filter, FilterOp, Matcher};
pub(crate) use parse::MAX_FILTERS;
pub use parse::{RawQuery, RawRange, parse, parse_dimension, parse_filters, parse_span};
pub use span::{DAY_MS, Span, period_at};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::analytics::goals::Goals;
use crate::domain::SiteId;
use crate::store::{AnalyticsStore, StoreError};

/// A metric of the query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    Events,
    BounceRate,
    VisitDuration,
    Conversions,
    ConversionRate,
    Revenue,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::Events,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Conversions,
        Metric::ConversionRate,
        Metric::Revenue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Visitors => "visitors",
            Metric::Visits => "visits",
            Metric::Pageviews => "pageviews",
            Metric::Events => "events",
            Metric::BounceRate => "bounce_rate",
            Metric::VisitDuration => "visit_duration",
            Metric::Conversions => "conversions",
            Metric::ConversionRate => "conversion_rate",
            Metric::Revenue => "revenue",
        }
    }

    /// Metrics counted from goal completions.
    pub fn reads_goals(self) -> bool {
        matches!(
            self,
            Metric::Conversions | Metric::ConversionRate | Metric::Revenue
        )
    }

    /// Metrics of whole visits, which an event-level dimension cannot split.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Metric::Visits | Metric::BounceRate | Metric::VisitDuration
        )
    }
}

/// The period of a time dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeGrain {
    Hour,
    Day,
    Month,
}

/// What an answer is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The span of the same length just before.
    PreviousPeriod,
    /// The same calendar dates one year earlier.
    YearOverYear,
    /// Any other whole days.
    Range(Span),
}

/// What to order rows by: a metric or a dimension, by position in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    Metric(usize),
    Dimension(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub key: OrderKey,
    pub descending: bool,
}

/// A query that can be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub metrics: Vec<Metric>,
    pub dimensions: Vec<Dimension>,
    pub filters: Vec<Filter>,
    pub order: Vec<Order>,
    pub limit: usize,
    pub span: Span,
    pub compare: Option<Compare>,
    /// The site's goals, which the conversion metrics and `event:goal` count.
    pub goals: Goals,
}

impl Query {
    /// Whether the answer counts goal completions: a conversion metric, or `event:goal` as a
    /// dimension or filter, with goals defined.
    pub fn reads_goals(&self) -> bool {
        !self.goals.is_empty()
            && (self.metrics.iter().any(|m| m.reads_goals())
                || self
                    .dimensions
                    .iter()
                    .chain(self.filters.iter().map(|f| &f.dimension))
                    .any(|d| *d == Dimension::Goal))
    }

    /// The span the answer is compared with, if any.
    pub fn compared_span(&self) -> Option<Span> {
        match self.compare? {
            Compare::PreviousPeriod => self.span.previous(),
            Compare::YearOverYear => self.span.year_before(),
            Compare::Range(span) => Some(span),
        }
    }
}

/// Why a query cannot be answered: always the sender's to fix (a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> QueryError {
        QueryError {
            code,
            message: message.into(),
        }
    }
}

/// Why a valid query was not answered.
#[derive(Debug, Clone)]
pub enum Failure {
    Store(StoreError),
    /// Whoever asked is gone; the work stopped early.
    Cancelled,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        match e {
            StoreError::Cancelled => Failure::Cancelled,
            other => Failure::Store(other),
        }
    }
}

/// Set when whoever asked is gone (the request was dropped: its client disconnected, or the
/// server is shutting down): a running evaluation stops at its next day instead of running
/// on for no one.
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

/// How a query is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site's k: groups with fewer visitors are suppressed.
    pub min_group_size: u32,
    pub cancel: Cancel,
}

/// Answers a query.
pub async fn execute(
    store: &dyn AnalyticsStore,
    site: &SiteId,
    query: &Query,
    options: Options,
) -> Result<Answer, Failure> {
    let Options {
        min_group_size,
        cancel,
    } = options;
    let base = base_query(query);
    let collect = |span: Span| {
        let base = base.clone();
        let cancel = cancel.clone();
        async move {
            let groups = store
                .groups(site.clone(), query.clone(), span, cancel.clone())
                .await?;
            let base = match base {
                Some(base) => Some(store.groups(site.clone(), base, span, cancel).await?),
                None => None,
            };
            Ok::<_, Failure>(answer::Collected { groups, base })
        }
    };
    let current = collect(query.span).await?;
    let previous = match query.compared_span() {
        Some(span) => Some((span, collect(span).await?)),
        None => None,
    };
    Ok(answer::build(query, current, previous, min_group_size))
}

/// When a query narrows to pages, goals or properties (by dimension or filter), a conversion
/// rate must be relative to every visitor of the surrounding group, not to the visitors of
/// that page or goal (which would make every goal 100 %). This is the query for those
/// visitors: the same span, without the event-level dimensions and filters.
fn base_query(query: &Query) -> Option<Query> {
    let event_level = query.dimensions.iter().any(Dimension::is_event_level)
        || query.filters.iter().any(|f| f.dimension.is_event_level());
    if !event_level || !query.metrics.contains(&Metric::ConversionRate) {
        return None;
    }
    Some(Query {
        metrics: vec![Metric::Visitors],
        dimensions: query
            .dimensions
            .iter()
            .filter(|d| !d.is_event_level())
            .cloned()
            .collect(),
        filters: query
            .filters
            .iter()
            .filter(|f| !f.dimension.is_event_level())
            .cloned()
            .collect(),
        order: Vec::new(),
        limit: usize::MAX,
        span: query.span,
        compare: None,
        goals: Goals::default(),
    })
}
