//! An analytics event after gating and enrichment: what is stored, and nothing else.
//!
//! It holds no IP address and no User-Agent: only the country and region looked up from the
//! address, and the browser family, OS and device class parsed from the User-Agent.

use crate::domain::{CategoryId, ConsentId, SiteId, Timestamp};

/// A property value: flat, no nesting.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// The visit-level context of an event, from the request that carried it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub country: Option<String>,
    pub region: Option<String>,
    pub browser: String,
    pub os: String,
    pub device: String,
    pub source: Option<String>,
    pub referrer: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
}

/// An event that passed the gate, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedEvent {
    pub site: SiteId,
    pub consent_id: ConsentId,
    pub at: Timestamp,
    /// `pageview` or a custom name.
    pub name: String,
    /// The stricter of the sent and the configured category.
    pub category: CategoryId,
    pub path: String,
    pub props: Vec<(String, PropValue)>,
    pub context: Context,
}

impl AcceptedEvent {
    pub fn is_pageview(&self) -> bool {
        self.name == "pageview"
    }
}

/// An event as read back from storage.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub at: Timestamp,
    pub visit: u64,
    pub name: String,
    pub category: String,
    pub path: String,
    pub props: Vec<(String, PropValue)>,
    pub context: Context,
}
