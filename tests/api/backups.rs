//! Online backups: taken through the administration API while consents and events keep
//! coming, restored into a new folder, where every consent acknowledged before the backup
//! began is present with its receipt, the chain verifies, and a visitor erased before it is not.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use consentry::domain::{ConsentId, SiteId};
use consentry::store::vault::KeyEncryptionKey;
use serde_json::{Value, json};

use crate::admin::{TOKEN, digest};
use crate::binary;
use crate::helpers::{POLICY_VERSION, TestApp, assert_error, on_postgres, spawn_app_with};

/// One visitor of the load: decides, then sends a pageview; returns its id and receipt.
async fn visitor(app: &TestApp) -> Option<(String, String)> {
    let (status, record) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "choices": {}, "policy_version": POLICY_VERSION}),
        )
        .await;
    if status != 201 {
        return None;
    }
    let id = record["consent_id"].as_str()?.to_owned();
    let _ = app
        .send_events(&TestApp::pageview(&id, "/during-the-backup"), &[])
        .await;
    Some((id, record["receipt"].as_str()?.to_owned()))
}

#[actix_web::test]
async fn a_backup_under_load_restores_every_acknowledged_consent_and_no_erased_visitor() {
    if on_postgres() {
        return; // PostgreSQL's own backups cover it: tested below
    }
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("data.key");
    std::fs::write(&key_file, [9u8; 32]).unwrap();
    let key = KeyEncryptionKey::read(&key_file).unwrap();
    let app = Rc::new(
        spawn_app_with(move |s| {
            s.admin_token = Some(digest());
            s.encryption_key = Some(key);
        })
        .await,
    );

    let erased = visitor(&app).await.unwrap().0;
    assert_eq!(app.erase(&erased).await.0, 200);

    // (id, receipt, when acknowledged) of every consent the load got back.
    let acked: Rc<RefCell<Vec<(String, String, Instant)>>> = Rc::default();
    let stop = Rc::new(std::cell::Cell::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (app, acked, stop) = (app.clone(), acked.clone(), stop.clone());
        load.push(actix_web::rt::spawn(async move {
            while !stop.get() {
                if let Some((id, receipt)) = visitor(&app).await {
                    acked.borrow_mut().push((id, receipt, Instant::now()));
                }
            }
        }));
    }
    while acked.borrow().len() < 300 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let backup = tempfile::tempdir().unwrap();
    let to = backup.path().join("backup-1");
    let began = Instant::now();
    let (status, report) = app
        .admin(
            "POST",
            "/backup",
            Some(TOKEN),
            Some(json!({"to": to.to_str().unwrap()})),
        )
        .await;
    assert_eq!(status, 201, "{report}");
    // The load goes on after the backup, then stops.
    let at_end = acked.borrow().len();
    while acked.borrow().len() < at_end + 100 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.set(true);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(report["encrypted"], true, "{report}");
    let before: Vec<(String, String)> = acked
        .borrow()
        .iter()
        .filter(|(_, _, at)| *at < began)
        .map(|(id, receipt, _)| (id.clone(), receipt.clone()))
        .collect();
    assert!(before.len() >= 300, "{}", before.len());

    // The backup is encrypted like the folder: no payload in plain text.
    let bytes = crate::helpers::all_bytes(&to);
    assert!(!bytes.windows(20).any(|w| w == b"consentry-decision-1"));

    // A second backup into the same folder is refused; a relative path too.
    let (status, body) = app
        .admin(
            "POST",
            "/backup",
            Some(TOKEN),
            Some(json!({"to": to.to_str().unwrap()})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "backup_target_not_empty");
    let (status, body) = app
        .admin(
            "POST",
            "/backup",
            Some(TOKEN),
            Some(json!({"to": "relative/dir"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Restored into a new folder with the binary, verified, then read back.
    let restored = backup.path().join("restored");
    let key_arg = key_file.to_str().unwrap();
    let (ok, out, err) = binary::run_cli(&restored, &["restore", "--from", to.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = binary::run_cli(
        &restored,
        &["ledger", "verify", "--encryption-key-file", key_arg],
    );
    assert!(ok && out.contains("ledger ok"), "{out}{err}");
    let (ok, _, err) = binary::run_cli(&restored, &["restore", "--from", to.to_str().unwrap()]);
    assert!(!ok && err.contains("is not empty"), "{err}");

    let mut settings = consentry::settings::Settings::demo(restored.clone());
    settings.encryption_key = Some(KeyEncryptionKey::read(&key_file).unwrap());
    let store = consentry::store::open(&settings, Default::default()).unwrap();
    let site = SiteId::parse("demo").unwrap();
    for (id, receipt) in &before {
        let found = store
            .current(site.clone(), ConsentId::parse(id).unwrap())
            .await
            .unwrap();
        assert_eq!(
            found.map(|r| r.receipt),
            Some(receipt.clone()),
            "{id} acknowledged before the backup"
        );
    }
    let gone = store
        .current(site.clone(), ConsentId::parse(&erased).unwrap())
        .await
        .unwrap();
    assert!(gone.is_none(), "the visitor erased before the backup");
    let events = store
        .events_of(site, ConsentId::parse(&erased).unwrap())
        .await
        .unwrap();
    assert!(events.is_empty());
    let _: Value = report;
}

#[actix_web::test]
async fn a_damaged_backup_is_refused_naming_its_file() {
    if on_postgres() {
        let app = spawn_app_with(|s| s.admin_token = Some(digest())).await;
        let (status, body) = app
            .admin(
                "POST",
                "/backup",
                Some(TOKEN),
                Some(json!({"to": "/tmp/never-written"})),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert_error(&body, "backup_not_available");
        return;
    }
    let app = spawn_app_with(|s| s.admin_token = Some(digest())).await;
    app.consent("accept_all", json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("b");
    let (status, report) = app
        .admin(
            "POST",
            "/backup",
            Some(TOKEN),
            Some(json!({"to": to.to_str().unwrap()})),
        )
        .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["encrypted"], false);
    let ledger = to.join("trees/ledger");
    let mut bytes = std::fs::read(&ledger).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ledger, bytes).unwrap();
    let (ok, _, err) = binary::run_cli(
        &dir.path().join("restored"),
        &["restore", "--from", to.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        err.contains("trees/ledger differs from the manifest"),
        "{err}"
    );
}
