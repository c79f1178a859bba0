//! From what a client sent to a `Query` that can be answered, or a 400 naming the problem.

use super::span::{DAY_MS, Span, day_of};
use super::{
    Compare, Dimension, Filter, Matcher, Metric, NAMED, Order, OrderKey, Query, QueryError,
    TimeGrain,
};
use crate::analytics::goals::Goals;
use crate::domain::Timestamp;

/// The longest range a query may cover.
pub const MAX_DAYS: i64 = 400;
/// The longest range an hourly series may cover.
pub const MAX_HOURLY_DAYS: i64 = 31;
pub const MAX_LIMIT: u64 = 10_000;
pub const DEFAULT_LIMIT: u64 = 1_000;
const MAX_DIMENSIONS: usize = 3;
pub(crate) const MAX_FILTERS: usize = 10;
const MAX_FILTER_VALUES: usize = 50;
const MAX_VALUE_LEN: usize = 500;

/// A date range as sent: a name, or two dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRange {
    Named(String),
    Dates(String, String),
}

/// A query as sent, in plain strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawQuery {
    pub metrics: Vec<String>,
    pub date_range: Option<RawRange>,
    pub dimensions: Vec<String>,
    /// (operator, dimension, values)
    pub filters: Vec<(String, String, Vec<String>)>,
    /// (metric or dimension, "asc" | "desc")
    pub order_by: Vec<(String, String)>,
    pub limit: Option<u64>,
    pub compare: Option<RawRange>,
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::new("invalid_request", message)
}

/// A calendar date, `YYYY-MM-DD` exactly, in the years 0001 to 9999 (no sign, no year 0).
fn parse_date(raw: &str) -> Result<i64, QueryError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    time::Date::parse(raw, format)
        .ok()
        .filter(|d| shaped && d.year() >= 1)
        .map(day_of)
        .ok_or_else(|| {
            invalid(format!(
                "`date_range` has `{}`, which is not a date from 0001-01-01 to 9999-12-31 (YYYY-MM-DD)",
                raw.chars().take(40).collect::<String>()
            ))
        })
}

/// Parses a date range against today (UTC).
pub fn parse_span(raw: Option<&RawRange>, now: Timestamp) -> Result<Span, QueryError> {
    let today = now.millis().div_euclid(DAY_MS);
    let days = |n: i64| Span::Days {
        first: today - (n - 1),
        last: today,
    };
    let span = match raw {
        None => return Err(invalid("`date_range` is required")),
        Some(RawRange::Named(name)) => match name.as_str() {
            "today" => days(1),
            "7d" => days(7),
            "30d" => days(30),
            "12mo" => {
                let date = super::span::date_of(today)
                    .ok_or_else(|| invalid("today cannot be represented as a date"))?;
                let (mut year, month) = (date.year(), u8::from(date.month()));
                let mut start_month = i32::from(month) - 11;
                if start_month < 1 {
                    start_month += 12;
                    year -= 1;
                }
                let month = u8::try_from(start_month)
                    .ok()
                    .and_then(|m| time::Month::try_from(m).ok())
                    .unwrap_or(time::Month::January);
                let first = time::Date::from_calendar_date(year, month, 1)
                    .map(day_of)
                    .map_err(|_| invalid("the 12-month range cannot be represented"))?;
                Span::Days { first, last: today }
            }
            "realtime" => Span::Realtime {
                until: now.millis(),
            },
            other => {
                return Err(invalid(format!(
                    "`date_range` is `{other}`; use `today`, `7d`, `30d`, `12mo`, `realtime` or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]"
                )));
            }
        },
        Some(RawRange::Dates(a, b)) => {
            let (first, last) = (parse_date(a)?, parse_date(b)?);
            if first > last {
                return Err(invalid("`date_range` starts after it ends"));
            }
            Span::Days { first, last }
        }
    };
    if span.days() > MAX_DAYS {
        return Err(QueryError::new(
            "range_too_long",
            format!(
                "`date_range` covers {} days; at most {MAX_DAYS} can be asked at once",
                span.days()
            ),
        ));
    }
    Ok(span)
}

fn parse_metric(raw: &str) -> Result<Metric, QueryError> {
    Metric::ALL
        .into_iter()
        .find(|m| m.name() == raw)
        .ok_or_else(|| {
            let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            QueryError::new(
                "unknown_metric",
                format!("`metrics` has `{raw}`; known metrics: {}", known.join(", ")),
            )
        })
}

