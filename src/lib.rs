//! Consentry: a self-hosted cookie-consent and privacy-first analytics server.
//!
//! See `ARCHITECTURE.md` for the map of modules and the invariants they keep.

pub mod domain;
pub mod geo;
pub mod errors;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod http;
pub mod i18n;
pub mod notices;
pub mod startup;
pub mod cli;
