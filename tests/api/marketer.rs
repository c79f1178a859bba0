//! The marketer query API against a small fixed dataset whose answers are computed by hand.
//!
//! The dataset (all times UTC; day A is 2026-09-24, B the day after):
//! - A−1 10:00  V5 (GB) accepts, views `/`.
//! - A 10:00    V1 (DE) accepts, views `/` from Google; 10:05 `/pricing`; 10:06 `signup`
//!   (plan=pro). One visit of three events: 6 minutes, no bounce.
//! - A 11:00    V2 (GB) accepts, views `/pricing?utm_source=newsletter&utm_campaign=launch`.
//!   A bounce.
//! - A 11:30    V3 (DE) rejects, views `/`: dropped, never stored.
//! - A 12:00    V4 (DE) accepts, views `/` and `/pricing` from Google; erased the next day.
//! - B 09:00    V1 views `/` directly: a second visit, a bounce.
//!
//! So over [A, B]: visitors 3 (unique per day: V1 and V2 on A, V1 on B), visits 3, pageviews 4,
//! events 5, bounce rate 66.7, mean visit 120 s, conversions 1, conversion rate 33.3.

use consentry::analytics::funnel::Step;
use consentry::analytics::goals::{Goal, Goals};
use consentry::domain::{ApiKey, SiteId, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, TestApp, assert_error, spawn_app_with, write_geo_fixture};

pub(crate) const DAY_MS: i64 = 86_400_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// 2026-09-24 00:00 UTC.
pub(crate) const DAY_A: i64 = 20_720 * DAY_MS;
pub(crate) const A: &str = "2026-09-24";
const B: &str = "2026-09-25";
pub(crate) const DE: &str = "2.16.10.1";
pub(crate) const GB: &str = "2.16.20.1";

/// The dataset's one goal: `signup` events.
fn signup_goal() -> Goals {
    let signup = Goal {
        name: "signup".into(),
        trigger: Step::Event("signup".into()),
        revenue_property: None,
    };
    Goals::new(vec![signup], None).unwrap()
}

/// The app with geo, a trusted proxy (to choose each visitor's country), a second site and
/// `min_group_size` as given; the one goal is `signup`.
pub(crate) async fn marketer_app(min_group_size: u32) -> TestApp {
    marketer_app_with(min_group_size, signup_goal()).await
}

/// The same, with these goals.
pub(crate) async fn marketer_app_with(min_group_size: u32, goals: Goals) -> TestApp {
    spawn_app_with(|s| {
        s.sites[0].goals = goals;
        let geo = s.data_dir.with_file_name("geo.mmdb");
        write_geo_fixture(&geo);
        s.geoip = Some(geo);
        s.trusted_proxies =
            consentry::geo::TrustedProxies::parse(&["127.0.0.1/32".to_owned()]).unwrap();
        s.min_group_size = min_group_size;
        let mut shop = s.sites[0].clone();
        shop.id = SiteId::parse("shop").unwrap();
        s.sites.push(shop);
    })
    .await
}

impl TestApp {
    /// A new API key for a site, made the way `consentry keys create` makes one.
    pub async fn api_key(&self, site: &str) -> (ApiKey, String) {
        let (record, key) = ApiKey::generate(
            SiteId::parse(site).unwrap(),
            "test".into(),
            Timestamp(0),
            None,
            rand::random(),
        );
        self.access.put_key(record.clone()).await.unwrap();
        (record, key)
    }

    pub async fn query(&self, key: &str, body: &Value) -> (u16, Value) {
        self.query_at("query", key, body).await
    }

