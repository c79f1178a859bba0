//! Marketer queries over consented analytics: what can be asked (parsed here into a `Query`
//! that cannot hold an unanswerable request) and how it is answered (from rollups where the
//! question fits them, from raw events otherwise).
//!
//! Invariants:
//! - Every answer derives from stored events only, and stored events are only those the gate
//!   let through: nothing dropped or erased can appear.
//! - Answers are aggregates: no visitor number, consent id or event leaves this module, and
//!   groups narrower than the site's minimum group size are suppressed.
//! - This module knows nothing of HTTP or JSON: the handler turns its wire types into
//!   `RawQuery` and the `Answer` into JSON.

mod answer;
pub mod consent;
mod events;
mod parse;
mod rollups;
mod span;

pub use answer::{Answer, Row, Value};
pub use parse::{RawQuery, RawRange, parse};
pub use span::Span;

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
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Visitors,
        Metric::Visits,
        Metric::Pageviews,
        Metric::Events,
        Metric::BounceRate,
        Metric::VisitDuration,
        Metric::Conversions,
        Metric::ConversionRate,
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
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeGrain {
    Hour,
    Day,
    Month,
}

/// A dimension of the query API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// One of the rollup dimensions, by its code in `rollup::DIMENSIONS` (never 0, the total).
    Kept(u8),
    /// `event:props:<key>`: only raw events hold properties.
    Prop(String),
    Time(TimeGrain),
}

impl Dimension {
    pub fn name(&self) -> String {
        match self {
            Dimension::Kept(code) => super::rollup::DIMENSIONS[usize::from(*code)].to_owned(),
            Dimension::Prop(key) => format!("event:props:{key}"),
            Dimension::Time(TimeGrain::Hour) => "time:hour".into(),
            Dimension::Time(TimeGrain::Day) => "time:day".into(),
            Dimension::Time(TimeGrain::Month) => "time:month".into(),
        }
    }

    /// Whether the dimension splits visits by their events (page, name, properties).
    pub fn is_event_level(&self) -> bool {
        matches!(
            self,
            Dimension::Kept(super::rollup::PAGE | super::rollup::NAME) | Dimension::Prop(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Is,
    IsNot,
    Contains,
}

/// A filter on a non-time dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub op: FilterOp,
    pub dimension: Dimension,
    pub values: Vec<String>,
}

impl Filter {
    /// Whether a value (none when the event has no value for the dimension) passes.
    pub fn admits(&self, value: Option<&str>) -> bool {
        match (self.op, value) {
            (FilterOp::Is, Some(v)) => self.values.iter().any(|w| w == v),
            (FilterOp::IsNot, Some(v)) => !self.values.iter().any(|w| w == v),
            (FilterOp::Contains, Some(v)) => self.values.iter().any(|w| v.contains(w.as_str())),
            (FilterOp::IsNot, None) => true,
            (_, None) => false,
        }
    }
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
    pub compare: bool,
}

/// Why a query cannot be answered: always the sender's to fix (a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    fn new(code: &'static str, message: impl Into<String>) -> QueryError {
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
    /// It would read more raw events than its budget.
    TooExpensive,
    /// Whoever asked is gone; the scan stopped early.
    Cancelled,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

pub use events::{Cancel, CancelOnDrop, SCAN_BUDGET, ScanLimit};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rollups,
    Events,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Rollups => "rollups",
            Source::Events => "events",
        }
    }
}

/// How a query is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site's k: groups with fewer visitors are suppressed.
    pub min_group_size: u32,
    /// Answer from raw events even where rollups would do (benchmarks, and tests that compare
    /// the two).
    pub force_events: bool,
    /// The most raw events the query may read (`SCAN_BUDGET` for the server), and when to stop.
    pub scan: ScanLimit,
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
        force_events,
        scan,
    } = options;
    let scan = &scan;
    let source = if force_events || !rollups::can_answer(query) {
        Source::Events
    } else {
        Source::Rollups
    };
    let collect = |span: Span| async move {
        match source {
            Source::Rollups => rollups::collect(store, site, query, span).await,
            Source::Events => events::collect(store, site, query, span, scan).await,
        }
    };
    let base = base_query(query);
    let with_base = |span: Span| {
        let base = base.clone();
        async move {
            let groups = collect(span).await?;
            let base = match base {
                Some(base) => Some(execute_groups(store, site, &base, span, scan).await?),
                None => None,
            };
            Ok::<_, Failure>(answer::Collected { groups, base })
        }
    };
    let current = with_base(query.span).await?;
    let previous = match query.span.previous().filter(|_| query.compare) {
        Some(span) => Some((span, with_base(span).await?)),
        None => None,
    };
    Ok(answer::build(
        query,
        current,
        previous,
        min_group_size,
        source,
    ))
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
        compare: false,
    })
}

/// The groups of a query, from rollups where they can answer it.
async fn execute_groups(
    store: &dyn AnalyticsStore,
    site: &SiteId,
    query: &Query,
    span: Span,
    scan: &ScanLimit,
) -> Result<answer::Groups, Failure> {
    if rollups::can_answer(query) {
        rollups::collect(store, site, query, span).await
    } else {
        events::collect(store, site, query, span, scan).await
    }
}
