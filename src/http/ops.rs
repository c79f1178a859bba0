//! Operating endpoints: health, metrics and the GPC declaration.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::state::AppState;

/// 200 when a write reaches the store, else 503.
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let geo = state.geo.status();
    match state.store.check_writable().await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({
                "status": "ok",
                "store": "writable",
                "geoip": {"loaded": geo.loaded, "build_epoch": geo.build_epoch, "database_type": geo.database_type},
            })),
        Err(e) => {
            log::error!("health check failed: {e}");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::RETRY_AFTER, "5"))
                .json(json!({"error": {"code": "storage_unavailable", "message": "the store is not writable"}}))
        }
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
    let last = state
        .sites
        .values()
        .map(|s| s.site.policy.last_updated.as_str())
        .max()
        .unwrap_or("2026-11-01");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .json(json!({"gpc": true, "lastUpdate": last}))
}
