use serde_json::{Value, json};

use crate::binary::{self, verify_ledger};
use crate::helpers::POLICY_VERSION;

async fn record(server: &binary::Server, client: &awc::Client, action: &str) -> Value {
    let mut res = client
        .post(server.url("/api/v1/sites/demo/consents"))
        .insert_header(("content-type", "application/json"))
        .send_body(json!({"action": action, "policy_version": POLICY_VERSION}).to_string())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    serde_json::from_slice(&res.body().await.unwrap()).unwrap()
}

/// Five decisions written by the real binary, which is then stopped with SIGTERM.
async fn ledger_of_five(dir: &std::path::Path) -> Vec<Value> {
    let server = binary::start(dir);
    let client = awc::Client::default();
    let mut out = Vec::new();
    for action in ["accept_all", "reject_all", "save", "withdraw", "accept_all"] {
        out.push(record(&server, &client, action).await);
    }
    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    out
}

#[cfg(feature = "test-support")]
#[actix_web::test]
async fn ledger_verify_checks_each_sites_chain_in_postgresql_and_names_a_changed_entry() {
    use crate::helpers::{connect, fresh_database};
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database();
    let env = [("CONSENTRY_POSTGRES_URL", url.expose())];
    let server = binary::start_with_env(dir.path(), &env);
    let client = awc::Client::default();
    let mut last = Value::Null;
    for action in ["accept_all", "reject_all", "save", "withdraw", "accept_all"] {
        last = record(&server, &client, action).await;
    }
    assert!(server.terminate().success());

    let (ok, out, err) = binary::run_cli_with_env(dir.path(), &["ledger", "verify"], &env);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("ledger of site `demo` ok: 5 entries verified"),
        "{out}"
    );
    assert!(out.contains(last["receipt"].as_str().unwrap()), "{out}");
    assert!(
        !dir.path().join("sled").exists(),
        "nothing went to the data folder"
    );
    // The audit export reads the site's chain from PostgreSQL and verifies offline.
    let file = dir.path().join("export.jsonl");
    let export = [
        "ledger",
        "export",
        "--site",
        "demo",
        "--out",
        file.to_str().unwrap(),
    ];
    let (ok, _, err) = binary::run_cli_with_env(dir.path(), &export, &env);
    assert!(ok, "{err}");
    let (ok, out, _) = binary::run_cli(
        dir.path(),
        &["ledger", "verify", "--file", file.to_str().unwrap()],
    );
    assert!(
        ok && out.contains("5 entries verified (5 with their payload)"),
        "{out}"
    );

    connect(&url)
        .await
        .execute(
            "UPDATE ledger SET payload = overlay(payload PLACING 'X' FROM 20 FOR 1) WHERE seq = 3",
            &[],
        )
        .await
        .unwrap();
    let (ok, out, _) = binary::run_cli_with_env(dir.path(), &["ledger", "verify"], &env);
    assert!(!ok, "a changed payload fails verification: {out}");
    assert!(
        out.contains("ledger of site `demo` BROKEN") && out.contains("entry 3"),
        "{out}"
    );
}

fn with_tree(dir: &std::path::Path, tree: &str, f: impl FnOnce(&sled::Tree)) {
    let db = sled::open(dir.join("sled")).unwrap();
    let t = db.open_tree(tree).unwrap();
    f(&t);
    db.flush().unwrap();
}

#[actix_web::test]
async fn ledger_verify_passes_on_an_intact_ledger_and_names_an_entry_with_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let written = ledger_of_five(dir.path()).await;
    let (ok, out) = verify_ledger(dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("5 entries verified"), "{out}");
    let last = written.last().unwrap()["receipt"].as_str().unwrap();
    assert!(out.contains(last), "the head is the last receipt: {out}");

    with_tree(dir.path(), "ledger", |t| {
        let key = 3u64.to_be_bytes();
        let mut v = t.get(key).unwrap().unwrap().to_vec();
        // Past the 81-byte header: a byte of the payload (the recorded decision).
        let at = 81 + (v.len() - 81) / 2;
        v[at] ^= 0x01;
        t.insert(key, v).unwrap();
    });
    let (ok, out) = verify_ledger(dir.path());
    assert!(!ok, "a flipped byte fails verification: {out}");
    assert!(out.contains("entry 3"), "{out}");
}

