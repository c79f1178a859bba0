//! The HTTP contract at its edges: methods, malformed requests, and what every rejection looks
//! like.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TestApp, assert_error, spawn_app};

/// A response read off a raw connection.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Splits every response in `bytes` (each with a `content-length`, or none for a bodiless one).
pub fn responses(mut bytes: &[u8]) -> Vec<Raw> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut raw = Raw {
            status,
            head,
            body: Vec::new(),
        };
        let len: usize = raw
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let rest = &bytes[end + 4..];
        let len = len.min(rest.len());
        raw.body = rest[..len].to_vec();
        bytes = &rest[len..];
        out.push(raw);
    }
    out
}

/// Writes `request` as is on a new connection and reads until the server closes it (or 5 s).
pub async fn send_raw(app: &TestApp, request: Vec<u8>) -> Vec<u8> {
    let address = app.address.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // A server may refuse before the whole request is written.
        let _ = stream.write_all(&request);
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    })
    .await
    .unwrap()
}

async fn request(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let bytes = send_raw(app, req.into_bytes()).await;
    responses(&bytes)
        .into_iter()
        .next()
        .expect("the server answers")
}

#[actix_web::test]
async fn a_method_a_known_path_does_not_answer_is_405_with_allow_and_the_error_shape() {
    let app = spawn_app().await;
    let id = "0000000000000000000000000a";
    for (method, path, allow) in [
        (
            "PUT",
            format!("/api/v1/sites/demo/consents/{id}"),
            "GET, HEAD, DELETE, OPTIONS",
        ),
        (
            "GET",
            "/api/v1/sites/demo/consents".to_owned(),
            "POST, OPTIONS",
        ),
        (
            "PATCH",
            "/api/v1/sites/nope/events".to_owned(),
            "POST, OPTIONS",
        ),
        ("TRACE", "/healthz".to_owned(), "GET, HEAD, OPTIONS"),
        (
            "DELETE",
            "/sites/demo/policy".to_owned(),
            "GET, HEAD, OPTIONS",
        ),
    ] {
        // A foreign origin would be 403 on a state change: the method is checked first.
        let res = request(&app, method, &path, &[("origin", "https://evil.example")]).await;
        assert_eq!(res.status, 405, "{method} {path}: {}", res.head);
        assert_eq!(
            res.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
        assert_error(&res.json(), "method_not_allowed");
    }
}

#[actix_web::test]
async fn an_unknown_path_is_404_whatever_the_method() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "DELETE"] {
        let res = request(&app, method, "/api/v1/sites/demo/nothing", &[]).await;
        assert_eq!(res.status, 404, "{method}");
        assert_error(&res.json(), "not_found");
    }
}

#[actix_web::test]
async fn head_is_answered_wherever_get_is_and_options_lists_the_methods() {
    let app = spawn_app().await;
    let res = request(&app, "HEAD", "/.well-known/gpc.json", &[]).await;
    assert_eq!(res.status, 200, "{}", res.head);
    assert!(res.body.is_empty());
    let res = request(&app, "OPTIONS", "/sites/demo/policy/erase", &[]).await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("allow").as_deref(), Some("POST, OPTIONS"));
    let res = request(&app, "HEAD", "/sites/demo/policy/erase", &[]).await;
    assert_eq!(res.status, 405);
}

#[actix_web::test]
async fn gpc_in_the_query_is_on_for_1_and_true_off_for_0_and_false_and_refused_otherwise() {
    let app = spawn_app().await;
    for (value, on) in [("1", true), ("true", true), ("0", false), ("false", false)] {
        let (status, body) = app
            .get_json(&format!("/api/v1/sites/demo/banner?gpc={value}"), &[])
            .await;
        assert_eq!(status, 200, "{value}: {body}");
        assert_eq!(body["gpc"], on, "?gpc={value}");
    }
    let (status, body) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!((status, &body["gpc"]), (200, &Value::Bool(false)));
    for value in ["yes", "", "TRUE"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/sites/demo/banner?gpc={value}"), &[])
            .await;
        assert_eq!(status, 400, "?gpc={value}");
        assert_error(&body, "invalid_request");
        assert!(body["error"]["message"].as_str().unwrap().contains("`gpc`"));
    }
}

