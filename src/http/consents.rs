//! Recording and reading consent decisions.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;

use super::json::StrictJson;
use super::state::{AppState, SiteEntry};
use super::visitor::Visitor;
use super::wire::ConsentJson;
use crate::domain::{
    Action, Channel, ConsentId, ConsentRecord, Decision, DecisionError, DecisionRequest, EntryHash,
    VariantName,
};
use crate::errors::ApiError;
use crate::i18n;

/// A consent body is small: 4 KiB.
pub const CONSENT_LIMIT: usize = 4 * 1024;
const MAX_URL: usize = 2048;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    action: String,
    #[serde(default)]
    choices: BTreeMap<String, bool>,
    policy_version: String,
    consent_id: Option<String>,
    url: Option<String>,
    language: Option<String>,
    gpc: Option<bool>,
    /// The variant of the site's banner experiment the decision was made on.
    variant: Option<String>,
}

/// A decision as asked, before it is resolved against the site and the visitor.
pub struct Ask {
    pub action: Action,
    pub choices: BTreeMap<String, bool>,
    pub policy_version: String,
    pub consent_id: Option<ConsentId>,
    pub url: Option<String>,
    pub language: &'static str,
    pub gpc_signal: bool,
    pub channel: Channel,
    /// The banner variant shown, as named by the script (checked against the site's
    /// experiment when recorded).
    pub variant: Option<VariantName>,
}

/// Keeps the origin and path of a page URL, never its query or fragment.
fn page_url(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_URL {
        return Err(ApiError::invalid(
            "url",
            format!("must be at most {MAX_URL} characters"),
        ));
    }
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(ApiError::invalid("url", "must be an absolute http(s) URL"));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(ApiError::invalid("url", "must be an absolute http(s) URL"));
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Ok(format!("{scheme}://{}", &rest[..end]))
}

impl ConsentBody {
    fn into_ask(self, channel: Channel) -> Result<Ask, ApiError> {
        let action = Action::parse(&self.action).ok_or_else(|| {
            ApiError::invalid(
                "action",
                "must be one of accept_all, reject_all, save, withdraw, default",
            )
        })?;
        if self.choices.len() > 32 {
            return Err(ApiError::invalid(
                "choices",
                "may name at most 32 categories",
            ));
        }
        if self.policy_version.chars().count() > 64 {
            return Err(ApiError::invalid(
                "policy_version",
                "must be at most 64 characters",
            ));
        }
        let consent_id = match self.consent_id.as_deref() {
            None => None,
            Some(raw) => {
                Some(ConsentId::parse(raw).map_err(|e| ApiError::invalid("consent_id", e))?)
            }
        };
        if let Some(url) = &self.url {
            super::text::check("url", url)?;
        }
        let url = self.url.as_deref().map(page_url).transpose()?;
        if self
            .language
            .as_ref()
            .is_some_and(|l| l.chars().count() > 35)
        {
            return Err(ApiError::invalid(
                "language",
                "must be at most 35 characters",
            ));
        }
        let variant = self
            .variant
            .as_deref()
            .map(|raw| VariantName::parse(raw).map_err(|e| ApiError::invalid("variant", e)))
            .transpose()?;
        Ok(Ask {
            action,
            choices: self.choices,
            policy_version: self.policy_version,
            consent_id,
            url,
            language: i18n::choose(self.language.as_deref(), None),
            gpc_signal: self.gpc.unwrap_or(false),
            channel,
            variant,
        })
    }
}

fn random_consent_id() -> ConsentId {
    ConsentId::from_random(rand::random())
}

