//! Which methods each path answers, checked before anything else runs.
//!
//! A known path asked with a method it does not answer is 405 `method_not_allowed` with an
//! `Allow` header, before the API gate (so a foreign `Origin` or a rate limit does not hide it).
//! `HEAD` is answered wherever `GET` is (as a `GET` whose body the HTTP layer does not send), and
//! `OPTIONS` everywhere: under `/api/v1/sites/{site}/` by the API gate (CORS preflight), on the
//! other paths here, with a bare 204 and `Allow`. Unknown paths fall through to 404 `not_found`.
//!
//! The table is the routes' own list; a test holds it to the OpenAPI document.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::errors::ApiError;

/// Every route: its pattern and the methods it answers, as the `Allow` header lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("/", "GET, HEAD, OPTIONS"),
    ("/consent.js", "GET, HEAD, OPTIONS"),
    ("/openapi.json", "GET, HEAD, OPTIONS"),
    ("/static/{file}", "GET, HEAD, OPTIONS"),
    ("/healthz", "GET, HEAD, OPTIONS"),
    ("/metrics", "GET, HEAD, OPTIONS"),
    ("/.well-known/gpc.json", "GET, HEAD, OPTIONS"),
    ("/sites/{site}/policy", "GET, HEAD, OPTIONS"),
    ("/sites/{site}/policy/preferences", "POST, OPTIONS"),
    ("/sites/{site}/policy/erase", "POST, OPTIONS"),
    ("/dashboard/{site}", "GET, HEAD, OPTIONS"),
    ("/dashboard/{site}/session", "POST, OPTIONS"),
    ("/dashboard/{site}/signout", "POST, OPTIONS"),
    ("/api/v1/sites/{site}/banner", "GET, HEAD, OPTIONS"),
    ("/api/v1/sites/{site}/consents", "POST, OPTIONS"),
    (
        "/api/v1/sites/{site}/consents/{consent_id}",
        "GET, HEAD, DELETE, OPTIONS",
    ),
    (
        "/api/v1/sites/{site}/consents/{consent_id}/export",
        "GET, HEAD, OPTIONS",
    ),
    ("/api/v1/sites/{site}/events", "POST, OPTIONS"),
    (
        "/api/v1/sites/{site}/detections",
        "GET, HEAD, POST, OPTIONS",
    ),
    ("/api/v1/sites/{site}/notices/{hash}", "GET, HEAD, OPTIONS"),
    ("/api/v1/sites/{site}/query", "POST, OPTIONS"),
    ("/api/v1/sites/{site}/funnel", "POST, OPTIONS"),
    ("/api/v1/sites/{site}/consent-stats", "POST, OPTIONS"),
    ("/api/v1/sites/{site}/export.csv", "GET, HEAD, OPTIONS"),
    ("/api/v1/sites/{site}/segments", "GET, HEAD, OPTIONS"),
    ("/api/v1/sites/{site}/goals", "GET, HEAD, OPTIONS"),
    (
        "/api/v1/sites/{site}/segments/{name}",
        "PUT, DELETE, OPTIONS",
    ),
    (
        "/api/v1/admin/sites/{site}/keys",
        "GET, HEAD, POST, OPTIONS",
    ),
    ("/api/v1/admin/sites/{site}/keys/{id}", "DELETE, OPTIONS"),
    ("/api/v1/admin/reload", "POST, OPTIONS"),
    ("/api/v1/admin/backup", "POST, OPTIONS"),
    (
        "/api/v1/admin/sites/{site}/ledger/export",
        "GET, HEAD, OPTIONS",
    ),
];

const API_PREFIX: &str = "/api/v1/sites/";

/// The `Allow` value of a path, if it is a known one.
pub fn allowed(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|(pattern, _)| matches(pattern, path))
        .map(|(_, allow)| *allow)
}

/// Whether a path fits a route pattern: the same segments, where `{name}` stands for any one
/// non-empty segment (as the router reads it). Segment by segment, without a regular
/// expression: this runs before every request.
fn matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

fn lists(allow: &str, method: &Method) -> bool {
    allow.split(", ").any(|m| m == method.as_str())
}

/// Middleware in front of every route.
pub async fn check(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(allow) = allowed(req.path()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let method = req.method().clone();
    if method == Method::HEAD && lists(allow, &method) {
        // The HTTP layer sends a HEAD response's headers only.
        req.head_mut().method = Method::GET;
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if method == Method::OPTIONS && !req.path().starts_with(API_PREFIX) {
        let response = HttpResponse::NoContent()
            .insert_header((header::ALLOW, allow))
            .finish();
        return Ok(req.into_response(response).map_into_right_body());
    }
    if lists(allow, &method) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = ApiError::MethodNotAllowed { allow }.error_response();
    Ok(req.into_response(response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_are_found_by_their_patterns_and_unknown_ones_are_not() {
        assert_eq!(
            allowed("/api/v1/sites/demo/consents/abc"),
            Some("GET, HEAD, DELETE, OPTIONS")
        );
        assert_eq!(
            allowed("/api/v1/sites/demo/consents"),
            Some("POST, OPTIONS")
        );
        assert_eq!(allowed("/"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(allowed("/api/v1/sites/demo/nothing"), None);
        assert_eq!(allowed("/healthz/"), None);
        assert_eq!(
            allowed("/api/v1/sites//events"),
            None,
            "a segment stands for one"
        );
        assert_eq!(allowed("/api/v1/sites/demo/events/more"), None);
        assert_eq!(allowed("/static/a/b"), None);
        assert_eq!(allowed("/static/consent.css"), Some("GET, HEAD, OPTIONS"));
        assert!(lists("GET, HEAD, DELETE, OPTIONS", &Method::DELETE));
        assert!(!lists("GET, HEAD, DELETE, OPTIONS", &Method::PUT));
    }

    #[test]
    fn the_table_answers_exactly_the_methods_the_openapi_document_declares() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../static/openapi.json")).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            let allow = allowed(path).unwrap_or_else(|| panic!("{path} is not in the table"));
            let mut declared: Vec<String> = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(|k| k.to_uppercase())
                .collect();
            declared.sort();
            let mut listed: Vec<String> = allow
                .split(", ")
                .filter(|m| !["HEAD", "OPTIONS"].contains(m))
                .map(str::to_owned)
                .collect();
            listed.sort();
            assert_eq!(declared, listed, "{path}");
        }
        for (pattern, _) in ROUTES {
            assert!(paths.contains_key(*pattern), "{pattern} is not documented");
        }
    }
}
