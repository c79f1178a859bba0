//! The administration API (`/api/v1/admin/…`): marketer keys, configuration reloads and the
//! consent audit export, for an operator holding an operator token
//! (`Authorization: Bearer <token>`).
//!
//! Nothing behind `admin_gate` runs for a request without a token whose SHA-256 is configured
//! (`admin_token_sha256`) or stored (`consentry admin-token create`); the stored digests are
//! read on every request. A failed token spends the client's failed-key budget, like a failed
//! API key. The API is for tools, not browsers: it sets no cookie and answers no CORS.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, delete, get, post, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::json::StrictJson;
use super::marketer::auth::{check_failure_budget, note_failure};
use super::state::AppState;
use super::visitor::client_address;
use super::wire::rfc3339;
use crate::admin::{self, NewKey};
use crate::domain::{ApiKey, PresentedToken, SiteId};
use crate::errors::ApiError;
use crate::ledger_export::{Days, Format};
use crate::ledger_export_stream;

/// The token a request presents, if it opens the administration API.
async fn admit(state: &AppState, req: &ServiceRequest) -> Result<(), ApiError> {
    let raw = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("send `Authorization: Bearer <operator token>`".into())
        })?;
    let known = admin::operator_digests(state.access.as_ref(), state.admin_token).await?;
    if known.is_empty() {
        return Err(ApiError::Unauthorized(
            "no operator token is configured: create one with `consentry admin-token create` or set `admin_token_sha256`".into(),
        ));
    }
    match PresentedToken::parse(raw.trim()) {
        Some(presented) if presented.is_one_of(&known) => Ok(()),
        _ => Err(ApiError::Unauthorized(
            "the operator token is not known".into(),
        )),
    }
}

/// Middleware for the administration API: 401 without a known operator token, 429 once the
/// client's failed-token budget is spent.
pub async fn admin_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req
            .into_response(HttpResponse::ServiceUnavailable().finish())
            .map_into_right_body());
    };
    let client = client_address(&state, req.request());
    let refused = match check_failure_budget(&state, client) {
        Err(e) => Some(e),
        Ok(()) => match admit(&state, &req).await {
            Ok(()) => None,
            Err(e) => {
                if matches!(e, ApiError::Unauthorized(_))
                    && req.headers().contains_key(header::AUTHORIZATION)
                {
                    note_failure(&state, client);
                }
                Some(e)
            }
        },
    };
    match refused {
        None => Ok(next.call(req).await?.map_into_left_body()),
        Some(e) => {
            // Debug only: the failed-token budget logs once per spent budget.
            log::debug!("an administration request was refused: {}", e.status_code());
            Ok(req.into_response(e.error_response()).map_into_right_body())
        }
    }
}

/// The body of `POST /admin/sites/{site}/keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    #[serde(default)]
    pub label: String,
    pub expires_in_days: Option<u32>,
}

fn key_json(k: &ApiKey) -> Json {
    let state = match (k.revoked_at, k.expires_at) {
        (Some(_), _) => "revoked",
        (None, Some(_)) => "expiring",
        (None, None) => "active",
    };
    json!({
        "id": k.id.as_str(),
        "site": k.site.as_str(),
        "label": k.label,
        "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map(rfc3339),
        "revoked_at": k.revoked_at.map(rfc3339),
        "state": state,
    })
}

fn site_of(state: &AppState, raw: &str) -> Result<SiteId, ApiError> {
    Ok(state.site(raw)?.site.id.clone())
}

#[post("/sites/{site}/keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: StrictJson<KeyBody, 4096>,
) -> Result<HttpResponse, ApiError> {
    let site = site_of(&state, &path)?;
    let body = body.0;
    crate::http::text::check("label", &body.label)?;
    let new = NewKey {
        label: body.label,
        expires_in_days: body.expires_in_days,
    };
    let (record, key) =
        admin::create_key(state.access.as_ref(), site, new, state.clock.now()).await?;
    log::info!(
        "administration: key {} created for site {}",
        record.id,
        record.site
    );
    let mut answer = key_json(&record);
    answer["key"] = Json::String(key);
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

#[get("/sites/{site}/keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let site = site_of(&state, &path)?;
    let keys = state.access.keys(site).await?;
    let keys: Vec<Json> = keys.iter().map(key_json).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "keys": keys })))
}

