//! Times marketer questions for `bench/query.sh`.
//!
//! `query_bench http BASE_URL KEY ROUNDS`: sends the dashboard's 30-day set to a running
//! server over HTTP/1.1, every panel at once on its own connection (as the browser does), and
//! times the whole set (from the first request to the last answer): without a filter, and
//! with a country filter. Then a three-step funnel over 30 days and twelve months by day
//! under a filter, one at a time. Prints p50/p95 in milliseconds and `RESULT` lines.
//!
//! `query_bench scan DATA_DIR ROUNDS`: opens the data folder in-process (the server must be
//! stopped) and times one question with one filter and one breakdown over the whole store on
//! one thread, as the column scan rate (events in the range per second).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use consentry::analytics::query;
use consentry::domain::{Clock, SiteId, SystemClock};
use consentry::http::marketer::query::QueryBody;

/// The dashboard's 30-day panels (label, endpoint, body without filters).
const SET_30D: [(&str, &str, &str); 16] = [
    (
        "kpis",
        "query",
        r#"{"metrics":["visitors","visits","pageviews","bounce_rate","visit_duration","conversions"],"date_range":"30d","compare":"previous_period""#,
    ),
    (
        "series",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"30d","dimensions":["time:day"],"compare":"previous_period""#,
    ),
    (
        "pages",
        "query",
        r#"{"metrics":["visitors","pageviews"],"date_range":"30d","dimensions":["event:page"],"limit":10"#,
    ),
    (
        "entry pages",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:entry_page"],"limit":10"#,
    ),
    (
        "exit pages",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:exit_page"],"limit":10"#,
    ),
    (
        "sources",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:source"],"limit":10"#,
    ),
    (
        "campaigns",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:utm_campaign"],"limit":10"#,
    ),
    (
        "countries",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:country"],"limit":10"#,
    ),
    (
        "regions",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:region"],"limit":10"#,
    ),
    (
        "browsers",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:browser"],"limit":10"#,
    ),
    (
        "os",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:os"],"limit":10"#,
    ),
    (
        "devices",
        "query",
        r#"{"metrics":["visitors"],"date_range":"30d","dimensions":["visit:device"],"limit":10"#,
    ),
    (
        "conversions",
        "query",
        r#"{"metrics":["visitors","conversions","conversion_rate","revenue"],"date_range":"30d","dimensions":["event:goal"],"limit":10"#,
    ),
    (
        "referrers",
        "query",
        r#"{"metrics":["visitors","visits"],"date_range":"30d","dimensions":["visit:referrer"],"limit":10"#,
    ),
    (
        "consent",
        "consent-stats",
        r#"{"metrics":["decisions","opt_in_rate","opt_out_rate"],"date_range":"30d","dimensions":["consent:jurisdiction"]"#,
    ),
    (
        "realtime",
        "query",
        r#"{"metrics":["visitors"],"date_range":"realtime""#,
    ),
];

const COUNTRY_FILTER: &str = r#","filters":[["is","visit:country",["DE"]]]"#;

const FUNNEL: &str = r#"{"date_range":"30d","steps":[{"page":"/"},{"page":"/pricing*"},{"event":"signup"}],"window":"visit"}"#;

const YEAR_BY_DAY: &str = r#"{"metrics":["visitors","pageviews"],"date_range":"12mo","dimensions":["time:day"],"filters":[["is","visit:country",["DE"]]]}"#;

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[rank.min(s.len() - 1)]
}

fn report(tag: &str, label: &str, samples: &[f64]) {
    let (p50, p95) = (percentile(samples, 50.0), percentile(samples, 95.0));
    println!(
        "  {label:<24} p50 {p50:>9.2} ms   p95 {p95:>9.2} ms   (n={})",
        samples.len()
    );
    println!(
        "RESULT {tag} {} p50_ms={p50:.2} p95_ms={p95:.2}",
        label.replace(' ', "_")
    );
}

fn post(base: &str, key: &str, path: &str, json: &str) -> u16 {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let Ok(mut s) = TcpStream::connect(host) else {
        return 0;
    };
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let mut out = Vec::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_end(&mut out).is_err() {
        return 0;
    }
    String::from_utf8_lossy(&out)
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The whole set at once; returns the wall time and each panel's time (ms).
fn parallel_set(base: &str, key: &str, filter: &str) -> (f64, Vec<f64>) {
    let start = Instant::now();
    let handles: Vec<_> = SET_30D
        .iter()
        .map(|(label, endpoint, body)| {
            let (base, key) = (base.to_owned(), key.to_owned());
            // Consent statistics have their own dimensions: the country filter is not theirs.
            let json = if *endpoint == "query" {
                format!("{body}{filter}}}")
            } else {
                format!("{body}}}")
            };
            let label = *label;
            std::thread::spawn(move || {
                let t = Instant::now();
                let status = post(
                    &base,
                    &key,
                    &format!("/api/v1/sites/demo/{endpoint}"),
                    &json,
                );
                assert_eq!(status, 200, "{label} answered {status}: {json}");
                t.elapsed().as_secs_f64() * 1000.0
            })
        })
        .collect();
    let per_panel: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or(f64::NAN))
        .collect();
    (start.elapsed().as_secs_f64() * 1000.0, per_panel)
}

