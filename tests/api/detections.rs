//! Cookie and tracker detection through HTTP: a page's report from the banner (names and hosts,
//! no value, no id), counted per day and judged against the demo site's declarations when the
//! report is read.

use serde_json::{Value, json};

use crate::helpers::{BROWSER_UA, TestApp, assert_error, spawn_app, spawn_app_with};

async fn send(app: &TestApp, body: Value) -> (u16, Value) {
    let headers = [app.origin(), ("user-agent", BROWSER_UA)];
    app.post_json_with("/api/v1/sites/demo/detections", &body, &headers)
        .await
}

async fn read(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    app.get_json(
        &format!("/api/v1/sites/demo/detections{query}"),
        &[("authorization", auth.as_str())],
    )
    .await
}

fn finding<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .find(|f| f["name"] == name)
}

#[actix_web::test]
async fn what_the_site_did_not_declare_or_set_without_consent_is_reported_with_a_suggestion() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let page = json!({
        "path": "/pricing",
        // The demo site declares `_adp_*` (marketing) and `pw_chat` (essential); `consentry`
        // is the banner's own.
        "cookies": ["_adp_48213xyz", "_fbp", "pw_chat", "consentry", "bad name"],
        "hosts": ["connect.facebook.com", "ads.example", "not a host"],
        "granted": ["analytics"],
    });
    for _ in 0..2 {
        let (status, body) = send(&app, page.clone()).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            body["recorded"], 6,
            "the bad name and host are left out: {body}"
        );
    }
    let (status, report) = read(&app, &key, "").await;
    assert_eq!(status, 200, "{report}");

    let adp = finding(&report, "_adp_*").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        adp["declared"], true,
        "the id part is stored as *, and matches the declaration"
    );
    assert_eq!(
        adp["declared_in"],
        json!({"category": "marketing", "service": "AdPixel"})
    );
    assert_eq!(adp["violation"], true, "marketing was not granted");
    assert_eq!(adp["unconsented_reports"], 2);

    let fbp = finding(&report, "_fbp").unwrap_or_else(|| panic!("{report}"));
    let hour = |t: &Value| {
        t.as_str()
            .is_some_and(|t| t.ends_with(":00:00Z") || t.ends_with(":00:00.000Z"))
    };
    assert!(
        hour(&fbp["first_seen"]) && hour(&fbp["last_seen"]),
        "kept to the hour: {fbp}"
    );
    assert_eq!(fbp["declared"], false);
    assert_eq!(fbp["suggestion"]["category"], "marketing");
    assert_eq!(fbp["suggestion"]["platform"], "Facebook");
    assert_eq!(fbp["reports"], 2);
    assert_eq!(fbp["pages"], json!(["/pricing"]));
    assert!(
        fbp["declare"]
            .as_str()
            .is_some_and(|d| d.contains("cookies = [{ name = \"_fbp\"")),
        "{fbp}"
    );

    let host = finding(&report, "connect.facebook.com").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (host["kind"].as_str(), host["declared"].as_bool()),
        (Some("host"), Some(false))
    );
    assert_eq!(host["suggestion"]["category"], "marketing");
    // The demo's AdPixel is declared by cookies, not by host: its host is unknown.
    let unknown = finding(&report, "ads.example").unwrap_or_else(|| panic!("{report}"));
    assert!(unknown.get("suggestion").is_none());
    assert_eq!(
        unknown["violation"], false,
        "analytics was granted: not before consent"
    );

    assert!(
        finding(&report, "pw_chat").is_none(),
        "declared and essential: not listed"
    );
    assert!(
        finding(&report, "consentry").is_none(),
        "the banner's own cookie"
    );
    let (_, everything) = read(&app, &key, "?all=true").await;
    let chat = finding(&everything, "pw_chat").unwrap_or_else(|| panic!("{everything}"));
    assert_eq!(
        (chat["declared"].as_bool(), chat["violation"].as_bool()),
        (Some(true), Some(false))
    );
}

