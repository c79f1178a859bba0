//! `GET /detections`: the cookie and tracker report of a site over a date range (default the
//! last 30 days): what the banner saw on its pages, judged against the site's declarations in
//! force (`detect::findings`), with a suggestion from the bundled catalogue and the settings
//! lines that would declare each undeclared one.

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::auth::marketer_gate;
use super::query::bad;
use crate::analytics::query::{self, RawRange, Span};
use crate::detect::findings::{Finding, declaration, findings};
use crate::domain::site::Site;
use crate::errors::ApiError;
use crate::http::state::AppState;
use crate::http::wire::rfc3339;

/// The most findings an answer lists (undeclared and flagged ones first); `not_listed` counts
/// the rest.
const MAX_FINDINGS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// As in the query API: `7d`, `30d`, `12mo`, or `YYYY-MM-DD,YYYY-MM-DD`.
    date_range: Option<String>,
    /// `true`: every cookie and host seen, declared ones included.
    all: Option<bool>,
}

/// A finding as the API and the dashboard show it.
pub fn finding_json(site: &Site, f: &Finding) -> Json {
    let mut j = json!({
        "kind": f.kind.name(),
        "name": f.name,
        "first_seen": rfc3339(f.first_seen),
        "last_seen": rfc3339(f.last_seen),
        "reports": f.reports,
        "pages": f.pages,
        "declared": f.declared.is_some(),
        "category": f.category(),
        "unconsented_reports": f.unconsented,
        "violation": f.violation,
    });
    if let Some(d) = &f.declared {
        j["declared_in"] = json!({ "category": d.category, "service": d.service });
    }
    if let Some(e) = f.suggestion {
        j["suggestion"] = json!({
            "category": e.suggested_category(),
            "platform": e.platform,
            "controller": e.controller,
            "retention": e.retention,
            "description": e.description,
            "catalogue_name": if e.prefix { format!("{}*", e.name) } else { e.name.clone() },
        });
    }
    if f.declared.is_none() {
        j["declare"] = json!(declaration(site, f));
    }
    j
}

#[get("/detections", wrap = "from_fn(marketer_gate)")]
pub async fn report(
    state: web::Data<AppState>,
    site: web::Path<String>,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    let site = &entry.site;
    let raw = match params
        .date_range
        .as_deref()
        .unwrap_or("30d")
        .split_once(',')
    {
        Some((a, b)) => RawRange::Dates(a.to_owned(), b.to_owned()),
        None => RawRange::Named(params.date_range.clone().unwrap_or_else(|| "30d".into())),
    };
    let span = query::parse_span(Some(&raw), state.clock.now()).map_err(bad)?;
    let Span::Days { first, last } = span else {
        return Err(ApiError::invalid(
            "date_range",
            "must be whole days, not `realtime`",
        ));
    };
    let rows = state
        .sightings
        .sightings(site.id.clone(), first..last + 1)
        .await
        .map_err(ApiError::Storage)?;
    let all = params.all.unwrap_or(false);
    // Judging thousands of rows is CPU work: off the request's worker.
    let judged = entry.clone();
    let (list, more) = web::block(move || {
        let site = &judged.site;
        let listed: Vec<_> = findings(site, &rows)
            .into_iter()
            .filter(|f| f.listed(all))
            .collect();
        let more = listed.len().saturating_sub(MAX_FINDINGS);
        let list: Vec<Json> = listed
            .iter()
            .take(MAX_FINDINGS)
            .map(|f| finding_json(site, f))
            .collect();
        (list, more)
    })
    .await
    .map_err(|_| ApiError::Storage(crate::store::StoreError::Closed))?;
    let (from, to) = span.labels();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "date_range": [from, to],
            "detection": site.detect_cookies,
            "findings": list,
            "not_listed": more,
        })))
}
