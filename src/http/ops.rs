//! Operating endpoints: health, metrics and the GPC declaration.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::state::AppState;
use crate::geo::GeoStatus;

/// 200 when a write reaches the store, else 503. `status` is `degraded`, with `reasons`, when
/// a configured GeoIP file is not in use, or when accepted events are held unwritten (their
/// event table, ClickHouse say, does not answer).
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let geo = state.geo.status();
    match state.store.check_writable().await {
        Ok(()) => {
            let mut body = json!({
                "status": "ok",
                "store": "writable",
                "storage_encrypted": state.storage_encrypted,
                "geoip": {"loaded": geo.loaded, "build_epoch": geo.build_epoch, "database_type": geo.database_type},
            });
            let held = state.analytics.events_held().map(|why| {
                format!(
                    "events: {why}; accepted events are kept and written once it answers, and new \
                     ones are refused with 429 once the queue is full"
                )
            });
            let reasons: Vec<String> = geo_degraded(&geo).into_iter().chain(held).collect();
            if !reasons.is_empty() {
                body["status"] = json!("degraded");
                body["reasons"] = json!(reasons);
            }
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(body)
        }
        Err(e) => {
            log::error!("health check failed: {e}");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(json!({"error": {"code": "storage_unavailable", "message": "the store is not writable"}}))
        }
    }
}

/// Why the geo lookup is not what the operator configured: a `geoip_database` file that is
/// missing, unreadable or not a MaxMind database. `None` when none is configured (every
/// visitor is then opt-in by choice) or the file is in use.
fn geo_degraded(geo: &GeoStatus) -> Option<String> {
    geo.path.as_ref()?;
    match (geo.loaded, &geo.problem) {
        (true, None) => None,
        (false, problem) => Some(format!(
            "geoip: {}; every visitor's location is unknown, so every visitor gets the opt-in banner",
            problem
                .as_deref()
                .unwrap_or("the configured database is not loaded")
        )),
        (true, Some(problem)) => Some(format!(
            "geoip: {problem}; the database loaded before stays in use"
        )),
    }
}

#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}

/// The GPC support declaration. `lastUpdate` is the newest policy date of the configured sites.
#[get("/.well-known/gpc.json")]
pub async fn gpc_json(state: web::Data<AppState>) -> HttpResponse {
    let sites = state.all_sites();
    let last = sites
        .values()
        .map(|s| s.site.policy.last_updated.as_str())
        .max()
        .unwrap_or("2026-11-01");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .json(json!({"gpc": true, "lastUpdate": last}))
}
