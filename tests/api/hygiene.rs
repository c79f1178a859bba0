use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, assert_error, spawn_app, spawn_app_with};

const CONSENTS: &str = "/api/v1/sites/demo/consents";

async fn raw_post(
    app: &crate::helpers::TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, awc::http::header::HeaderMap, Value) {
    let mut req = app.client.post(app.url(path));
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    for h in headers {
        req = req.insert_header(*h);
    }
    let mut res = req.send_body(body).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.body().await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn valid() -> Vec<u8> {
    json!({"action": "accept_all", "policy_version": POLICY_VERSION})
        .to_string()
        .into_bytes()
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, headers, body) = raw_post(&app, CONSENTS, ct, valid(), &[]).await;
        assert_eq!(status, 415, "{ct:?}");
        assert_error(&body, "unsupported_media_type");
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/json; charset=utf-8"
        );
    }
}

#[actix_web::test]
async fn a_body_over_four_kibibytes_is_a_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(4 * 1024);
    let body = json!({"action": "accept_all", "policy_version": POLICY_VERSION, "url": padding});
    let (status, _, body) = raw_post(
        &app,
        CONSENTS,
        Some("application/json"),
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(status, 413);
    assert_error(&body, "payload_too_large");
}

#[actix_web::test]
async fn malformed_and_unknown_fields_are_400s_naming_the_problem() {
    let app = spawn_app().await;
    let cases: [(&str, &str, &str); 5] = [
        ("{\"action\":", "invalid_json", "EOF"),
        (
            "{\"action\":\"accept_all\",\"policy_version\":\"x\",\"colour\":1}",
            "invalid_json",
            "colour",
        ),
        (
            "{\"action\":\"maybe\",\"policy_version\":\"x\"}",
            "invalid_request",
            "action",
        ),
        (
            "{\"action\":\"save\",\"policy_version\":\"x\",\"consent_id\":\"!!\"}",
            "invalid_request",
            "consent_id",
        ),
        (
            "{\"action\":\"save\",\"policy_version\":\"x\",\"url\":\"ftp://x\"}",
            "invalid_request",
            "url",
        ),
    ];
    for (raw, code, mentions) in cases {
        let (status, _, body) = raw_post(
            &app,
            CONSENTS,
            Some("application/json"),
            raw.as_bytes().to_vec(),
            &[],
        )
        .await;
        assert_eq!(status, 400, "{raw}");
        assert_error(&body, code);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{message} should mention {mentions}"
        );
    }
}

#[actix_web::test]
async fn an_unknown_site_is_a_404_on_every_endpoint() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/sites/nope/banner", &[]).await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_site");
    let (status, body) = app
        .post_json(
            "/api/v1/sites/nope/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_site");
    let (status, body) = app.get_json("/sites/nope/policy", &[]).await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_site");
}

#[actix_web::test]
async fn a_state_change_from_a_foreign_origin_is_a_403_and_records_nothing() {
    let app = spawn_app().await;
    let (status, headers, body) = raw_post(
        &app,
        CONSENTS,
        Some("application/json"),
        valid(),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403);
    assert_error(&body, "origin_not_allowed");
    assert!(headers.get("access-control-allow-origin").is_none());
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        !metrics.contains("consentry_consents_total{"),
        "nothing was recorded:\n{metrics}"
    );
}

#[actix_web::test]
async fn the_sites_own_origins_get_an_exact_cors_echo_and_others_get_none() {
    let app = spawn_app_with(|s| s.sites[0].origins = vec!["https://shop.example".into()]).await;
    let (status, headers, _) = raw_post(
        &app,
        CONSENTS,
        Some("application/json"),
        valid(),
        &[("origin", "https://shop.example")],
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        "https://shop.example"
    );
    assert!(
        headers
            .get_all("vary")
            .any(|v| v.to_str().unwrap().contains("Origin"))
    );

    let res = app
        .client
        .get(app.url("/api/v1/sites/demo/banner"))
        .insert_header(("origin", "https://other.example"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let preflight = app
        .client
        .request(awc::http::Method::OPTIONS, app.url(CONSENTS))
        .insert_header(("origin", "https://shop.example"))
        .insert_header(("access-control-request-method", "POST"))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://shop.example"
    );
    let methods = preflight
        .headers()
        .get("access-control-allow-methods")
        .unwrap();
    assert!(methods.to_str().unwrap().contains("POST"));
}

#[actix_web::test]
async fn the_servers_own_origin_is_allowed_whatever_address_it_listens_on() {
    let app = spawn_app().await;
    let own = app.address.clone();
    let (status, headers, _) = raw_post(
        &app,
        CONSENTS,
        Some("application/json"),
        valid(),
        &[("origin", own.as_str())],
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        own.as_str()
    );
}

#[actix_web::test]
async fn editing_a_consent_record_in_place_is_not_allowed() {
    let app = spawn_app().await;
    let body = app.consent("accept_all", json!({})).await;
    let id = body["consent_id"].as_str().unwrap();
    for method in [awc::http::Method::PUT, awc::http::Method::PATCH] {
        let mut res = app
            .client
            .request(method, app.url(&format!("{CONSENTS}/{id}")))
            .insert_header(("content-type", "application/json"))
            .send_body("{}")
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 405);
        let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        assert_error(&body, "method_not_allowed");
    }
}

#[actix_web::test]
async fn a_client_over_its_rate_limit_gets_a_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.rate_limit = consentry::settings::RateLimit {
            burst: 3,
            per_minute: 6,
        }
    })
    .await;
    for _ in 0..3 {
        let (status, _, _) = raw_post(&app, CONSENTS, Some("application/json"), valid(), &[]).await;
        assert_eq!(status, 201);
    }
    let (status, headers, body) =
        raw_post(&app, CONSENTS, Some("application/json"), valid(), &[]).await;
    assert_eq!(status, 429);
    assert_error(&body, "rate_limited");
    let retry: u64 = headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    let (status, _) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(status, 200, "reads are not rate limited");
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/sites/demo/policy",
        "/api/v1/sites/demo/banner",
        "/consent.js",
        "/healthz",
        "/nowhere",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert!(h.get("referrer-policy").is_some(), "{path}");
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("frame-ancestors"), "{path}: {csp}");
    }
    let res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .send()
        .await
        .unwrap();
    let csp = res
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"),
        "{csp}"
    );
}

#[actix_web::test]
async fn bad_requests_leave_the_stored_consents_untouched() {
    let app = spawn_app().await;
    let good = app.consent("save", json!({"analytics": true})).await;
    let id = good["consent_id"].as_str().unwrap();
    let attacks = [
        json!({"action": "accept_all", "policy_version": "old", "consent_id": id}),
        json!({"action": "save", "choices": {"nope": true}, "policy_version": POLICY_VERSION, "consent_id": id}),
        json!({"action": "accept_all", "policy_version": POLICY_VERSION, "consent_id": id, "extra": 1}),
    ];
    for a in &attacks {
        let (status, _) = app.post_json(CONSENTS, a).await;
        assert!((400..500).contains(&status));
    }
    let (_, current) = app.get_json(&format!("{CONSENTS}/{id}"), &[]).await;
    assert_eq!(current["receipt"], good["receipt"]);
    assert_eq!(current["choices"]["marketing"], false);
}
