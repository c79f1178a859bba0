//! ClickHouse unreachable: events keep being accepted while the queue has room, then refused
//! with 429 and the JSON error body; none that was accepted is lost once ClickHouse answers
//! again. The app reaches the test ClickHouse through a proxy the test can cut.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    TestApp, clickhouse_for, clickhouse_statement, fresh_database, spawn_app_with,
};

/// A TCP proxy to `target` on a loopback port of its own, on a thread of its own (the app's
/// start blocks the test's runtime); while `open` is false it closes every connection it gets
/// at once.
fn proxy(target: String, open: Arc<AtomicBool>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    });
    port
}

/// The rows stored in the app's ClickHouse database (each event once: as many rows as ids).
async fn stored(ch: &consentry::settings::ClickHouse) -> u64 {
    let text = clickhouse_statement(
        ch,
        "SELECT count(), uniqExact(id) FROM events FORMAT TabSeparated",
    )
    .await;
    let text = String::from_utf8(text).unwrap();
    let (rows, ids) = text.trim().split_once('\t').unwrap();
    assert_eq!(rows, ids, "no event is stored twice");
    rows.parse().unwrap()
}

#[actix_web::test]
async fn while_clickhouse_is_unreachable_events_are_held_then_refused_and_none_accepted_is_lost() {
    let url = fresh_database();
    let direct = clickhouse_for(&url);
    let open = Arc::new(AtomicBool::new(true));
    let port = proxy(direct.address.clone(), open.clone());
    let through = consentry::settings::ClickHouse::parse(
        &format!("http://127.0.0.1:{port}"),
        Some(&direct.database),
    )
    .unwrap();
    let app = spawn_app_with(move |s| {
        s.postgres_url = Some(url);
        s.clickhouse = Some(through);
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.consent_id("accept_all", json!({})).await);
    }
    app.send_events(&TestApp::pageview(&ids[0], "/before"), &[])
        .await;
    app.analytics.sync_events().await.unwrap();
    assert_eq!(
        stored(&direct).await,
        1,
        "written while ClickHouse answered"
    );

    open.store(false, Ordering::SeqCst);
    let (mut accepted, mut refused) = (0u64, None);
    'flood: for round in 0..2_000 {
        let batch: Vec<_> = (0..50)
            .map(|i| TestApp::pageview(&ids[(round + i) % ids.len()], &format!("/held/{round}")))
            .collect();
        let (status, body) = app.send_events(&json!(batch), &[]).await;
        match status {
            202 => accepted += body["accepted"].as_u64().unwrap(),
            429 => {
                refused = Some(body);
                break 'flood;
            }
            other => panic!("{other}: {body}"),
        }
    }
    let refused = refused.expect("the queue refuses once it is full");
    assert_eq!(refused["error"]["code"], "rate_limited", "{refused}");
    assert!(accepted >= 40_000, "{accepted} accepted before the refusal");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        stored(&direct).await,
        1,
        "nothing reached ClickHouse meanwhile"
    );
    let (status, health) = app.get_json("/healthz", &[]).await;
    assert_eq!(
        (status, &health["status"]),
        (200, &json!("degraded")),
        "{health}"
    );
    let reason = health["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("events held, the clickhouse table's write failed"),
        "{reason}"
    );

    open.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(60), app.analytics.sync_events())
        .await
        .expect("the writer catches up once ClickHouse answers")
        .unwrap();
    assert_eq!(
        stored(&direct).await,
        1 + accepted,
        "every accepted event is stored, once"
    );
    let (_, health) = app.get_json("/healthz", &[]).await;
    assert_eq!(health["status"], "ok", "{health}");
}