#[actix_web::test]
async fn a_report_that_cannot_be_a_pages_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let many: Vec<String> = (0..61).map(|i| format!("c{i}")).collect();
    for (body, why) in [
        (json!({"path": "pricing"}), "a path"),
        (json!({"path": "/", "cookies": many}), "too many names"),
        (json!({"path": "/", "values": ["x"]}), "an unknown field"),
        (json!({"path": "/\u{202e}x"}), "a bidirectional override"),
    ] {
        let (status, answer) = send(&app, body).await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    let (status, answer) = app
        .post_json_with(
            "/api/v1/sites/demo/detections",
            &json!({"path": "/", "cookies": ["_ga"]}),
            &[app.origin(), ("user-agent", "Googlebot/2.1")],
        )
        .await;
    assert_eq!(
        (status, &answer["recorded"]),
        (202, &json!(0)),
        "a crawler's page: {answer}"
    );
    let (_, report) = read(&app, &key, "?all=true").await;
    assert_eq!(report["findings"], json!([]));
    let (status, answer) = read(&app, "cs_0000000000000000_00", "").await;
    assert_eq!(status, 401, "{answer}");
    for range in [
        "2026-12-05,2026-12-01",
        "realtime",
        "2026-02-30,2026-03-01",
        "1d",
    ] {
        let (status, answer) = read(&app, &key, &format!("?date_range={range}")).await;
        assert_eq!(status, 400, "{range}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("date_range")),
            "{answer}"
        );
    }
}

#[actix_web::test]
async fn a_site_that_turned_detection_off_refuses_reports_and_its_banner_says_so() {
    let app = spawn_app_with(|s| s.sites[0].detect_cookies = false).await;
    let (status, body) = send(&app, json!({"path": "/", "cookies": ["_ga"]})).await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "forbidden");
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(banner["detect"], false, "{banner}");
    let on = spawn_app().await;
    let (_, banner) = on.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(banner["detect"], true);
}

#[actix_web::test]
async fn sightings_leave_with_the_days_retention_deletes() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let (status, _) = send(&app, json!({"path": "/", "cookies": ["_fbp"]})).await;
    assert_eq!(status, 202);
    app.clock.advance_days(91);
    let (status, _) = send(&app, json!({"path": "/", "cookies": ["_gcl_au"]})).await;
    assert_eq!(status, 202);
    let (_, before) = read(&app, &key, "?all=true&date_range=12mo").await;
    assert!(
        finding(&before, "_fbp").is_some(),
        "kept until the sweep: {before}"
    );
    app.store
        .sweep(
            app.retention.clone(),
            consentry::domain::Clock::now(&app.clock),
            Default::default(),
        )
        .await
        .unwrap();
    let (_, report) = read(&app, &key, "?all=true&date_range=12mo").await;
    assert!(finding(&report, "_fbp").is_none(), "{report}");
    assert!(finding(&report, "_gcl_au").is_some(), "{report}");
}

/// `n` written in letters (`a`, `b`, … `ba`, …), after a prefix.
fn letters(mut n: usize) -> String {
    let mut out = String::from("ck_");
    loop {
        out.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return out;
        }
    }
}

#[actix_web::test]
async fn a_site_keeps_at_most_two_thousand_rows_a_day_and_the_answer_lists_five_hundred() {
    let app = spawn_app_with(|s| {
        s.rate_limit = consentry::settings::RateLimit {
            burst: 10_000,
            per_minute: 10_000,
        };
    })
    .await;
    let (_, key) = app.api_key("demo").await;
    for report in 0..35 {
        // Letters only: a name with digits in it could be starred into another.
        let names: Vec<String> = (0..60).map(|i| letters(report * 60 + i)).collect();
        let (status, body) = send(&app, json!({"path": "/", "cookies": names})).await;
        assert_eq!(status, 202, "{body}");
    }
    let (_, report) = read(&app, &key, "?all=true").await;
    let listed = report["findings"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, 500, "{}", report["not_listed"]);
    assert_eq!(report["not_listed"], 1_500, "2,100 names sent, 2,000 kept");
}
