//! `GET /goals`: the site's goals as its settings define them, for API clients and reports
//! (the dashboard's conversions panel reads the same from its page).

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, get, web};
use serde_json::{Value as Json, json};

use super::auth::marketer_gate;
use crate::analytics::funnel::Step;
use crate::analytics::goals::Goal;
use crate::errors::ApiError;
use crate::http::state::AppState;

fn to_json(goal: &Goal) -> Json {
    let mut g = match &goal.trigger {
        Step::Event(name) => json!({ "name": goal.name, "event": name }),
        Step::Page(pattern) => json!({ "name": goal.name, "page": pattern.as_str() }),
    };
    if let Some(property) = &goal.revenue_property {
        g["revenue"] = json!(property);
    }
    g
}

#[get("/goals", wrap = "from_fn(marketer_gate)")]
pub async fn list(
    state: web::Data<AppState>,
    site: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.site(&site)?;
    let goals = &entry.site.goals;
    let list: Vec<Json> = goals.list().iter().map(to_json).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "goals": list,
            "currency": goals.currency().map(|c| c.as_str()),
        })))
}
