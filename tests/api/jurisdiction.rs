use serde_json::json;

use crate::helpers::{
    POLICY_VERSION, spawn_app, spawn_app_behind_proxy, spawn_app_with, write_geo_fixture,
};

const BANNER: &str = "/api/v1/sites/demo/banner";

#[actix_web::test]
async fn each_fixture_address_gets_the_jurisdiction_and_regime_of_the_contract() {
    let app = spawn_app_behind_proxy().await;
    let table = [
        ("2.16.10.1", "EEA", "opt_in", Some("DE")),
        ("2.16.20.1", "UK", "opt_in", Some("GB")),
        ("2.16.30.1", "CH", "opt_in", Some("CH")),
        ("2.16.40.1", "EEA", "opt_in", Some("NO")),
        ("2.16.50.1", "US-CA", "opt_out", Some("US")),
        ("2.16.60.1", "US-VA", "opt_out", Some("US")),
        ("2.16.70.1", "US-NY", "notice", Some("US")),
        ("2.16.80.1", "OTHER", "notice", Some("BR")),
        ("2.16.90.1", "US", "opt_out", Some("US")),
        ("203.0.113.9", "UNKNOWN", "opt_in", None),
        ("10.0.0.1", "UNKNOWN", "opt_in", None),
        ("2001:db8::1", "UNKNOWN", "opt_in", None),
    ];
    for (ip, jurisdiction, regime, country) in table {
        let (status, body) = app.get_json(BANNER, &[("x-forwarded-for", ip)]).await;
        assert_eq!(status, 200);
        assert_eq!(body["jurisdiction"], jurisdiction, "{ip}");
        assert_eq!(body["regime"], regime, "{ip}");
        assert_eq!(body["country"], json!(country), "{ip}");
    }
}

#[actix_web::test]
async fn a_recorded_decision_carries_the_regime_and_jurisdiction_it_was_made_under() {
    let app = spawn_app_behind_proxy().await;
    let (status, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "default", "policy_version": POLICY_VERSION}),
            &[("x-forwarded-for", "2.16.50.1")],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["regime"], "opt_out");
    assert_eq!(body["jurisdiction"], "US-CA");
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": true, "marketing": true}),
        "the opt-out regime's defaults are on"
    );

    let (_, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "default", "policy_version": POLICY_VERSION}),
            &[("x-forwarded-for", "2.16.10.1")],
        )
        .await;
    assert_eq!(body["regime"], "opt_in");
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": false, "marketing": false}),
        "the opt-in regime's defaults are off"
    );
}

#[actix_web::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_geo_fixture(&geo);
    // The geo database is there, but no proxy is trusted: the loopback peer is the visitor.
    let app = spawn_app_with(|s| s.geoip = Some(geo.clone())).await;
    let (_, body) = app
        .get_json(BANNER, &[("x-forwarded-for", "2.16.50.1")])
        .await;
    assert_eq!(body["jurisdiction"], "UNKNOWN");
    assert_eq!(body["regime"], "opt_in");
}

#[actix_web::test]
async fn without_a_geo_database_every_visitor_is_opt_in() {
    let app = spawn_app().await;
    let (_, body) = app
        .get_json(BANNER, &[("x-forwarded-for", "2.16.50.1")])
        .await;
    assert_eq!(body["regime"], "opt_in");
    assert_eq!(body["jurisdiction"], "UNKNOWN");
}

#[actix_web::test]
async fn a_truncated_geo_database_fails_closed_to_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_geo_fixture(&geo);
    let bytes = std::fs::read(&geo).unwrap();
    std::fs::write(&geo, &bytes[..bytes.len() / 2]).unwrap();
    let app = spawn_app_with(|s| {
        s.geoip = Some(geo.clone());
        s.trusted_proxies =
            consentry::geo::TrustedProxies::parse(&["127.0.0.1/32".to_owned()]).unwrap();
    })
    .await;
    let (_, body) = app
        .get_json(BANNER, &[("x-forwarded-for", "2.16.50.1")])
        .await;
    assert_eq!(body["regime"], "opt_in");
}

#[actix_web::test]
async fn gpc_from_the_header_turns_marketing_off_whatever_was_asked() {
    let app = spawn_app_behind_proxy().await;
    let headers = [("x-forwarded-for", "2.16.50.1"), ("sec-gpc", "1")];
    let (_, banner) = app.get_json(BANNER, &headers).await;
    assert_eq!(banner["gpc"], true);
    let marketing = banner["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "marketing")
        .unwrap();
    assert_eq!(
        marketing["default"], false,
        "GPC makes the opt-out default off"
    );

    let (status, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
            &headers,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["gpc"], true);
    assert_eq!(body["choices"]["marketing"], false);
    assert_eq!(body["choices"]["analytics"], true);
}

#[actix_web::test]
async fn gpc_from_the_body_or_the_banner_query_is_honoured_too() {
    let app = spawn_app_behind_proxy().await;
    let (_, banner) = app
        .get_json(
            &format!("{BANNER}?gpc=1"),
            &[("x-forwarded-for", "2.16.10.1")],
        )
        .await;
    assert_eq!(banner["gpc"], true);

    let (_, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION, "gpc": true}),
            &[("x-forwarded-for", "2.16.10.1")],
        )
        .await;
    assert_eq!(body["gpc"], true);
    assert_eq!(
        body["choices"]["marketing"], false,
        "GPC in the EEA is an objection too"
    );
}

#[actix_web::test]
async fn without_gpc_accept_all_grants_marketing() {
    let app = spawn_app_behind_proxy().await;
    let (_, body) = app
        .post_json_with(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
            &[("x-forwarded-for", "2.16.50.1")],
        )
        .await;
    assert_eq!(body["gpc"], false);
    assert_eq!(body["choices"]["marketing"], true);
}