    pub async fn query_at(&self, endpoint: &str, key: &str, body: &Value) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.post_json_with(
            &format!("/api/v1/sites/demo/{endpoint}"),
            body,
            &[("authorization", auth.as_str())],
        )
        .await
    }

    pub(crate) async fn at(&self, ms: i64) {
        self.clock.set(Timestamp(ms));
    }

    pub(crate) async fn visitor(&self, ip: &str, action: &str) -> String {
        let (status, body) = self
            .post_json_with(
                "/api/v1/sites/demo/consents",
                &json!({"action": action, "choices": {}, "policy_version": POLICY_VERSION}),
                &[("x-forwarded-for", ip)],
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["consent_id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn event(&self, ip: &str, event: Value) -> Value {
        let (status, body) = self.send_events(&event, &[("x-forwarded-for", ip)]).await;
        assert_eq!(status, 202, "{body}");
        body
    }
}

fn now(app: &TestApp) -> Timestamp {
    consentry::domain::Clock::now(&app.clock)
}

fn view(id: &str, path: &str, referrer: Option<&str>) -> Value {
    let mut e = TestApp::pageview(id, path);
    if let Some(r) = referrer {
        e["referrer"] = json!(r);
    }
    e
}

/// Builds the dataset above; returns the app and a key for `demo`.
/// Signs in to the dashboard as its page does: its CSRF cookie and token (or, without
/// `with_token`, a made-up one), from the server's own origin.
async fn sign_in(
    app: &TestApp,
    key: &str,
    with_token: bool,
) -> awc::ClientResponse<
    impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
> {
    let (nonce, token) = app
        .form_page("/dashboard/demo", None, "consentry_dashboard_csrf")
        .await;
    let token = if with_token { token } else { "0.00".to_owned() };
    app.client
        .post(app.url("/dashboard/demo/session"))
        .insert_header(("cookie", nonce))
        .insert_header(app.origin())
        .send_form(&[("key", key), ("csrf", token.as_str())])
        .await
        .unwrap()
}

async fn dataset(min_group_size: u32) -> (TestApp, String) {
    let app = marketer_app(min_group_size).await;
    let google = Some("https://www.google.com/");
    app.at(DAY_A - DAY_MS + 10 * HOUR_MS).await;
    let v5 = app.visitor(GB, "accept_all").await;
    app.event(GB, view(&v5, "/", None)).await;

    app.at(DAY_A + 10 * HOUR_MS).await;
    let v1 = app.visitor(DE, "accept_all").await;
    app.event(DE, view(&v1, "/", google)).await;
    app.at(DAY_A + 10 * HOUR_MS + 5 * 60_000).await;
    app.event(
        DE,
        view(&v1, "/pricing", Some("https://parcelwise.example/")),
    )
    .await;
    app.at(DAY_A + 10 * HOUR_MS + 6 * 60_000).await;
    app.event(
        DE,
        json!({"consent_id": v1, "name": "signup", "url": "https://parcelwise.example/signup", "props": {"plan": "pro"}}),
    )
    .await;

    app.at(DAY_A + 11 * HOUR_MS).await;
    let v2 = app.visitor(GB, "accept_all").await;
    app.event(
        GB,
        view(
            &v2,
            "/pricing?utm_source=newsletter&utm_campaign=launch",
            None,
        ),
    )
    .await;

    app.at(DAY_A + 11 * HOUR_MS + 30 * 60_000).await;
    let v3 = app.visitor(DE, "reject_all").await;
    let dropped = app.event(DE, view(&v3, "/", None)).await;
    assert_eq!(dropped["accepted"], 0, "{dropped}");

    app.at(DAY_A + 12 * HOUR_MS).await;
    let v4 = app.visitor(DE, "accept_all").await;
    app.event(DE, view(&v4, "/", google)).await;
    app.at(DAY_A + 12 * HOUR_MS + 60_000).await;
    app.event(DE, view(&v4, "/pricing", None)).await;

    app.at(DAY_A + DAY_MS + 9 * HOUR_MS).await;
    app.event(DE, view(&v1, "/", None)).await;
    app.analytics.sync_events().await.unwrap();

    app.at(DAY_A + DAY_MS + 10 * HOUR_MS).await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sites/demo/consents/{v4}")))
        .insert_header(app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "V4 is erased");
    let (_, key) = app.api_key("demo").await;
    (app, key)
}

fn rows(body: &Value) -> Vec<(Vec<String>, Vec<Value>)> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
        .iter()
        .map(|r| {
            let dims = r["dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            (dims, r["metrics"].as_array().unwrap().clone())
        })
        .collect()
}

fn row(dims: &[&str], metrics: Value) -> (Vec<String>, Vec<Value>) {
    (
        dims.iter().map(|d| d.to_string()).collect(),
        metrics.as_array().unwrap().clone(),
    )
}

pub(crate) const ALL_METRICS: [&str; 8] = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "conversions",
    "conversion_rate",
];