#[actix_web::test]
async fn a_notice_is_served_only_under_the_site_whose_notice_it_is() {
    let app = crate::helpers::spawn_app_with(|s| {
        let mut shop = s.sites[0].clone();
        shop.id = consentry::domain::SiteId::parse("shop").unwrap();
        shop.name = "Shop".into();
        s.sites.push(shop);
    })
    .await;
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    let hash = banner["banner_hash"].as_str().unwrap().to_owned();
    let (status, doc) = app
        .get_json(&format!("/api/v1/sites/demo/notices/{hash}"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["site"], "demo");
    let (status, body) = app
        .get_json(&format!("/api/v1/sites/shop/notices/{hash}"), &[])
        .await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "unknown_notice");
}

#[actix_web::test]
async fn control_characters_and_bidi_overrides_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", serde_json::json!({})).await;
    let page = |extra: Value| {
        let mut e = TestApp::pageview(&id, "/");
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    for (events, field) in [
        (
            serde_json::json!([page(
                serde_json::json!({"url": "https://parcelwise.example/a\u{0}b"})
            )]),
            "events[0].url",
        ),
        (
            serde_json::json!([
                page(serde_json::json!({})),
                page(serde_json::json!({"referrer": "https://x.example/\u{202e}fdp.exe"}))
            ]),
            "events[1].referrer",
        ),
        (
            serde_json::json!(page(serde_json::json!({"props": {"plan": "pro\u{2066}"}}))),
            "events[0].props.plan",
        ),
        (
            serde_json::json!(page(serde_json::json!({"props": {"a\u{85}": 1}}))),
            "events[0].props",
        ),
    ] {
        let (status, body) = app.send_events(&events, &[]).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert_error(&body, "invalid_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("`{field}`")), "{message}");
    }
    assert!(
        app.export(&id).await["events"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing of a refused body is stored"
    );

    let (status, body) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &serde_json::json!({"action": "accept_all", "policy_version": crate::helpers::POLICY_VERSION,
                "url": "https://parcelwise.example/\u{1b}[31m"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`url`")
    );
}

#[actix_web::test]
async fn json_in_a_charset_other_than_utf_8_is_415() {
    let app = spawn_app().await;
    let body = serde_json::json!({"action": "accept_all", "policy_version": crate::helpers::POLICY_VERSION});
    for (content_type, status) in [
        ("application/json; charset=utf-16", 415),
        ("application/json; charset=iso-8859-1", 415),
        ("application/json; charset=UTF-8", 201),
    ] {
        let mut res = app
            .client
            .post(app.url("/api/v1/sites/demo/consents"))
            .insert_header(("content-type", content_type))
            .send_body(body.to_string())
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{content_type}");
        if status == 415 {
            let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
            assert_error(&body, "unsupported_media_type");
        }
    }
}

#[actix_web::test]
async fn a_date_range_outside_the_years_0001_to_9999_is_400_naming_date_range() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let auth = format!("Bearer {key}");
    for range in [["-0001-01-01", "0000-01-01"], ["0000-01-01", "0000-01-02"]] {
        let (status, body) = app
            .post_json_with(
                "/api/v1/sites/demo/query",
                &serde_json::json!({"metrics": ["visitors"], "date_range": range}),
                &[("authorization", &auth)],
            )
            .await;
        assert_eq!(status, 400, "{range:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("`date_range`")
        );
    }
}

#[actix_web::test]
async fn csv_lists_are_names_separated_by_single_commas() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let auth = format!("Bearer {key}");
    for (query, field) in [
        ("metrics=visitors,,pageviews&date_range=7d", "metrics"),
        ("metrics=&date_range=7d", "metrics"),
        (
            "metrics=visitors&date_range=7d&dimensions=visit:os,",
            "dimensions",
        ),
    ] {
        let (status, body) = app
            .get_json(
                &format!("/api/v1/sites/demo/export.csv?{query}"),
                &[("authorization", &auth)],
            )
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("`{field}`")),
            "{body}"
        );
    }
    let mut res = app
        .client
        .get(app.url("/api/v1/sites/demo/export.csv?metrics=visitors,pageviews&date_range=7d&dimensions=visit:os"))
        .insert_header(("authorization", auth.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.starts_with("visit:os,visitors,pageviews\r\n"),
        "{text}"
    );
}

