//! Consent-gated analytics: enrichment, the events that pass the gate, their storage form and
//! the rollups kept as they arrive.

pub mod codec;
pub mod consent_stats;
pub mod enrich;
pub mod event;
pub mod query;
pub mod rollup;