async fn ask(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, answer) = app.query(key, &body).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer
}

#[actix_web::test]
async fn every_metric_over_the_dataset_matches_the_hand_computed_totals() {
    let (app, key) = dataset(1).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ALL_METRICS, "date_range": [A, B]}),
    )
    .await;
    assert_eq!(
        rows(&answer),
        // V1 came back on day B: one visitor over the range (v2 counting), with two visits.
        [row(&[], json!([2, 3, 4, 5, 66.7, 120, 1, 50.0]))]
    );
    assert_eq!(answer["meta"]["date_range"], json!([A, B]));
}

#[actix_web::test]
async fn each_dimension_splits_the_dataset_as_computed_by_hand() {
    let (app, key) = dataset(1).await;
    let cases = [
        (
            "event:page",
            json!(["pageviews", "visitors"]),
            vec![
                row(&["/"], json!([2, 1])),
                row(&["/pricing"], json!([2, 2])),
            ],
        ),
        (
            "event:goal",
            json!(["conversions", "visitors", "conversion_rate"]),
            // A goal's conversion rate is its share of all the period's visitors.
            vec![row(&["signup"], json!([1, 1, 50.0]))],
        ),
        (
            "visit:source",
            json!(["visitors", "visits", "pageviews"]),
            vec![
                row(&["Direct / None"], json!([2, 2, 2])),
                row(&["Google"], json!([1, 1, 2])),
            ],
        ),
        (
            "visit:referrer",
            json!(["visits"]),
            vec![row(&["google.com"], json!([1]))],
        ),
        (
            "visit:utm_source",
            json!(["visits"]),
            vec![row(&["newsletter"], json!([1]))],
        ),
        (
            "visit:utm_campaign",
            json!(["visitors", "bounce_rate"]),
            vec![row(&["launch"], json!([1, 100.0]))],
        ),
        (
            "visit:country",
            json!(["visitors", "visits", "visit_duration"]),
            vec![
                row(&["DE"], json!([1, 2, 180])),
                row(&["GB"], json!([1, 1, 0])),
            ],
        ),
        (
            "visit:browser",
            json!(["visitors"]),
            vec![row(&["Firefox"], json!([2]))],
        ),
        (
            "visit:os",
            json!(["visits"]),
            vec![row(&["Linux"], json!([3]))],
        ),
        (
            "visit:device",
            json!(["pageviews"]),
            vec![row(&["desktop"], json!([4]))],
        ),
    ];
    for (dimension, metrics, expected) in cases {
        let answer = ask(
            &app,
            &key,
            json!({"metrics": metrics, "date_range": [A, B], "dimensions": [dimension]}),
        )
        .await;
        assert_eq!(rows(&answer), expected, "{dimension}");
    }
}

#[actix_web::test]
async fn time_dimensions_give_series_by_hour_day_and_month() {
    let (app, key) = dataset(1).await;
    let by_day = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, B], "dimensions": ["time:day"]}),
    )
    .await;
    assert_eq!(
        rows(&by_day),
        [row(&[A], json!([2, 3])), row(&[B], json!([1, 1]))]
    );
    let by_hour = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, A], "dimensions": ["time:hour"]}),
    )
    .await;
    assert_eq!(
        rows(&by_hour),
        [
            row(&["2026-09-24T10:00Z"], json!([1, 2])),
            row(&["2026-09-24T11:00Z"], json!([1, 1]))
        ],
        "V4's noon pageviews were erased"
    );
    let by_month = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, B], "dimensions": ["time:month"]}),
    )
    .await;
    assert_eq!(
        rows(&by_month),
        [row(&["2026-09"], json!([2, 4]))],
        "V1 counts once in the month, though on two days"
    );
}

