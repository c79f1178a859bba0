//! The embedded engine and ClickHouse, fed the same visitors, events and erasures, give the
//! same answer to every question: 240 answered generated questions, one in eight a funnel and
//! the rest queries (metrics, up to two dimensions and a time grain, filters of every
//! operator, comparisons), compared whole over HTTP.
//! The ClickHouse app keeps the rest in PostgreSQL; both start their own servers
//! (`test-support`), whichever backend the run tests.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{FIXTURES, POLICY_VERSION, TestApp, fresh_database, spawn_app_with};
use crate::marketer::ALL_METRICS;
use consentry::domain::Timestamp;

const DAY_MS: i64 = 86_400_000;
/// 2026-09-01, midnight UTC.
const FIRST_DAY: i64 = 20_697 * DAY_MS;
const DAYS: i64 = 4;

const PATHS: [&str; 8] = [
    "/",
    "/pricing",
    "/blog/1",
    "/blog/2",
    "/docs/start",
    "/docs/api",
    "/signup",
    "/about",
];
const REFERRERS: [Option<&str>; 5] = [
    None,
    Some("https://www.google.com/"),
    Some("https://www.bing.com/"),
    Some("https://news.ycombinator.com/item?id=1"),
    Some("https://parcelwise.example/"),
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
];

/// The demo site with geo and a trusted proxy, nothing suppressed, on the data folder alone or
/// on PostgreSQL with the events in ClickHouse.
async fn app(clickhouse: bool) -> TestApp {
    let url = clickhouse.then(fresh_database);
    spawn_app_with(move |s| {
        let geo = s.data_dir.with_file_name("geo.mmdb");
        crate::helpers::write_geo_fixture(&geo);
        s.geoip = Some(geo);
        s.trusted_proxies =
            consentry::geo::TrustedProxies::parse(&["127.0.0.1/32".to_owned()]).unwrap();
        s.min_group_size = 1;
        s.clickhouse = url.as_ref().map(crate::helpers::clickhouse_for);
        s.postgres_url = url;
    })
    .await
}

/// One step of the shared story, done on both apps at the same time of their clocks.
struct Both {
    embedded: TestApp,
    clickhouse: TestApp,
}

impl Both {
    fn at(&self, ms: i64) {
        self.embedded.clock.set(Timestamp(ms));
        self.clickhouse.clock.set(Timestamp(ms));
    }

    /// A decision on both; the two consent ids.
    async fn decide(&self, ip: &str, action: &str, choices: Value) -> [String; 2] {
        let mut ids = Vec::new();
        for app in [&self.embedded, &self.clickhouse] {
            let (status, body) = app
                .post_json_with(
                    "/api/v1/sites/demo/consents",
                    &json!({"action": action, "choices": choices, "policy_version": POLICY_VERSION}),
                    &[("x-forwarded-for", ip)],
                )
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["consent_id"].as_str().unwrap().to_owned());
        }
        [ids[0].clone(), ids[1].clone()]
    }

    async fn event(&self, ids: &[String; 2], ip: &str, agent: &str, event: &Value) {
        for (app, id) in [(&self.embedded, &ids[0]), (&self.clickhouse, &ids[1])] {
            let mut e = event.clone();
            e["consent_id"] = json!(id);
            let (status, body) = app
                .post_json_with(
                    "/api/v1/sites/demo/events",
                    &e,
                    &[("x-forwarded-for", ip), ("user-agent", agent)],
                )
                .await;
            assert_eq!(status, 202, "{body}");
        }
    }
}

fn event_for(rng: &mut StdRng, first_of_visit: bool) -> Value {
    let path = *PATHS.choose(rng).unwrap();
    let url = match (first_of_visit, rng.random_range(0..4)) {
        (true, 0) => format!(
            "https://parcelwise.example{path}?utm_source=news&utm_medium=email&utm_campaign=autumn"
        ),
        (true, 1) => format!("https://parcelwise.example{path}?utm_source=ads&utm_campaign=launch"),
        _ => format!("https://parcelwise.example{path}"),
    };
    let mut e = match rng.random_range(0..10) {
        0 => {
            json!({"name": "signup", "url": url, "props": {"plan": *["pro", "team", "free"].choose(rng).unwrap()}})
        }
        1 => json!({"name": "download", "url": url, "props": {"file": "guide.pdf"}}),
        _ => json!({"name": "pageview", "url": url}),
    };
    if first_of_visit {
        if let Some(r) = *REFERRERS.choose(rng).unwrap() {
            e["referrer"] = json!(r);
        }
    }
    e
}

