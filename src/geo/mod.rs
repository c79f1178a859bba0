//! Where a visitor is: the MaxMind database and the client address behind trusted proxies.
//!
//! Invariants, written as absences:
//! - Nothing here logs or stores an IP address; an address goes in and a `Location` comes out.
//! - No error escapes `locate`: a missing, corrupt or unreadable database, or an address it does
//!   not know, gives `Location::unknown()`, which the jurisdiction rules treat as opt-in.
//! - No X-Forwarded-For entry is believed unless every hop after it is a trusted proxy.

mod address;
mod client_ip;
mod locator;

pub use client_ip::{TrustedProxies, client_ip};
pub use locator::{GeoLocator, GeoStatus};
