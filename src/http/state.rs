//! What every handler can reach: the sites, the store, the geo database, the clock, metrics.

use std::sync::Arc;

use actix_web::HttpRequest;

use super::origin::OwnOrigins;
use super::rate_limit::Limiters;
use super::script::ScriptBundle;
use crate::domain::{Clock, TokenDigest};
use crate::errors::ApiError;
use crate::geo::{GeoLocator, TrustedProxies};
use crate::reload::Reloader;
pub use crate::sites::SiteEntry;
use crate::sites::{LiveSites, SiteMap};
use crate::store::{AccessStore, AnalyticsStore, ConsentStore, SightingStore};
use crate::telemetry::Metrics;

/// Shared by every worker.
pub struct AppState {
    /// The sites in force; a reload replaces them.
    pub sites: Arc<LiveSites>,
    /// Reads the configuration again (`POST /api/v1/admin/reload`).
    pub reloader: Arc<Reloader>,
    /// The operator token configured as `admin_token_sha256`, if any.
    pub admin_token: Option<TokenDigest>,
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
    /// Cookie and tracker sightings.
    pub sightings: Arc<dyn SightingStore>,
    /// Signs dashboard session cookies and CSRF tokens; kept in the store, so sessions survive
    /// a restart.
    pub session_secret: [u8; 32],
    /// Where this server's own pages are served from.
    pub own_origins: OwnOrigins,
    /// The longest a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Query groups narrower than the site with fewer visitors than this are suppressed.
    pub min_group_size: u32,
    /// Whether the data folder is encrypted at rest (`encryption_key_file`).
    pub storage_encrypted: bool,
}

impl AppState {
    /// The site named in the path, as it is now, or 404 `unknown_site`: a scheduled policy
    /// version takes over at its effective time, by the application's clock.
    pub fn site(&self, id: &str) -> Result<Arc<SiteEntry>, ApiError> {
        let sites = self.sites.current();
        let entry = sites
            .get(id)
            .ok_or_else(|| ApiError::UnknownSite(id.chars().take(64).collect()))?;
        match &entry.next {
            Some((at, next)) if self.clock.now() >= *at => Ok(next.clone()),
            _ => Ok(entry.clone()),
        }
    }

    /// Every site in force.
    pub fn all_sites(&self) -> Arc<SiteMap> {
        self.sites.current()
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