/// What happens at one time of the story.
enum Step {
    Decide(&'static str, Value),
    Send(Value),
}

/// Visitors over four days, some coming back, some refusing, some consenting to marketing
/// only; then a few erased. Planned first, then played in time order on both apps, as the
/// server stamps events with its own clock.
async fn story(both: &Both, rng: &mut StdRng) {
    let mut plan: Vec<(i64, usize, Step)> = Vec::new();
    let mut who = Vec::new();
    for visitor in 0..36 {
        let (ip, _, _) = *FIXTURES.choose(rng).unwrap();
        let agent = *AGENTS.choose(rng).unwrap();
        who.push((ip, agent));
        let day = rng.random_range(0..DAYS);
        let mut at = FIRST_DAY + day * DAY_MS + rng.random_range(0..20) * 3_600_000;
        let (action, choices) = match rng.random_range(0..6) {
            0 => ("reject_all", json!({})),
            1 => ("save", json!({"marketing": true})),
            _ => ("accept_all", json!({})),
        };
        plan.push((at, visitor, Step::Decide(action, choices)));
        for visit in 0..rng.random_range(1..4) {
            if visit > 0 {
                // Back later the same day or on a later one: a new visit.
                at += rng.random_range(1..30) * 3_600_000;
            }
            for n in 0..rng.random_range(1..6) {
                at += rng.random_range(1..10) * 60_000;
                if at < FIRST_DAY + DAYS * DAY_MS {
                    plan.push((at, visitor, Step::Send(event_for(rng, n == 0))));
                }
            }
        }
    }
    plan.sort_by_key(|(at, visitor, _)| (*at, *visitor));
    let mut ids: Vec<Option<[String; 2]>> = vec![None; who.len()];
    for (at, visitor, step) in &plan {
        both.at(*at);
        let (ip, agent) = who[*visitor];
        match step {
            Step::Decide(action, choices) => {
                ids[*visitor] = Some(both.decide(ip, action, choices.clone()).await);
            }
            Step::Send(event) => {
                let pair = ids[*visitor].as_ref().expect("decided first");
                both.event(pair, ip, agent, event).await;
            }
        }
    }
    for app in [&both.embedded, &both.clickhouse] {
        app.analytics.sync_events().await.unwrap();
    }
    for pair in ids.iter().flatten().step_by(9) {
        assert_eq!(both.embedded.erase(&pair[0]).await.0, 200);
        assert_eq!(both.clickhouse.erase(&pair[1]).await.0, 200);
    }
    both.at(FIRST_DAY + (DAYS + 1) * DAY_MS);
    for app in [&both.embedded, &both.clickhouse] {
        app.analytics.settle_events().await.unwrap();
    }
}

const DIMENSIONS: [&str; 16] = [
    "event:page",
    "event:name",
    "event:props:plan",
    "visit:source",
    "visit:referrer",
    "visit:utm_campaign",
    "visit:country",
    "visit:browser",
    "visit:device",
    "visit:entry_page",
    "visit:exit_page",
    "event:goal",
    "visit:region",
    "visit:os",
    "visit:utm_source",
    "visit:utm_medium",
];

/// A filter some of the dataset passes.
fn filter(rng: &mut StdRng) -> Value {
    let (dimension, values): (&str, Vec<&str>) = match rng.random_range(0..6) {
        0 => ("event:page", PATHS.to_vec()),
        1 => ("visit:country", vec!["DE", "GB", "US", "BR", "FR"]),
        2 => ("visit:browser", vec!["Chrome", "Firefox", "Safari"]),
        3 => (
            "visit:source",
            vec!["Google", "Bing", "Direct / None", "Hacker News"],
        ),
        4 => ("visit:entry_page", PATHS.to_vec()),
        _ => ("event:props:plan", vec!["pro", "team", "free"]),
    };
    let n = rng.random_range(1..3);
    let pick: Vec<&str> = values.choose_multiple(rng, n).copied().collect();
    match rng.random_range(0..4) {
        0 => json!(["is", dimension, pick]),
        1 => json!(["is_not", dimension, pick]),
        2 => json!(["contains", dimension, [&pick[0][..pick[0].len().min(3)]]]),
        _ => json!([
            "matches",
            dimension,
            [format!("^{}", regex_escape(&pick[0][..1]))]
        ]),
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn date(day: i64) -> String {
    let d = time::Date::from_julian_day((FIRST_DAY / DAY_MS + day + 2_440_588) as i32).unwrap();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn range(rng: &mut StdRng) -> Value {
    let from = rng.random_range(0..DAYS);
    let to = rng.random_range(from..DAYS);
    json!([date(from), date(to)])
}

fn query(rng: &mut StdRng) -> Value {
    let n = rng.random_range(1..5);
    let metrics: Vec<&str> = ALL_METRICS.choose_multiple(rng, n).copied().collect();
    let n = rng.random_range(0..3);
    let mut dimensions: Vec<&str> = DIMENSIONS.choose_multiple(rng, n).copied().collect();
    if rng.random_bool(0.25) {
        dimensions.push("time:day");
    }
    let filters: Vec<Value> = (0..rng.random_range(0..3)).map(|_| filter(rng)).collect();
    let mut q = json!({"metrics": metrics, "date_range": range(rng), "dimensions": dimensions,
                       "filters": filters, "limit": 1000});
    if rng.random_bool(0.2) {
        q["compare"] = json!("previous_period");
    }
    q
}

fn funnel(rng: &mut StdRng) -> Value {
    let steps: Vec<Value> = (0..rng.random_range(2..4))
        .map(|_| {
            if rng.random_bool(0.25) {
                json!({"event": "signup"})
            } else {
                let p = *PATHS.choose(rng).unwrap();
                json!({"page": if rng.random_bool(0.3) { format!("{}*", &p[..p.len().min(5)]) } else { p.to_owned() }})
            }
        })
        .collect();
    let mut f = json!({"date_range": range(rng), "steps": steps,
                       "window": if rng.random_bool(0.5) { "visit" } else { "2d" }});
    if rng.random_bool(0.3) {
        f["filters"] = json!([filter(rng)]);
    }
    if rng.random_bool(0.3) {
        f["dimension"] = json!(*DIMENSIONS[3..9].choose(rng).unwrap());
    }
    f
}

#[actix_web::test]
async fn the_embedded_engine_and_clickhouse_give_the_same_answer_to_every_generated_question() {
    let both = Both {
        embedded: app(false).await,
        clickhouse: app(true).await,
    };
    assert!(both.embedded.clickhouse.is_none() && both.clickhouse.clickhouse.is_some());
    let mut rng = StdRng::seed_from_u64(15);
    story(&both, &mut rng).await;
    let (_, key_e) = both.embedded.api_key("demo").await;
    let (_, key_c) = both.clickhouse.api_key("demo").await;

    // Questions the API refuses (a visit metric split by an event dimension) must be refused
    // alike; they do not count towards the answered ones.
    let (mut answered, mut nonempty, mut asked) = (0, 0, 0);
    while answered < 240 {
        asked += 1;
        assert!(
            asked < 1_000,
            "only {answered} of {asked} questions were answered"
        );
        let (endpoint, body) = if asked % 8 == 0 {
            ("funnel", funnel(&mut rng))
        } else {
            ("query", query(&mut rng))
        };
        let (status_e, mut answer_e) = both.embedded.query_at(endpoint, &key_e, &body).await;
        let (status_c, mut answer_c) = both.clickhouse.query_at(endpoint, &key_c, &body).await;
        // How long each took is the one thing that may differ.
        for a in [&mut answer_e, &mut answer_c] {
            if let Some(meta) = a["meta"].as_object_mut() {
                meta.remove("took_ms");
            }
        }
        assert_eq!(
            (status_c, &answer_c),
            (status_e, &answer_e),
            "{endpoint} {body}"
        );
        if status_e != 200 {
            assert_eq!(status_e, 400, "{body}: {answer_e}");
            continue;
        }
        answered += 1;
        let counted = |a: &Value| {
            a["results"].as_array().is_some_and(|r| !r.is_empty())
                || a["steps"][0]["visitors"].as_u64().is_some_and(|v| v > 0)
        };
        if counted(&answer_e) {
            nonempty += 1;
        }
    }
    // The questions are about the data: most of them count something.
    assert!(
        nonempty > answered / 2,
        "{nonempty} of {answered} answers count anything"
    );
}