#[actix_web::test]
async fn filters_of_every_kind_narrow_the_answer() {
    let (app, key) = dataset(1).await;
    let de = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, B],
               "filters": [["is", "visit:country", ["DE"]]]}),
    )
    .await;
    assert_eq!(rows(&de), [row(&[], json!([1, 3]))]);

    let pricing = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, B],
               "filters": [["contains", "event:page", ["pric"]]]}),
    )
    .await;
    assert_eq!(rows(&pricing), [row(&[], json!([2, 2]))]);

    let not_firefox = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": [A, B],
               "filters": [["is_not", "visit:browser", ["Firefox"]]]}),
    )
    .await;
    assert_eq!(rows(&not_firefox), [row(&[], json!([0]))]);

    let by_plan = ask(
        &app,
        &key,
        json!({"metrics": ["conversions"], "date_range": [A, B], "dimensions": ["event:props:plan"]}),
    )
    .await;
    assert_eq!(rows(&by_plan), [row(&["pro"], json!([1]))]);
}

#[actix_web::test]
async fn a_filter_value_that_matches_nothing_changes_no_answer_before_or_after_sealing() {
    let (app, key) = dataset(1).await;
    // The question with one value, and with a second value that matches nothing: once while
    // the days are in the write buffer, once after they are sealed into segments.
    for (dimension, value) in [("visit:country", "DE"), ("visit:source", "Google")] {
        let plain = ask(
            &app,
            &key,
            json!({"metrics": ALL_METRICS, "date_range": [A, B], "dimensions": ["time:day"],
                   "filters": [["is", dimension, [value]]]}),
        )
        .await;
        let widened = ask(
            &app,
            &key,
            json!({"metrics": ALL_METRICS, "date_range": [A, B], "dimensions": ["time:day"],
                   "filters": [["is", dimension, [value, "nothing-matches-this"]]]}),
        )
        .await;
        assert_eq!(plain["results"], widened["results"], "{dimension}");
    }
    let by_source = |filters: Value| json!({"metrics": ALL_METRICS, "date_range": [A, B], "dimensions": ["visit:source"], "filters": filters});
    let plain = ask(&app, &key, by_source(json!([]))).await;
    let widened = ask(
        &app,
        &key,
        by_source(json!([["is_not", "visit:os", ["Plan 9"]]])),
    )
    .await;
    assert_eq!(plain["results"], widened["results"]);
    app.analytics.settle_events().await.unwrap();
    let sealed = ask(&app, &key, by_source(json!([]))).await;
    assert_eq!(
        sealed["results"], plain["results"],
        "sealing changes no answer"
    );
}

#[actix_web::test]
async fn the_previous_period_is_compared_row_by_row() {
    let (app, key) = dataset(1).await;
    let total = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, B], "compare": "previous_period"}),
    )
    .await;
    assert_eq!(
        total["results"][0]["comparison"],
        json!({"metrics": [1, 1], "change": [100.0, 300.0]})
    );
    assert_eq!(
        total["meta"]["comparison_range"],
        json!(["2026-09-22", "2026-09-23"])
    );
    let series = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": [A, B], "dimensions": ["time:day"], "compare": "previous_period"}),
    )
    .await;
    assert_eq!(
        series["results"][0]["comparison"],
        json!({"metrics": [0], "change": [null]}),
        "A is compared with A−2, which had nobody"
    );
    assert_eq!(
        series["results"][1]["comparison"],
        json!({"metrics": [1], "change": [0.0]}),
        "B is compared with A−1, which had V5"
    );
}

