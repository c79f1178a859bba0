//! Times the dashboard's queries for `bench/query.sh`.
//!
//! `query_bench store DATA_DIR ROUNDS RAW_ROUNDS`: opens the data folder (the server must be
//! stopped) and answers every query in-process, from rollups (as the server would) and from
//! raw events (forced), side by side. `query_bench http BASE_URL KEY ROUNDS`: sends the same
//! queries to a running server over HTTP/1.1, one at a time, as the dashboard's numbers.
//!
//! Each round runs the whole 30-day dashboard set in order; the set's time is the sum of its
//! queries. Prints per-query and per-set p50/p95 in milliseconds, then `RESULT` lines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use consentry::analytics::query::{self, consent};
use consentry::domain::{Clock, SiteId, SystemClock};
use consentry::http::marketer::query::QueryBody;

/// The dashboard's 30-day set, as `static/dashboard.js` sends it (endpoint, body).
const SET_30D: [(&str, &str, &str); 12] = [
    (
        "kpis",
        "query",
        r#"{"metrics":["visitors","visits","pageviews","bounce_rate","visit_duration","conversions"],"date_range":"30d","compare":"previous_period"}"#,
    ),
    (
        "series",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"30d","dimensions":["time:day"],"compare":"previous_period"}"#,
    ),
    (
        "pages",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"30d","dimensions":["event:page"],"limit":10}"#,
    ),
    (
        "sources",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:source"],"limit":10}"#,
    ),
    (
        "campaigns",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:utm_campaign"],"limit":10}"#,
    ),
    (
        "countries",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:country"],"limit":10}"#,
    ),
    (
        "browsers",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:browser"],"limit":10}"#,
    ),
    (
        "os",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:os"],"limit":10}"#,
    ),
    (
        "devices",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:device"],"limit":10}"#,
    ),
    (
        "conversions",
        "query",
        r#"{"metrics":["conversions","conversion_rate"],"date_range":"30d","dimensions":["event:name"],"limit":10}"#,
    ),
    (
        "consent",
        "consent-stats",
        r#"{"metrics":["decisions","opt_in_rate","opt_out_rate"],"date_range":"30d","dimensions":["consent:jurisdiction"]}"#,
    ),
    (
        "realtime",
        "query",
        r#"{"metrics":["visitors"],"date_range":"realtime"}"#,
    ),
];

/// Twelve months: the dashboard's 12-month chart (by month) and a daily series over the year.
const YEAR: [(&str, &str, &str); 2] = [
    (
        "12mo by month",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"12mo","dimensions":["time:month"],"compare":"previous_period"}"#,
    ),
    (
        "12mo by day",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"12mo","dimensions":["time:day"]}"#,
    ),
];

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[rank.min(s.len() - 1)]
}

fn report(label: &str, samples: &[f64]) -> (f64, f64) {
    let (p50, p95) = (percentile(samples, 50.0), percentile(samples, 95.0));
    println!(
        "  {label:<16} p50 {p50:>9.2} ms   p95 {p95:>9.2} ms   (n={})",
        samples.len()
    );
    (p50, p95)
}

fn body(json: &str) -> QueryBody {
    serde_json::from_str(json).expect("the bench's queries are valid")
}

async fn run_in_store(
    store: &consentry::store::sled::SledStore,
    site: &SiteId,
    endpoint: &str,
    json: &str,
) -> usize {
    let raw = body(json).raw();
    let now = SystemClock.now();
    if endpoint == "consent-stats" {
        let q = consent::parse(&raw, now).expect("valid");
        let a = consent::execute(store, site, &q, &["necessary".into()], 5)
            .await
            .expect("answered");
        return a.rows.len();
    }
    let q = query::parse(&raw, now).expect("valid");
    let options = query::Options {
        min_group_size: 5,
        cancel: query::Cancel::default(),
    };
    let a = query::execute(store, site, &q, options)
        .await
        .expect("answered");
    a.rows.len()
}

/// Runs the 30-day set and the year's series `rounds` times through `run` (endpoint, body),
/// and prints per-query and per-set percentiles; `tag` starts each `RESULT` line.
fn time_sets(tag: &str, rounds: usize, mut run: impl FnMut(&str, &str, &str)) {
    let mut per_query = vec![Vec::new(); SET_30D.len()];
    let mut sets = Vec::new();
    for _ in 0..rounds {
        let mut total = 0.0;
        for (i, (label, endpoint, json)) in SET_30D.iter().enumerate() {
            let t = Instant::now();
            run(label, endpoint, json);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            per_query[i].push(ms);
            total += ms;
        }
        sets.push(total);
    }
    for (i, (label, _, _)) in SET_30D.iter().enumerate() {
        report(label, &per_query[i]);
    }
    let (p50, p95) = report("WHOLE SET", &sets);
    println!("RESULT {tag} set=30d p50_ms={p50:.2} p95_ms={p95:.2}");
    for (label, endpoint, json) in YEAR {
        let mut s = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            run(label, endpoint, json);
            s.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p95) = report(label, &s);
        println!("RESULT {tag} set={label:?} p50_ms={p50:.2} p95_ms={p95:.2}");
    }
}

fn store_mode(dir: &str, rounds: usize, raw_rounds: usize) {
    let store = consentry::store::sled::SledStore::open(
        std::path::Path::new(dir),
        consentry::store::StoreOptions {
            cache_capacity_mb: 256,
            durability: consentry::store::Durability::Fsync,
        },
        std::sync::Arc::new(consentry::telemetry::Metrics::default()),
    )
    .expect("the data folder opens (is the server stopped?)");
    let site = SiteId::parse("demo").expect("demo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _ = raw_rounds;
    println!("== in-process: the 30-day dashboard set, {rounds} rounds");
    time_sets("mode=store", rounds, |_, endpoint, json| {
        rt.block_on(run_in_store(&store, &site, endpoint, json));
    });
}

fn post(base: &str, key: &str, path: &str, json: &str) -> (u16, usize) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("the server is up");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    s.write_all(req.as_bytes()).expect("sent");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("answered");
    let text = String::from_utf8_lossy(&out);
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.len())
}

fn http_mode(base: &str, key: &str, rounds: usize) {
    println!("== over HTTP: the 30-day dashboard set, {rounds} rounds, one query at a time");
    time_sets("mode=http", rounds, |label, endpoint, json| {
        let (status, _) = post(base, key, &format!("/api/v1/sites/demo/{endpoint}"), json);
        assert_eq!(status, 200, "{label} answered {status}");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("store") if args.len() >= 3 => store_mode(&args[2], n(3, 20), n(4, 3)),
        Some("http") if args.len() >= 4 => http_mode(&args[2], &args[3], n(4, 20)),
        _ => eprintln!(
            "usage: query_bench store DATA_DIR [ROUNDS] [RAW_ROUNDS] | query_bench http BASE_URL KEY [ROUNDS]"
        ),
    }
}
