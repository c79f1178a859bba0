//! Visitors' rights over their data: export (Art. 15 and 20, CCPA "know").

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, web};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::consents::{site_and_id, unknown_consent};
use super::guard::allowed_origin;
use super::origin::{Provenance, provenance};
use super::state::AppState;
use super::visitor::client_address;
use super::wire::{ConsentJson, rfc3339};
use crate::analytics::event::{PropValue, StoredEvent};
use crate::domain::{ConsentId, ConsentRecord, SiteId, Timestamp};
use crate::errors::ApiError;
use crate::store::{AnalyticsStore, ConsentStore, StoreError};

#[derive(Serialize)]
struct EventJson {
    at: String,
    name: String,
    category: String,
    path: String,
    visit: String,
    props: Map<String, Value>,
    country: Option<String>,
    region: Option<String>,
    browser: String,
    os: String,
    device: String,
    source: Option<String>,
    referrer: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
}

impl From<StoredEvent> for EventJson {
    fn from(e: StoredEvent) -> EventJson {
        let props = e
            .props
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    PropValue::Str(s) => Value::String(s),
                    PropValue::Num(n) => json!(n),
                    PropValue::Bool(b) => Value::Bool(b),
                };
                (k, v)
            })
            .collect();
        let c = e.context;
        EventJson {
            at: rfc3339(e.at),
            name: e.name,
            category: e.category,
            path: e.path,
            visit: format!("{:x}", e.visit),
            props,
            country: c.country,
            region: c.region,
            browser: c.browser,
            os: c.os,
            device: c.device,
            source: c.source,
            referrer: c.referrer,
            utm_source: c.utm_source,
            utm_medium: c.utm_medium,
            utm_campaign: c.utm_campaign,
        }
    }
}

/// A ledger entry in an export: the record, and how the decision reached the server.
#[derive(Serialize)]
struct HistoryJson {
    #[serde(flatten)]
    record: ConsentJson,
    channel: &'static str,
}

impl From<&ConsentRecord> for HistoryJson {
    fn from(r: &ConsentRecord) -> HistoryJson {
        HistoryJson {
            record: ConsentJson::from(r),
            channel: r.decision.channel.as_str(),
        }
    }
}

/// The export document of a consent id, or `None` when nothing is held. Used by the API and
/// by `consentry visitor export`.
pub async fn export_document(
    store: &dyn ConsentStore,
    analytics: &dyn AnalyticsStore,
    site: &SiteId,
    id: &ConsentId,
    now: Timestamp,
) -> Result<Option<Value>, StoreError> {
    analytics.sync_events().await?;
    let current = store.current(site.clone(), id.clone()).await?;
    let history = store.history(site.clone(), id.clone()).await?;
    let events = analytics.events_of(site.clone(), id.clone()).await?;
    if current.is_none() && history.is_empty() && events.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({
        "format": "consentry-export-1",
        "site": site.as_str(),
        "consent_id": id.as_str(),
        "exported_at": rfc3339(now),
        "about": "Everything this server holds under this consent id: the current consent, every recorded decision (the ledger entries, each with its receipt and the channel it came through), and every analytics event. No IP address or User-Agent is ever stored.",
        "current": current.as_ref().map(ConsentJson::from),
        "history": history.iter().map(HistoryJson::from).collect::<Vec<_>>(),
        "events": events.into_iter().map(EventJson::from).collect::<Vec<_>>(),
    })))
}

/// The key of a consent id in the per-id budget: a hash, so not even memory holds the id.
pub(crate) fn id_budget_key(site: &SiteId, id: &ConsentId) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(site.as_str().as_bytes());
    h.update([0]);
    h.update(id.as_str().as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&h.finalize()[..16]);
    key
}

/// The per-id budget, for every request that names a consent id.
pub(crate) fn check_id_budget(
    state: &AppState,
    site: &SiteId,
    id: &ConsentId,
) -> Result<(), ApiError> {
    state
        .limits
        .consent_id
        .check(id_budget_key(site, id))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

/// The budgets of a rights request: per client address, then per consent id.
pub(crate) fn check_budgets(
    state: &AppState,
    req: &HttpRequest,
    site: &SiteId,
    id: &ConsentId,
) -> Result<(), ApiError> {
    state
        .limits
        .rights
        .check(client_address(state, req))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    check_id_budget(state, site, id)
}

/// Export and erasure through the API are answered only for a page of the site or of this
/// server (the banner's dialog, the policy page): the browser must say so. A script holding a
/// copied id gets 403; the threat model in the README says why this is worth having.
fn check_rights_origin(state: &AppState, req: &HttpRequest, site: &SiteId) -> Result<(), ApiError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let from_page = match origin {
        Some(o) => allowed_origin(state, site.as_str(), o),
        None => provenance(&state.own_origins, req) == Provenance::Own,
    };
    if from_page {
        return Ok(());
    }
    Err(ApiError::OriginRequired(
        "export and erasure are answered only for requests from the site's pages or this server's policy page",
    ))
}

/// Everything held about a consent id: its current record, every ledger entry, every event.
/// Only a fulfilled request is written to the rights log: a request for an id that holds
/// nothing leaves no trace, so unknown ids cannot fill the log.
#[get("/consents/{consent_id}/export")]
pub async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (entry, id) = site_and_id(&state, path.into_inner())?;
    check_rights_origin(&state, &req, &entry.site.id)?;
    check_budgets(&state, &req, &entry.site.id, &id)?;
    let now = state.clock.now();
    let body = export_document(
        state.store.as_ref(),
        state.analytics.as_ref(),
        &entry.site.id,
        &id,
        now,
    )
    .await?
    .ok_or_else(unknown_consent)?;
    state
        .store
        .log_rights_request(now, "access", "api", "exported")
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"consentry-{}.json\"", id.as_str()),
        ))
        .json(body))
}

/// Erases everything held under a consent id (Art. 17, CCPA "delete"): 200 with the tombstone
/// receipt, or 404 when nothing is held. Events carrying the id are dropped afterwards.
#[delete("/consents/{consent_id}")]
pub async fn erase(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (entry, id) = site_and_id(&state, path.into_inner())?;
    check_rights_origin(&state, &req, &entry.site.id)?;
    check_budgets(&state, &req, &entry.site.id, &id)?;
    let now = state.clock.now();
    let receipt = state
        .store
        .erase(entry.site.id.clone(), id.clone(), now, "api")
        .await?
        .ok_or_else(unknown_consent)?;
    state
        .metrics
        .consents
        .inc("action=\"erase\",regime=\"any\"".into());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "erased": true,
            "consent_id": id.as_str(),
            "erased_at": rfc3339(now),
            "tombstone": receipt.tombstone.hex(),
            "ledger_entries_redacted": receipt.entries_redacted,
            "events_deleted": receipt.events_deleted,
        })))
}
