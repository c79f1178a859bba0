//! Consentry: a self-hosted cookie-consent and privacy-first analytics server.
//!
//! See `ARCHITECTURE.md` for the map of modules and the invariants they keep.

pub mod admin;
pub mod admin_client;
pub mod analytics;
pub mod backup_cli;
pub mod cli;
pub mod csv;
pub mod demo_data;
pub mod detect;
pub mod detect_cli;
pub mod domain;
pub mod errors;
pub mod fault;
pub mod geo;
pub mod http;
pub mod i18n;
pub mod keys_cli;
pub mod ledger_export;
pub mod ledger_export_cli;
pub mod ledger_export_stream;
pub mod notices;
pub mod reload;
pub mod settings;
pub mod sites;
pub mod startup;
pub mod store;
pub mod telemetry;
