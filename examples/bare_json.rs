//! The baseline for `bench/consent-writes.sh` and `bench/ingest.sh`: a plain actix-web server
//! that parses the same consent body as `POST /api/v1/sites/{site}/consents` and answers 201,
//! and the same event body (one object or an array) as `POST /api/v1/sites/{site}/events` and
//! answers 202 `{"accepted":n,"dropped":[]}`, with no store, no middleware and no logging. It is
//! the ceiling any actix handler reaches on this machine.
//!
//! Run: `cargo run --release --example bare_json -- 127.0.0.1:PORT`

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Consentry's events body limit (`http::events::EVENTS_LIMIT`) and batch size.
const EVENTS_LIMIT: usize = 32 * 1024;
const MAX_BATCH: usize = 50;

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

/// The same fields and the same strictness as Consentry's `EventBody`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EventBody {
    consent_id: String,
    name: String,
    url: String,
    referrer: Option<String>,
    #[serde(default)]
    props: BTreeMap<String, Value>,
    category: Option<String>,
}

#[derive(Serialize)]
struct Accepted {
    accepted: usize,
    dropped: [u8; 0],
}

/// `POST /api/v1/sites/{site}/events`: one event object or an array of 1 to 50, parsed with
/// serde straight into `EventBody`; answers 202 with every event accepted.
async fn events(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return HttpResponse::UnsupportedMediaType().finish();
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let parsed: Result<usize, serde_json::Error> = match first {
        Some(b'[') => serde_json::from_slice::<Vec<EventBody>>(&body).map(|v| v.len()),
        _ => serde_json::from_slice::<EventBody>(&body).map(|_| 1),
    };
    match parsed {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => HttpResponse::Accepted()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Accepted {
                accepted: n,
                dropped: [],
            }),
        _ => HttpResponse::BadRequest().finish(),
    }
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
            .service(
                web::resource("/api/v1/sites/{site}/events")
                    .app_data(web::PayloadConfig::new(EVENTS_LIMIT))
                    .route(web::post().to(events)),
            )
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
