//! `POST /api/v1/sites/{site}/detections`: a page's report from the banner script, the names of
//! the cookies it could read and the hosts of its third-party scripts and frames (see
//! `detect`). No consent id, no value: nothing in it identifies the visitor, which is why it
//! needs no consent; it is refused when the site turned detection off.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::analytics::enrich;
use crate::detect::{PageReport, RawReport};
use crate::errors::ApiError;
use crate::http::json::StrictJson;
use crate::http::state::AppState;

/// A report's body is small: 60 names and 60 hosts fit in 16 KiB.
const REPORT_LIMIT: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    path: String,
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    granted: Vec<String>,
}

#[post("/detections")]
pub async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: StrictJson<ReportBody, REPORT_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&path)?;
    let site = &entry.site;
    if !site.detect_cookies {
        return Err(ApiError::Forbidden(format!(
            "cookie and tracker detection is off for this site (sites[{}].detect = false)",
            site.id
        )));
    }
    let body = body.0;
    super::text::check("path", &body.path)?;
    let optional: Vec<_> = site
        .categories
        .iter()
        .filter(|c| !c.required)
        .map(|c| c.id.clone())
        .collect();
    let raw = RawReport {
        path: body.path,
        cookies: body.cookies,
        hosts: body.hosts,
        granted: body.granted,
    };
    let report = PageReport::parse(raw, state.clock.now(), &optional)
        .map_err(|e| ApiError::invalid("body", e.0))?;
    // A crawler's view of the page says nothing about what visitors get.
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if enrich::is_bot(ua) {
        return Ok(HttpResponse::Accepted().json(json!({ "recorded": 0 })));
    }
    let recorded = report.seen.len();
    if recorded > 0 {
        state
            .sightings
            .add_sightings(site.id.clone(), report)
            .await
            .map_err(ApiError::Storage)?;
    }
    Ok(HttpResponse::Accepted().json(json!({ "recorded": recorded })))
}
