//! Two nodes on one PostgreSQL database: whatever one records, the other reads, exports and
//! erases at once, and keys made or revoked through either hold on both from the next request.
//! These tests use PostgreSQL whichever backend the run tests.

use serde_json::json;

use crate::admin::{TOKEN, digest};
use crate::helpers::{
    POLICY_VERSION, TestApp, connect, fresh_database, spawn_app_on, spawn_app_with,
};

/// Two nodes sharing one fresh database, each with the operator token configured.
async fn two_nodes() -> (TestApp, TestApp) {
    let url = fresh_database();
    let node = |url: consentry::settings::PostgresUrl| {
        spawn_app_with(move |s| {
            crate::helpers::keep_in(s, url);
            s.admin_token = Some(digest());
        })
    };
    let a = node(url.clone()).await;
    let b = node(url).await;
    (a, b)
}

#[actix_web::test]
async fn a_consent_recorded_on_one_node_is_read_exported_and_erased_on_the_other() {
    let (a, b) = two_nodes().await;
    let id = a.consent_id("save", json!({"analytics": true})).await;
    a.send_events(&TestApp::pageview(&id, "/from-a"), &[]).await;

    let (status, current) = b
        .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
        .await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["choices"]["analytics"], true);
    a.analytics.sync_events().await.unwrap();
    let export = b.export(&id).await;
    assert_eq!(export["history"].as_array().unwrap().len(), 1);
    assert_eq!(export["events"][0]["path"], "/from-a", "{export}");

    let (status, erased) = b.erase(&id).await;
    assert_eq!(status, 200);
    assert_eq!(erased["events_deleted"], 1, "{erased}");
    for node in [&a, &b] {
        let (status, _) = node
            .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
            .await;
        assert_eq!(status, 404, "erased on both nodes");
    }
    let (_, chains) = a.store.verify_ledger().unwrap().remove(0);
    assert_eq!(
        (chains.entries, chains.fault),
        (2, None),
        "decision and tombstone"
    );
}

#[actix_web::test]
async fn a_key_made_on_one_node_works_on_the_other_at_once_and_its_revocation_holds_on_both() {
    let (a, b) = two_nodes().await;
    let (status, made) = a
        .admin(
            "POST",
            "/sites/demo/keys",
            Some(TOKEN),
            Some(json!({"label": "agency"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap();
    assert_eq!(b.visitors_with(key).await, 200, "made on A, used on B");
    assert_eq!(a.visitors_with(key).await, 200);

    let id = made["id"].as_str().unwrap();
    let (status, _) = b.revoke_key(id).await;
    assert_eq!(status, 204);
    assert_eq!(
        a.visitors_with(key).await,
        401,
        "revoked on B, refused on A"
    );
    assert_eq!(b.visitors_with(key).await, 401);
}

#[actix_web::test]
async fn both_nodes_count_the_same_visitors_whichever_node_took_their_events() {
    let (a, b) = two_nodes().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let node = if n % 2 == 0 { &a } else { &b };
        let id = node.consent_id("accept_all", json!({})).await;
        // Each visitor's two pageviews land on different nodes.
        a.send_events(&TestApp::pageview(&id, "/a"), &[]).await;
        b.send_events(&TestApp::pageview(&id, "/b"), &[]).await;
        ids.push(id);
    }
    a.analytics.sync_events().await.unwrap();
    b.analytics.sync_events().await.unwrap();
    let (_, key) = a.api_key("demo").await;
    let ask = json!({"metrics": ["visitors", "visits", "pageviews"], "date_range": "7d"});
    let (status, on_a) = a.query(&key, &ask).await;
    assert_eq!(status, 200, "{on_a}");
    let (_, on_b) = b.query(&key, &ask).await;
    assert_eq!(on_a["results"], on_b["results"]);
    let totals = &on_a["results"][0]["metrics"];
    assert_eq!(totals, &json!([6, 6, 12]), "{on_a}");
}

/// Sends `request` until it answers `want` (at most ten times, 100 ms apart); every other
/// answer on the way must be the storage error.
async fn until<F, Fut>(want: u16, mut request: F) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (u16, serde_json::Value)>,
{
    for _ in 0..10 {
        let (status, body) = request().await;
        if status == want {
            return body;
        }
        assert_eq!(status, 503, "only the storage error on the way: {body}");
        assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {want} within ten requests");
}

#[actix_web::test]
async fn a_node_whose_database_connections_were_cut_works_again_within_a_few_requests() {
    let url = fresh_database();
    let app = spawn_app_on(&url).await;
    let before = app.consent_id("accept_all", json!({})).await;
    let cut = connect(&url)
        .await
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(
        cut.len() >= 5,
        "the node's connections were cut: {}",
        cut.len()
    );

    let body =
        json!({"action": "save", "choices": {"analytics": true}, "policy_version": POLICY_VERSION});
    let recorded = until(201, || app.post_json("/api/v1/sites/demo/consents", &body)).await;
    let id = recorded["consent_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/sites/demo/consents/{before}");
    let read = until(200, || app.get_json(&path, &[])).await;
    assert_eq!(read["choices"]["marketing"], true, "{read}");
    let event = TestApp::pageview(&id, "/after");
    until(202, || app.send_events(&event, &[])).await;
    app.analytics.sync_events().await.unwrap();
    let export = app.export(&id).await;
    assert_eq!(export["events"][0]["path"], "/after", "{export}");
    let (_, chain) = app.store.verify_ledger().unwrap().remove(0);
    assert_eq!((chain.entries, chain.fault), (2, None));
}

#[actix_web::test]
async fn while_one_node_sweeps_the_others_leave_the_sweep_to_it() {
    let url = fresh_database();
    let app = spawn_app_on(&url).await;
    let id = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&id, "/old"), &[]).await;
    app.analytics.sync_events().await.unwrap();
    // The demo site keeps events 90 days.
    app.clock.advance_days(92);
    let sweep = || {
        let now = consentry::domain::Clock::now(&app.clock);
        app.store
            .sweep(app.retention.clone(), now, Default::default())
    };
    // Another node's sweep holds the lock: here, a session of the test's own.
    let other = connect(&url).await;
    let key = "('x' || substr(encode(sha256('consentry sweep'), 'hex'), 1, 16))::bit(64)::bigint";
    other
        .execute(&format!("SELECT pg_advisory_lock({key})"), &[])
        .await
        .unwrap();
    assert_eq!(
        sweep().await.unwrap().events_deleted,
        0,
        "left to the other node"
    );
    other
        .execute(&format!("SELECT pg_advisory_unlock({key})"), &[])
        .await
        .unwrap();
    assert_eq!(sweep().await.unwrap().events_deleted, 1, "this node's turn");
}

#[actix_web::test]
async fn two_nodes_erasing_one_id_at_once_leave_one_tombstone() {
    let (a, b) = two_nodes().await;
    let id = a.consent_id("accept_all", json!({})).await;
    let (on_a, on_b) = futures_util::future::join(a.erase(&id), b.erase(&id)).await;
    let mut statuses = [on_a.0, on_b.0];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 404],
        "one erases, the other finds nothing left"
    );
    let (_, chain) = a.store.verify_ledger().unwrap().remove(0);
    assert_eq!(
        (chain.entries, chain.fault),
        (2, None),
        "one decision, one tombstone"
    );
}

