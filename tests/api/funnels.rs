//! Funnels over HTTP: visitors through pages and events, step by step, within a visit or a
//! number of days, split, filtered and kept to the site's minimum group size.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};
use crate::marketer::{A, DAY_A, DAY_MS, DE, GB, HOUR_MS, marketer_app};

const MIN: i64 = 60_000;

/// Five visitors on day A (and one back on day A + 1):
/// v1 (DE) `/` → `/pricing/pro` → signup, in one visit;
/// v2 (DE) `/` → `/pricing`;
/// v3 (GB) `/` only;
/// v4 (GB) `/pricing` → signup, never `/`;
/// v5 (GB) `/` on day A, `/pricing` and signup on day A + 1.
async fn shop(min_group_size: u32) -> (TestApp, String, Vec<String>) {
    let app = marketer_app(min_group_size).await;
    let mut ids = Vec::new();
    let journeys: [(&str, &[(i64, &str)]); 5] = [
        (DE, &[(0, "/"), (2, "/pricing/pro"), (3, "signup")]),
        (DE, &[(0, "/"), (5, "/pricing")]),
        (GB, &[(0, "/")]),
        (GB, &[(0, "/pricing"), (1, "signup")]),
        (
            GB,
            &[
                (0, "/"),
                (DAY_MS / MIN, "/pricing"),
                (DAY_MS / MIN + 1, "signup"),
            ],
        ),
    ];
    for (n, (ip, steps)) in journeys.iter().enumerate() {
        let start = DAY_A + 10 * HOUR_MS + n as i64 * HOUR_MS;
        app.at(start).await;
        let id = app.visitor(ip, "accept_all").await;
        for (minute, what) in steps.iter() {
            app.at(start + minute * MIN).await;
            let event = if what.starts_with('/') {
                TestApp::pageview(&id, what)
            } else {
                json!({"consent_id": id, "name": what, "url": "https://parcelwise.example/signup"})
            };
            app.event(ip, event).await;
        }
        ids.push(id);
    }
    app.analytics.sync_events().await.unwrap();
    app.at(DAY_A + 3 * DAY_MS).await;
    let (_, key) = app.api_key("demo").await;
    (app, key, ids)
}

fn funnel(window: &str) -> Value {
    json!({"date_range": [A, "2026-09-26"], "window": window,
           "steps": [{"page": "/"}, {"page": "/pricing*"}, {"event": "signup"}]})
}

fn visitors(answer: &Value) -> Vec<u64> {
    answer["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {answer}"))
        .iter()
        .map(|s| s["visitors"].as_u64().unwrap())
        .collect()
}

async fn ask(app: &TestApp, key: &str, body: &Value) -> Value {
    let (status, answer) = app.query_at("funnel", key, body).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer
}

#[actix_web::test]
async fn a_funnel_within_a_visit_counts_who_took_each_step_in_order() {
    let (app, key, _) = shop(1).await;
    let answer = ask(&app, &key, &funnel("visit")).await;
    assert_eq!(visitors(&answer), [4, 2, 1], "{answer}");
    assert_eq!(answer["steps"][1]["conversion_rate"], 50.0);
    assert_eq!(answer["steps"][1]["drop_off"], 2);
    assert_eq!(answer["steps"][2]["conversion_rate"], 25.0);
    assert_eq!(answer["steps"][0]["step"], json!({"page": "/"}));
    assert_eq!(answer["steps"][2]["step"], json!({"event": "signup"}));
    assert_eq!(answer["meta"]["window"], "visit");
}

#[actix_web::test]
async fn a_window_of_days_lets_a_visitor_finish_on_another_visit() {
    let (app, key, _) = shop(1).await;
    let answer = ask(&app, &key, &funnel("7d")).await;
    assert_eq!(visitors(&answer), [4, 3, 2], "v5 came back the next day");
    // Sealing the days into segments changes no answer.
    app.analytics.settle_events().await.unwrap();
    assert_eq!(visitors(&ask(&app, &key, &funnel("7d")).await), [4, 3, 2]);
}

#[actix_web::test]
async fn a_funnel_splits_by_a_visit_dimension_and_follows_filters() {
    let (app, key, _) = shop(1).await;
    let mut body = funnel("visit");
    body["dimension"] = json!("visit:country");
    let answer = ask(&app, &key, &body).await;
    assert_eq!(visitors(&answer), [4, 2, 1]);
    let groups = answer["groups"].as_array().unwrap();
    let of = |c: &str| {
        groups
            .iter()
            .find(|g| g["dimension"] == c)
            .map(visitors)
            .unwrap_or_else(|| panic!("no {c} in {answer}"))
    };
    assert_eq!(of("DE"), [2, 2, 1]);
    assert_eq!(of("GB"), [2, 0, 0]);
    let mut body = funnel("visit");
    body["filters"] = json!([["is", "visit:country", ["DE"]]]);
    assert_eq!(visitors(&ask(&app, &key, &body).await), [2, 2, 1]);
}

#[actix_web::test]
async fn an_erased_visitor_leaves_every_step_of_the_funnel() {
    let (app, key, ids) = shop(1).await;
    app.analytics.settle_events().await.unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sites/demo/consents/{}", ids[0])))
        .insert_header(app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        visitors(&ask(&app, &key, &funnel("visit")).await),
        [3, 1, 0]
    );
}

#[actix_web::test]
async fn a_small_funnel_group_is_suppressed_like_any_other() {
    let (app, key, _) = shop(3).await;
    let mut body = funnel("visit");
    body["dimension"] = json!("visit:country");
    let answer = ask(&app, &key, &body).await;
    assert_eq!(
        visitors(&answer),
        [4, 2, 1],
        "the whole site is not a cohort"
    );
    assert_eq!(
        answer["groups"],
        json!([]),
        "two visitors each: fewer than 3"
    );
    assert_eq!(answer["meta"]["suppressed"], 2);
}

#[actix_web::test]
async fn bad_funnels_are_refused_with_the_field_named() {
    let (app, key, _) = shop(1).await;
    let cases = [
        (
            json!({"date_range": "7d", "steps": [{"page": "/"}]}),
            "invalid_request",
        ),
        (
            json!({"date_range": "7d", "steps": [{"page": "/"}, {"event": "x"}], "window": "7"}),
            "invalid_request",
        ),
        (
            json!({"date_range": "7d", "steps": [{"page": "/", "event": "x"}, {"event": "x"}]}),
            "invalid_request",
        ),
        (
            json!({"date_range": "realtime", "steps": [{"page": "/"}, {"event": "x"}]}),
            "unsupported_combination",
        ),
        (
            json!({"date_range": "7d", "steps": [{"page": "/"}, {"event": "x"}], "dimension": "event:page"}),
            "unsupported_combination",
        ),
        (
            json!({"date_range": "7d", "steps": [{"page": "/"}, {"event": "x"}], "segment": "nope"}),
            "unknown_segment",
        ),
        (
            json!({"date_range": "7d", "steps": [{"page": "/"}, {"event": "x"}], "colour": 1}),
            "invalid_json",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = app.query_at("funnel", &key, &body).await;
        assert!(status == 400 || status == 404, "{body} → {status} {answer}");
        assert_error(&answer, code);
    }
    let (status, _) = app.query_at("funnel", "cs_wrong", &funnel("visit")).await;
    assert_eq!(status, 401);
}
