//! Goals against a small dataset whose answers are computed by hand.
//!
//! The site's goals: `Sign-up` (event `signup`), `Purchase` (event `purchase`, revenue from
//! `value`, EUR), `Docs` (pages `/docs/*`), `Downloads` (event `download`). No goal names
//! `outbound`. Day A, every visitor accepts all:
//! - V1 (DE) 10:00 `/`, 10:01 `/docs/start`, 10:02 `signup`, 10:03 `purchase` value 49,
//!   10:04 `outbound`.
//! - V2 (GB) 11:00 `/docs/a`, 11:01 `/docs/b`, 11:02 `purchase` value "19.99", 11:03 `download`.
//! - V3 (DE) 12:00 `/`, 12:01 `outbound`.
//! - V4 (GB) 13:00 `/pricing`, 13:01 `purchase` value "oops" (no readable amount).
//!
//! So: 4 visitors; conversions 8 (V1 3, V2 4, V4 1; neither `outbound` counts); 3 converters,
//! rate 75.0; revenue 49 + 19.99 = 68.99. By goal: Docs 3 conversions from 2 visitors (50.0),
//! Purchase 3 from 3 (75.0, 68.99), Sign-up 1 from 1 (25.0), Downloads 1 from 1 (25.0).

use consentry::analytics::funnel::{PagePattern, Step};
use consentry::analytics::goals::{Currency, Goal, Goals};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::marketer::{A, DAY_A, DE, GB, HOUR_MS, marketer_app_with};

fn goal(name: &str, trigger: Step, revenue: Option<&str>) -> Goal {
    Goal {
        name: name.into(),
        trigger,
        revenue_property: revenue.map(str::to_owned),
    }
}

fn site_goals() -> Goals {
    Goals::new(
        vec![
            goal("Sign-up", Step::Event("signup".into()), None),
            goal("Purchase", Step::Event("purchase".into()), Some("value")),
            goal(
                "Docs",
                Step::Page(PagePattern::parse("/docs/*", "page").unwrap()),
                None,
            ),
            goal("Downloads", Step::Event("download".into()), None),
        ],
        Currency::parse("EUR"),
    )
    .unwrap()
}

fn at(hour: i64, minute: i64) -> i64 {
    DAY_A + hour * HOUR_MS + minute * 60_000
}

fn page(id: &str, path: &str) -> Value {
    TestApp::pageview(id, path)
}

fn custom(id: &str, name: &str, props: Value) -> Value {
    json!({"consent_id": id, "name": name, "url": "https://parcelwise.example/x", "props": props})
}

/// The dataset above, on a site with these goals.
async fn dataset(goals: Goals) -> (TestApp, String) {
    let app = marketer_app_with(1, goals).await;
    let outbound = json!({"url": "https://else.example/"});
    // (address, hour, events: a path for a pageview, else a custom event's name and props)
    let visits = [
        (
            DE,
            10,
            vec![
                ("/", json!(null)),
                ("/docs/start", json!(null)),
                ("signup", json!({})),
                ("purchase", json!({"value": 49})),
                ("outbound", outbound.clone()),
            ],
        ),
        (
            GB,
            11,
            vec![
                ("/docs/a", json!(null)),
                ("/docs/b", json!(null)),
                ("purchase", json!({"value": "19.99"})),
                ("download", json!({"url": "/a.pdf"})),
            ],
        ),
        (DE, 12, vec![("/", json!(null)), ("outbound", outbound)]),
        (
            GB,
            13,
            vec![
                ("/pricing", json!(null)),
                ("purchase", json!({"value": "oops"})),
            ],
        ),
    ];
    for (ip, hour, events) in visits {
        app.at(at(hour, 0)).await;
        let id = app.visitor(ip, "accept_all").await;
        for (minute, (what, props)) in events.into_iter().enumerate() {
            app.at(at(hour, minute as i64)).await;
            let event = if what.starts_with('/') {
                page(&id, what)
            } else {
                custom(&id, what, props)
            };
            let sent = app.event(ip, event).await;
            assert_eq!(sent["accepted"], 1, "{sent}");
        }
    }
    app.analytics.sync_events().await.unwrap();
    let (_, key) = app.api_key("demo").await;
    (app, key)
}

