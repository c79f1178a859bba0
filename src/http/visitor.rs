//! Who is asking, as far as the law cares: jurisdiction, regime and GPC, from the request.
//!
//! The client address is used here, in memory, for the geo lookup and then dropped. It is
//! never stored, logged or returned.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;

use super::state::AppState;
use crate::domain::{Jurisdiction, Location, Regime, Site};
use crate::geo::client_ip;

/// The legal context of one request.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub location: Location,
    pub jurisdiction: Jurisdiction,
    pub regime: Regime,
    /// `Sec-GPC: 1` was sent.
    pub gpc_header: bool,
    pub geo_build: Option<u64>,
}

/// The client's address, after trusted proxies. Memory only.
pub fn client_address(state: &AppState, req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    client_ip(peer, forwarded, &state.trusted)
}

/// The request's User-Agent (`""` when missing or not text), to classify and forget.
pub fn user_agent(req: &HttpRequest) -> &str {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn gpc_header(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-gpc")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "1")
}

impl Visitor {
    pub fn of(state: &AppState, req: &HttpRequest, site: &Site) -> Visitor {
        let location = state.geo.locate(client_address(state, req));
        let jurisdiction = Jurisdiction::of(&location);
        let regime = jurisdiction.regime(site.regime_without_law);
        Visitor {
            location,
            regime,
            jurisdiction,
            gpc_header: gpc_header(req),
            geo_build: state.geo.status().build_epoch,
        }
    }
}