#[delete("/sites/{site}/keys/{id}")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (site, id) = path.into_inner();
    let site = site_of(&state, &site)?;
    let record = admin::revoke_key(state.access.as_ref(), &site, &id, state.clock.now()).await?;
    log::info!(
        "administration: key {} of site {} revoked",
        record.id,
        record.site
    );
    Ok(HttpResponse::NoContent().finish())
}

#[post("/reload")]
pub async fn reload(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let report = state.reloader.reload().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "sites": {
                "added": report.sites.added,
                "changed": report.sites.changed,
                "removed": report.sites.removed,
                "unchanged": report.sites.unchanged,
            },
            "needs_restart": report.needing_restart,
        })))
}

/// `POST /api/v1/admin/backup`: where on the server's machine to write the backup.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupBody {
    to: String,
}

/// A consistent backup of the data folder into `to`, taken while the server serves (consent
/// writes wait while the trees are copied; see `store::backup`).
#[post("/backup")]
pub async fn backup(
    state: web::Data<AppState>,
    body: StrictJson<BackupBody, 4096>,
) -> Result<HttpResponse, ApiError> {
    super::text::check("to", &body.0.to)?;
    let to = std::path::PathBuf::from(&body.0.to);
    if !to.is_absolute() {
        return Err(ApiError::invalid(
            "to",
            "must be an absolute path on the server's machine",
        ));
    }
    let store = state.store.clone();
    let report = web::block(move || store.backup(&to))
        .await
        .map_err(|_| ApiError::Storage(crate::store::StoreError::Closed))??;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}

/// The query of `GET /admin/sites/{site}/ledger/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExportParams {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// The consent audit export, byte for byte what `consentry ledger export` writes for the same
/// range: the first pass over the chain (and the documents) before the answer starts, so a
/// failure there is still a JSON error; then the body made a page of the chain at a time as the
/// client reads it. A store failure after that ends the body early (the connection is cut, so
/// the client sees a truncated transfer, and a truncated file does not verify).
#[get("/sites/{site}/ledger/export")]
pub async fn ledger_export(
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<LedgerExportParams>,
) -> Result<HttpResponse, ApiError> {
    let site = site_of(&state, &path)?;
    let params = params.into_inner();
    let format = match params.format.as_deref() {
        None => Format::Jsonl,
        Some(raw) => {
            Format::parse(raw).ok_or_else(|| ApiError::invalid("format", "is jsonl or csv"))?
        }
    };
    let days = Days::parse(
        params.from.as_deref(),
        params.to.as_deref(),
        state.clock.now().millis(),
    )?;
    let export = ledger_export_stream::prepare(
        state.store.clone(),
        site.clone(),
        days,
        format,
        crate::ledger_export::PAGE_ROWS,
    )
    .await?;
    let name = format!(
        "consentry-ledger-{site}-{}-{}.{}",
        days.first_day(),
        days.last_day(),
        format.extension()
    );
    let content_type = match format {
        Format::Jsonl => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    let body = export.chunks().map(move |chunk| {
        chunk.map(web::Bytes::from).inspect_err(|e| {
            log::error!("the audit export of site {site} stopped part-way: {e}");
        })
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body))
}

/// The administration routes, behind the gate.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/admin")
            .wrap(actix_web::middleware::from_fn(admin_gate))
            .service(create_key)
            .service(list_keys)
            .service(revoke_key)
            .service(reload)
            .service(backup)
            .service(ledger_export)
            .default_service(web::to(super::not_found)),
    );
}
