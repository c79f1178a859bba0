//! HTML pages: the demo site, the privacy policy and its preferences form, static assets.

use super::consents::{Ask, record};
use super::csrf::{self, Form};
use super::form_errors;
use super::guard::check_posted_form;
use super::state::{AppState, SiteEntry};
use super::views::{CategoryView, DemoPage, IndexPage, PolicyPage, PreferencesForm};
use super::visitor::{Visitor, gpc_header};
use crate::domain::{Action, Channel, ConsentId, ConsentRecord, Decision};
use crate::errors::ApiError;
use crate::i18n;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

/// The consent cookie the banner script writes on a site: `id.version.granted+granted`.
pub const CONSENT_COOKIE: &str = "consentry";

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere.
pub(crate) const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn html(body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            log::error!("a page template failed to render: {e}");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

#[get("/")]
pub async fn home(state: web::Data<AppState>) -> HttpResponse {
    let sites = state.all_sites();
    match sites.get("demo") {
        Some(entry) => html(
            DemoPage {
                site_id: entry.site.id.to_string(),
                site_name: entry.site.name.clone(),
                policy_url: format!("/sites/{}/policy", entry.site.id),
            }
            .render(),
        ),
        None => html(
            IndexPage {
                sites: sites
                    .values()
                    .map(|e| (e.site.id.to_string(), e.site.name.clone()))
                    .collect(),
            }
            .render(),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    lang: Option<String>,
    saved: Option<String>,
    erased: Option<String>,
    /// The second step of "Erase my data": the page asks for confirmation.
    confirm_erase: Option<String>,
}

/// The consent id in the first-party consent cookie, when the site is served from here.
fn cookie_consent_id(req: &HttpRequest) -> Option<ConsentId> {
    let cookie = req.cookie(CONSENT_COOKIE)?;
    let first = cookie.value().split('.').next()?;
    ConsentId::parse(first).ok()
}

/// The nonce cookie of a form issued on a page under `path`.
pub(crate) fn csrf_cookie(
    state: &AppState,
    req: &HttpRequest,
    form: Form,
    nonce: String,
    path: String,
) -> Cookie<'static> {
    Cookie::build(form.cookie(), nonce)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.is_https(req))
        .max_age(CookieDuration::hours(csrf::FORM_HOURS))
        .finish()
}

fn view(entry: &SiteEntry, language: &str, current: Option<&ConsentRecord>) -> Vec<CategoryView> {
    let docs = entry
        .notices
        .policy
        .doc
        .categories
        .get(language)
        .or_else(|| entry.notices.policy.doc.categories.get("en"))
        .cloned()
        .unwrap_or_default();
    docs.into_iter()
        .map(|doc| {
            let checked = doc.required
                || current.is_some_and(|r| {
                    r.decision
                        .choices
                        .iter()
                        .any(|(c, on)| on && c.as_str() == doc.id)
                });
            CategoryView { doc, checked }
        })
        .collect()
}

#[get("/sites/{site}/policy")]
pub async fn policy(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PolicyQuery>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&path)?;
    let site = &entry.site;
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let language = i18n::choose(query.lang.as_deref(), accept);
    let now = state.clock.now();
    let cookie_id = cookie_consent_id(&req);
    let current = match cookie_id.clone() {
        Some(id) => state
            .store
            .current(site.id.clone(), id)
            .await?
            .filter(|r| !r.expired_at(now) && r.decision.policy_version == site.policy.version),
        None => None,
    };
    let saved = query.saved.is_some() && current.is_some();
    let issued = csrf::issue(&state.session_secret, Form::Policy, site.id.as_str(), now);
    let p = &site.policy;
    let page = PolicyPage {
        site_id: site.id.to_string(),
        doc: &entry.notices.policy.doc,
        language: language.to_owned(),
        policy_hash: entry.notices.policy.hash.hex(),
        categories: view(&entry, language, current.as_ref()),
        form: PreferencesForm {
            action_url: format!("/sites/{}/policy/preferences?lang={language}", site.id),
            csrf_token: issued.token,
            saved_message: saved.then(|| {
                i18n::texts(language)
                    .find(|(k, _)| *k == "saved")
                    .map(|(_, t)| t.to_owned())
                    .unwrap_or_default()
            }),
            receipt: current.filter(|_| saved).map(|r| r.receipt),
            export_url: cookie_id
                .as_ref()
                .map(|id| format!("/api/v1/sites/{}/consents/{id}/export", site.id))
                .unwrap_or_default(),
            consent_id: cookie_id.map(|id| id.to_string()),
            erase_url: format!("/sites/{}/policy/erase?lang={language}", site.id),
            confirm_erase_url: format!(
                "/sites/{}/policy?confirm_erase=1&lang={language}#your-data",
                site.id
            ),
            confirm_erase: query.confirm_erase.is_some(),
            erased: query.erased.is_some(),
        },
        gpc: gpc_header(&req),
        t: i18n::policy_texts(language),
        origins: site.origins.join(" "),
        upcoming: p.upcoming.as_ref().map(|u| {
            (
                u.version.to_string(),
                u.effective_date.clone(),
                u.summary.clone(),
            )
        }),
    };
    let mut response = html(page.render());
    let csrf = csrf_cookie(
        &state,
        &req,
        Form::Policy,
        issued.nonce,
        format!("/sites/{}/policy", site.id),
    );
    let _ = response.add_cookie(&csrf);
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(language),
    );
    Ok(response)
}