/// Parses a dimension name; `time:*` only where `time_ok`.
pub fn parse_dimension(raw: &str, field: &str, time_ok: bool) -> Result<Dimension, QueryError> {
    match Dimension::named(raw) {
        Some(Dimension::Time(_)) if !time_ok => Err(invalid(format!(
            "`{field}` cannot use `{raw}`: time is set by `date_range`"
        ))),
        Some(d) => Ok(d),
        None => Err(QueryError::new(
            "unknown_dimension",
            format!(
                "`{field}` has `{}`; known dimensions: {}, event:props:<key>, time:hour, time:day, time:month",
                raw.chars().take(100).collect::<String>(),
                NAMED.join(", ")
            ),
        )),
    }
}

/// An ordering's direction: true when descending.
pub(super) fn parse_direction(raw: &str) -> Result<bool, QueryError> {
    match raw {
        "asc" => Ok(false),
        "desc" => Ok(true),
        other => Err(invalid(format!(
            "`order_by` has direction `{other}`; use `asc` or `desc`"
        ))),
    }
}

/// The row limit, defaulted and bounded.
pub(super) fn parse_limit(raw: Option<u64>) -> Result<usize, QueryError> {
    let limit = raw.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!("`limit` must be 1 to {MAX_LIMIT}")));
    }
    Ok(usize::try_from(limit).unwrap_or(1000))
}

fn parse_filter(raw: &(String, String, Vec<String>)) -> Result<Filter, QueryError> {
    let (op, dim, values) = raw;
    let dimension = parse_dimension(dim, "filters", false)?;
    if values.is_empty() || values.len() > MAX_FILTER_VALUES {
        return Err(invalid(format!(
            "`filters` on `{dim}` needs 1 to {MAX_FILTER_VALUES} values"
        )));
    }
    if values.iter().any(|v| v.chars().count() > MAX_VALUE_LEN) {
        return Err(invalid(format!(
            "`filters` on `{dim}` has a value longer than {MAX_VALUE_LEN} characters"
        )));
    }
    Ok(Filter {
        dimension,
        matcher: Matcher::parse(op, values, dim)?,
    })
}

/// Parses a list of filters as sent (a query's, or a saved segment's).
pub fn parse_filters(raw: &[(String, String, Vec<String>)]) -> Result<Vec<Filter>, QueryError> {
    if raw.len() > MAX_FILTERS {
        return Err(invalid(format!(
            "`filters` has more than {MAX_FILTERS} filters"
        )));
    }
    raw.iter().map(parse_filter).collect()
}

fn parse_order(
    raw: &(String, String),
    metrics: &[Metric],
    dims: &[Dimension],
) -> Result<Order, QueryError> {
    let (name, direction) = raw;
    let descending = parse_direction(direction)?;
    let key = if let Some(i) = metrics.iter().position(|m| m.name() == name) {
        OrderKey::Metric(i)
    } else if let Some(i) = dims.iter().position(|d| d.name() == *name) {
        OrderKey::Dimension(i)
    } else {
        return Err(invalid(format!(
            "`order_by` has `{name}`, which is neither a metric nor a dimension of this query"
        )));
    };
    Ok(Order { key, descending })
}

/// Checks a whole query, field by field, for a site with these goals.
pub fn parse(raw: &RawQuery, now: Timestamp, goals: &Goals) -> Result<Query, QueryError> {
    if raw.metrics.is_empty() {
        return Err(invalid("`metrics` needs at least one metric"));
    }
    let mut metrics = Vec::new();
    for m in &raw.metrics {
        let m = parse_metric(m)?;
        if metrics.contains(&m) {
            return Err(invalid(format!("`metrics` has `{}` twice", m.name())));
        }
        metrics.push(m);
    }
    let span = parse_span(raw.date_range.as_ref(), now)?;
    if raw.dimensions.len() > MAX_DIMENSIONS + 1 {
        return Err(invalid(format!(
            "`dimensions` has {}; at most {MAX_DIMENSIONS} and one time dimension are allowed",
            raw.dimensions.len()
        )));
    }
    let mut dimensions = Vec::new();
    for d in &raw.dimensions {
        let d = parse_dimension(d, "dimensions", true)?;
        if dimensions.contains(&d) {
            return Err(invalid(format!("`dimensions` has `{}` twice", d.name())));
        }
        dimensions.push(d);
    }
    let times = dimensions
        .iter()
        .filter(|d| matches!(d, Dimension::Time(_)))
        .count();
    if times > 1 {
        return Err(unsupported("`dimensions` can hold one time dimension"));
    }
    if dimensions.len() - times > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "`dimensions` has {} that are not time; at most {MAX_DIMENSIONS} are allowed",
            dimensions.len() - times
        )));
    }
    if dimensions.contains(&Dimension::Time(TimeGrain::Hour)) && span.days() > MAX_HOURLY_DAYS {
        return Err(unsupported(format!(
            "`time:hour` covers at most {MAX_HOURLY_DAYS} days; use `time:day` for longer ranges"
        )));
    }
    if let Some(m) = metrics.iter().find(|m| m.is_session()) {
        if let Some(d) = dimensions.iter().find(|d| d.is_event_level()) {
            return Err(unsupported(format!(
                "`{}` is a metric of whole visits and cannot be split by `{}`",
                m.name(),
                d.name()
            )));
        }
    }
    let filters = parse_filters(&raw.filters)?;
    let order = raw
        .order_by
        .iter()
        .map(|o| parse_order(o, &metrics, &dimensions))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = parse_limit(raw.limit)?;
    let compare = parse_compare(raw.compare.as_ref(), span)?;
    Ok(Query {
        metrics,
        dimensions,
        filters,
        order,
        limit,
        span,
        compare,
        goals: goals.clone(),
    })
}

