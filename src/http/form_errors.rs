//! What a visitor's browser shows when a policy-page form (the no-JavaScript one) fails: the
//! same status and headers as the JSON error (`errors::ApiError`), but a short page in the
//! visitor's language that says nothing was changed and leads back to the policy, instead of
//! a JSON body no visitor reads. A client that does not ask for `text/html` gets the JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::views::FormErrorPage;
use crate::errors::ApiError;
use crate::i18n::{self, PolicyTexts};

/// `result`, with an error answered as a page when the request came from a browser.
pub fn for_browser(
    req: &HttpRequest,
    site: &str,
    result: Result<HttpResponse, ApiError>,
) -> HttpResponse {
    match result {
        Ok(response) => response,
        Err(e) if wants_html(req) => page(req, site, &e),
        Err(e) => e.error_response(),
    }
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The `lang` a policy-page form was posted with: its action URL carries the page's language.
fn posted_lang(req: &HttpRequest) -> Option<&str> {
    req.query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("lang="))
}

/// `&lang=<the posted language>` for the page a form's answer leads to, or nothing.
pub fn lang_param(req: &HttpRequest) -> String {
    posted_lang(req)
        .map(|l| format!("&lang={}", i18n::choose(Some(l), None)))
        .unwrap_or_default()
}

fn page(req: &HttpRequest, site: &str, e: &ApiError) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let language = i18n::choose(posted_lang(req), accept);
    let t = i18n::policy_texts(language);
    let unknown_site = matches!(e, ApiError::UnknownSite(_));
    let view = FormErrorPage {
        language,
        t,
        code: e.code(),
        message: if unknown_site {
            t.error_not_found
        } else {
            message(t, e.status_code())
        },
        back_url: (!unknown_site).then(|| format!("/sites/{site}/policy?lang={language}")),
    };
    let Ok(body) = view.render() else {
        return e.error_response();
    };
    // The JSON answer's status and headers (Retry-After, …), with the page as its body.
    let (head, _) = e.error_response().into_parts();
    let mut response = head.set_body(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(language),
    );
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(super::pages::PAGE_CSP),
    );
    response.map_into_boxed_body()
}

/// What the visitor is told, by the kind of failure.
fn message(t: &'static PolicyTexts, status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => t.error_expired,
        StatusCode::TOO_MANY_REQUESTS => t.error_busy,
        s if s.is_server_error() => t.error_unavailable,
        _ => t.error_invalid,
    }
}
