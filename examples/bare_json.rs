//! The baseline for `bench/consent-writes.sh`: a plain actix-web server that parses the same
//! consent body as `POST /api/v1/sites/{site}/consents` and answers 201, with no store, no
//! middleware and no logging. It is the ceiling any actix handler reaches on this machine.
//!
//! Run: `cargo run --release --example bare_json -- 127.0.0.1:PORT`

use std::collections::BTreeMap;

use actix_web::{App, HttpResponse, HttpServer, post, web};
use serde::{Deserialize, Serialize};

/// The same fields and the same strictness as Consentry's `ConsentBody`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ConsentBody {
    action: String,
    #[serde(default)]
    choices: BTreeMap<String, bool>,
    policy_version: String,
    consent_id: Option<String>,
    url: Option<String>,
    language: Option<String>,
    gpc: Option<bool>,
}

#[derive(Serialize)]
struct Created<'a> {
    site: &'a str,
    action: &'a str,
    policy_version: &'a str,
}

#[post("/api/v1/sites/{site}/consents")]
async fn create(path: web::Path<String>, body: web::Json<ConsentBody>) -> HttpResponse {
    let body = body.into_inner();
    HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(Created {
            site: path.as_str(),
            action: &body.action,
            policy_version: &body.policy_version,
        })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    // The real server leaves actix's default: one worker per core (2 here).
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let server = HttpServer::new(|| {
        App::new()
            .app_data(web::JsonConfig::default().limit(4 * 1024))
            .service(create)
    })
    .workers(workers)
    .bind(&addr)?;
    let bound = server
        .addrs()
        .first()
        .map_or(addr.clone(), ToString::to_string);
    println!("listening on http://{bound}");
    server.run().await
}
