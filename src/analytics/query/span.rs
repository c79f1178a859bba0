//! Date ranges: whole UTC days, or the last five minutes, and the periods of time dimensions.

use std::ops::Range;

use super::TimeGrain;

pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Days from the Julian day count's epoch to the Unix epoch.
const UNIX_JULIAN: i64 = 2_440_588;
/// How far back "realtime" looks.
pub const REALTIME_MS: i64 = 5 * 60 * 1000;

/// The time a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Whole UTC days, both ends included, as days since the Unix epoch.
    Days { first: i64, last: i64 },
    /// The last five minutes before `until` (ms).
    Realtime { until: i64 },
}

/// The calendar date of a day number.
pub fn date_of(day: i64) -> Option<time::Date> {
    time::Date::from_julian_day(i32::try_from(day + UNIX_JULIAN).ok()?).ok()
}

/// The day number of a calendar date.
pub fn day_of(date: time::Date) -> i64 {
    i64::from(date.to_julian_day()) - UNIX_JULIAN
}

/// The month number (year × 12 + month − 1) of a day number.
pub fn month_of(day: i64) -> i64 {
    date_of(day).map_or(0, |d| {
        i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1
    })
}

/// The label of a period of a time dimension.
pub fn label(grain: TimeGrain, period: i64) -> String {
    match grain {
        TimeGrain::Hour => date_of(period.div_euclid(24)).map_or_else(String::new, |d| {
            format!("{d}T{:02}:00Z", period.rem_euclid(24))
        }),
        TimeGrain::Day => date_of(period).map_or_else(String::new, |d| d.to_string()),
        TimeGrain::Month => format!(
            "{:04}-{:02}",
            period.div_euclid(12),
            period.rem_euclid(12) + 1
        ),
    }
}

/// The period of a time dimension an instant (ms) falls in.
pub fn period_at(grain: TimeGrain, at_ms: i64) -> i64 {
    match grain {
        TimeGrain::Hour => at_ms.div_euclid(HOUR_MS),
        TimeGrain::Day => at_ms.div_euclid(DAY_MS),
        TimeGrain::Month => month_of(at_ms.div_euclid(DAY_MS)),
    }
}

impl Span {
    /// The instants covered, in ms.
    pub fn millis(self) -> Range<i64> {
        match self {
            Span::Days { first, last } => first * DAY_MS..(last + 1) * DAY_MS,
            Span::Realtime { until } => until - REALTIME_MS..until + 1,
        }
    }

    pub fn days(self) -> i64 {
        match self {
            Span::Days { first, last } => last - first + 1,
            Span::Realtime { .. } => 0,
        }
    }

    /// The span of the same length just before, for comparisons.
    pub fn previous(self) -> Option<Span> {
        match self {
            Span::Days { first, last } => {
                let len = last - first + 1;
                Some(Span::Days {
                    first: first - len,
                    last: first - 1,
                })
            }
            Span::Realtime { .. } => None,
        }
    }

    /// The same calendar dates one year earlier (29 February becomes the 28th).
    pub fn year_before(self) -> Option<Span> {
        let Span::Days { first, last } = self else {
            return None;
        };
        let back = |day: i64| {
            let d = date_of(day)?;
            let year = d.year() - 1;
            let date = time::Date::from_calendar_date(year, d.month(), d.day())
                .or_else(|_| time::Date::from_calendar_date(year, d.month(), d.day() - 1))
                .ok()?;
            Some(day_of(date))
        };
        Some(Span::Days {
            first: back(first)?,
            last: back(last)?,
        })
    }

    /// The first period of a time dimension in this span: comparisons match rows by their
    /// distance from it.
    pub fn start_period(self, grain: TimeGrain) -> i64 {
        period_at(grain, self.millis().start)
    }

    /// The first and last dates, as labels.
    pub fn labels(self) -> (String, String) {
        match self {
            Span::Days { first, last } => {
                (label(TimeGrain::Day, first), label(TimeGrain::Day, last))
            }
            Span::Realtime { until } => {
                let at = |ms: i64| {
                    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
                        .ok()
                        .and_then(|t| {
                            t.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .unwrap_or_default()
                };
                (at(until - REALTIME_MS), at(until))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_months_and_hours_are_labelled_in_utc() {
        let day = day_of(time::macros::date!(2026 - 11 - 23));
        assert_eq!(label(TimeGrain::Day, day), "2026-11-23");
        assert_eq!(label(TimeGrain::Month, month_of(day)), "2026-11");
        assert_eq!(label(TimeGrain::Hour, day * 24 + 7), "2026-11-23T07:00Z");
        assert_eq!(period_at(TimeGrain::Day, day * DAY_MS + 5), day);
    }

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_the_day_before() {
        let s = Span::Days {
            first: 100,
            last: 129,
        };
        assert_eq!(
            s.previous(),
            Some(Span::Days {
                first: 70,
                last: 99
            })
        );
    }

    #[test]
    fn a_year_before_keeps_the_calendar_dates() {
        let day = |y, m, d| day_of(time::Date::from_calendar_date(y, m, d).unwrap());
        let s = Span::Days {
            first: day(2028, time::Month::February, 1),
            last: day(2028, time::Month::February, 29),
        };
        assert_eq!(
            s.year_before(),
            Some(Span::Days {
                first: day(2027, time::Month::February, 1),
                last: day(2027, time::Month::February, 28),
            })
        );
    }
}
