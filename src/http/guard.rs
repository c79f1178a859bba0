//! The browser-facing API's gate: CORS for the site's origins, 403 for state changes from any
//! other origin, and per-client rate limits on state changes.
//!
//! An origin is allowed when it is one of the site's configured origins, or one of the server's
//! own (`http::origin`: from `public_url` or the listening address, never from `Host`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::csrf::{self, Form};
use super::origin::{Provenance, provenance};
use super::state::AppState;
use super::visitor::client_address;
use crate::errors::ApiError;

fn origin_of(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// For forms posted to this server's own pages: the browser must say the form came from one
/// of them (`Origin`, or without it `Sec-Fetch-Site` or `Referer`); a request that says nothing
/// is refused like a foreign one.
pub fn check_form_origin(state: &AppState, req: &actix_web::HttpRequest) -> Result<(), ApiError> {
    match provenance(&state.own_origins, req) {
        Provenance::Own => Ok(()),
        Provenance::Foreign | Provenance::Unknown => Err(ApiError::OriginNotAllowed(
            origin_header(req)
                .unwrap_or("(none)")
                .chars()
                .take(200)
                .collect(),
        )),
    }
}

/// A form of this server's as posted: from one of its pages (`check_form_origin`), with the
/// CSRF token issued with this browser's nonce cookie for `form` on `site` (`http::csrf`).
pub fn check_posted_form(
    state: &AppState,
    req: &actix_web::HttpRequest,
    form: Form,
    site: &str,
    token: &str,
) -> Result<(), ApiError> {
    check_form_origin(state, req)?;
    let nonce = req.cookie(form.cookie());
    let issued_here = csrf::verify(
        &state.session_secret,
        form,
        site,
        nonce.as_ref().map(|c| c.value()),
        token,
        state.clock.now(),
    );
    if !issued_here {
        return Err(ApiError::Forbidden(
            "the form has expired or was not sent from this server's page; reload the page and try again".into(),
        ));
    }
    Ok(())
}

fn origin_header(req: &actix_web::HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// Whether `origin` may call the site's API: one of the site's origins, or this server's own.
pub fn allowed_origin(state: &AppState, site: &str, origin: &str) -> bool {
    state.own_origins.contains(origin)
        || state
            .all_sites()
            .get(site)
            .is_some_and(|s| s.site.allows_origin(origin))
}

fn allowed(state: &AppState, req: &ServiceRequest, origin: &str) -> bool {
    allowed_origin(state, req.match_info().get("site").unwrap_or(""), origin)
}

fn with_cors<B>(mut res: ServiceResponse<B>, origin: &str) -> ServiceResponse<B> {
    let headers = res.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    headers.append(header::VARY, header::HeaderValue::from_static("Origin"));
    res
}

fn is_state_change(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The marketer endpoints that read with a POST or write a saved segment: rate-limited per
/// key, not per address.
fn is_limited_per_key(path: &str) -> bool {
    let segment = path
        .strip_prefix(API_PREFIX)
        .and_then(|rest| rest.split('/').nth(1))
        == Some("segments");
    path.ends_with("/query") || path.ends_with("/consent-stats") || segment
}

const API_PREFIX: &str = "/api/v1/sites/";

/// Middleware for `/api/v1/sites/{site}`.
pub async fn site_api_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req
            .into_response(HttpResponse::ServiceUnavailable().finish())
            .map_into_right_body());
    };
    let origin = origin_of(&req);
    let origin_ok = origin.as_deref().map(|o| allowed(&state, &req, o));

    if req.method() == Method::OPTIONS {
        let response = match (&origin, origin_ok) {
            (Some(o), Some(true)) => {
                let mut r = HttpResponse::NoContent();
                r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o.as_str()))
                    .insert_header((header::VARY, "Origin"))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        "GET, POST, PUT, DELETE",
                    ))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        "Content-Type, Authorization",
                    ))
                    .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
                r.finish()
            }
            (Some(o), _) => {
                ApiError::OriginNotAllowed(o.chars().take(200).collect()).error_response()
            }
            (None, _) => HttpResponse::NoContent().finish(),
        };
        return Ok(req.into_response(response).map_into_right_body());
    }

    if is_state_change(req.method()) {
        if let (Some(o), Some(false)) = (&origin, origin_ok) {
            let e = ApiError::OriginNotAllowed(o.chars().take(200).collect());
            return Ok(req.into_response(e.error_response()).map_into_right_body());
        }
        let client = client_address(&state, req.request());
        let limited = if is_limited_per_key(req.path()) {
            // Marketer queries are limited per API key, after authentication.
            Ok(())
        } else {
            state.limits.api.check(client)
        };
        if let Err(retry_after) = limited {
            state
                .metrics
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let e = ApiError::RateLimited { retry_after };
            let mut res = req.into_response(e.error_response());
            if let (Some(o), Some(true)) = (&origin, origin_ok) {
                res = with_cors(res, o);
            }
            return Ok(res.map_into_right_body());
        }
    }

    let res = next.call(req).await?;
    Ok(match (origin, origin_ok) {
        (Some(o), Some(true)) => with_cors(res, &o),
        _ => res,
    }
    .map_into_left_body())
}