#[actix_web::test]
async fn ledger_verify_finds_a_removed_entry_and_a_rewritten_header() {
    let dir = tempfile::tempdir().unwrap();
    ledger_of_five(dir.path()).await;
    with_tree(dir.path(), "ledger", |t| {
        t.remove(2u64.to_be_bytes()).unwrap();
    });
    let (ok, out) = verify_ledger(dir.path());
    assert!(!ok);
    assert!(out.contains("entry 2 is missing"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    ledger_of_five(dir.path()).await;
    with_tree(dir.path(), "ledger", |t| {
        let key = 4u64.to_be_bytes();
        let mut v = t.get(key).unwrap().unwrap().to_vec();
        v[75] ^= 0x01; // the recorded time
        t.insert(key, v).unwrap();
    });
    let (ok, out) = verify_ledger(dir.path());
    assert!(!ok);
    assert!(out.contains("entry 5"), "{out}");
}

#[actix_web::test]
async fn a_second_process_on_a_data_folder_in_use_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = binary::start(dir.path());
    let (ok, out) = verify_ledger(dir.path());
    assert!(!ok);
    assert!(out.contains("locked by another process"), "{out}");
    server.kill();
}

#[actix_web::test]
async fn the_server_refuses_to_start_on_a_corrupt_database() {
    let dir = tempfile::tempdir().unwrap();
    ledger_of_five(dir.path()).await;
    let db = dir.path().join("sled").join("db");
    let bytes = std::fs::read(&db).unwrap();
    let garbage: Vec<u8> = bytes.iter().map(|b| b ^ 0x5a).collect();
    std::fs::write(&db, garbage).unwrap();
    for entry in std::fs::read_dir(dir.path().join("sled")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("snap.")
        {
            std::fs::write(&path, b"not a snapshot").unwrap();
        }
    }
    let (mut child, port) = binary::try_start(dir.path());
    if port.is_some() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("a corrupt store must never be served");
    }
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[cfg(feature = "test-support")]
#[actix_web::test]
async fn store_check_on_postgresql_finds_nothing_wrong_after_an_erasure_and_names_a_stray_event() {
    use crate::helpers::{TestApp, connect, fresh_database, spawn_app_on};
    let url = fresh_database();
    let app = spawn_app_on(&url).await;
    let kept = app.consent_id("accept_all", json!({})).await;
    let gone = app.consent_id("accept_all", json!({})).await;
    for id in [&kept, &gone] {
        app.send_events(&TestApp::pageview(id, "/"), &[]).await;
    }
    app.analytics.sync_events().await.unwrap();
    assert_eq!(app.erase(&gone).await.0, 200);

    let sound = app.store.check_integrity().unwrap();
    assert_eq!(
        (
            sound.visitors,
            sound.events,
            sound.tombstones,
            sound.faults.len()
        ),
        (1, 1, 1, 0),
        "{:?}",
        sound.faults
    );
    match &app.clickhouse {
        Some(ch) => {
            crate::helpers::clickhouse_statement(
                ch,
                "INSERT INTO events SELECT site_id, day, 999999, at, id + 1000000, category, name,
                   path, country, region, browser, os, device, source, referrer, utm_source,
                   utm_medium, utm_campaign, prop_keys, prop_types, prop_values FROM events",
            )
            .await;
        }
        None => {
            connect(&url)
                .await
                .execute(
                    "INSERT INTO events (site_id, day, visitor, at, category, body)
                     SELECT site_id, day, 999999, at, category, body FROM events",
                    &[],
                )
                .await
                .unwrap();
        }
    }
    let found = app.store.check_integrity().unwrap().faults.join("\n");
    assert!(
        found.contains("visitor number 999999, which no visitor holds"),
        "{found}"
    );
}

#[actix_web::test]
async fn an_audit_export_verifies_offline_and_a_changed_byte_is_named_by_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let five = ledger_of_five(dir.path()).await;
    let file = dir.path().join("export.jsonl");
    let path = file.to_str().unwrap();
    let (ok, _, err) = binary::run_cli(
        dir.path(),
        &["ledger", "export", "--site", "demo", "--out", path],
    );
    assert!(ok && err.contains("5 entries (seq 1–5)"), "{err}");
    let verify = |file: &str| binary::run_cli(dir.path(), &["ledger", "verify", "--file", file]);
    let (ok, out, _) = verify(path);
    assert!(ok, "{out}");
    assert!(
        out.contains("5 entries verified (5 with their payload), 2 documents match their hashes"),
        "{out}"
    );
    let last = five[4]["receipt"].as_str().unwrap();
    assert!(
        out.contains(last),
        "the last entry is the last receipt: {out}"
    );

    // What an auditor reads: every decision with its fields, no consent id.
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "entry")
        .map(|l| l["fields"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["accept_all", "reject_all", "save", "withdraw", "accept_all"]
    );
    assert_eq!(lines.iter().filter(|l| l["kind"] == "document").count(), 2);
    for d in &five {
        assert!(
            !text.contains(d["consent_id"].as_str().unwrap()),
            "no consent id"
        );
    }

    // One byte changed in entry 3's payload: the verification names entry 3.
    let changed = text.replacen("action=save\\n", "action=savf\\n", 1);
    assert_ne!(changed, text, "the payload was found");
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, changed).unwrap();
    let (ok, out, _) = verify(tampered.to_str().unwrap());
    assert!(!ok, "{out}");
    assert!(
        out.contains("export BROKEN: entry 3: payload does not match the digest in its header"),
        "{out}"
    );
    // A document changed: named by its hash.
    let changed = text.replacen("Parcelwise", "Parcelwisf", 1);
    std::fs::write(&tampered, changed).unwrap();
    let (ok, out, _) = verify(tampered.to_str().unwrap());
    assert!(
        !ok && out.contains("export BROKEN: document ") && out.contains("does not match its hash"),
        "{out}"
    );

    // The same decisions as a table.
    let csv = dir.path().join("export.csv");
    let (ok, _, err) = binary::run_cli(
        dir.path(),
        &[
            "ledger",
            "export",
            "--site",
            "demo",
            "--format",
            "csv",
            "--out",
            csv.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let table = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 6, "a header and five decisions: {table}");
    assert!(rows[0].starts_with("seq,hash,recorded_at,type,subject,action,choices"));
    assert!(
        rows[3].starts_with("3,") && rows[3].contains(",save,"),
        "{table}"
    );
}
