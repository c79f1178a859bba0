//! Consentry: a self-hosted cookie-consent and privacy-first analytics server.
//!
//! See `ARCHITECTURE.md` for the map of modules and the invariants they keep.

pub mod domain;
pub mod geo;