#[actix_web::test]
async fn realtime_counts_the_visitors_of_the_last_five_minutes() {
    let (app, key) = dataset(1).await;
    app.at(DAY_A + DAY_MS + 9 * HOUR_MS + 3 * 60_000).await;
    let now = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": "realtime"}),
    )
    .await;
    assert_eq!(rows(&now), [row(&[], json!([1]))], "V1 came back at 09:00");
    app.at(DAY_A + DAY_MS + 9 * HOUR_MS + 6 * 60_000).await;
    let later = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": "realtime"}),
    )
    .await;
    assert_eq!(rows(&later), [row(&[], json!([0]))]);
}

#[actix_web::test]
async fn dropped_and_erased_visitors_appear_in_no_answer() {
    let (app, key) = dataset(1).await;
    // V3 was dropped at 11:30 and V4 (12:00) erased: no noon hour on day A.
    let by_hour = ask(
        &app,
        &key,
        json!({"metrics": ALL_METRICS, "date_range": [A, A], "dimensions": ["time:hour"]}),
    )
    .await;
    let hours: Vec<String> = rows(&by_hour).into_iter().map(|r| r.0[0].clone()).collect();
    assert_eq!(hours, ["2026-09-24T10:00Z", "2026-09-24T11:00Z"]);
    // From raw events too, and the country counts hold only V1 (DE) and V2 (GB).
    let raw = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, A], "dimensions": ["visit:country"],
               "filters": [["is_not", "event:page", ["/nowhere"]]]}),
    )
    .await;
    assert_eq!(
        rows(&raw),
        [row(&["DE"], json!([1, 2])), row(&["GB"], json!([1, 1]))]
    );
}

#[actix_web::test]
async fn groups_smaller_than_the_minimum_are_suppressed_and_no_id_is_ever_returned() {
    let (app, key) = dataset(5).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": [A, B], "dimensions": ["visit:country"]}),
    )
    .await;
    assert_eq!(answer["results"], json!([]));
    assert_eq!(answer["meta"]["suppressed"], 2);
    assert_eq!(answer["meta"]["min_group_size"], 5);
    let total = ask(
        &app,
        &key,
        json!({"metrics": ["visitors"], "date_range": [A, B]}),
    )
    .await;
    assert_eq!(
        rows(&total),
        [row(&[], json!([2]))],
        "the site's total is not a cohort"
    );
    let text = total.to_string() + &answer.to_string();
    let id_like = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.len() == 26);
    assert!(!id_like, "no consent id in {text}");
}

