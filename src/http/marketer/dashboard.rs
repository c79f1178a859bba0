//! `/dashboard/{site}`: sign in with an API key, then the dashboard page, whose script reads
//! the marketer API with the session cookie.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{
    SESSION_COOKIE, SESSION_HOURS, admit, check_failure_budget, note_failure, session_key,
    session_record, session_value,
};
use crate::domain::{KeyRefusal, PresentedKey};
use crate::errors::ApiError;
use crate::http::csrf::{self, Form};
use crate::http::guard::check_posted_form;
use crate::http::pages::{csrf_cookie, html};
use crate::http::state::{AppState, SiteEntry};
use crate::http::views::{DashboardPage, DashboardSignin};
use crate::http::visitor::client_address;

/// A page of the dashboard with a fresh CSRF token for its form, and the token's cookie.
fn with_form(
    state: &AppState,
    req: &HttpRequest,
    entry: &SiteEntry,
    render: impl FnOnce(String) -> Result<String, askama::Error>,
) -> HttpResponse {
    let site = entry.site.id.as_str();
    let issued = csrf::issue(
        &state.session_secret,
        Form::Dashboard,
        site,
        state.clock.now(),
    );
    let mut response = html(render(issued.token));
    let cookie = csrf_cookie(
        state,
        req,
        Form::Dashboard,
        issued.nonce,
        format!("/dashboard/{site}"),
    );
    let _ = response.add_cookie(&cookie);
    response
}

/// The sign-in page.
fn signin(
    state: &AppState,
    req: &HttpRequest,
    entry: &SiteEntry,
    error: Option<String>,
) -> HttpResponse {
    with_form(state, req, entry, |csrf_token| {
        DashboardSignin {
            site_id: entry.site.id.to_string(),
            site_name: entry.site.name.clone(),
            csrf_token,
            error,
        }
        .render()
    })
}

#[get("/dashboard/{site}")]
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    let now = state.clock.now();
    let session = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| session_key(&state.session_secret, &entry.site.id, c.value(), now));
    let key = match session {
        Some(id) => session_record(&state, id, &entry.site.id, now).await?,
        None => None,
    };
    Ok(match key {
        Some(k) => with_form(&state, &req, &entry, |csrf_token| {
            DashboardPage {
                site_id: entry.site.id.to_string(),
                site_name: entry.site.name.clone(),
                key_id: k.id.to_string(),
                csrf_token,
                goals: entry.site.goals.list().len(),
                currency: entry.site.goals.currency().map(|c| c.as_str().to_owned()),
            }
            .render()
        }),
        None => signin(&state, &req, &entry, None),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninForm {
    key: String,
    csrf: String,
}

fn cookie(
    state: &AppState,
    req: &HttpRequest,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.is_https(req))
        .max_age(max_age)
        .finish()
}

fn back_to(site: &str) -> String {
    format!("/dashboard/{site}")
}

#[post("/dashboard/{site}/session")]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    form: web::Form<SigninForm>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    check_posted_form(
        &state,
        &req,
        Form::Dashboard,
        entry.site.id.as_str(),
        &form.csrf,
    )?;
    let now = state.clock.now();
    let client = client_address(&state, &req);
    state
        .limits
        .api
        .check(client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    check_failure_budget(&state, client)?;
    let refuse = |message: &str| {
        note_failure(&state, client);
        let mut r = signin(&state, &req, &entry, Some(message.to_owned()));
        *r.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        Ok(r)
    };
    let Some(presented) = PresentedKey::parse(form.key.trim()) else {
        return refuse(if form.key.trim().starts_with("cs_") {
            "This key starts with cs_ but is not whole: a key is cs_, 16 hex digits, _ and 64 hex \
             digits (84 characters). Copy it again from `consentry keys create`."
        } else {
            "That is not a Consentry API key: a key looks like cs_, 16 hex digits, _, 64 hex digits."
        });
    };
    let record = match admit(&state, &presented, &entry.site.id, now).await? {
        Ok(record) => record,
        Err(KeyRefusal::OtherSite) => return refuse("This key belongs to another site."),
        Err(KeyRefusal::Invalid) => return refuse("This key is unknown, revoked or expired."),
    };
    let value = session_value(&state.session_secret, &entry.site.id, &record.id, now);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back_to(entry.site.id.as_str())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(
            &state,
            &req,
            value,
            CookieDuration::hours(SESSION_HOURS),
        ))
        .finish())
}

/// The sign-out form: its CSRF token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignoutForm {
    csrf: String,
}

#[post("/dashboard/{site}/signout")]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    form: web::Form<SignoutForm>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    check_posted_form(
        &state,
        &req,
        Form::Dashboard,
        entry.site.id.as_str(),
        &form.csrf,
    )?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back_to(entry.site.id.as_str())))
        .cookie(cookie(&state, &req, String::new(), CookieDuration::ZERO))
        .finish())
}