async fn ask(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, answer) = app.query(key, &body).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer
}

fn rows(answer: &Value) -> Vec<(Value, Value)> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|r| (r["dimensions"].clone(), r["metrics"].clone()))
        .collect()
}

#[actix_web::test]
async fn conversions_count_goal_completions_only_with_their_revenue() {
    let (app, key) = dataset(site_goals()).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ["visitors", "events", "conversions", "conversion_rate", "revenue"],
               "date_range": [A, A]}),
    )
    .await;
    // 13 events in all (outbound included), 8 of them goal completions.
    assert_eq!(rows(&answer), [(json!([]), json!([4, 13, 8, 75.0, 68.99]))]);
    assert_eq!(answer["meta"]["currency"], "EUR");
}

#[actix_web::test]
async fn each_goal_is_a_row_of_event_goal_with_its_share_of_all_visitors() {
    let (app, key) = dataset(site_goals()).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ["conversions", "visitors", "conversion_rate", "revenue"],
               "date_range": [A, A], "dimensions": ["event:goal"],
               "order_by": [["event:goal", "asc"]]}),
    )
    .await;
    assert_eq!(
        rows(&answer),
        [
            (json!(["Docs"]), json!([3, 2, 50.0, 0.0])),
            (json!(["Downloads"]), json!([1, 1, 25.0, 0.0])),
            (json!(["Purchase"]), json!([3, 3, 75.0, 68.99])),
            (json!(["Sign-up"]), json!([1, 1, 25.0, 0.0])),
        ]
    );
}

#[actix_web::test]
async fn a_goal_filter_narrows_to_its_completions_and_rates_stay_shares_of_each_group() {
    let (app, key) = dataset(site_goals()).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ["conversions", "visitors", "conversion_rate", "revenue"],
               "date_range": [A, A], "dimensions": ["visit:country"],
               "filters": [["is", "event:goal", ["Purchase"]]],
               "order_by": [["visit:country", "asc"]]}),
    )
    .await;
    // DE: V1's purchase; its visitors are V1 and V3. GB: V2's and V4's; visitors V2 and V4.
    assert_eq!(
        rows(&answer),
        [
            (json!(["DE"]), json!([1, 1, 50.0, 49.0])),
            (json!(["GB"]), json!([2, 2, 100.0, 19.99])),
        ]
    );
}

#[actix_web::test]
async fn the_goals_endpoint_lists_the_goals_as_the_settings_define_them() {
    let (app, key) = dataset(site_goals()).await;
    let (status, listed) = app
        .get_json(
            "/api/v1/sites/demo/goals",
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["currency"], "EUR");
    assert_eq!(
        listed["goals"][1],
        json!({"name": "Purchase", "event": "purchase", "revenue": "value"})
    );
    assert_eq!(
        listed["goals"][2],
        json!({"name": "Docs", "page": "/docs/*"})
    );
}

#[actix_web::test]
async fn on_a_site_without_goals_nothing_is_a_conversion() {
    let (app, key) = dataset(Goals::default()).await;
    let answer = ask(
        &app,
        &key,
        json!({"metrics": ["events", "conversions", "conversion_rate", "revenue"],
               "date_range": [A, A]}),
    )
    .await;
    assert_eq!(rows(&answer), [(json!([]), json!([13, 0, 0.0, 0.0]))]);
    assert!(answer["meta"].get("currency").is_none(), "{answer}");
    let (status, listed) = app
        .get_json(
            "/api/v1/sites/demo/goals",
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!({"goals": [], "currency": null}));
}