#[actix_web::test]
async fn a_request_without_a_valid_key_for_the_site_is_refused() {
    let (app, key) = dataset(1).await;
    let body = json!({"metrics": ["visitors"], "date_range": "7d"});
    let (status, answer) = app.post_json("/api/v1/sites/demo/query", &body).await;
    assert_eq!(status, 401);
    assert_error(&answer, "unauthorized");
    let (status, answer) = app.query("cs_not-a-key", &body).await;
    assert_eq!(status, 401);
    assert_error(&answer, "unauthorized");
    let wrong = format!("{}0", &key[..key.len() - 1]);
    let wrong = if wrong == key {
        format!("{}1", &key[..key.len() - 1])
    } else {
        wrong
    };
    let (status, _) = app.query(&wrong, &body).await;
    assert_eq!(status, 401, "right id, wrong secret");

    let (_, shop_key) = app.api_key("shop").await;
    let (status, answer) = app.query(&shop_key, &body).await;
    assert_eq!(status, 403);
    assert_error(&answer, "forbidden");
    for endpoint in ["consent-stats"] {
        let (status, _) = app.query_at(endpoint, &shop_key, &body).await;
        assert_eq!(status, 403, "{endpoint}");
    }
    let (status, _) = app.query(&key, &body).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_revoked_or_expired_key_stops_working_on_the_next_request() {
    let (app, _) = dataset(1).await;
    let (mut record, key) = app.api_key("demo").await;
    let body = json!({"metrics": ["visitors"], "date_range": "7d"});
    assert_eq!(app.query(&key, &body).await.0, 200);
    record.revoked_at = Some(now(&app));
    app.access.put_key(record.clone()).await.unwrap();
    let (status, answer) = app.query(&key, &body).await;
    assert_eq!(status, 401);
    assert_error(&answer, "unauthorized");

    record.revoked_at = None;
    record.expires_at = Some(Timestamp(now(&app).0 + 1_000));
    app.access.put_key(record).await.unwrap();
    assert_eq!(app.query(&key, &body).await.0, 200);
    app.at(now(&app).0 + 1_000).await;
    assert_eq!(app.query(&key, &body).await.0, 401, "expired");
}

#[actix_web::test]
async fn keys_are_stored_only_as_hashes_and_every_query_is_logged_by_key_id() {
    let (app, key) = dataset(1).await;
    let body =
        json!({"metrics": ["visitors"], "date_range": [A, B], "dimensions": ["visit:country"]});
    for _ in 0..3 {
        app.query(&key, &body).await;
    }
    app.query_at(
        "consent-stats",
        &key,
        &json!({"metrics": ["decisions"], "date_range": "7d"}),
    )
    .await;
    let log = app.access.query_log().await.unwrap();
    assert_eq!(log.len(), 4, "one entry per query: {log:?}");
    let id = &key[3..19];
    for line in &log {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["key_id"], id);
        assert!(!line.contains(&key[20..]), "the secret is never logged");
    }
    let first: Value = serde_json::from_str(&log[0]).unwrap();
    assert_eq!(first["params"]["dimensions"], json!(["visit:country"]));
    assert_eq!(first["rows"], 2);

    let secret = &key.as_bytes()[20..];
    let stored = app.stored_bytes().await;
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret),
        "the store holds the key in clear"
    );
}

#[actix_web::test]
async fn unanswerable_queries_get_a_400_naming_the_problem() {
    let (app, key) = dataset(1).await;
    let cases = [
        (
            json!({"metrics": ["clicks"], "date_range": "7d"}),
            "unknown_metric",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:planet"]}),
            "unknown_dimension",
        ),
        (
            json!({"metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:page"]}),
            "unsupported_combination",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": ["2024-01-01", "2026-01-01"]}),
            "range_too_long",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "30d", "dimensions": ["time:hour", "time:day"]}),
            "unsupported_combination",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "limit": 0}),
            "invalid_request",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "fortnight"}),
            "invalid_request",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "sort": "up"}),
            "invalid_json",
        ),
        (
            json!({"metrics": ["visitors"], "date_range": "7d", "filters": [["like", "visit:os", ["x"]]]}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = app.query(&key, &body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_error(&answer, code);
    }
    let huge = json!({"metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:page", ["x".repeat(20_000)]]]});
    assert_eq!(app.query(&key, &huge).await.0, 413);
}

