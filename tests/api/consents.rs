use serde_json::json;

use crate::helpers::{POLICY_VERSION, assert_error, spawn_app};

const CONSENTS: &str = "/api/v1/sites/demo/consents";

fn days_between(a: &str, b: &str) -> i64 {
    let f = time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(a, &f).unwrap();
    let b = time::OffsetDateTime::parse(b, &f).unwrap();
    (b - a).whole_days()
}

#[actix_web::test]
async fn accept_all_grants_every_category_for_thirteen_months_with_a_receipt() {
    let app = spawn_app().await;
    let body = app.consent("accept_all", json!({})).await;
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": true, "marketing": true})
    );
    assert_eq!(body["policy_version"], POLICY_VERSION);
    assert_eq!(body["regime"], "opt_in");
    assert_eq!(body["receipt"].as_str().unwrap().len(), 64);
    assert_eq!(body["consent_id"].as_str().unwrap().len(), 26);
    let recorded = body["recorded_at"].as_str().unwrap();
    assert!(recorded.ends_with('Z'), "UTC: {recorded}");
    assert_eq!(
        days_between(recorded, body["expires_at"].as_str().unwrap()),
        395
    );
}

#[actix_web::test]
async fn reject_all_refuses_everything_optional_and_is_asked_again_after_six_months() {
    let app = spawn_app().await;
    let body = app.consent("reject_all", json!({"analytics": true})).await;
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": false, "marketing": false})
    );
    let days = days_between(
        body["recorded_at"].as_str().unwrap(),
        body["expires_at"].as_str().unwrap(),
    );
    assert_eq!(days, 182);
}

#[actix_web::test]
async fn save_stores_exactly_the_ticked_categories_and_necessary_cannot_be_refused() {
    let app = spawn_app().await;
    let body = app
        .consent("save", json!({"analytics": true, "necessary": false}))
        .await;
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": true, "marketing": false})
    );
}

#[actix_web::test]
async fn a_renewal_keeps_the_id_and_the_latest_decision_is_the_current_record() {
    let app = spawn_app().await;
    let first = app.consent("accept_all", json!({})).await;
    let id = first["consent_id"].as_str().unwrap();
    let (status, second) = app
        .post_json(
            CONSENTS,
            &json!({"action": "withdraw", "policy_version": POLICY_VERSION, "consent_id": id}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(second["consent_id"], id);
    assert_eq!(second["choices"]["analytics"], false);
    assert_ne!(second["receipt"], first["receipt"]);

    let (status, current) = app.get_json(&format!("{CONSENTS}/{id}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(current["receipt"], second["receipt"]);
    assert_eq!(current["action"], "withdraw");
}

#[actix_web::test]
async fn renewing_an_unknown_consent_id_is_a_404() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            CONSENTS,
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION,
                    "consent_id": "0000000000000000000000000a"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_consent");
}

#[actix_web::test]
async fn reading_an_unknown_or_malformed_consent_id_is_a_404() {
    let app = spawn_app().await;
    for id in ["0000000000000000000000000a", "not-an-id"] {
        let (status, body) = app.get_json(&format!("{CONSENTS}/{id}"), &[]).await;
        assert_eq!(status, 404);
        assert_error(&body, "unknown_consent");
    }
}

#[actix_web::test]
async fn a_stale_policy_version_is_a_409_naming_the_current_one() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            CONSENTS,
            &json!({"action": "accept_all", "policy_version": "2025-01-01"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "stale_policy_version");
    assert_eq!(body["error"]["current_policy_version"], POLICY_VERSION);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(POLICY_VERSION)
    );
}

#[actix_web::test]
async fn an_unknown_category_is_a_400_naming_it() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            CONSENTS,
            &json!({"action": "save", "choices": {"telepathy": true}, "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 400);
    assert_error(&body, "unknown_category");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("telepathy")
    );
}

#[actix_web::test]
async fn default_in_an_opt_in_region_records_nothing_granted() {
    let app = spawn_app().await;
    let body = app.consent("default", json!({})).await;
    assert_eq!(
        body["choices"],
        json!({"necessary": true, "analytics": false, "marketing": false})
    );
}

#[actix_web::test]
async fn the_policy_and_banner_a_decision_names_are_retrievable_by_hash() {
    let app = spawn_app().await;
    let body = app.consent("accept_all", json!({})).await;
    for (field, kind) in [("policy_hash", "policy"), ("banner_hash", "banner")] {
        let hash = body[field].as_str().unwrap();
        let (status, doc) = app
            .get_json(&format!("/api/v1/sites/demo/notices/{hash}"), &[])
            .await;
        assert_eq!(status, 200, "{field}");
        assert_eq!(doc["kind"], kind);
        assert_eq!(doc["site"], "demo");
    }
    let (_, doc) = app
        .get_json(
            &format!(
                "/api/v1/sites/demo/notices/{}",
                body["policy_hash"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(doc["version"], POLICY_VERSION);
}
