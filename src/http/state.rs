//! What every handler can reach: the sites, the store, the geo database, the clock, metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::HttpRequest;

use super::origin::OwnOrigins;
use super::rate_limit::Limiters;
use super::script::ScriptBundle;
use crate::domain::{Clock, Site, Timestamp};
use crate::errors::ApiError;
use crate::geo::{GeoLocator, TrustedProxies};
use crate::notices::SiteNotices;
use crate::store::{AccessStore, AnalyticsStore, ConsentStore};
use crate::telemetry::Metrics;

/// A configured site and its archived notices.
pub struct SiteEntry {
    pub site: Site,
    pub notices: SiteNotices,
    /// The site once its upcoming policy version takes effect, and when that is.
    pub next: Option<(Timestamp, Box<SiteEntry>)>,
}

/// Shared by every worker.
pub struct AppState {
    pub sites: BTreeMap<String, SiteEntry>,
    pub store: Arc<dyn ConsentStore>,
    pub analytics: Arc<dyn AnalyticsStore>,
    pub geo: GeoLocator,
    pub trusted: TrustedProxies,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub script: ScriptBundle,
    pub limits: Limiters,
    /// API keys and the query log.
    pub access: Arc<dyn AccessStore>,
    /// Signs dashboard session cookies and CSRF tokens; made at start, so sessions end with
    /// the process.
    pub session_secret: [u8; 32],
    /// Where this server's own pages are served from.
    pub own_origins: OwnOrigins,
    /// The longest a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Query groups narrower than the site with fewer visitors than this are suppressed.
    pub min_group_size: u32,
}

impl AppState {
    /// The site named in the path, or 404 `unknown_site`.
    /// The site named in the path, as it is now: a scheduled policy version takes over at
    /// its effective time, by the application's clock.
    pub fn site(&self, id: &str) -> Result<&SiteEntry, ApiError> {
        let entry = self
            .sites
            .get(id)
            .ok_or_else(|| ApiError::UnknownSite(id.chars().take(64).collect()))?;
        match &entry.next {
            Some((at, next)) if self.clock.now() >= *at => Ok(next),
            _ => Ok(entry),
        }
    }

    /// Whether the request reached us over HTTPS: only a trusted proxy's word counts.
    pub fn is_https(&self, req: &HttpRequest) -> bool {
        let Some(peer) = req.peer_addr() else {
            return false;
        };
        self.trusted.contains(peer.ip())
            && req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }
}