/// Resolves a decision against the site and the visitor, and records it durably.
pub async fn record(
    state: &AppState,
    entry: &SiteEntry,
    visitor: &Visitor,
    ask: Ask,
) -> Result<ConsentRecord, ApiError> {
    let site = &entry.site;
    if ask
        .variant
        .as_ref()
        .is_some_and(|v| site.experiment.find(v.as_str()).is_none())
    {
        return Err(ApiError::invalid(
            "variant",
            "names no variant of this site's banner experiment",
        ));
    }
    let gpc = visitor.gpc_header || ask.gpc_signal;
    let request = DecisionRequest {
        action: ask.action,
        requested: ask.choices,
        policy_version: ask.policy_version,
        gpc,
    };
    let choices = request.resolve(site, visitor.regime).map_err(|e| match e {
        DecisionError::UnknownCategory(c) => ApiError::BadRequest {
            code: "unknown_category",
            message: format!(
                "`choices` names unknown category `{}`",
                c.chars().take(64).collect::<String>()
            ),
        },
        DecisionError::StalePolicy { current } => ApiError::StalePolicy {
            sent: request.policy_version.chars().take(64).collect(),
            current: current.to_string(),
        },
    })?;
    let renews = ask.consent_id.is_some();
    let consent_id = match ask.consent_id {
        Some(id) => {
            super::rights::check_id_budget(state, &site.id, &id)?;
            let known = state.store.current(site.id.clone(), id.clone()).await?;
            if known.is_none() {
                return Err(unknown_consent());
            }
            id
        }
        None => random_consent_id(),
    };
    let now = state.clock.now();
    let banner_hash = entry
        .notices
        .banner_of(ask.variant.as_ref().map(VariantName::as_str), ask.language)
        .map(|b| b.hash)
        .unwrap_or(EntryHash([0; 32]));
    let decision = Decision {
        site: site.id.clone(),
        consent_id,
        action: ask.action,
        expires_at: now.plus_days(Decision::lifetime_days(site, &choices)),
        choices,
        policy_version: site.policy.version.clone(),
        policy_hash: entry.notices.policy.hash.hex(),
        banner_hash: banner_hash.hex(),
        variant: ask.variant,
        language: ask.language.to_owned(),
        regime: visitor.regime,
        jurisdiction: visitor.jurisdiction.code(),
        country: visitor.location.country.clone(),
        geo_build: visitor.geo_build,
        gpc,
        url: ask.url,
        channel: ask.channel,
        recorded_at: now,
    };
    let record = state.store.record(decision, renews).await?;
    state.metrics.consents.inc(format!(
        "action=\"{}\",regime=\"{}\"",
        record.decision.action.as_str(),
        record.decision.regime.as_str()
    ));
    Ok(record)
}

pub(crate) fn unknown_consent() -> ApiError {
    ApiError::NotFound {
        code: "unknown_consent",
        message: "there is no consent with this id for this site".into(),
    }
}

#[post("/consents")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: StrictJson<ConsentBody, CONSENT_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&path)?;
    let ask = body.0.into_ask(channel_of(&state, &req))?;
    let visitor = Visitor::of(&state, &req, &entry.site);
    let record = record(&state, &entry, &visitor, ask).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ConsentJson::from(&record)))
}

/// How a JSON decision arrived: the API gate has already refused foreign origins, so an
/// `Origin` here is the site's or this server's.
fn channel_of(state: &AppState, req: &HttpRequest) -> Channel {
    match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        Some(o) if state.own_origins.contains(o) => Channel::HostedPage,
        Some(_) => Channel::SiteOrigin,
        None => Channel::NoOrigin,
    }
}

/// The site and consent id named in the path: 404 `unknown_site` or `unknown_consent`.
pub(crate) fn site_and_id(
    state: &AppState,
    (site, id): (String, String),
) -> Result<(Arc<SiteEntry>, ConsentId), ApiError> {
    let entry = state.site(&site)?;
    let id = ConsentId::parse(&id).map_err(|_| unknown_consent())?;
    Ok((entry, id))
}

#[get("/consents/{consent_id}")]
pub async fn read(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (entry, id) = site_and_id(&state, path.into_inner())?;
    super::rights::check_id_budget(&state, &entry.site.id, &id)?;
    let record = state
        .store
        .current(entry.site.id.clone(), id)
        .await?
        .ok_or_else(unknown_consent)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ConsentJson::from(&record)))
}

#[get("/notices/{hash}")]
pub async fn notice(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (site, hash) = path.into_inner();
    state.site(&site)?;
    let not_found = || ApiError::NotFound {
        code: "unknown_notice",
        message: "no archived notice has this hash".into(),
    };
    let hash = EntryHash::parse_hex(&hash).ok_or_else(not_found)?;
    let document = state.store.notice(hash).await?.ok_or_else(not_found)?;
    // The archive is shared by every site: serve a document only under the site it names.
    #[derive(Deserialize)]
    struct Owner {
        site: String,
    }
    let owner = serde_json::from_slice::<Owner>(&document).ok();
    if owner.is_none_or(|o| o.site != site) {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(document))
}

#[cfg(test)]
mod tests {
    use super::page_url;

    #[test]
    fn a_page_url_keeps_origin_and_path_but_never_the_query() {
        assert_eq!(
            page_url("https://shop.example/a/b?email=x#y").unwrap(),
            "https://shop.example/a/b"
        );
        assert!(page_url("javascript:alert(1)").is_err());
    }
}
