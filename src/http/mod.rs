//! HTTP: routes, extractors and middleware. Handlers parse, call the domain and the store, and
//! answer; they hold no business rules of their own.

pub mod admin;
pub mod banner;
pub mod consents;
pub mod csrf;
pub mod deadline;
pub mod detections;
pub mod events;
pub mod form_errors;
pub mod front;
pub mod guard;
pub mod json;
pub mod marketer;
pub mod methods;
pub mod observe;
pub mod ops;
pub mod origin;
pub mod pages;
pub mod rate_limit;
pub mod rights;
pub mod script;
pub mod script_bundle;
pub mod state;
pub mod text;
pub mod views;
pub mod visitor;
pub mod wire;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, web};

use crate::errors::ApiError;

/// Every route, for `startup`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(methods::check))
            .configure(every_route)
            .default_service(web::to(not_found)),
    );
}

fn every_route(cfg: &mut web::ServiceConfig) {
    cfg.service(pages::home)
        .service(pages::policy)
        .service(pages::save_preferences)
        .service(pages::erase_data)
        .service(pages::asset)
        .service(pages::openapi)
        .service(marketer::dashboard::page)
        .service(marketer::dashboard::sign_in)
        .service(marketer::dashboard::sign_out)
        .service(script::consent_js)
        .service(ops::healthz)
        .service(ops::metrics)
        .service(ops::gpc_json)
        .configure(admin::routes)
        .service(
            web::scope("/api/v1/sites/{site}")
                .wrap(from_fn(guard::site_api_gate))
                .service(banner::banner)
                .service(consents::create)
                .service(consents::read)
                .service(consents::notice)
                .service(events::collect)
                .service(detections::report)
                .service(rights::export)
                .service(rights::erase)
                .service(marketer::query::run_query)
                .service(marketer::query::consent_stats)
                .service(marketer::query::export_csv)
                .service(marketer::funnel::run_funnel)
                .service(marketer::segments::list)
                .service(marketer::goals::list)
                .service(marketer::detections::report)
                .service(marketer::segments::save)
                .service(marketer::segments::remove)
                .default_service(web::to(not_found)),
        );
}

pub(crate) async fn not_found() -> HttpResponse {
    ApiError::NotFound {
        code: "not_found",
        message: "there is nothing at this path".into(),
    }
    .error_response()
}
