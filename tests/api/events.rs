use serde_json::{Value, json};

use crate::helpers::{BROWSER_UA, POLICY_VERSION, TestApp, spawn_app, spawn_app_behind_proxy};

fn reasons(body: &Value) -> Vec<(u64, String)> {
    body["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["index"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn an_event_without_any_consent_is_dropped_as_no_consent_and_not_stored() {
    let app = spawn_app().await;
    let unknown = "0000000000000000000000000a";
    let (status, body) = app.send_events(&TestApp::pageview(unknown, "/"), &[]).await;
    assert_eq!(status, 202);
    assert_eq!(body["accepted"], 0);
    assert_eq!(reasons(&body), [(0, "no_consent".to_owned())]);
    let (status, _) = app
        .get_json(
            &format!("/api/v1/sites/demo/consents/{unknown}/export"),
            &[app.origin()],
        )
        .await;
    assert_eq!(status, 404, "nothing is held for it");
}

#[actix_web::test]
async fn a_refused_category_drops_its_events_and_a_granted_one_stores_them() {
    let app = spawn_app().await;
    let refused = app.consent_id("reject_all", json!({})).await;
    let (_, body) = app
        .send_events(&TestApp::pageview(&refused, "/"), &[])
        .await;
    assert_eq!(reasons(&body), [(0, "category_denied".to_owned())]);
    assert!(
        app.export(&refused).await["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let granted = app.consent_id("save", json!({"analytics": true})).await;
    let (_, body) = app
        .send_events(&TestApp::pageview(&granted, "/pricing?ref=x"), &[])
        .await;
    assert_eq!(body["accepted"], 1);
    let export = app.export(&granted).await;
    let events = export["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["path"], "/pricing", "the query is not kept");
    assert_eq!(events[0]["browser"], "Firefox");
    assert_eq!(events[0]["os"], "Linux");
    assert_eq!(events[0]["device"], "desktop");
}

#[actix_web::test]
async fn a_batch_mixing_accepted_and_dropped_events_answers_each_by_index() {
    let app = spawn_app().await;
    let analytics_only = app.consent_id("save", json!({"analytics": true})).await;
    let batch = json!([
        TestApp::pageview(&analytics_only, "/"),
        {"consent_id": analytics_only, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"},
        {"consent_id": "not-an-id", "name": "pageview", "url": "https://parcelwise.example/"},
        {"consent_id": analytics_only, "name": "bad name!", "url": "https://parcelwise.example/"},
        {"consent_id": analytics_only, "name": "cta", "url": "https://parcelwise.example/", "props": {"nested": {"a": 1}}},
        {"consent_id": analytics_only, "name": "cta", "url": "https://parcelwise.example/", "props": {"plan": "pro", "seats": 3, "trial": true}},
    ]);
    let (status, body) = app.send_events(&batch, &[]).await;
    assert_eq!(status, 202);
    assert_eq!(body["accepted"], 2);
    assert_eq!(
        reasons(&body),
        [
            (1, "category_denied".to_owned()),
            (2, "invalid".to_owned()),
            (3, "invalid".to_owned()),
            (4, "invalid".to_owned()),
        ]
    );
    let events = app.export(&analytics_only).await["events"].clone();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert_eq!(
        events[1]["props"],
        json!({"plan": "pro", "seats": 3.0, "trial": true})
    );
}

#[actix_web::test]
async fn the_site_configured_category_wins_when_it_is_stricter() {
    let app = spawn_app().await;
    // The demo site files `purchase` under marketing.
    let analytics_only = app.consent_id("save", json!({"analytics": true})).await;
    let purchase = |id: &str| json!({"consent_id": id, "name": "purchase", "url": "https://parcelwise.example/checkout", "category": "analytics"});
    let (_, body) = app.send_events(&purchase(&analytics_only), &[]).await;
    assert_eq!(reasons(&body), [(0, "category_denied".to_owned())]);

    let everything = app.consent_id("accept_all", json!({})).await;
    let (_, body) = app.send_events(&purchase(&everything), &[]).await;
    assert_eq!(body["accepted"], 1);
    let events = app.export(&everything).await["events"].clone();
    assert_eq!(events[0]["category"], "marketing");
}

#[actix_web::test]
async fn an_expired_consent_drops_events_as_consent_expired() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    app.clock.advance_days(394);
    let (_, body) = app.send_events(&TestApp::pageview(&id, "/"), &[]).await;
    assert_eq!(body["accepted"], 1, "still valid on day 394");
    app.clock.advance_days(2);
    let (_, body) = app.send_events(&TestApp::pageview(&id, "/"), &[]).await;
    assert_eq!(reasons(&body), [(0, "consent_expired".to_owned())]);
}

#[actix_web::test]
async fn bots_are_dropped_whatever_their_consent() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    for ua in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "curl/8.5.0",
        "",
    ] {
        let (_, body) = app
            .post_json_with(
                "/api/v1/sites/demo/events",
                &TestApp::pageview(&id, "/"),
                &[("user-agent", ua)],
            )
            .await;
        assert_eq!(reasons(&body), [(0, "bot".to_owned())], "{ua:?}");
    }
    assert!(
        app.export(&id).await["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn gpc_on_the_event_request_drops_marketing_but_not_analytics() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    let batch = json!([
        TestApp::pageview(&id, "/"),
        {"consent_id": id, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"},
    ]);
    let (_, body) = app.send_events(&batch, &[("sec-gpc", "1")]).await;
    assert_eq!(body["accepted"], 1);
    assert_eq!(reasons(&body), [(1, "category_denied".to_owned())]);
}

#[actix_web::test]
async fn after_a_withdrawal_is_acknowledged_no_later_event_is_accepted() {
    let app = spawn_app().await;
    for round in 0..20 {
        let id = app.consent_id("accept_all", json!({})).await;
        // Events in flight while the withdrawal is recorded: each may land either side.
        let in_flight: Vec<_> = (0..10)
            .map(|_| {
                let (client, url, body) = (
                    app.client.clone(),
                    app.url("/api/v1/sites/demo/events"),
                    TestApp::pageview(&id, "/racing").to_string(),
                );
                actix_web::rt::spawn(async move {
                    client
                        .post(url)
                        .insert_header(("content-type", "application/json"))
                        .insert_header(("user-agent", BROWSER_UA))
                        .send_body(body)
                        .await
                        .map(|r| r.status().as_u16())
                })
            })
            .collect();
        let (status, _) = app
            .post_json(
                "/api/v1/sites/demo/consents",
                &json!({"action": "withdraw", "policy_version": POLICY_VERSION, "consent_id": id}),
            )
            .await;
        assert_eq!(status, 201);
        for _ in 0..10 {
            let (_, body) = app
                .send_events(&TestApp::pageview(&id, "/after"), &[])
                .await;
            assert_eq!(
                body["accepted"], 0,
                "round {round}: accepted after the withdrawal"
            );
        }
        for f in in_flight {
            assert_eq!(f.await.unwrap().unwrap(), 202);
        }
        let events = app.export(&id).await["events"].clone();
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["path"] != "/after"),
            "round {round}: an event sent after the withdrawal was stored"
        );
    }
}

#[actix_web::test]
async fn the_events_answer_sets_no_cookie_and_bad_bodies_are_400s() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/sites/demo/events"))
        .insert_header(("content-type", "application/json"))
        .insert_header(("user-agent", BROWSER_UA))
        .send_body(TestApp::pageview("0000000000000000000000000a", "/").to_string())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    assert!(res.headers().get("set-cookie").is_none());

    let too_many: Vec<Value> = (0..51)
        .map(|_| TestApp::pageview("0000000000000000000000000a", "/"))
        .collect();
    let (status, body) = app.send_events(&json!(too_many), &[]).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("50"));
    let (status, body) = app
        .send_events(
            &json!({"consent_id": "x", "name": "p", "url": "u", "colour": 1}),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
}