/// Top pages of 2026-09-21 (the test clock's day, long settled: its built day is kept).
async fn pages_of_the_day(app: &TestApp, key: &str) -> Vec<(String, i64)> {
    let question = json!({"metrics": ["pageviews"], "date_range": ["2026-09-21", "2026-09-21"], "dimensions": ["event:page"]});
    let (status, answer) = app.query(key, &question).await;
    assert_eq!(status, 200, "{answer}");
    let mut pages: Vec<(String, i64)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let page = r["dimensions"][0].as_str().unwrap().to_owned();
            (page, r["metrics"][0].as_i64().unwrap())
        })
        .collect();
    pages.sort();
    pages
}

#[actix_web::test]
async fn a_kept_day_is_read_again_when_a_row_goes_and_a_late_row_comes_under_the_same_count_and_newest_id()
 {
    let url = fresh_database();
    let app = spawn_app_with({
        let url = url.clone();
        move |s| {
            // PostgreSQL's own event table, whichever backend the run tests.
            s.postgres_url = Some(url);
            s.clickhouse = None;
            s.min_group_size = 1;
        }
    })
    .await;
    let id = app.consent_id("save", json!({"analytics": true})).await;
    for path in ["/a", "/b", "/c"] {
        let (status, body) = app.send_events(&TestApp::pageview(&id, path), &[]).await;
        assert_eq!(status, 202, "{body}");
    }
    app.analytics.sync_events().await.unwrap();
    let pg = connect(&url).await;
    // Room between the row ids, as groups reserved by several nodes leave it.
    pg.execute("UPDATE events SET id = id * 10", &[])
        .await
        .unwrap();
    let shape = "SELECT count(*), max(id) FROM events";
    let before = pg.query_one(shape, &[]).await.unwrap();
    let before: (i64, i64) = (before.get(0), before.get(1));
    let (_, key) = app.api_key("demo").await;
    let one_each = vec![("/a".into(), 1), ("/b".into(), 1), ("/c".into(), 1)];
    assert_eq!(pages_of_the_day(&app, &key).await, one_each);

    // The oldest row goes and a late row (a copy of `/c`) lands between the others: the day
    // still holds three rows and the same newest id.
    pg.batch_execute(
        "INSERT INTO events (site_id, day, id, visitor, at, category, body)
           SELECT site_id, day, (SELECT min(id) FROM events) + 5, visitor, at, category, body
           FROM events WHERE id = (SELECT max(id) FROM events);
         DELETE FROM events WHERE id = (SELECT min(id) FROM events);",
    )
    .await
    .unwrap();
    let after = pg.query_one(shape, &[]).await.unwrap();
    let after: (i64, i64) = (after.get(0), after.get(1));
    assert_eq!(after, before, "the same count and newest id");
    assert_eq!(
        pages_of_the_day(&app, &key).await,
        vec![("/b".into(), 1), ("/c".into(), 2)],
        "the answer is the rows stored now, not the day kept before"
    );
}
