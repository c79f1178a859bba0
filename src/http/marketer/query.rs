//! `POST /query`, `POST /consent-stats` and `GET /export.csv`: the marketer API's wire form.
//! Bodies become `RawQuery`, answers become JSON or CSV, and every query is logged with the
//! key's id, its parameters and its row count.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use actix_web::middleware::from_fn;

use super::auth::{Access, marketer_gate};
use crate::analytics::query::{self, Answer, RawQuery, RawRange, Value, consent};
use crate::errors::ApiError;
use crate::http::json::StrictJson;
use crate::http::state::AppState;

/// Query bodies are small: 16 KiB holds any query that can be answered.
pub const QUERY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum WireRange {
    Named(String),
    Dates([String; 2]),
}

/// The body of `/query` and `/consent-stats`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    pub metrics: Vec<String>,
    pub date_range: Option<WireRange>,
    #[serde(default)]
    pub dimensions: Vec<String>,
    #[serde(default)]
    pub filters: Vec<(String, String, Vec<String>)>,
    #[serde(default)]
    pub order_by: Vec<(String, String)>,
    pub limit: Option<u64>,
    pub compare: Option<WireRange>,
    /// A saved segment whose filters are ANDed with `filters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

impl WireRange {
    pub fn raw(self) -> RawRange {
        match self {
            WireRange::Named(n) => RawRange::Named(n),
            WireRange::Dates([a, b]) => RawRange::Dates(a, b),
        }
    }
}

impl QueryBody {
    pub fn raw(&self) -> RawQuery {
        RawQuery {
            metrics: self.metrics.clone(),
            date_range: self.date_range.clone().map(WireRange::raw),
            dimensions: self.dimensions.clone(),
            filters: self.filters.clone(),
            order_by: self.order_by.clone(),
            limit: self.limit,
            compare: self.compare.clone().map(WireRange::raw),
        }
    }
}

pub(super) fn bad(e: query::QueryError) -> ApiError {
    ApiError::BadRequest {
        code: e.code,
        message: e.message,
    }
}

pub(super) fn failure(f: query::Failure) -> ApiError {
    match f {
        query::Failure::Store(e) => ApiError::Storage(e),
        // No one is waiting for this answer; 503 is what a log of it would show.
        query::Failure::Cancelled => ApiError::Storage(crate::store::StoreError::Closed),
    }
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
    }
}

/// Which endpoint a query came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Query,
    ConsentStats,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Query => "query",
            Endpoint::ConsentStats => "consent-stats",
        }
    }
}

/// An answer with the names of its metrics and dimensions, and the currency its `revenue` is
/// counted in (the site's, as in force when the question was asked).
pub(super) type Answered = (Answer, Vec<String>, Vec<String>, Option<String>);

/// Runs a query for a site and logs it.
pub async fn answer(
    state: &AppState,
    site: &str,
    access: &Access,
    body: &QueryBody,
    endpoint: Endpoint,
) -> Result<Answered, ApiError> {
    let entry = state.site(site)?;
    let site = &entry.site;
    let now = state.clock.now();
    let mut raw = body.raw();
    let k = state.min_group_size;
    let (answer, metrics, dims) = match endpoint {
        Endpoint::Query => {
            if let Some(name) = &body.segment {
                let own = raw.filters.len();
                let extra = super::segments::filters_of(state, &site.id, name, own).await?;
                raw.filters.extend(extra);
            }
            let q = query::parse(&raw, now, &site.goals).map_err(bad)?;
            // Dropped with this request (its client gone, or the server stopping): then a
            // running scan stops.
            let cancel = query::Cancel::default();
            let _guard = cancel.on_drop();
            let options = query::Options {
                min_group_size: k,
                cancel,
            };
            let a = query::execute(state.analytics.as_ref(), &site.id, &q, options)
                .await
                .map_err(failure)?;
            let metrics = q.metrics.iter().map(|m| m.name().to_owned()).collect();
            let dims = q.dimensions.iter().map(|d| d.name()).collect();
            (a, metrics, dims)
        }
        Endpoint::ConsentStats => {
            if body.segment.is_some() {
                return Err(ApiError::invalid(
                    "segment",
                    "applies to `query` and `export.csv`; consent statistics have no segments",
                ));
            }
            let q = consent::parse(&raw, now).map_err(bad)?;
            let required: Vec<String> = site
                .categories
                .iter()
                .filter(|c| c.required)
                .map(|c| c.id.to_string())
                .collect();
            let a = consent::execute(state.analytics.as_ref(), &site.id, &q, &required, k)
                .await
                .map_err(ApiError::Storage)?;
            let metrics = q.metrics.iter().map(|m| m.name().to_owned()).collect();
            let dims = q.dimensions.iter().map(|d| d.name().to_owned()).collect();
            (a, metrics, dims)
        }
    };
    let logged = Logged {
        endpoint: endpoint.name(),
        rows: answer.rows.len(),
        suppressed: answer.suppressed,
    };
    log_query(state, &site.id, access, body, logged).await?;
    let currency = site.goals.currency().map(|c| c.as_str().to_owned());
    Ok((answer, metrics, dims, currency))
}

/// What the query log records of an answer besides its parameters.
pub(super) struct Logged {
    pub endpoint: &'static str,
    pub rows: usize,
    pub suppressed: usize,
}

