use crate::helpers::{POLICY_VERSION, spawn_app};

const BANNER: &str = "/api/v1/sites/demo/banner";

#[actix_web::test]
async fn the_banner_has_every_field_of_the_contract_and_nothing_pre_ticked() {
    let app = spawn_app().await;
    let (status, body) = app.get_json(BANNER, &[]).await;
    assert_eq!(status, 200);
    for field in [
        "site",
        "policy_version",
        "regime",
        "jurisdiction",
        "country",
        "gpc",
        "language",
        "texts",
        "categories",
        "consent_max_age_days",
    ] {
        assert!(body.get(field).is_some(), "missing {field}: {body}");
    }
    assert_eq!(body["policy_version"], POLICY_VERSION);
    assert_eq!(body["consent_max_age_days"], 395);
    let categories = body["categories"].as_array().unwrap();
    let ids: Vec<_> = categories
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["necessary", "analytics", "marketing"]);
    for c in categories {
        assert_eq!(
            c["default"], c["required"],
            "only required categories start on: {c}"
        );
        assert!(!c["title"].as_str().unwrap().is_empty());
        assert!(!c["description"].as_str().unwrap().is_empty());
        assert!(c["services"].is_array());
    }
    assert!(
        body["policy_url"]
            .as_str()
            .unwrap()
            .starts_with("/sites/demo/policy?v="),
        "the policy link is versioned"
    );
}

#[actix_web::test]
async fn the_banner_speaks_the_visitors_language_and_the_query_wins() {
    let app = spawn_app().await;
    let (_, de) = app
        .get_json(BANNER, &[("accept-language", "de-DE,de;q=0.9,en;q=0.5")])
        .await;
    assert_eq!(de["language"], "de");
    assert_eq!(de["texts"]["reject_all"], "Alle ablehnen");
    assert_eq!(de["categories"][1]["title"], "Statistik");

    let (_, fr) = app
        .get_json(&format!("{BANNER}?lang=fr"), &[("accept-language", "de")])
        .await;
    assert_eq!(fr["language"], "fr");
    assert_eq!(fr["texts"]["accept_all"], "Tout accepter");

    let (_, es) = app.get_json(&format!("{BANNER}?lang=es"), &[]).await;
    assert_eq!(es["texts"]["reject_all"], "Rechazar todo");

    let (_, other) = app.get_json(BANNER, &[("accept-language", "ja")]).await;
    assert_eq!(other["language"], "en");
}

#[actix_web::test]
async fn each_language_has_its_own_archived_banner_hash() {
    let app = spawn_app().await;
    let (_, en) = app.get_json(&format!("{BANNER}?lang=en"), &[]).await;
    let (_, de) = app.get_json(&format!("{BANNER}?lang=de"), &[]).await;
    assert_ne!(en["banner_hash"], de["banner_hash"]);
}
