//! `POST /api/v1/sites/{site}/detections`: a page's report from the banner script, the names of
//! the cookies it could read and the hosts of its third-party scripts and frames (see
//! `detect`). No consent id, no value: nothing in it identifies the visitor, which is why it
//! needs no consent; it is refused when the site turned detection off.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::analytics::enrich;
use crate::detect::{PageReport, RawReport, SiteView};
use crate::errors::ApiError;
use crate::http::json::StrictJson;
use crate::http::state::AppState;
use crate::http::visitor::user_agent;

/// A report's body is small: 60 names of 100 bytes and 60 hosts of 253 fit in 32 KiB.
const REPORT_LIMIT: usize = 32 * 1024;

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
    let own_hosts: Vec<String> = site
        .origins
        .iter()
        .filter_map(|o| url::Url::parse(o).ok()?.host_str().map(str::to_owned))
        .collect();
    let view = SiteView {
        optional: &optional,
        own_hosts: &own_hosts,
    };
    let raw = RawReport {
        path: body.path,
        cookies: body.cookies,
        hosts: body.hosts,
        granted: body.granted,
    };
    let report = PageReport::parse(raw, state.clock.now(), &view)
        .map_err(|e| ApiError::invalid("body", e.0))?;
    // A crawler's view of the page says nothing about what visitors get.
    if enrich::is_bot(user_agent(&req)) {
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
