//! What a hostile or careless client cannot do: grow the metrics, hold a connection with a
//! trickled body, fill the rights log, guess keys or ids without limit, or act from a foreign
//! or rebound origin.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use consentry::settings::RateLimit;
use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, TestApp, assert_error, spawn_app, spawn_app_with};

fn tight(burst: u32) -> RateLimit {
    RateLimit {
        burst,
        per_minute: 1,
    }
}

async fn status_and_body(
    mut res: awc::ClientResponse<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
    >,
) -> (u16, Value, Option<String>) {
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.body().limit(1 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        retry,
    )
}

#[actix_web::test]
async fn invented_http_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    for i in 0..300 {
        let method = awc::http::Method::from_bytes(format!("M{i:04}X").as_bytes()).unwrap();
        let _ = app.client.request(method, app.url("/healthz")).send().await;
    }
    let mut res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(!text.contains("M0001X"), "no invented method is a label");
    assert!(
        text.contains("method=\"other\""),
        "they are counted as `other`"
    );
    let labels = text
        .lines()
        .filter(|l| l.starts_with("consentry_http_requests_total{"))
        .count();
    assert!(labels < 10, "{labels} request series for one route");
}

#[actix_web::test]
async fn a_body_trickled_slower_than_the_body_deadline_is_answered_408_and_the_connection_closed() {
    let app = spawn_app_with(|s| s.body_timeout_seconds = 1).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // A blocking socket on its own thread: the server runs on this test's runtime.
    let answer = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "POST /api/v1/sites/demo/consents HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"action\""
        )
        .unwrap();
        // Nothing more is sent: the server must give up on its own, and say why.
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_error(&body, "request_timeout");
}

#[actix_web::test]
async fn exports_for_ids_that_hold_nothing_leave_no_trace_and_are_limited_per_address() {
    let app = spawn_app_with(|s| s.rights_rate_limit = tight(5)).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let id = format!("{:026}", i);
        let path = format!("/api/v1/sites/demo/consents/{id}/export");
        let res = app
            .client
            .get(app.url(&path))
            .insert_header(app.origin())
            .send()
            .await
            .unwrap();
        let (status, body, retry) = status_and_body(res).await;
        if status == 429 {
            assert_error(&body, "rate_limited");
            assert!(retry.is_some(), "a 429 says when to come back");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429]);
    let log = app.store.rights_log().await.unwrap();
    assert!(log.is_empty(), "unknown ids wrote nothing: {log:?}");
}

#[actix_web::test]
async fn export_and_erasure_answer_only_the_sites_pages_and_this_servers_own() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    let export = format!("/api/v1/sites/demo/consents/{id}/export");
    let refused: [(&str, Vec<(&str, &str)>); 4] = [
        ("a script that says nothing", vec![]),
        ("a foreign page", vec![("origin", "https://evil.example")]),
        (
            "a link followed from elsewhere",
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "a rebound host",
            vec![("host", "evil.example"), ("origin", "http://evil.example")],
        ),
    ];
    for (why, headers) in &refused {
        let mut req = app.client.get(app.url(&export));
        for h in headers {
            req = req.insert_header(*h);
        }
        let (status, body, _) = status_and_body(req.send().await.unwrap()).await;
        assert_eq!(status, 403, "{why}");
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(
            code == "origin_required" || code == "origin_not_allowed",
            "{why}: {body}"
        );
        let mut req = app
            .client
            .delete(app.url(&format!("/api/v1/sites/demo/consents/{id}")));
        for h in headers {
            req = req.insert_header(*h);
        }
        let (status, _, _) = status_and_body(req.send().await.unwrap()).await;
        assert!(status == 403, "{why}: erase answered {status}");
    }
    let own_page = [("sec-fetch-site", "same-origin")];
    let (status, _) = app.get_json(&export, &own_page).await;
    assert_eq!(status, 200, "the policy page's own download link");
    let (status, _) = app.get_json(&export, &[app.origin()]).await;
    assert_eq!(status, 200, "the banner's dialog on the server's own page");
}

#[actix_web::test]
async fn a_rebound_host_with_a_matching_origin_cannot_record_a_consent() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
            &[("host", "evil.example"), ("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_error(&body, "origin_not_allowed");
    let other_scheme = app.address.replace("http://", "evil://");
    let (status, _) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
            &[("origin", &other_scheme)],
        )
        .await;
    assert_eq!(
        status, 403,
        "our host and port under another scheme are foreign"
    );
    let res = app
        .client
        .get(app.url("/api/v1/sites/demo/banner"))
        .insert_header(("origin", other_scheme.as_str()))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "and not echoed"
    );
}

#[actix_web::test]
async fn every_decision_records_the_channel_it_came_through() {
    let app = spawn_app().await;
    let hosted = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
            &[app.origin()],
        )
        .await
        .1;
    let id = hosted["consent_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "withdraw", "consent_id": id, "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 201);
    let export = app.export(&id).await;
    let channels: Vec<&str> = export["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        channels,
        ["hosted_page", "no_origin"],
        "the replay from a script is told apart"
    );
}

async fn read(app: &TestApp, id: &str) -> u16 {
    let path = format!("/api/v1/sites/demo/consents/{id}");
    app.get_json(&path, &[]).await.0
}

