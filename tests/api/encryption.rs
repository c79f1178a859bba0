//! Encryption at rest: with `encryption_key_file` set, no byte of the data folder shows what
//! was stored; a wrong key is refused; a rotated key reads everything back.

use std::path::{Path, PathBuf};

use consentry::domain::Timestamp;
use consentry::store::vault::KeyEncryptionKey;
use serde_json::json;

use crate::binary;
use crate::helpers::{POLICY_VERSION, TestApp, on_postgres, spawn_app_with};

/// What the test stores and then looks for in the folder's bytes.
const DISTINCTIVE: [&str; 9] = [
    "zebra-okapi",             // a page path
    "spring-okapi-sale",       // a campaign
    "okapinews",               // a UTM source
    "okapi-herald",            // a referrer's domain
    "aurora-borealis-plan",    // a property's value
    "kestrel-today",           // a path still in the write buffer
    "analytics:1,marketing:0", // the choices of the decision
    "consentry-decision-1",    // the ledger payload's format line
    "We value your privacy",   // the archived banner document
];

fn write_key(dir: &Path, name: &str, byte: u8) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, hex(&[byte; 32])).unwrap();
    path
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An app whose folder holds a decision, events over two days (one sealed into a segment, one
/// still buffered) and the notices; every byte of its folder once flushed.
async fn filled_folder(key: Option<PathBuf>) -> (TestApp, Vec<u8>) {
    let app = spawn_app_with(move |s| {
        s.encryption_key = key.map(|k| KeyEncryptionKey::read(&k).unwrap());
    })
    .await;
    let start = 1_790_000_000_000;
    let (status, record) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "save", "choices": {"analytics": true, "marketing": false}, "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 201, "{record}");
    let id = record["consent_id"].as_str().unwrap();
    let events = json!([
        {"consent_id": id, "name": "pageview",
         "url": "https://parcelwise.example/checkout/zebra-okapi?utm_source=okapinews&utm_campaign=spring-okapi-sale",
         "referrer": "https://okapi-herald.example/story"},
        {"consent_id": id, "name": "plan_chosen", "url": "https://parcelwise.example/plans",
         "props": {"plan": "aurora-borealis-plan"}},
    ]);
    let (_, body) = app.send_events(&events, &[]).await;
    assert_eq!(body["accepted"], 2, "{body}");
    app.analytics.sync_events().await.unwrap();
    app.clock.set(Timestamp(start + 2 * 86_400_000));
    app.analytics.settle_events().await.unwrap();
    let (_, body) = app
        .send_events(&TestApp::pageview(id, "/kestrel-today"), &[])
        .await;
    assert_eq!(body["accepted"], 1, "{body}");
    app.analytics.sync_events().await.unwrap();
    let bytes = app.stored_bytes().await;
    (app, bytes)
}

fn found(bytes: &[u8]) -> Vec<&'static str> {
    DISTINCTIVE
        .into_iter()
        .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
        .collect()
}

#[actix_web::test]
async fn an_encrypted_folder_shows_no_path_campaign_property_choice_or_notice_in_its_bytes() {
    if on_postgres() {
        return; // encryption covers the data folder, which holds nothing on PostgreSQL
    }
    let keys = tempfile::tempdir().unwrap();
    let (plain_app, plain) = filled_folder(None).await;
    assert_eq!(
        found(&plain),
        DISTINCTIVE,
        "the scan finds every string in a folder written without a key"
    );
    let (app, sealed) = filled_folder(Some(write_key(keys.path(), "key", 7))).await;
    assert!(sealed.len() > 10_000, "the scan read the store");
    assert_eq!(
        found(&sealed),
        Vec::<&str>::new(),
        "nothing readable with a key"
    );
    assert!(
        app.data_dir
            .join("events")
            .read_dir()
            .unwrap()
            .next()
            .is_some()
    );

    // Everything reads back through the key: the export holds the events and the decision.
    let id = {
        let (_, body) = app
            .post_json(
                "/api/v1/sites/demo/consents",
                &json!({"action": "accept_all", "choices": {}, "policy_version": POLICY_VERSION}),
            )
            .await;
        body["consent_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        app.export(&id).await["history"].as_array().unwrap().len(),
        1
    );
    let (_, health) = app.get_json("/healthz", &[]).await;
    assert_eq!(health["storage_encrypted"], true, "{health}");
    let (_, health) = plain_app.get_json("/healthz", &[]).await;
    assert_eq!(health["storage_encrypted"], false, "{health}");
}

#[actix_web::test]
async fn a_wrong_key_is_refused_and_a_rotated_key_reads_everything_back() {
    if on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = write_key(dir.path(), "first.key", 1);
    let second = write_key(dir.path(), "second.key", 2);
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    let server = binary::start_with_args(&data, &["--encryption-key-file", first]);
    let record: serde_json::Value = awc::Client::default()
        .post(server.url("/api/v1/sites/demo/consents"))
        .send_json(&json!({"action": "save", "choices": {"analytics": true}, "policy_version": POLICY_VERSION}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = record["consent_id"].as_str().unwrap().to_owned();
    assert!(server.terminate().success());

    let (ok, _, err) = binary::run_cli(
        &data,
        &["ledger", "verify", "--encryption-key-file", second],
    );
    assert!(!ok);
    assert!(err.contains("does not open this data folder"), "{err}");
    let (ok, _, err) = binary::run_cli(&data, &["ledger", "verify"]);
    assert!(!ok);
    assert!(err.contains("this data folder is encrypted"), "{err}");

    let (ok, out, err) = binary::run_cli(
        &data,
        &[
            "storage",
            "rotate-key",
            "--encryption-key-file",
            first,
            "--new-key-file",
            second,
        ],
    );
    assert!(ok, "{out}{err}");
    let (ok, _, err) =
        binary::run_cli(&data, &["ledger", "verify", "--encryption-key-file", first]);
    assert!(!ok, "the old key no longer opens the folder: {err}");
    let (ok, out, err) = binary::run_cli(
        &data,
        &["ledger", "verify", "--encryption-key-file", second],
    );
    assert!(ok && out.contains("ledger ok"), "{out}{err}");
    let (ok, out, err) = binary::run_cli(
        &data,
        &[
            "visitor",
            "export",
            "--site",
            "demo",
            &id,
            "--encryption-key-file",
            second,
        ],
    );
    assert!(ok, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(export["current"]["receipt"], record["receipt"], "{export}");
    assert_eq!(export["current"]["choices"]["analytics"], true);
}
