//! `GET /segments`, `PUT /segments/{name}` and `DELETE /segments/{name}`: a site's saved
//! segments, and how a query that names one gets its filters.
//!
//! A segment's filters are checked by the query parser (`analytics::query::parse_filters`) when
//! it is saved, so one that no query could use is refused with the query's own error codes;
//! they are parsed again with the query that names it.

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, delete, get, put, web};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::auth::{Access, marketer_gate};
use super::query::QUERY_LIMIT;
use crate::analytics::query::{self, MAX_FILTERS};
use crate::domain::{Segment, SegmentFilter, SegmentName, SiteId};
use crate::errors::ApiError;
use crate::http::json::StrictJson;
use crate::http::state::AppState;
use crate::store::SegmentSaved;

/// A filter as the query API takes it: `[op, dimension, [values]]`.
type WireFilter = (String, String, Vec<String>);

/// The body of `PUT /segments/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    pub filters: Vec<WireFilter>,
    pub description: Option<String>,
}

fn name_of(field: &str, raw: &str) -> Result<SegmentName, ApiError> {
    SegmentName::parse(raw).map_err(|e| ApiError::invalid(field, e))
}

fn unknown(name: &SegmentName) -> ApiError {
    ApiError::NotFound {
        code: "unknown_segment",
        message: format!("there is no segment `{name}` for this site"),
    }
}

/// A segment from its path name and body, every filter accepted by the query parser.
fn checked(name: SegmentName, body: SegmentBody) -> Result<Segment, ApiError> {
    if body.filters.is_empty() {
        return Err(ApiError::invalid("filters", "needs at least one filter"));
    }
    query::parse_filters(&body.filters).map_err(|e| ApiError::BadRequest {
        code: e.code,
        message: e.message,
    })?;
    let description = body.description.unwrap_or_default();
    if description.chars().count() > Segment::MAX_DESCRIPTION {
        return Err(ApiError::invalid(
            "description",
            format!("must be at most {} characters", Segment::MAX_DESCRIPTION),
        ));
    }
    crate::http::text::check("description", &description)?;
    let filters = body
        .filters
        .into_iter()
        .map(|(op, dimension, values)| SegmentFilter {
            op,
            dimension,
            values,
        })
        .collect();
    Ok(Segment {
        name,
        description,
        filters,
    })
}

fn to_json(s: &Segment) -> Json {
    let filters: Vec<Json> = s
        .filters
        .iter()
        .map(|f| json!([f.op, f.dimension, f.values]))
        .collect();
    json!({"name": s.name.as_str(), "description": s.description, "filters": filters})
}

fn site_id(state: &AppState, site: &str) -> Result<SiteId, ApiError> {
    Ok(state.site(site)?.site.id.clone())
}

/// The filters of the segment a query names, to be ANDed with the query's `own` ones:
/// 400 for a name that cannot be one or too many filters in all, 404 `unknown_segment`.
pub async fn filters_of(
    state: &AppState,
    site: &SiteId,
    raw: &str,
    own: usize,
) -> Result<Vec<WireFilter>, ApiError> {
    let name = name_of("segment", raw)?;
    let segment = state
        .access
        .segment(site.clone(), name.clone())
        .await
        .map_err(ApiError::Storage)?
        .ok_or_else(|| unknown(&name))?;
    let total = own + segment.filters.len();
    if total > MAX_FILTERS {
        return Err(ApiError::invalid(
            "segment",
            format!(
                "`{name}` adds {} filters to the query's {own}; a query takes at most {MAX_FILTERS} in all",
                segment.filters.len()
            ),
        ));
    }
    Ok(segment
        .filters
        .into_iter()
        .map(|f| (f.op, f.dimension, f.values))
        .collect())
}

#[get("/segments", wrap = "from_fn(marketer_gate)")]
pub async fn list(
    state: web::Data<AppState>,
    site: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let site = site_id(&state, &site)?;
    let segments = state
        .access
        .segments(site)
        .await
        .map_err(ApiError::Storage)?;
    let segments: Vec<Json> = segments.iter().map(to_json).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "segments": segments })))
}

#[put("/segments/{name}", wrap = "from_fn(marketer_gate)")]
pub async fn save(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    access: web::ReqData<Access>,
    body: StrictJson<SegmentBody, QUERY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let (site, name) = path.into_inner();
    let site = site_id(&state, &site)?;
    let segment = checked(name_of("name", &name)?, body.0)?;
    let answer = to_json(&segment);
    let name = segment.name.clone();
    let mut response = match state
        .access
        .put_segment(site.clone(), segment)
        .await
        .map_err(ApiError::Storage)?
    {
        SegmentSaved::Created => HttpResponse::Created(),
        SegmentSaved::Replaced => HttpResponse::Ok(),
        SegmentSaved::LimitReached => {
            return Err(ApiError::Conflict {
                code: "too_many_segments",
                message: format!(
                    "this site keeps {} segments, the most it may; delete one, or replace one by its name",
                    Segment::MAX_PER_SITE
                ),
            });
        }
    };
    log::info!(
        "segment `{name}` of site {site} saved with key {}",
        access.key_id
    );
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

#[delete("/segments/{name}", wrap = "from_fn(marketer_gate)")]
pub async fn remove(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    access: web::ReqData<Access>,
) -> Result<HttpResponse, ApiError> {
    let (site, name) = path.into_inner();
    let site = site_id(&state, &site)?;
    let name = name_of("name", &name)?;
    let removed = state
        .access
        .delete_segment(site.clone(), name.clone())
        .await
        .map_err(ApiError::Storage)?;
    if !removed {
        return Err(unknown(&name));
    }
    log::info!(
        "segment `{name}` of site {site} deleted with key {}",
        access.key_id
    );
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(filters: &[(&str, &str, &[&str])], description: Option<&str>) -> SegmentBody {
        SegmentBody {
            filters: filters
                .iter()
                .map(|(op, dim, values)| {
                    (
                        op.to_string(),
                        dim.to_string(),
                        values.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect(),
            description: description.map(str::to_owned),
        }
    }

    fn code(result: Result<Segment, ApiError>) -> &'static str {
        result.map(|_| ()).unwrap_err().code()
    }

    #[test]
    fn a_segment_is_refused_with_the_query_parsers_codes_when_no_query_could_use_it() {
        let name = || SegmentName::parse("de").unwrap();
        let ok = checked(name(), body(&[("is", "visit:country", &["DE"])], None)).unwrap();
        assert_eq!(ok.description, "");
        assert_eq!(ok.filters[0].values, ["DE"]);
        assert_eq!(
            code(checked(name(), body(&[("is", "visit:shoe", &["9"])], None))),
            "unknown_dimension"
        );
        for bad in [
            body(&[("like", "visit:country", &["DE"])], None),
            body(&[("is", "time:day", &["2026-01-01"])], None),
            body(&[("is", "visit:country", &[])], None),
            body(&[], None),
            body(&[("is", "visit:country", &["DE"][..]); 11], None),
            body(&[("is", "visit:country", &["DE"])], Some(&"x".repeat(501))),
            body(&[("is", "visit:country", &["DE"])], Some("a\u{202e}b")),
        ] {
            assert_eq!(code(checked(name(), bad)), "invalid_request");
        }
        let long = "é".repeat(500);
        let fine = body(&[("is", "visit:country", &["DE"])], Some(&long));
        assert!(checked(name(), fine).is_ok(), "500 characters, not bytes");
    }
}