fn one(base: &str, key: &str, endpoint: &str, json: &str) -> f64 {
    let t = Instant::now();
    let status = post(base, key, &format!("/api/v1/sites/demo/{endpoint}"), json);
    assert_eq!(status, 200, "{endpoint} answered {status}: {json}");
    t.elapsed().as_secs_f64() * 1000.0
}

fn http_mode(base: &str, key: &str, rounds: usize) {
    for (tag, filter) in [("unfiltered", ""), ("country_filter", COUNTRY_FILTER)] {
        println!("== over HTTP: the 30-day set in parallel, {tag}, {rounds} rounds");
        let mut sets = Vec::new();
        let mut panels = vec![Vec::new(); SET_30D.len()];
        for _ in 0..rounds {
            let (wall, per) = parallel_set(base, key, filter);
            sets.push(wall);
            for (i, ms) in per.into_iter().enumerate() {
                panels[i].push(ms);
            }
        }
        for (i, (label, _, _)) in SET_30D.iter().enumerate() {
            report(&format!("http {tag}"), label, &panels[i]);
        }
        report(&format!("http {tag}"), "whole set", &sets);
    }
    println!("== over HTTP: one at a time, {rounds} rounds");
    let funnel: Vec<f64> = (0..rounds)
        .map(|_| one(base, key, "funnel", FUNNEL))
        .collect();
    report("http", "funnel 3 steps 30d", &funnel);
    let year: Vec<f64> = (0..rounds)
        .map(|_| one(base, key, "query", YEAR_BY_DAY))
        .collect();
    report("http", "12mo by day filtered", &year);
}

fn scan_mode(dir: &str, rounds: usize) {
    let mut settings = consentry::settings::Settings::demo(std::path::PathBuf::from(dir));
    // The server's default unless `ANALYTICS_CACHE_MB` asks what more (or none) buys.
    if let Some(mb) = std::env::var("ANALYTICS_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.analytics_cache_mb = mb;
    }
    let store = consentry::store::open(
        &settings,
        std::sync::Arc::new(consentry::telemetry::Metrics::default()),
    )
    .expect("the data folder opens (is the server stopped?)");
    let site = SiteId::parse("demo").expect("demo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let goals = settings
        .sites
        .iter()
        .find(|s| s.id == site)
        .map(|s| s.goals.clone())
        .unwrap_or_default();
    let parse = |json: &str| {
        let body: QueryBody = serde_json::from_str(json).expect("valid");
        query::parse(&body.raw(), SystemClock.now(), &goals).expect("valid")
    };
    let total = parse(r#"{"metrics":["events"],"date_range":"12mo"}"#);
    let question = parse(
        r#"{"metrics":["visitors","pageviews"],"date_range":"12mo","dimensions":["event:page"],"filters":[["is","visit:country",["DE"]]]}"#,
    );
    let groups = |q: &query::Query| {
        rt.block_on(store.groups(site.clone(), q.clone(), q.span, query::Cancel::default()))
            .expect("answered")
    };
    let events: i64 = groups(&total)
        .values()
        .map(|c| c.pageviews + c.events)
        .sum();
    println!(
        "== in-process scan: top pages under a country filter over 12 months ({events} events), {rounds} rounds, one thread"
    );
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let g = groups(&question);
        assert!(!g.is_empty());
        times.push(t.elapsed().as_secs_f64());
    }
    let p50 = percentile(&times, 50.0);
    let rate = events as f64 / p50 / 1e6;
    println!("  p50 {:.1} ms: {rate:.1} M events/s", p50 * 1000.0);
    println!(
        "RESULT scan events={events} p50_ms={:.2} rate_M_events_per_s={rate:.1}",
        p50 * 1000.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("http") if args.len() >= 4 => http_mode(&args[2], &args[3], n(4, 20)),
        Some("scan") if args.len() >= 3 => scan_mode(&args[2], n(3, 5)),
        _ => eprintln!(
            "usage: query_bench http BASE_URL KEY [ROUNDS] | query_bench scan DATA_DIR [ROUNDS]"
        ),
    }
}
