//! A new policy version re-asks consent; a material change to a category drops that category's
//! events until the visitor consents again, while unchanged categories go on.

use serde_json::{Value, json};

use crate::binary;
use crate::helpers::BROWSER_UA;

const DEMO: &str = include_str!("../../src/settings/demo.toml");

fn config(dir: &std::path::Path, version: &str, earlier: &[(&str, &[&str])]) -> std::path::PathBuf {
    let mut text = DEMO.replace(
        "version = \"2026-11-01\"",
        &format!("version = \"{version}\""),
    );
    for (v, material) in earlier {
        let list: Vec<String> = material.iter().map(|m| format!("\"{m}\"")).collect();
        text.push_str(&format!(
            "\n[[sites.policy.earlier]]\nversion = \"{v}\"\nmaterial = [{}]\n",
            list.join(", ")
        ));
    }
    let path = dir.join(format!("consentry-{version}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn post(server: &binary::Server, path: &str, body: Value) -> (u16, Value) {
    let mut res = awc::Client::default()
        .post(server.url(path))
        .insert_header(("content-type", "application/json"))
        .insert_header(("user-agent", BROWSER_UA))
        .send_body(body.to_string())
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.body().await.unwrap()).unwrap(),
    )
}

fn events(id: &str) -> Value {
    json!([
        {"consent_id": id, "name": "pageview", "url": "https://parcelwise.example/"},
        {"consent_id": id, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"},
    ])
}

/// The binary on the first version, with one visitor who accepted everything (the 201 body).
async fn accepted_under_first_version(dir: &std::path::Path) -> (binary::Server, Value) {
    let v1 = config(dir, "2026-11-01", &[]);
    let server = binary::start_with_config(dir, &v1);
    let (status, consent) = post(
        &server,
        "/api/v1/sites/demo/consents",
        json!({"action": "accept_all", "policy_version": "2026-11-01"}),
    )
    .await;
    assert_eq!(status, 201);
    (server, consent)
}

#[actix_web::test]
async fn a_material_change_to_marketing_drops_marketing_events_until_re_consent_while_analytics_continues()
 {
    let dir = tempfile::tempdir().unwrap();
    let (server, consent) = accepted_under_first_version(dir.path()).await;
    let id = consent["consent_id"].as_str().unwrap().to_owned();
    let (_, body) = post(&server, "/api/v1/sites/demo/events", events(&id)).await;
    assert_eq!(body["accepted"], 2);
    assert!(server.terminate().success());

    let v2 = config(dir.path(), "2026-12-01", &[("2026-11-01", &["marketing"])]);
    let server = binary::start_with_config(dir.path(), &v2);
    let old_policy = consent["policy_hash"].as_str().unwrap();
    let mut res = awc::Client::default()
        .get(server.url(&format!("/api/v1/sites/demo/notices/{old_policy}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        200,
        "the policy a decision names outlives its version"
    );
    let archived: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(archived["version"], "2026-11-01");
    let (_, body) = post(&server, "/api/v1/sites/demo/events", events(&id)).await;
    assert_eq!(body["accepted"], 1, "analytics goes on: {body}");
    assert_eq!(
        body["dropped"],
        json!([{"index": 1, "reason": "policy_outdated"}])
    );

    let (status, body) = post(
        &server,
        "/api/v1/sites/demo/consents",
        json!({"action": "accept_all", "policy_version": "2026-11-01", "consent_id": id}),
    )
    .await;
    assert_eq!(
        status, 409,
        "consent under the old version is refused: {body}"
    );
    let (status, _) = post(
        &server,
        "/api/v1/sites/demo/consents",
        json!({"action": "accept_all", "policy_version": "2026-12-01", "consent_id": id}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, body) = post(&server, "/api/v1/sites/demo/events", events(&id)).await;
    assert_eq!(
        body["accepted"], 2,
        "after re-consent marketing is back: {body}"
    );
    assert!(server.terminate().success());
}

#[actix_web::test]
async fn a_version_not_listed_as_compatible_drops_every_category() {
    let dir = tempfile::tempdir().unwrap();
    let (server, consent) = accepted_under_first_version(dir.path()).await;
    let id = consent["consent_id"].as_str().unwrap().to_owned();
    assert!(server.terminate().success());

    let v3 = config(dir.path(), "2027-01-01", &[]);
    let server = binary::start_with_config(dir.path(), &v3);
    let (_, body) = post(&server, "/api/v1/sites/demo/events", events(&id)).await;
    assert_eq!(body["accepted"], 0);
    assert_eq!(
        body["dropped"],
        json!([{"index": 0, "reason": "policy_outdated"}, {"index": 1, "reason": "policy_outdated"}])
    );
    assert!(server.terminate().success());
}

#[actix_web::test]
async fn a_scheduled_change_is_announced_before_its_date_and_takes_effect_on_it() {
    use consentry::domain::site::Upcoming;
    use consentry::domain::{CategoryId, PolicyVersion, Timestamp};

    let start = Timestamp(1_790_000_000_000);
    let app = crate::helpers::spawn_app_with(|s| {
        s.sites[0].policy.upcoming = Some(Upcoming {
            version: PolicyVersion::parse("2026-10-01").unwrap(),
            effective_at: start.plus_days(10),
            effective_date: "2026-10-01".into(),
            material: vec![CategoryId::parse("marketing").unwrap()],
            summary: "We add a second advertising partner.".into(),
        })
    })
    .await;
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(
        banner["policy_version"], "2026-11-01",
        "the current version still applies"
    );
    assert_eq!(banner["upcoming_change"]["version"], "2026-10-01");
    assert_eq!(banner["upcoming_change"]["material"], json!(["marketing"]));
    let mut res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .send()
        .await
        .unwrap();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Upcoming change") && html.contains("second advertising partner"));

    let id = app.consent("accept_all", json!({})).await["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance_days(10);

    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(
        banner["policy_version"], "2026-10-01",
        "in force on its date"
    );
    assert!(banner.get("upcoming_change").is_none());
    let (_, body) = app.send_events(&events(&id), &[]).await;
    assert_eq!(body["accepted"], 1, "analytics goes on: {body}");
    assert_eq!(
        body["dropped"],
        json!([{"index": 1, "reason": "policy_outdated"}])
    );
    let (status, _) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": "2026-11-01", "consent_id": id}),
        )
        .await;
    assert_eq!(status, 409, "the old version is stale now");
    let mut res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .send()
        .await
        .unwrap();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("2026-10-01") && !html.contains("Upcoming change"));
}

#[actix_web::test]
async fn the_banner_names_the_earlier_versions_that_still_count_and_what_changed_since() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.sites[0].policy.earlier_versions.insert(
            consentry::domain::PolicyVersion::parse("2026-06-01").unwrap(),
            vec![consentry::domain::CategoryId::parse("marketing").unwrap()],
        );
    })
    .await;
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(
        banner["earlier_versions"],
        json!({"2026-06-01": ["marketing"]})
    );
}
