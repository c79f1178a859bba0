//! The marketer side: the authenticated query API (`/query`, `/consent-stats`, `/export.csv`),
//! saved segments (`/segments`), the site's goals (`/goals`), the cookie and tracker report
//! (`GET /detections`), and the dashboard that reads it.
//!
//! Invariants:
//! - No marketer handler runs before `auth::marketer_gate` has found a valid key for the site
//!   in the path (401 without one, 403 for another site's).
//! - No answer holds a visitor number, consent id or single event: only aggregates, with small
//!   groups suppressed (see `analytics::query`).
//! - Every query is logged with the key's id, never the key.

pub mod auth;
pub mod dashboard;
pub mod detections;
pub mod funnel;
pub mod goals;
pub mod query;
pub mod segments;
