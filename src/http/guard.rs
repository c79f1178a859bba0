//! The browser-facing API's gate: CORS for the site's origins, 403 for state changes from any
//! other origin, and per-client rate limits on state changes.
//!
//! An origin is allowed when it is one of the site's configured origins, or the server's own
//! (the `Host` the request was sent to), which is how the demo site works on any address.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::state::AppState;
use super::visitor::client_address;
use crate::errors::ApiError;

fn origin_of(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether `origin` is the server's own: same host and port as the request's `Host`.
pub fn is_own_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// For forms posted to our own pages: an `Origin`, when sent, must be our own.
pub fn check_own_origin(req: &actix_web::HttpRequest) -> Result<(), ApiError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        Some(origin) if !is_own_origin(origin, host) => Err(ApiError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        )),
        _ => Ok(()),
    }
}

fn allowed(state: &AppState, req: &ServiceRequest, origin: &str) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if is_own_origin(origin, host) {
        return true;
    }
    let site = req.match_info().get("site").unwrap_or("");
    state
        .sites
        .get(site)
        .is_some_and(|s| s.site.allows_origin(origin))
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

/// The marketer endpoints that read with a POST: rate-limited per key, not per address.
fn is_marketer_query(path: &str) -> bool {
    path.ends_with("/query") || path.ends_with("/consent-stats")
}

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
                    .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE"))
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
        let limited = if is_marketer_query(req.path()) {
            // Marketer queries are limited per API key, after authentication.
            Ok(())
        } else {
            state.limiter.check(client)
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

#[cfg(test)]
mod tests {
    use super::is_own_origin;

    #[test]
    fn the_own_origin_is_the_request_host_with_any_scheme() {
        assert!(is_own_origin(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080")
        ));
        assert!(!is_own_origin(
            "http://127.0.0.1:8081",
            Some("127.0.0.1:8080")
        ));
        assert!(!is_own_origin("https://evil.example", Some("shop.example")));
        assert!(!is_own_origin("https://shop.example", None));
    }
}