/// Logs a marketer question: the key's id (never the key), the endpoint, the parameters as
/// sent and what the answer held.
pub(super) async fn log_query(
    state: &AppState,
    site: &crate::domain::SiteId,
    access: &Access,
    params: &impl Serialize,
    logged: Logged,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let line = json!({
        "at": now.millis(),
        "site": site.as_str(),
        "key_id": access.key_id.as_str(),
        "endpoint": logged.endpoint,
        "params": params,
        "rows": logged.rows,
        "suppressed": logged.suppressed,
    })
    .to_string();
    state
        .access
        .log_query(now, line)
        .await
        .map_err(ApiError::Storage)
}

fn to_json(
    answer: &Answer,
    metrics: Vec<String>,
    dims: Vec<String>,
    k: u32,
    took: Instant,
) -> Json {
    let results: Vec<Json> = answer
        .rows
        .iter()
        .map(|r| {
            let mut row = json!({
                "dimensions": r.dimensions,
                "metrics": r.metrics.iter().map(json_value).collect::<Vec<_>>(),
            });
            if let Some((old, change)) = &r.comparison {
                row["comparison"] = json!({
                    "metrics": old.iter().map(json_value).collect::<Vec<_>>(),
                    "change": change,
                });
            }
            row
        })
        .collect();
    let (first, last) = answer.span.labels();
    let mut meta = json!({
        "metrics": metrics,
        "dimensions": dims,
        "date_range": [first, last],
        "suppressed": answer.suppressed,
        "min_group_size": k,
        "took_ms": took.elapsed().as_millis() as u64,
    });
    if let Some(previous) = answer.previous {
        let (a, b) = previous.labels();
        meta["comparison_range"] = json!([a, b]);
    }
    json!({ "results": results, "meta": meta })
}

async fn respond(
    state: web::Data<AppState>,
    site: web::Path<String>,
    access: web::ReqData<Access>,
    body: QueryBody,
    endpoint: Endpoint,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let (a, metrics, dims, currency) = answer(&state, &site, &access, &body, endpoint).await?;
    let mut json = to_json(&a, metrics, dims, state.min_group_size, started);
    if let Some(currency) = currency {
        // What `revenue` is counted in.
        json["meta"]["currency"] = json!(currency);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json))
}

#[post("/query", wrap = "from_fn(marketer_gate)")]
pub async fn run_query(
    state: web::Data<AppState>,
    site: web::Path<String>,
    access: web::ReqData<Access>,
    body: StrictJson<QueryBody, QUERY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    respond(state, site, access, body.0, Endpoint::Query).await
}

#[post("/consent-stats", wrap = "from_fn(marketer_gate)")]
pub async fn consent_stats(
    state: web::Data<AppState>,
    site: web::Path<String>,
    access: web::ReqData<Access>,
    body: StrictJson<QueryBody, QUERY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    respond(state, site, access, body.0, Endpoint::ConsentStats).await
}

/// The query string of `export.csv`: the query's fields, lists comma-separated, `filters` and
/// `order_by` as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvParams {
    metrics: String,
    date_range: String,
    dimensions: Option<String>,
    filters: Option<String>,
    order_by: Option<String>,
    limit: Option<u64>,
    segment: Option<String>,
}

/// A comma-separated list: nothing, or names separated by single commas (no empty names).
fn list(field: &str, raw: &Option<String>) -> Result<Vec<String>, ApiError> {
    match raw.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(text) => text
            .split(',')
            .map(|s| {
                if s.is_empty() {
                    Err(ApiError::invalid(
                        field,
                        "has an empty name; separate names with one comma",
                    ))
                } else {
                    Ok(s.to_owned())
                }
            })
            .collect(),
    }
}

impl CsvParams {
    fn body(&self) -> Result<QueryBody, ApiError> {
        let date_range = match self.date_range.split_once(',') {
            Some((a, b)) => WireRange::Dates([a.to_owned(), b.to_owned()]),
            None => WireRange::Named(self.date_range.clone()),
        };
        Ok(QueryBody {
            metrics: list("metrics", &Some(self.metrics.clone()))?,
            date_range: Some(date_range),
            dimensions: list("dimensions", &self.dimensions)?,
            filters: parse_json("filters", &self.filters)?.unwrap_or_default(),
            order_by: parse_json("order_by", &self.order_by)?.unwrap_or_default(),
            limit: self.limit,
            compare: None,
            segment: self.segment.clone(),
        })
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    field: &str,
    raw: &Option<String>,
) -> Result<Option<T>, ApiError> {
    match raw.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| ApiError::invalid(field, format!("is not valid JSON here: {e}"))),
    }
}

/// Renders an answer as CSV: a header of dimension then metric names, a line per row.
pub fn to_csv(answer: &Answer, metrics: &[String], dims: &[String]) -> String {
    let mut out = String::new();
    let header: Vec<String> = dims
        .iter()
        .chain(metrics)
        .map(|h| crate::csv::field(h))
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in &answer.rows {
        let fields: Vec<String> = r
            .dimensions
            .iter()
            .map(|d| crate::csv::field(d))
            .chain(r.metrics.iter().map(|m| match m {
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
            }))
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[get("/export.csv", wrap = "from_fn(marketer_gate)")]
pub async fn export_csv(
    state: web::Data<AppState>,
    site: web::Path<String>,
    access: web::ReqData<Access>,
    params: web::Query<CsvParams>,
) -> Result<HttpResponse, ApiError> {
    let body = params.body()?;
    let (a, metrics, dims, _) = answer(&state, &site, &access, &body, Endpoint::Query).await?;
    let name = format!("consentry-{}-{}.csv", site.as_str(), a.span.labels().1);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(to_csv(&a, &metrics, &dims)))
}
