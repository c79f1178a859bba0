//! `GET /api/v1/sites/{site}/banner`: what the banner needs for this visitor.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};

use super::state::AppState;
use super::visitor::Visitor;
use crate::domain::Regime;
use crate::errors::ApiError;
use crate::i18n;
use crate::notices::CategoryDoc;

#[derive(Debug, Deserialize)]
pub struct BannerQuery {
    lang: Option<String>,
    gpc: Option<String>,
    /// A variant of the site's experiment to show (a preview); drawn at random when absent.
    variant: Option<String>,
}

#[derive(Serialize)]
struct BannerCategory<'a> {
    #[serde(flatten)]
    doc: &'a CategoryDoc,
    default: bool,
}

#[derive(Serialize)]
struct BannerJson<'a> {
    site: &'a str,
    site_name: &'a str,
    policy_version: &'a str,
    policy_url: String,
    regime: &'static str,
    jurisdiction: String,
    country: Option<&'a str>,
    gpc: bool,
    language: &'static str,
    texts: &'a BTreeMap<&'static str, String>,
    categories: Vec<BannerCategory<'a>>,
    consent_max_age_days: u32,
    reject_max_age_days: u32,
    banner_hash: String,
    /// Earlier versions whose consents still count, each with the categories changed
    /// materially since: the banner asks again only if one of those was granted.
    earlier_versions: BTreeMap<String, Vec<String>>,
    /// A policy version announced ahead of its effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    upcoming_change: Option<UpcomingJson>,
    /// Whether the script reports the cookie names and third-party hosts it sees (`detect`).
    detect: bool,
    /// The variant of the site's experiment shown, which the decision names; null without one.
    variant: Option<&'a str>,
    /// Where the first layer sits: `box` or `bar`.
    layout: &'static str,
    /// The first layer's three choices in the order shown.
    buttons: [&'static str; 3],
}

#[derive(Serialize)]
struct UpcomingJson {
    version: String,
    effective_at: String,
    material: Vec<String>,
    summary: String,
}

/// `?gpc=`: `1` or `true` says the page saw `navigator.globalPrivacyControl`; `0` or `false`
/// (or no parameter) says it did not; anything else is a 400, so a typo is not taken as "off".
fn gpc_param(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(ApiError::invalid("gpc", "must be 1, true, 0 or false")),
    }
}

#[get("/banner")]
pub async fn banner(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<BannerQuery>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&path)?;
    let site = &entry.site;
    let visitor = Visitor::of(&state, &req, site);
    let gpc = visitor.gpc_header || gpc_param(query.gpc.as_deref())?;
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let language = i18n::choose(query.lang.as_deref(), accept);
    let variant = match query.variant.as_deref() {
        Some(name) => Some(site.experiment.find(name).ok_or_else(|| {
            ApiError::invalid(
                "variant",
                "names no variant of this site's banner experiment",
            )
        })?),
        None => site.experiment.draw(rand::random()),
    };
    let Some(banner) = entry
        .notices
        .banner_of(variant.map(|v| v.name.as_str()), language)
    else {
        return Err(ApiError::UnknownSite(site.id.to_string()));
    };
    let categories = banner
        .doc
        .categories
        .iter()
        .map(|doc| BannerCategory {
            doc,
            default: doc.required
                || (visitor.regime != Regime::OptIn && !(gpc && doc.sale_or_sharing)),
        })
        .collect();
    let policy_hash = entry.notices.policy.hash.hex();
    let body = BannerJson {
        site: site.id.as_str(),
        site_name: &site.name,
        policy_version: site.policy.version.as_str(),
        policy_url: format!("/sites/{}/policy?v={}", site.id, &policy_hash[..12]),
        regime: visitor.regime.as_str(),
        jurisdiction: visitor.jurisdiction.code(),
        country: visitor.location.country.as_deref(),
        gpc,
        language: banner.doc.language,
        texts: &banner.doc.texts,
        categories,
        consent_max_age_days: site.consent_max_age_days,
        reject_max_age_days: site.reject_max_age_days,
        banner_hash: banner.hash.hex(),
        earlier_versions: site
            .policy
            .earlier_versions
            .iter()
            .map(|(v, m)| (v.to_string(), m.iter().map(ToString::to_string).collect()))
            .collect(),
        upcoming_change: site.policy.upcoming.as_ref().map(|u| UpcomingJson {
            version: u.version.to_string(),
            effective_at: super::wire::rfc3339(u.effective_at),
            material: u.material.iter().map(ToString::to_string).collect(),
            summary: u.summary.clone(),
        }),
        detect: site.detect_cookies,
        variant: variant.map(|v| v.name.as_str()),
        layout: variant.map(|v| v.layout).unwrap_or_default().as_str(),
        buttons: variant
            .map(|v| v.first_layer)
            .unwrap_or_default()
            .buttons()
            .map(|b| b.as_str()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept-Language, Sec-GPC"))
        .json(body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_every_banner_text_key() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../static/openapi.json")).unwrap();
        let names =
            &doc["components"]["schemas"]["Banner"]["properties"]["texts"]["propertyNames"]["enum"];
        let mut documented: Vec<&str> = names
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let mut keys = crate::i18n::KEYS.to_vec();
        documented.sort_unstable();
        keys.sort_unstable();
        assert_eq!(documented, keys);
    }
}
