//! Visitors' rights: export and erasure, against the in-process app and the real binary.

use std::time::Duration;

use serde_json::{Value, json};

use crate::binary::{self, verify_ledger};
use crate::helpers::{BROWSER_UA, POLICY_VERSION, TestApp, spawn_app};

#[actix_web::test]
async fn an_export_holds_every_decision_and_event_of_the_id() {
    let app = spawn_app().await;
    let first = app.consent("save", json!({"analytics": true})).await;
    let id = first["consent_id"].as_str().unwrap();
    app.post_json(
        "/api/v1/sites/demo/consents",
        &json!({"action": "accept_all", "policy_version": POLICY_VERSION, "consent_id": id}),
    )
    .await;
    app.send_events(
        &json!([TestApp::pageview(id, "/a"), TestApp::pageview(id, "/b")]),
        &[],
    )
    .await;
    let export = app.export(id).await;
    assert_eq!(export["consent_id"], id);
    assert_eq!(export["history"].as_array().unwrap().len(), 2);
    assert_eq!(export["history"][0]["action"], "save");
    assert_eq!(export["current"]["action"], "accept_all");
    let paths: Vec<_> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert_eq!(paths, [json!("/a"), json!("/b")]);
}

#[actix_web::test]
async fn after_erasure_nothing_is_held_and_later_events_are_dropped() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&id, "/before"), &[])
        .await;
    let keep = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&keep, "/kept"), &[])
        .await;

    let (status, body) = app.erase(&id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["erased"], true);
    assert_eq!(body["ledger_entries_redacted"], 1);
    assert_eq!(body["events_deleted"], 1);
    assert_eq!(body["tombstone"].as_str().unwrap().len(), 64);

    for path in [
        format!("/api/v1/sites/demo/consents/{id}"),
        format!("/api/v1/sites/demo/consents/{id}/export"),
    ] {
        let (status, _) = app.get_json(&path, &[app.origin()]).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, body) = app
        .send_events(&TestApp::pageview(&id, "/after"), &[])
        .await;
    assert_eq!(body["dropped"][0]["reason"], "no_consent");
    let (status, _) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "policy_version": POLICY_VERSION, "consent_id": id}),
        )
        .await;
    assert_eq!(
        status, 404,
        "an erased id cannot be renewed; the banner mints a new one"
    );
    let (status, _) = app.erase(&id).await;
    assert_eq!(status, 404, "a second erasure finds nothing");

    let kept = app.export(&keep).await;
    assert_eq!(
        kept["events"].as_array().unwrap().len(),
        1,
        "others are untouched"
    );
}