#[actix_web::test]
async fn consent_statistics_report_decisions_and_opt_in_rates() {
    let (app, key) = dataset(1).await;
    let stats = |body: Value| {
        let app = &app;
        let key = &key;
        async move {
            let (status, answer) = app.query_at("consent-stats", key, &body).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    let by_action = stats(json!({"metrics": ["decisions", "opt_in_rate", "opt_out_rate"], "date_range": [A, A], "dimensions": ["consent:action"]})).await;
    assert_eq!(
        rows(&by_action),
        [
            row(&["accept_all"], json!([3, 100.0, 0.0])),
            row(&["reject_all"], json!([1, 0.0, 100.0]))
        ]
    );
    let by_region = stats(json!({"metrics": ["decisions", "opt_in_rate"], "date_range": [A, A], "dimensions": ["consent:jurisdiction"]})).await;
    assert_eq!(
        rows(&by_region),
        [
            row(&["EEA"], json!([3, 66.7])),
            row(&["UK"], json!([1, 100.0]))
        ]
    );
    let by_category = stats(json!({"metrics": ["decisions", "opt_in_rate"], "date_range": [A, A],
        "dimensions": ["consent:category"], "filters": [["is", "consent:category", ["analytics"]]]}))
    .await;
    assert_eq!(rows(&by_category), [row(&["analytics"], json!([4, 75.0]))]);
    let by_day =
        stats(json!({"metrics": ["decisions"], "date_range": [A, B], "dimensions": ["time:day"]}))
            .await;
    assert_eq!(rows(&by_day), [row(&[A], json!([4]))]);
}

#[actix_web::test]
async fn a_query_downloads_as_csv() {
    let (app, key) = dataset(1).await;
    let auth = format!("Bearer {key}");
    let mut res = app
        .client
        .get(app.url(&format!(
            "/api/v1/sites/demo/export.csv?metrics=visitors,visits&date_range={A},{B}&dimensions=visit:country"
        )))
        .insert_header(("authorization", auth.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let body = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert_eq!(
        body,
        "visit:country,visitors,visits\r\nDE,1,2\r\nGB,1,1\r\n"
    );
    let res = app
        .client
        .get(app.url("/api/v1/sites/demo/export.csv?metrics=visitors&date_range=7d"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[actix_web::test]
async fn the_dashboard_signs_in_with_a_key_into_a_strict_http_only_session() {
    let (app, key) = dataset(1).await;
    let page = |cookie: Option<String>| {
        let mut req = app.client.get(app.url("/dashboard/demo"));
        if let Some(c) = cookie {
            req = req.insert_header(("cookie", c));
        }
        req.send()
    };
    let mut signed_out = page(None).await.unwrap();
    let html = String::from_utf8(signed_out.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("name=\"key\""), "a sign-in form");

    let wrong = sign_in(&app, "cs_0000000000000000_00", true).await;
    assert_eq!(wrong.status().as_u16(), 401);
    let forged = sign_in(&app, &key, false).await;
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a sign-in without the page's token is refused, even with a right key"
    );

    let res = sign_in(&app, &key, true).await;
    assert_eq!(res.status().as_u16(), 303);
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=28800"), "{set_cookie}");
    assert!(
        !set_cookie.contains(&key[20..]),
        "the cookie does not hold the key"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let mut signed_in = page(Some(cookie.clone())).await.unwrap();
    let html = String::from_utf8(signed_in.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains(&key[3..19]), "the page names the key id");

    let ask_with_cookie = || {
        app.client
            .post(app.url("/api/v1/sites/demo/query"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("cookie", cookie.clone()))
            .send_body(json!({"metrics": ["visitors"], "date_range": [A, B]}).to_string())
    };
    assert_eq!(ask_with_cookie().await.unwrap().status().as_u16(), 200);

    let id = consentry::domain::ApiKeyId::parse(&key[3..19]).unwrap();
    let mut record = app.access.key(id).await.unwrap().unwrap();
    record.revoked_at = Some(now(&app));
    app.access.put_key(record).await.unwrap();
    assert_eq!(
        ask_with_cookie().await.unwrap().status().as_u16(),
        401,
        "revoking the key ends its sessions"
    );
}

#[actix_web::test]
async fn the_query_log_is_kept_ninety_days() {
    let (app, key) = dataset(1).await;
    app.query(&key, &json!({"metrics": ["visitors"], "date_range": "7d"}))
        .await;
    assert_eq!(app.access.query_log().await.unwrap().len(), 1);
    let later = |days: i64| Timestamp(now(&app).0 + days * DAY_MS);
    let report = app
        .store
        .sweep(app.retention.clone(), later(89), Default::default())
        .await
        .unwrap();
    assert_eq!(report.query_log_deleted, 0);
    let report = app
        .store
        .sweep(app.retention.clone(), later(91), Default::default())
        .await
        .unwrap();
    assert_eq!(report.query_log_deleted, 1);
    assert!(app.access.query_log().await.unwrap().is_empty());
}