/// A comparison: a name, or two dates.
fn parse_compare(raw: Option<&RawRange>, span: Span) -> Result<Option<Compare>, QueryError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if matches!(span, Span::Realtime { .. }) {
        return Err(unsupported("`compare` cannot be used with `realtime`"));
    }
    let compare = match raw {
        RawRange::Named(name) if name == "previous_period" => Compare::PreviousPeriod,
        RawRange::Named(name) if name == "year_over_year" => Compare::YearOverYear,
        RawRange::Named(other) => {
            return Err(invalid(format!(
                "`compare` is `{}`; use `previous_period`, `year_over_year` or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]",
                other.chars().take(40).collect::<String>()
            )));
        }
        RawRange::Dates(..) => match parse_span(Some(raw), crate::domain::Timestamp(0))
            .map_err(|e| invalid(e.message.replace("`date_range`", "`compare`")))?
        {
            Span::Days { first, last } => Compare::Range(Span::Days { first, last }),
            Span::Realtime { .. } => return Err(invalid("`compare` must be whole days")),
        },
    };
    Ok(Some(compare))
}

fn unsupported(message: impl Into<String>) -> QueryError {
    QueryError::new("unsupported_combination", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(metrics: &[&str], range: &str) -> RawQuery {
        RawQuery {
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            date_range: Some(RawRange::Named(range.into())),
            ..RawQuery::default()
        }
    }

    const NOW: Timestamp = Timestamp(1_795_000_000_000);

    #[test]
    fn dates_are_four_digit_years_from_0001_to_9999() {
        assert!(parse_date("2026-11-01").is_ok());
        assert!(parse_date("0001-01-01").is_ok());
        assert!(parse_date("9999-12-31").is_ok());
        for bad in [
            "-0001-01-01",
            "0000-01-01",
            "+2026-11-01",
            "12026-11-01",
            "2026-1-01",
            "2026-02-30",
            " 2026-11-01",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert!(
                e.message.starts_with("`date_range` has"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn unknown_names_are_refused_with_their_own_codes() {
        assert_eq!(
            parse(&raw(&["clicks"], "7d"), NOW, &Goals::default())
                .unwrap_err()
                .code,
            "unknown_metric"
        );
        let mut q = raw(&["visitors"], "7d");
        q.dimensions = vec!["visit:shoe_size".into()];
        assert_eq!(
            parse(&q, NOW, &Goals::default()).unwrap_err().code,
            "unknown_dimension"
        );
        assert_eq!(
            parse(&raw(&["visitors"], "1y"), NOW, &Goals::default())
                .unwrap_err()
                .code,
            "invalid_request"
        );
    }

    #[test]
    fn visit_metrics_cannot_be_split_by_page_and_ranges_are_capped() {
        let mut q = raw(&["bounce_rate"], "7d");
        q.dimensions = vec!["event:page".into()];
        assert_eq!(
            parse(&q, NOW, &Goals::default()).unwrap_err().code,
            "unsupported_combination"
        );
        let mut q = raw(&["visitors"], "7d");
        q.date_range = Some(RawRange::Dates("2024-01-01".into(), "2026-01-01".into()));
        assert_eq!(
            parse(&q, NOW, &Goals::default()).unwrap_err().code,
            "range_too_long"
        );
    }

    #[test]
    fn named_ranges_end_today_and_twelve_months_start_on_a_first() {
        let q = parse(&raw(&["visitors"], "30d"), NOW, &Goals::default()).unwrap();
        assert_eq!(q.span.days(), 30);
        let q = parse(&raw(&["visitors"], "12mo"), NOW, &Goals::default()).unwrap();
        let (first, _) = q.span.labels();
        assert!(first.ends_with("-01"), "{first}");
        assert!((335..=366).contains(&q.span.days()));
    }
}
