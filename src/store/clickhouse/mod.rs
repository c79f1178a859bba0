//! The ClickHouse event table, selected by `clickhouse_url` beside `postgres_url`: analytics
//! events in a ClickHouse database that every node writes to and reads from
//! (`table::ChEventTable`, an `EventTable` of the PostgreSQL store), while PostgreSQL keeps
//! everything else. Its rooms: the HTTP client (`client`), the table's SQL (`schema`), events
//! as `RowBinary` rows (`rows`).
//!
//! Questions are answered by the same engine as on the other backends, from each day's rows
//! read in row-id order, so every backend gives the same numbers from the same events.

mod client;
mod rows;
mod schema;
mod table;
#[cfg(any(test, feature = "test-support"))]
pub mod test_server;

pub use table::ChEventTable;
