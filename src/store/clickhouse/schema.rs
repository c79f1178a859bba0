//! The events table in ClickHouse, created at start-up when missing. SQL that ClickHouse 18.16
//! (Debian's package) and current releases both accept: no `LowCardinality`, no TTL, no
//! lightweight `DELETE`.
//!
//! One row per event, one column per attribute: the visit-level ones (country, region,
//! browser, OS, device, source, referrer, UTM) on every event, so a question needs no join;
//! the visitor number for exact unique counts; properties as three parallel arrays (keys,
//! types, values as text). Partitioned by site and month, so retention drops whole months of
//! a site; ordered by site, day, visitor and row id, so a day of a site is one range read in
//! the order its visitors' events came.

use super::client::{ChClient, ChError, quote};

/// Every column, in the order rows are inserted (`rows::put_event`).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS events (
    site_id String,
    day Date,
    visitor UInt64,
    at Int64,
    id UInt64,
    category String,
    name String,
    path String,
    country String,
    region String,
    browser String,
    os String,
    device String,
    source String,
    referrer String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    prop_keys Array(String),
    prop_types Array(UInt8),
    prop_values Array(String)
) ENGINE = MergeTree()
PARTITION BY (site_id, toYYYYMM(day))
ORDER BY (site_id, day, visitor, id)";

/// The columns a row is read with (`rows::Reader::event`).
pub const READ_COLUMNS: &str = "visitor, at, id, category, name, path, country, region, \
     browser, os, device, source, referrer, utm_source, utm_medium, utm_campaign, prop_keys, \
     prop_types, prop_values";

/// Creates the database and the table when missing.
pub async fn create(client: &ChClient) -> Result<(), ChError> {
    client
        .query_server(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            client.database
        ))
        .await?;
    client.query(CREATE_TABLE).await?;
    Ok(())
}

/// A day number as a `Date` literal.
pub fn date(day: i64) -> String {
    let julian = i32::try_from(day + 2_440_588).unwrap_or(i32::MAX);
    match time::Date::from_julian_day(julian) {
        Ok(d) => format!(
            "'{:04}-{:02}-{:02}'",
            d.year(),
            u8::from(d.month()),
            d.day()
        ),
        Err(_) => "'1970-01-01'".into(),
    }
}

/// The condition naming a site's rows.
pub fn of_site(site: &str) -> String {
    format!("site_id = {}", quote(site))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_number_is_its_calendar_date() {
        assert_eq!(date(0), "'1970-01-01'");
        assert_eq!(date(20_423), "'2025-12-01'");
        assert_eq!(date(20_788), "'2026-12-01'");
    }
}