async fn post(client: &awc::Client, url: String, body: Value) -> (u16, Value) {
    let mut res = client
        .post(url)
        .insert_header(("content-type", "application/json"))
        .insert_header(("user-agent", BROWSER_UA))
        .send_body(body.to_string())
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// `n` visitors with a consent and two events each, on a running binary, 20 at a time.
async fn seed(server: &binary::Server, client: &awc::Client, n: usize) -> Vec<String> {
    let workers = 20;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (client, consents, events) = (
                client.clone(),
                server.url("/api/v1/sites/demo/consents"),
                server.url("/api/v1/sites/demo/events"),
            );
            let count = n / workers + usize::from(w < n % workers);
            actix_web::rt::spawn(async move {
                let mut ids = Vec::with_capacity(count);
                for _ in 0..count {
                    let (status, c) = post(
                        &client,
                        consents.clone(),
                        json!({"action": "accept_all", "policy_version": POLICY_VERSION}),
                    )
                    .await;
                    assert_eq!(status, 201);
                    let id = c["consent_id"].as_str().unwrap().to_owned();
                    let (_, e) = post(
                        &client,
                        events.clone(),
                        json!([TestApp::pageview(&id, "/x"), TestApp::pageview(&id, "/y")]),
                    )
                    .await;
                    assert_eq!(e["accepted"], 2);
                    ids.push(id);
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

#[actix_web::test]
async fn erasing_100_of_1000_visitors_leaves_100_tombstones_a_verified_chain_and_no_raw_id_on_disk()
{
    let dir = tempfile::tempdir().unwrap();
    let server = binary::start(dir.path());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let ids = seed(&server, &client, 1000).await;
    for id in &ids[..100] {
        let mut res = client
            .delete(server.url(&format!("/api/v1/sites/demo/consents/{id}")))
            .insert_header(server.origin())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        assert_eq!(body["events_deleted"], 2);
    }
    assert!(server.terminate().success());

    let (ok, out) = verify_ledger(dir.path());
    assert!(ok, "{out}");
    assert!(
        out.contains("1100 entries verified"),
        "1000 decisions and 100 tombstones: {out}"
    );
    let (ok, checked) = binary::check_store(dir.path());
    assert!(
        ok && checked.contains("900 visitors") && checked.contains("100 erased subjects"),
        "{checked}"
    );

    let bytes = crate::helpers::all_bytes(dir.path());
    assert!(bytes.len() > 100_000);
    // Consent ids are 26 lowercase base32 characters: look at every 26-character window of
    // every run of such characters, once.
    let wanted: std::collections::HashSet<&[u8]> = ids.iter().map(|i| i.as_bytes()).collect();
    let mut found = Vec::new();
    for run in bytes.split(|b| !(b.is_ascii_digit() || b.is_ascii_lowercase())) {
        for w in run.windows(26) {
            if wanted.contains(w) {
                found.push(String::from_utf8_lossy(w).into_owned());
            }
        }
    }
    assert!(found.is_empty(), "consent ids on disk: {found:?}");

    let server = binary::start(dir.path());
    for (i, id) in ids.iter().enumerate().step_by(37) {
        let mut res = client
            .get(server.url(&format!("/api/v1/sites/demo/consents/{id}/export")))
            .insert_header(server.origin())
            .send()
            .await
            .unwrap();
        if i < 100 {
            assert_eq!(res.status().as_u16(), 404, "{id} was erased");
        } else {
            assert_eq!(res.status().as_u16(), 200);
            let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
            assert_eq!(
                body["events"].as_array().unwrap().len(),
                2,
                "{id} kept its events"
            );
        }
    }
}

#[actix_web::test]
async fn an_erasure_cut_short_by_sigkill_is_finished_at_restart_and_never_left_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut erased_total = 0;
    let mut seeded_total = 0;
    for cycle in 0..4u64 {
        let server = binary::start(dir.path());
        let ids = seed(&server, &client, 60).await;
        seeded_total += ids.len();
        // An export waits until every queued event is on disk, so a kill below can only
        // interrupt erasures.
        let mut synced = client
            .get(server.url(&format!("/api/v1/sites/demo/consents/{}/export", ids[59])))
            .insert_header(server.origin())
            .send()
            .await
            .unwrap();
        assert_eq!(synced.status().as_u16(), 200);
        let _ = synced.body().limit(1 << 20).await;
        let targets: Vec<String> = ids[..30].to_vec();
        let port = server.port;
        let tasks: Vec<_> = targets
            .iter()
            .map(|id| {
                let url = format!("http://127.0.0.1:{port}/api/v1/sites/demo/consents/{id}");
                let origin = format!("http://127.0.0.1:{port}");
                let client = client.clone();
                actix_web::rt::spawn(async move {
                    client
                        .delete(url)
                        .insert_header(("origin", origin))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                })
            })
            .collect();
        actix_web::rt::time::sleep(Duration::from_millis(5 + cycle * 15)).await;
        server.kill();
        let mut acknowledged = Vec::new();
        for (t, id) in tasks.into_iter().zip(&targets) {
            if let Ok(Ok(200)) = t.await {
                acknowledged.push(id.clone());
            }
        }

        let server = binary::start(dir.path());
        for id in &targets {
            let mut res = client
                .get(server.url(&format!("/api/v1/sites/demo/consents/{id}/export")))
                .insert_header(server.origin())
                .send()
                .await
                .unwrap();
            match res.status().as_u16() {
                404 => erased_total += 1,
                200 => {
                    assert!(
                        !acknowledged.contains(id),
                        "an acknowledged erasure came back: {id}"
                    );
                    let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
                    assert!(
                        body["current"].is_object(),
                        "half-erased {id}: no state but data"
                    );
                    assert_eq!(
                        body["events"].as_array().unwrap().len(),
                        2,
                        "half-erased {id}"
                    );
                    assert_eq!(
                        body["history"].as_array().unwrap().len(),
                        1,
                        "half-erased {id}"
                    );
                }
                s => panic!("unexpected {s}"),
            }
        }
        assert!(server.terminate().success());
    }
    let (ok, out) = verify_ledger(dir.path());
    assert!(ok, "{out}");
    let expected = format!("{} entries verified", seeded_total + erased_total);
    assert!(
        out.contains(&expected),
        "one tombstone per erasure: {out} (expected {expected})"
    );
    eprintln!(
        "erasure crash test: {erased_total} of 120 erasures finished across 4 SIGKILLs; {out}"
    );
}

#[actix_web::test]
async fn an_operator_exports_and_erases_a_visitor_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = binary::start(dir.path());
    let client = awc::Client::default();
    let ids = seed(&server, &client, 2).await;
    assert!(server.terminate().success());

    let (ok, out, _) = binary::run_cli(
        dir.path(),
        &["visitor", "export", "--site", "demo", &ids[0]],
    );
    assert!(ok);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["consent_id"], ids[0].as_str());
    assert_eq!(doc["events"].as_array().unwrap().len(), 2);

    let (ok, out, _) =
        binary::run_cli(dir.path(), &["visitor", "erase", "--site", "demo", &ids[0]]);
    assert!(ok);
    assert!(out.contains("2 events deleted"), "{out}");
    let (ok, _, err) = binary::run_cli(
        dir.path(),
        &["visitor", "export", "--site", "demo", &ids[0]],
    );
    assert!(!ok);
    assert!(err.contains("nothing is held"), "{err}");
    let (ok, out, _) = binary::run_cli(
        dir.path(),
        &["visitor", "export", "--site", "demo", &ids[1]],
    );
    assert!(ok, "the other visitor is untouched: {out}");
    let (ok, out) = verify_ledger(dir.path());
    assert!(ok && out.contains("3 entries verified"), "{out}");
}

#[actix_web::test]
async fn each_fulfilled_rights_request_is_logged_with_its_type_and_outcome_but_not_the_id() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    app.export(&id).await;
    app.erase(&id).await;
    let (status, _) = app
        .get_json(
            &format!("/api/v1/sites/demo/consents/{id}/export"),
            &[app.origin()],
        )
        .await;
    assert_eq!(status, 404);
    let log = app.store.rights_log().await.unwrap();
    assert_eq!(
        log.len(),
        2,
        "the export for an id that holds nothing leaves no trace: {log:?}"
    );
    assert!(
        log[0].contains("type=access") && log[0].contains("outcome=exported"),
        "{log:?}"
    );
    assert!(
        log[1].contains("type=erasure") && log[1].contains("outcome=erased"),
        "{log:?}"
    );
    assert!(log.iter().all(|l| !l.contains(&id)), "no id in the log");
}

#[cfg(feature = "fault-injection")]
#[actix_web::test]
async fn a_decision_queued_before_an_erasure_does_not_bring_the_erased_consent_back() {
    let app = spawn_app().await;
    let id = app.consent_id("save", json!({"analytics": true})).await;
    // Hold the ledger writer, so that a renewal of the id is queued (not yet written) while
    // the erasure runs: the window in which the decision used to be written after the
    // erasure had removed the state.
    let hold = consentry::fault::hold(&app.data_dir, "ledger_group");
    let renewal = {
        let client = app.client.clone();
        let url = app.url("/api/v1/sites/demo/consents");
        let body =
            json!({"action": "accept_all", "consent_id": id, "policy_version": POLICY_VERSION});
        actix_web::rt::spawn(async move {
            client
                .post(url)
                .insert_header(("content-type", "application/json"))
                .send_body(body.to_string())
                .await
                .map(|r| r.status().as_u16())
        })
    };
    let hold = actix_web::rt::task::spawn_blocking(move || {
        hold.wait_for(1);
        hold
    })
    .await
    .unwrap();
    let erasure = {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/sites/demo/consents/{id}"));
        let origin = app.address.clone();
        actix_web::rt::spawn(async move {
            client
                .delete(url)
                .insert_header(("origin", origin))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    // Let the erasure reach the writer (it waits there, or for its tombstone), then let go.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    drop(hold);
    assert_eq!(erasure.await.unwrap().unwrap(), 200);
    let renewed = renewal.await.unwrap().unwrap();
    assert!(
        renewed == 404 || renewed == 201,
        "the renewal is refused, or written before the erasure: {renewed}"
    );
    let (status, body) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
        .await;
    assert_eq!(status, 404, "the erased consent stays erased: {body}");
    let (status, _) = app
        .get_json(
            &format!("/api/v1/sites/demo/consents/{id}/export"),
            &[app.origin()],
        )
        .await;
    assert_eq!(status, 404, "nothing is held under the id");
}