#[actix_web::test]
async fn consent_statistics_take_at_most_ten_filters_as_queries_do() {
    let app = spawn_app().await;
    let (_, key) = app.api_key("demo").await;
    let filter = serde_json::json!(["is", "consent:action", ["save"]]);
    let (status, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consent-stats",
            &serde_json::json!({"metrics": ["decisions"], "date_range": "7d", "filters": vec![filter; 11]}),
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`filters`")
    );
}

/// Asserts a refusal written below the application: the status, the error shape, closed.
fn assert_refused(res: &Raw, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.head);
    assert_error(&res.json(), code);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(res.header("connection").as_deref(), Some("close"));
}

#[actix_web::test]
async fn malformed_request_heads_get_the_json_error_shape() {
    let app = spawn_app().await;
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: a\r\n");
    for i in 0..200 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"POST /api/v1/sites/demo/events HTTP/1.1\r\nhost: a\r\ncontent-length: 12abc\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"POST /api/v1/sites/demo/events HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"GET /heal\x01thz HTTP/1.1\r\nhost: a\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-a: b\x00c\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"GET /healthz HTTP/1.1\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (many.into_bytes(), 431, "request_header_fields_too_large"),
        (
            format!("GET /{} HTTP/1.1\r\nhost: a\r\n\r\n", "a".repeat(100_000)).into_bytes(),
            414,
            "uri_too_long",
        ),
    ];
    for (request, status, code) in cases {
        let bytes = send_raw(&app, request.clone()).await;
        let all = responses(&bytes);
        assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(&bytes));
        assert_refused(&all[0], status, code);
    }
}

#[actix_web::test]
async fn a_malformed_head_after_good_requests_is_answered_in_order_on_the_same_connection() {
    let app = spawn_app().await;
    let body = r#"{"action":"accept_all","policy_version":"2026-11-01"}"#;
    let request = format!(
        "POST /api/v1/sites/demo/consents HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}\
         GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n\
         GET /healthz HTTP/1.1\r\nhost: a\r\ncontent-length: -1\r\n\r\n",
        body.len()
    );
    let bytes = send_raw(&app, request.into_bytes()).await;
    let all = responses(&bytes);
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [201, 200, 400],
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_refused(&all[2], 400, "malformed_request");
}

#[actix_web::test]
async fn a_chunked_request_is_answered_and_ends_its_connection() {
    let app = spawn_app().await;
    let body = r#"{"action":"accept_all","policy_version":"2026-11-01"}"#;
    let request = format!(
        "POST /api/v1/sites/demo/consents HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let all = responses(&send_raw(&app, request.into_bytes()).await);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, 201, "{}", all[0].head);
}

#[actix_web::test]
async fn a_request_head_that_does_not_arrive_in_ten_seconds_is_408_with_the_error_shape() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    // A head that never ends (no blank line); the client then waits.
    let address = app.address.trim_start_matches("http://").to_owned();
    let bytes = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: a\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        out
    })
    .await
    .unwrap();
    let all = responses(&bytes);
    assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(&bytes));
    assert_refused(&all[0], 408, "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[actix_web::test]
async fn a_path_segment_that_is_not_utf_8_is_answered_with_the_error_shape() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/sites/%FF/banner",
        "/api/v1/sites/demo/consents/%C3%28",
        "/sites/%FF/policy",
    ] {
        let res = request(&app, "GET", path, &[]).await;
        assert_eq!(res.status, 404, "{path}: {}", res.head);
        assert!(
            res.json()["error"]["code"].is_string(),
            "{path}: {:?}",
            String::from_utf8_lossy(&res.body)
        );
    }
}