#[actix_web::test]
async fn drops_are_counted_by_reason_in_metrics() {
    let app = spawn_app().await;
    let refused = app.consent_id("reject_all", json!({})).await;
    app.send_events(&TestApp::pageview(&refused, "/"), &[])
        .await;
    app.send_events(&TestApp::pageview("0000000000000000000000000a", "/"), &[])
        .await;
    let mut res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("consentry_events_dropped_total{reason=\"category_denied\"} 1"),
        "{text}"
    );
    assert!(text.contains("consentry_events_dropped_total{reason=\"no_consent\"} 1"));
}

#[actix_web::test]
async fn no_visitor_address_or_user_agent_is_written_anywhere_in_the_data_folder() {
    let app = spawn_app_behind_proxy().await;
    let mut addresses = Vec::new();
    let mut agents = Vec::new();
    let mut last_id = String::new();
    for i in 0..60u32 {
        // Half IPv4 (in the fixture's countries), half IPv6 (16 bytes: a chance match in the
        // store's binary data is impossible, so these are also searched as raw bytes).
        let ip = if i % 2 == 0 {
            format!("2.16.{}.{}", 10 + (i % 9) * 10, 10 + i)
        } else {
            format!("2a02:2e0:3fe:1001:7777:772e:{i:x}:1")
        };
        let ua = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.{i}.77 Safari/537.36 Probe{i:04}"
        );
        let (status, consent) = app
            .post_json_with(
                "/api/v1/sites/demo/consents",
                &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
                &[
                    ("x-forwarded-for", ip.as_str()),
                    ("user-agent", ua.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 201);
        let id = consent["consent_id"].as_str().unwrap();
        last_id = id.to_owned();
        let (_, body) = app
            .post_json_with(
                "/api/v1/sites/demo/events",
                &json!([TestApp::pageview(id, "/a"), TestApp::pageview(id, "/b")]),
                &[
                    ("x-forwarded-for", ip.as_str()),
                    ("user-agent", ua.as_str()),
                ],
            )
            .await;
        assert_eq!(body["accepted"], 2, "{body}");
        addresses.push(ip);
        agents.push(ua);
    }
    // An export waits for queued events to be written and flushed; then everything else is.
    app.export(&last_id).await;
    let bytes = app.stored_bytes().await;
    assert!(bytes.len() > 10_000, "the scan read the store");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"Firefox") || contains(b"Chrome"),
        "events were written in the scanned bytes"
    );
    for ip in &addresses {
        assert!(!contains(ip.as_bytes()), "{ip} as text");
        let parsed: std::net::IpAddr = ip.parse().unwrap();
        if let std::net::IpAddr::V6(v6) = parsed {
            assert!(!contains(&v6.octets()), "{ip} as 16 bytes");
        }
    }
    for ua in &agents {
        let tag = &ua[ua.len() - 9..];
        assert!(!contains(tag.as_bytes()), "{tag} of a User-Agent");
        assert!(
            !contains(b"AppleWebKit/537.36 (KHTML"),
            "a User-Agent fragment"
        );
    }
}
