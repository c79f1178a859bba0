//! `/dashboard/{site}`: sign in with an API key, then the dashboard page, whose script reads
//! the marketer API with the session cookie.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{
    SESSION_COOKIE, SESSION_HOURS, admit, session_key, session_record, session_value,
};
use crate::domain::{KeyRefusal, PresentedKey};
use crate::errors::ApiError;
use crate::http::guard::check_own_origin;
use crate::http::pages::html;
use crate::http::state::{AppState, SiteEntry};
use crate::http::views::{DashboardPage, DashboardSignin};
use crate::http::visitor::client_address;

fn signin(entry: &SiteEntry, error: Option<String>) -> Result<String, askama::Error> {
    DashboardSignin {
        site_id: entry.site.id.to_string(),
        site_name: entry.site.name.clone(),
        error,
    }
    .render()
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
        Some(k) => html(
            DashboardPage {
                site_id: entry.site.id.to_string(),
                site_name: entry.site.name.clone(),
                key_id: k.id.to_string(),
            }
            .render(),
        ),
        None => html(signin(entry, None)),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninForm {
    key: String,
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
    check_own_origin(&req)?;
    state
        .limiter
        .check(client_address(&state, &req))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let now = state.clock.now();
    let refuse = |message: &str| {
        log::warn!("dashboard sign-in refused: site {}", entry.site.id);
        let mut r = html(signin(entry, Some(message.to_owned())));
        *r.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        Ok(r)
    };
    let Some(presented) = PresentedKey::parse(form.key.trim()) else {
        return refuse("That is not a Consentry API key. Keys start with cs_.");
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

#[post("/dashboard/{site}/signout")]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    check_own_origin(&req)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back_to(entry.site.id.as_str())))
        .cookie(cookie(&state, &req, String::new(), CookieDuration::ZERO))
        .finish())
}