/// The no-JavaScript preferences form: `csrf`, `action`, and one `category` per ticked box.
#[post("/sites/{site}/policy/preferences")]
pub async fn save_preferences(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let saved = save(&state, &req, &path, &form).await;
    form_errors::for_browser(&req, &path, saved)
}

async fn save(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    form: &[(String, String)],
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(path)?;
    let site = &entry.site;
    check_form(state, req, site.id.as_str(), form)?;
    let field = |name: &str| field(form, name);
    let if_client = state
        .limits
        .api
        .check(super::visitor::client_address(state, req));
    if let Err(retry_after) = if_client {
        return Err(ApiError::RateLimited { retry_after });
    }
    let ticked: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "category")
        .map(|(_, v)| v.as_str())
        .collect();
    let (action, do_not_sell) = match field("action") {
        Some("accept_all") => (Action::AcceptAll, false),
        Some("reject_all") => (Action::RejectAll, false),
        Some("save") => (Action::Save, false),
        Some("do_not_sell") => (Action::Save, true),
        _ => {
            return Err(ApiError::invalid(
                "action",
                "must be accept_all, reject_all, save or do_not_sell",
            ));
        }
    };
    let now = state.clock.now();
    let existing = match cookie_consent_id(req) {
        Some(id) => state.store.current(site.id.clone(), id).await?,
        None => None,
    };
    let choices = site
        .categories
        .iter()
        .filter(|c| !c.required)
        .map(|c| {
            let on = if do_not_sell {
                !c.sale_or_sharing
                    && existing
                        .as_ref()
                        .filter(|r| !r.expired_at(now))
                        .is_some_and(|r| r.decision.choices.granted(&c.id))
            } else {
                ticked.contains(&c.id.as_str())
            };
            (c.id.to_string(), on)
        })
        .collect();
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let ask = Ask {
        action,
        choices,
        policy_version: site.policy.version.to_string(),
        consent_id: existing.map(|r| r.decision.consent_id),
        url: None,
        language: i18n::choose(None, accept),
        gpc_signal: false,
        channel: Channel::PolicyForm,
        variant: None,
    };
    let visitor = Visitor::of(state, req, site);
    let saved = record(state, &entry, &visitor, ask).await?;
    let granted: Vec<&str> = saved
        .decision
        .choices
        .iter()
        .filter(|(_, on)| *on)
        .map(|(c, _)| c.as_str())
        .collect();
    let value = format!(
        "{}.{}.{}",
        saved.decision.consent_id,
        saved.decision.policy_version,
        granted.join("+")
    );
    let days = Decision::lifetime_days(site, &saved.decision.choices);
    let cookie = Cookie::build(CONSENT_COOKIE, value)
        .path("/")
        .same_site(SameSite::Lax)
        .secure(state.is_https(req))
        .max_age(CookieDuration::days(i64::from(days)))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "/sites/{}/policy?saved=1{}#preferences",
                site.id,
                form_errors::lang_param(req)
            ),
        ))
        .cookie(cookie)
        .finish())
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Checks that a policy-page form came from our own page, with the token issued with it.
fn check_form(
    state: &AppState,
    req: &HttpRequest,
    site: &str,
    form: &[(String, String)],
) -> Result<(), ApiError> {
    let token = field(form, "csrf").unwrap_or("");
    check_posted_form(state, req, Form::Policy, site, token)
}

