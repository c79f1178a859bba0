//! `POST /funnel`: how many visitors went through a sequence of pages and events, step by
//! step, within a visit or a number of days.

use std::time::Instant;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{Access, marketer_gate};
use super::query::{Logged, QUERY_LIMIT, WireRange, bad, failure, log_query};
use crate::analytics::engine::{FunnelCounts, FunnelQuery};
use crate::analytics::funnel::{self, Funnel, RawStep};
use crate::analytics::query::{self, Dimension, Span};
use crate::errors::ApiError;
use crate::http::json::StrictJson;
use crate::http::state::AppState;

/// A step as sent: exactly one of `page` and `event`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WireStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// The body of `/funnel`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelBody {
    pub date_range: Option<WireRange>,
    pub steps: Vec<WireStep>,
    pub window: Option<String>,
    #[serde(default)]
    pub filters: Vec<(String, String, Vec<String>)>,
    pub segment: Option<String>,
    pub dimension: Option<String>,
}

fn funnel_error(e: funnel::FunnelError) -> ApiError {
    ApiError::BadRequest {
        code: e.code,
        message: e.message,
    }
}

/// Parses the body into a question the store can answer.
async fn parse(
    state: &AppState,
    site: &crate::domain::Site,
    body: &FunnelBody,
) -> Result<FunnelQuery, ApiError> {
    let goals = &site.goals;
    let site = &site.id;
    let span = query::parse_span(
        body.date_range.clone().map(WireRange::raw).as_ref(),
        state.clock.now(),
    )
    .map_err(bad)?;
    if matches!(span, Span::Realtime { .. }) {
        return Err(ApiError::BadRequest {
            code: "unsupported_combination",
            message: "a funnel covers whole days; `realtime` is not available".into(),
        });
    }
    let steps: Vec<RawStep> = body
        .steps
        .iter()
        .map(|s| RawStep {
            page: s.page.clone(),
            event: s.event.clone(),
        })
        .collect();
    let funnel = Funnel::parse(&steps, body.window.as_deref()).map_err(funnel_error)?;
    let mut filters = body.filters.clone();
    if let Some(name) = &body.segment {
        let own = filters.len();
        filters.extend(super::segments::filters_of(state, site, name, own).await?);
    }
    let filters = query::parse_filters(&filters).map_err(bad)?;
    let dimension = match &body.dimension {
        None => None,
        Some(raw) => match query::parse_dimension(raw, "dimension", false).map_err(bad)? {
            Dimension::Visit(field) => Some(field),
            other => {
                return Err(ApiError::BadRequest {
                    code: "unsupported_combination",
                    message: format!(
                        "`dimension` is `{}`; a funnel splits visitors by a visit-level dimension (visit:*), the one of the visit where they took the first step",
                        other.name()
                    ),
                });
            }
        },
    };
    Ok(FunnelQuery {
        funnel,
        filters,
        dimension,
        span,
        goals: goals.clone(),
    })
}

/// The steps of an answer, as JSON.
fn step_rows(steps: &[WireStep], counts: &[u64]) -> Vec<serde_json::Value> {
    funnel::rows(counts)
        .into_iter()
        .zip(steps)
        .map(|(row, step)| {
            json!({
                "step": step,
                "visitors": row.visitors,
                "conversion_rate": row.conversion_rate,
                "drop_off": row.drop_off,
            })
        })
        .collect()
}

#[post("/funnel", wrap = "from_fn(marketer_gate)")]
pub async fn run_funnel(
    state: web::Data<AppState>,
    site: web::Path<String>,
    access: web::ReqData<Access>,
    body: StrictJson<FunnelBody, QUERY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let entry = state.site(&site)?;
    let site = &entry.site;
    let body = body.0;
    let question = parse(&state, site, &body).await?;
    let cancel = query::Cancel::default();
    let _guard = cancel.on_drop();
    let FunnelCounts { total, groups } = state
        .analytics
        .funnel(site.id.clone(), question.clone(), cancel)
        .await
        .map_err(|e| failure(e.into()))?;
    // A funnel narrowed by filters or split by a dimension is a group like any other: fewer
    // visitors at its first step than the site's minimum and it is left out.
    let k = u64::from(state.min_group_size);
    let narrowed = !question.filters.is_empty();
    let small = |counts: &[u64]| counts.first().is_some_and(|first| *first > 0 && *first < k);
    let mut suppressed = 0usize;
    let total_rows = if narrowed && small(&total) {
        suppressed += 1;
        step_rows(&body.steps, &vec![0; total.len()])
    } else {
        step_rows(&body.steps, &total)
    };
    let (first, last) = question.span.labels();
    let mut answer = json!({
        "steps": total_rows,
        "meta": {
            "date_range": [first, last],
            "window": question.funnel.window().name(),
            "min_group_size": state.min_group_size,
            "took_ms": started.elapsed().as_millis() as u64,
        },
    });
    if let Some(field) = question.dimension {
        let kept: Vec<serde_json::Value> = groups
            .iter()
            .filter(|(_, counts)| {
                let drop = small(counts);
                suppressed += usize::from(drop);
                !drop
            })
            .map(|(value, counts)| json!({"dimension": value, "steps": step_rows(&body.steps, counts)}))
            .collect();
        answer["groups"] = json!(kept);
        answer["meta"]["dimension"] = json!(field.name());
    }
    answer["meta"]["suppressed"] = json!(suppressed);
    let logged = Logged {
        endpoint: "funnel",
        rows: total.len(),
        suppressed,
    };
    log_query(&state, &site.id, &access, &body, logged).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
