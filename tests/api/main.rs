//! The integration tests: the real application over loopback.

#[path = "../support/mmdb_writer.rs"]
mod mmdb_writer;

mod abuse;
mod admin;
mod analytics_erasure;
mod audit_export;
mod backups;
// The embedded engine beside ClickHouse: the tests start their own servers (`test-support`).
#[cfg(feature = "test-support")]
mod backends_agree;
mod banner;
mod binary;
mod browser;
// ClickHouse behind a proxy the test cuts: the tests start their own servers (`test-support`).
#[cfg(feature = "test-support")]
mod clickhouse;
mod consents;
mod contract;
mod crash;
mod detections;
mod encryption;
mod events;
mod experiments;
mod funnels;
mod geo_fixture;
mod goals;
mod helpers;
mod hygiene;
mod jurisdiction;
mod ledger;
mod marketer;
mod marketer_model;
// Two nodes on one PostgreSQL: the tests start their own server (`test-support`).
#[cfg(feature = "test-support")]
mod nodes;
mod ops;
mod pages;
mod policy_versions;
mod retention;
mod rights;
mod segments;