/// The policy page's "Erase my data" form: the consent id in the form must be this browser's,
/// and the visitor must have confirmed (`confirm=yes`, the page's second step); without it the
/// page asks.
#[post("/sites/{site}/policy/erase")]
pub async fn erase_data(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let erased = erase(&state, &req, &path, &form).await;
    form_errors::for_browser(&req, &path, erased)
}

async fn erase(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    form: &[(String, String)],
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(path)?;
    check_form(state, req, entry.site.id.as_str(), form)?;
    let id = cookie_consent_id(req)
        .filter(|id| Some(id.as_str()) == field(form, "consent_id"))
        .ok_or_else(|| ApiError::invalid("consent_id", "must be this browser's consent id"))?;
    if field(form, "confirm") != Some("yes") {
        return Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!(
                    "/sites/{}/policy?confirm_erase=1{}#your-data",
                    entry.site.id,
                    form_errors::lang_param(req)
                ),
            ))
            .finish());
    }
    super::rights::check_budgets(state, req, &entry.site.id, &id)?;
    state
        .store
        .erase(entry.site.id.clone(), id, state.clock.now(), "policy_page")
        .await?;
    let gone = Cookie::build(CONSENT_COOKIE, "")
        .path("/")
        .same_site(SameSite::Lax)
        .secure(state.is_https(req))
        .max_age(CookieDuration::ZERO)
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "/sites/{}/policy?erased=1{}#your-data",
                entry.site.id,
                form_errors::lang_param(req)
            ),
        ))
        .cookie(gone)
        .finish())
}

/// Files under `/static/`, embedded in the binary.
const ASSETS: [(&str, &str, &str); 16] = [
    (
        "pages.css",
        "text/css; charset=utf-8",
        include_str!("../../static/pages.css"),
    ),
    (
        "demo-analytics.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/demo-analytics.js"),
    ),
    (
        "demo-marketing.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/demo-marketing.js"),
    ),
    (
        "demo-ad.html",
        "text/html; charset=utf-8",
        include_str!("../../static/demo-ad.html"),
    ),
    (
        "openapi.json",
        "application/json; charset=utf-8",
        include_str!("../../static/openapi.json"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard.js"),
    ),
    (
        "dashboard-format.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-format.js"),
    ),
    (
        "dashboard-state.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-state.js"),
    ),
    (
        "dashboard-api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-api.js"),
    ),
    (
        "dashboard-filters.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-filters.js"),
    ),
    (
        "dashboard-segments.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-segments.js"),
    ),
    (
        "dashboard-tables.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-tables.js"),
    ),
    (
        "dashboard-funnel.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-funnel.js"),
    ),
    (
        "dashboard-detections.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard-detections.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/chart.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("../../static/dashboard.css"),
    ),
];

#[get("/static/{file}")]
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or_else(|| ApiError::NotFound {
            code: "not_found",
            message: "there is no such file".into(),
        })?;
    let frame_ok = path.as_str() == "demo-ad.html";
    let mut response = HttpResponse::Ok();
    response
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"));
    if frame_ok {
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
        ));
    }
    Ok(response.body(*body))
}

#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(ASSETS[4].2)
}
