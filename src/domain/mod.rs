//! The consent domain: sites, categories, decisions, jurisdictions and the ledger's hash chain.
//!
//! Invariants, written as absences:
//! - `domain` imports no actix, sled, serde or maxminddb: it knows nothing of HTTP, JSON,
//!   storage or the geo database.
//! - No type here holds an IP address or a User-Agent string.
//! - Every value that crosses into `domain` is parsed into a type that cannot hold an invalid
//!   value (`SiteId`, `CategoryId`, `ConsentId`, `PolicyVersion`, `Choices`, `SegmentName`).

pub mod api_key;
pub mod clock;
pub mod consent;
pub mod event;
#[cfg(test)]
mod gate_model;
pub mod glob;
pub mod ids;
pub mod jurisdiction;
pub mod ledger;
pub mod operator_token;
pub mod segment;
pub mod site;
pub mod variant;

pub use api_key::{ApiKey, ApiKeyId, KeyRefusal, PresentedKey};
pub use clock::{Clock, SystemClock, Timestamp};
pub use consent::{
    Action, Channel, Choices, ConsentRecord, Decision, DecisionError, DecisionRequest,
};
pub use event::{DropReason, event_categories, gate, is_event_name};
pub use ids::{CategoryId, ConsentId, IdError, PolicyVersion, SiteId, Subject, VariantName};
pub use jurisdiction::{Jurisdiction, Location, Regime};
pub use ledger::{EntryHash, EntryHeader, EntryKind, GENESIS};
pub use operator_token::{PresentedToken, TokenDigest, generate_token};
pub use segment::{BadSegmentName, Segment, SegmentFilter, SegmentName};
pub use site::{Category, CookieDecl, Service, Site};
