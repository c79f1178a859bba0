//! `POST /api/v1/sites/{site}/events`: one event or up to 50, each kept only if the stored
//! consent allows it.
//!
//! The User-Agent and the client address are read here, classified (browser, OS, device, bot;
//! country, region) and dropped: neither reaches storage or a log.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::StrictJson;
use super::state::AppState;
use super::visitor::{Visitor, gpc_header, user_agent};
use crate::analytics::enrich;
use crate::analytics::event::{AcceptedEvent, Context, PropValue};
use crate::domain::{
    CategoryId, ConsentId, ConsentRecord, DropReason, Site, event_categories, gate, is_event_name,
};
use crate::errors::ApiError;
use crate::store::StoreError;

/// 50 events of about 600 bytes each.
pub const EVENTS_LIMIT: usize = 32 * 1024;
pub const MAX_BATCH: usize = 50;
const MAX_PROPS: usize = 30;
const MAX_PROP_VALUE: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    consent_id: String,
    name: String,
    url: String,
    referrer: Option<String>,
    #[serde(default)]
    props: BTreeMap<String, Value>,
    category: Option<String>,
}

#[derive(Debug, Serialize)]
struct Dropped {
    index: usize,
    reason: &'static str,
}

#[derive(Debug, Serialize)]
struct Answer {
    accepted: usize,
    dropped: Vec<Dropped>,
}

/// An event that parsed, before the gate.
struct Candidate {
    consent_id: ConsentId,
    name: String,
    url: String,
    path: String,
    referrer: Option<String>,
    props: Vec<(String, PropValue)>,
    categories: Vec<CategoryId>,
}

fn props(raw: BTreeMap<String, Value>) -> Option<Vec<(String, PropValue)>> {
    if raw.len() > MAX_PROPS {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    for (k, v) in raw {
        if k.is_empty() || k.chars().count() > crate::domain::event::MAX_PROP_KEY {
            return None;
        }
        let value = match v {
            Value::String(s) if s.chars().count() <= MAX_PROP_VALUE => PropValue::Str(s),
            Value::Number(n) => PropValue::Num(n.as_f64().filter(|f| f.is_finite())?),
            Value::Bool(b) => PropValue::Bool(b),
            _ => return None,
        };
        out.push((k, value));
    }
    Some(out)
}

/// Parses one event; `None` means it is dropped as `invalid`.
fn candidate(site: &Site, body: EventBody) -> Option<Candidate> {
    let consent_id = ConsentId::parse(&body.consent_id).ok()?;
    if !is_event_name(&body.name) || body.url.len() > 2048 {
        return None;
    }
    let path = enrich::page_path(&body.url)?;
    let referrer = body.referrer.filter(|r| !r.is_empty() && r.len() <= 2048);
    let sent = match body.category.as_deref() {
        None => site.category("analytics")?.id.clone(),
        Some(c) => site.category(c).filter(|k| !k.required)?.id.clone(),
    };
    let categories = event_categories(site, &body.name, &sent);
    Some(Candidate {
        consent_id,
        name: body.name,
        url: body.url,
        path,
        referrer,
        props: props(body.props)?,
        categories,
    })
}

/// Refuses the whole body (400 naming the field) when an event's URL, referrer or a property
/// holds a control character or a bidirectional override (`text`): that is not a page the
/// tracker could have sent.
fn refuse_controls(bodies: &[EventBody]) -> Result<(), ApiError> {
    for (i, b) in bodies.iter().enumerate() {
        super::text::check(&format!("events[{i}].url"), &b.url)?;
        if let Some(r) = &b.referrer {
            super::text::check(&format!("events[{i}].referrer"), r)?;
        }
        for (k, v) in &b.props {
            let field = format!("events[{i}].props");
            super::text::check(&field, k)?;
            if let Value::String(s) = v {
                super::text::check(&format!("{field}.{k}"), s)?;
            }
        }
    }
    Ok(())
}

/// The body: one event object or an array of them.
fn parse_batch(raw: Value) -> Result<Vec<EventBody>, ApiError> {
    let items = match raw {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(ApiError::invalid(
                "body",
                "must be an event object or an array of events",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "body",
            format!("must hold 1 to {MAX_BATCH} events"),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item).map_err(|e| ApiError::BadRequest {
                code: "invalid_json",
                message: format!("event {i}: {e}"),
            })
        })
        .collect()
}

#[post("/events")]
pub async fn collect(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: StrictJson<Value, EVENTS_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&path)?;
    let site = &entry.site;
    let bodies = parse_batch(body.0)?;
    refuse_controls(&bodies)?;
    let total = bodies.len();
    let mut dropped: Vec<Dropped> = Vec::new();
    let drop = |dropped: &mut Vec<Dropped>, index: usize, reason: DropReason| {
        state
            .metrics
            .events_dropped
            .inc(format!("reason=\"{}\"", reason.as_str()));
        dropped.push(Dropped {
            index,
            reason: reason.as_str(),
        });
    };

    let ua = user_agent(&req);
    if enrich::is_bot(ua) {
        for i in 0..total {
            drop(&mut dropped, i, DropReason::Bot);
        }
        return Ok(answer(0, dropped));
    }

    let now = state.clock.now();
    let gpc = gpc_header(&req);
    let mut records: HashMap<ConsentId, Option<ConsentRecord>> = HashMap::new();
    let mut kept = Vec::new();
    for (index, raw) in bodies.into_iter().enumerate() {
        let Some(c) = candidate(site, raw) else {
            drop(&mut dropped, index, DropReason::Invalid);
            continue;
        };
        if !records.contains_key(&c.consent_id) {
            let record = state
                .store
                .current(site.id.clone(), c.consent_id.clone())
                .await?;
            records.insert(c.consent_id.clone(), record);
        }
        let record = records.get(&c.consent_id).and_then(Option::as_ref);
        match gate(record, site, &c.categories, gpc, now) {
            Ok(()) => kept.push(c),
            Err(reason) => drop(&mut dropped, index, reason),
        }
    }

    let accepted = kept.len();
    if accepted > 0 {
        let visitor = Visitor::of(&state, &req, site);
        let client = enrich::classify_user_agent(ua);
        let events = kept
            .into_iter()
            .map(|c| {
                let own_host = enrich::host(&c.url).unwrap_or_default();
                let source = c
                    .referrer
                    .as_deref()
                    .and_then(|r| enrich::classify_referrer(r, &own_host));
                let utm = enrich::utm(&c.url);
                AcceptedEvent {
                    site: site.id.clone(),
                    consent_id: c.consent_id,
                    at: now,
                    name: c.name,
                    category: c.categories[0].clone(),
                    path: c.path,
                    props: c.props,
                    context: Context {
                        country: visitor.location.country.clone(),
                        region: visitor.location.subdivision.clone(),
                        browser: client.browser.clone(),
                        os: client.os.clone(),
                        device: client.device.as_str().to_owned(),
                        source: source.as_ref().map(|s| s.name.clone()),
                        referrer: source.map(|s| s.referrer_domain),
                        utm_source: utm.source,
                        utm_medium: utm.medium,
                        utm_campaign: utm.campaign,
                    },
                }
            })
            .collect();
        state.analytics.append_events(events).map_err(|e| match e {
            StoreError::Overloaded => ApiError::RateLimited { retry_after: 1 },
            other => ApiError::Storage(other),
        })?;
        state
            .metrics
            .events_accepted
            .fetch_add(accepted as u64, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(answer(accepted, dropped))
}

fn answer(accepted: usize, dropped: Vec<Dropped>) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Answer { accepted, dropped })
}