#[actix_web::test]
async fn requests_naming_one_consent_id_are_limited_per_id() {
    let app = spawn_app_with(|s| s.consent_id_rate_limit = tight(3)).await;
    let id = app.consent_id("accept_all", json!({})).await;
    let other = app.consent_id("accept_all", json!({})).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(read(&app, &id).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let (status, body) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "consent_id": id, "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 429, "a replayed renewal is limited too: {body}");
    assert_eq!(
        read(&app, &other).await,
        200,
        "another id has its own budget"
    );
}

async fn query_with(app: &TestApp, key: &str) -> (u16, Value, Option<String>) {
    let res = app
        .client
        .post(app.url("/api/v1/sites/demo/query"))
        .insert_header(("content-type", "application/json"))
        .insert_header(("authorization", format!("Bearer {key}")))
        .send_body(json!({"metrics": ["visitors"], "date_range": "7d"}).to_string())
        .await
        .unwrap();
    status_and_body(res).await
}

#[actix_web::test]
async fn failed_api_key_attempts_are_limited_per_address_even_for_a_right_key_afterwards() {
    let app = spawn_app_with(|s| s.auth_failure_limit = tight(3)).await;
    let right = consentry::domain::ApiKey::generate(
        consentry::domain::SiteId::parse("demo").unwrap(),
        "test".into(),
        consentry::domain::Timestamp(0),
        None,
        [42; 40],
    );
    app.access.put_key(right.0.clone()).await.unwrap();
    let (status, _, _) = query_with(&app, &right.1).await;
    assert_eq!(status, 200, "a right key is not a failure");
    let wrong = format!("cs_{}_{}", "0".repeat(16), "0".repeat(64));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(query_with(&app, &wrong).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let (status, body, retry) = query_with(&app, &right.1).await;
    assert_eq!(status, 429, "guessing costs a wait, whatever the guess");
    assert_error(&body, "rate_limited");
    assert!(retry.is_some());
}

#[actix_web::test]
async fn a_query_whose_asker_is_gone_stops_instead_of_running_on() {
    use consentry::analytics::query::{self, Cancel, Failure, Options, RawQuery};
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    for i in 0..20 {
        app.send_events(&TestApp::pageview(&id, &format!("/p{i}")), &[])
            .await;
    }
    app.analytics.sync_events().await.unwrap();
    let raw = RawQuery {
        metrics: vec!["pageviews".into()],
        date_range: Some(query::RawRange::Named("7d".into())),
        ..RawQuery::default()
    };
    let q = query::parse(
        &raw,
        consentry::domain::Clock::now(&app.clock),
        &Default::default(),
    )
    .unwrap();
    let site = consentry::domain::SiteId::parse("demo").unwrap();
    let run = |cancel: Cancel| {
        let options = Options {
            min_group_size: 1,
            cancel,
        };
        query::execute(app.analytics.as_ref(), &site, &q, options)
    };
    assert!(
        run(Cancel::default()).await.is_ok(),
        "a scan someone waits for is answered"
    );
    let gone = Cancel::default();
    drop(gone.on_drop());
    assert!(
        matches!(run(gone).await, Err(Failure::Cancelled)),
        "the request that held the guard was dropped: the scan stops"
    );
}

#[actix_web::test]
async fn the_dashboards_sign_out_needs_the_token_its_page_issued() {
    let app = spawn_app().await;
    let (nonce, token) = app
        .form_page("/dashboard/demo", None, "consentry_dashboard_csrf")
        .await;
    let sign_out = |csrf: String| {
        app.client
            .post(app.url("/dashboard/demo/signout"))
            .insert_header(("cookie", nonce.as_str()))
            .insert_header(app.origin())
            .send_form(&[("csrf", csrf)])
    };
    let forged = sign_out("1.00".into()).await.unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a cross-site sign-out is refused"
    );
    let ok = sign_out(token).await.unwrap();
    assert_eq!(ok.status().as_u16(), 303);
}

#[cfg(feature = "fault-injection")]
#[actix_web::test]
async fn a_query_whose_client_disconnects_is_dropped_with_its_scan() {
    let app = spawn_app().await;
    let (record, key) = consentry::domain::ApiKey::generate(
        consentry::domain::SiteId::parse("demo").unwrap(),
        "test".into(),
        consentry::domain::Timestamp(0),
        None,
        [43; 40],
    );
    app.access.put_key(record).await.unwrap();
    let id = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&id, "/a"), &[]).await;
    app.analytics.sync_events().await.unwrap();
    // A filter rollups cannot answer: the query scans raw events, and the scan is held at its
    // start while the client goes away.
    let body = json!({"metrics": ["pageviews"], "date_range": "7d",
        "filters": [["contains", "event:page", ["/"]], ["is_not", "visit:browser", ["Nonexistent"]]]})
    .to_string();
    let hold = consentry::fault::hold(&app.data_dir, "event_scan");
    let addr = app.address.trim_start_matches("http://").to_owned();
    let client = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "POST /api/v1/sites/demo/query HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        hold.wait_for(1);
        // The client gives up: both halves closed.
        drop(stream);
        hold
    });
    let hold = client.await.unwrap();
    // Give the server a moment to see the connection go, then let the scan go on.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    drop(hold);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.access.query_log().await.unwrap().is_empty(),
        "the dropped query was never answered (nor logged)"
    );
}
