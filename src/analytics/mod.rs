//! Consent-gated analytics: enrichment, the events that pass the gate, their storage form,
//! visits, and the engine that answers queries from stored events.

pub mod codec;
pub mod consent_stats;
pub mod engine;
pub mod enrich;
pub mod event;
pub mod funnel;
pub mod goals;
pub mod query;
pub mod visits;
