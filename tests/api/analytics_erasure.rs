//! Erasure and the withdrawal purge on sealed days: every answer afterwards is the answer of a
//! store that never held those events, and no byte of them is left in the segment files.

use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, TestApp};
use crate::marketer::{A, ALL_METRICS, DAY_A, DE, GB, HOUR_MS, marketer_app};

async fn sweep(app: &TestApp) -> consentry::store::SweepReport {
    let now = consentry::domain::Clock::now(&app.clock);
    app.store
        .sweep(app.retention.clone(), now, Default::default())
        .await
        .unwrap()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The questions compared: totals, pages, countries, entry pages, hours, properties.
fn questions() -> Vec<Value> {
    let all = json!(ALL_METRICS);
    vec![
        json!({"metrics": all, "date_range": [A, A]}),
        json!({"metrics": ["visitors", "pageviews"], "date_range": [A, A], "dimensions": ["event:page"]}),
        json!({"metrics": all, "date_range": [A, A], "dimensions": ["visit:country", "visit:entry_page"]}),
        json!({"metrics": ["visitors", "events"], "date_range": [A, A], "dimensions": ["time:hour"]}),
        json!({"metrics": ["conversions"], "date_range": [A, A], "dimensions": ["event:props:ref"]}),
    ]
}

async fn answers(app: &TestApp, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for q in questions() {
        let (status, answer) = app.query(key, &q).await;
        assert_eq!(status, 200, "{q} → {answer}");
        out.push(answer["results"].clone());
    }
    out
}

/// The visitors who stay: one in GB with a page and a signup.
async fn the_rest(app: &TestApp) {
    app.at(DAY_A + 11 * HOUR_MS).await;
    let id = app.visitor(GB, "accept_all").await;
    app.event(GB, TestApp::pageview(&id, "/kept")).await;
    app.at(DAY_A + 11 * HOUR_MS + 60_000).await;
    app.event(GB, json!({"consent_id": id, "name": "signup", "url": "https://parcelwise.example/kept", "props": {"ref": "kept"}})).await;
}

#[actix_web::test]
async fn an_erased_visitor_leaves_no_count_and_no_byte_in_the_sealed_days() {
    let marker = format!("erase-me-{:016x}", rand::random::<u64>());
    let app = marketer_app(1).await;
    app.at(DAY_A + 10 * HOUR_MS).await;
    let gone = app.visitor(DE, "accept_all").await;
    app.event(DE, TestApp::pageview(&gone, &format!("/{marker}")))
        .await;
    app.event(DE, json!({"consent_id": gone, "name": "signup", "url": "https://parcelwise.example/", "props": {"ref": marker}})).await;
    the_rest(&app).await;
    app.analytics.settle_events().await.unwrap();
    assert!(
        holds(&app.event_bytes().await, &marker),
        "the scan sees a sealed event's strings"
    );
    // Asked before the erasure too, so the sealed day's answers to questions without a
    // filter are kept: the answers after it must not come from those.
    let (_, key) = app.api_key("demo").await;
    let before = answers(&app, &key).await;

    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sites/demo/consents/{gone}")))
        .insert_header(app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        !holds(&app.event_bytes().await, &marker),
        "no byte of the erased visitor's events is left in the stored events"
    );
    assert!(
        !holds(&app.stored_bytes().await, &gone),
        "no raw consent id anywhere in the store"
    );

    let never = marketer_app(1).await;
    the_rest(&never).await;
    never.analytics.settle_events().await.unwrap();
    let (_, never_key) = never.api_key("demo").await;
    let never_answers = answers(&never, &never_key).await;
    assert_ne!(
        before, never_answers,
        "the visitor counted before the erasure"
    );
    assert_eq!(
        answers(&app, &key).await,
        never_answers,
        "as if the visitor never came"
    );
}

#[actix_web::test]
async fn a_withdrawn_categorys_sealed_events_are_purged_and_the_rest_stay() {
    let marker = format!("ad-{:016x}", rand::random::<u64>());
    let app = marketer_app(1).await;
    app.at(DAY_A + 10 * HOUR_MS).await;
    let id = app.visitor(DE, "accept_all").await;
    app.event(DE, TestApp::pageview(&id, "/")).await;
    app.event(DE, json!({"consent_id": id, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing", "props": {"ref": marker}})).await;
    the_rest(&app).await;
    app.analytics.settle_events().await.unwrap();
    assert!(holds(&app.event_bytes().await, &marker));
    let (_, key) = app.api_key("demo").await;
    let by_name = json!({"metrics": ["visitors", "events"], "date_range": [A, A], "dimensions": ["event:name"]});
    assert_eq!(
        app.query(&key, &by_name).await.1["results"],
        json!([{"dimensions": ["ad_click"], "metrics": [1, 1]}, {"dimensions": ["signup"], "metrics": [1, 1]}]),
        "asked before the purge, so the sealed day's answer is kept"
    );

    app.at(DAY_A + 12 * HOUR_MS).await;
    let (status, _) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "save", "choices": {"analytics": true}, "consent_id": id, "policy_version": POLICY_VERSION}),
            &[("x-forwarded-for", DE)],
        )
        .await;
    assert_eq!(status, 201, "marketing withdrawn, analytics kept");
    app.at(DAY_A + 37 * HOUR_MS).await;
    let report = sweep(&app).await;
    assert_eq!(report.withdrawn_events_deleted, 1);
    assert!(
        !holds(&app.event_bytes().await, &marker),
        "the purged event left the stored events"
    );

    let (_, names) = app.query(&key, &by_name).await;
    assert_eq!(
        names["results"],
        json!([{"dimensions": ["signup"], "metrics": [1, 1]}]),
        "{names}"
    );
    let (_, pages) = app
        .query(
            &key,
            &json!({"metrics": ["visitors", "pageviews"], "date_range": [A, A]}),
        )
        .await;
    assert_eq!(
        pages["results"][0]["metrics"],
        json!([2, 2]),
        "the analytics pageviews stay"
    );
}

#[actix_web::test]
async fn retention_deletes_whole_sealed_days() {
    let app = marketer_app(1).await;
    the_rest(&app).await;
    app.analytics.settle_events().await.unwrap();
    let (_, key) = app.api_key("demo").await;
    let total = json!({"metrics": ["events"], "date_range": [A, A]});
    assert_eq!(
        app.query(&key, &total).await.1["results"][0]["metrics"],
        json!([2])
    );
    // The demo site keeps events 90 days.
    app.at(DAY_A + 92 * 86_400_000).await;
    let report = sweep(&app).await;
    assert_eq!(report.events_deleted, 2);
    assert_eq!(
        app.query(&key, &total).await.1["results"][0]["metrics"],
        json!([0])
    );
    let left = std::fs::read_dir(app.data_dir.join("events/demo"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "the day's file is gone");
}

/// A question about a day still in the write buffer reads a day built once and kept until the
/// buffer changes: each later question must still count every event written, erased or purged
/// since. Today (by the system clock) is never sealed while it lasts, so every step below reads
/// the buffer.
#[actix_web::test]
async fn a_day_in_the_write_buffer_is_answered_anew_after_each_event_erasure_and_purge() {
    let app = marketer_app(1).await;
    let (_, key) = app.api_key("demo").await;
    let now = consentry::domain::Clock::now(&consentry::domain::SystemClock).0;
    let start = now.div_euclid(86_400_000) * 86_400_000 + 60_000;
    let today = time::OffsetDateTime::from_unix_timestamp(start / 1000)
        .unwrap()
        .date()
        .to_string();
    let total = json!({"metrics": ["visitors", "events"], "date_range": [today, today]});
    let ask = || async {
        app.analytics.sync_events().await.unwrap();
        let (status, answer) = app.query(&key, &total).await;
        assert_eq!(status, 200, "{answer}");
        answer["results"][0]["metrics"].clone()
    };

    app.at(start).await;
    let gone = app.visitor(DE, "accept_all").await;
    app.event(DE, TestApp::pageview(&gone, "/")).await;
    assert_eq!(ask().await, json!([1, 1]));
    let stays = app.visitor(GB, "accept_all").await;
    app.event(GB, TestApp::pageview(&stays, "/kept")).await;
    app.event(GB, TestApp::pageview(&stays, "/kept/more")).await;
    assert_eq!(ask().await, json!([2, 3]), "the events written since");

    app.event(DE, json!({"consent_id": gone, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"})).await;
    assert_eq!(ask().await, json!([2, 4]));
    app.at(start + 2 * HOUR_MS).await;
    let (status, _) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "save", "choices": {"analytics": true}, "consent_id": gone, "policy_version": POLICY_VERSION}),
            &[("x-forwarded-for", DE)],
        )
        .await;
    assert_eq!(status, 201);
    app.at(start + 27 * HOUR_MS).await;
    assert_eq!(sweep(&app).await.withdrawn_events_deleted, 1);
    assert_eq!(ask().await, json!([2, 3]), "the purged marketing event");

    let (status, _) = app.erase(&gone).await;
    assert_eq!(status, 200);
    assert_eq!(ask().await, json!([1, 2]), "the erased visitor");
}
