use std::io::Read;

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn gpc_json_declares_support() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/.well-known/gpc.json", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"gpc": true, "lastUpdate": "2026-11-01"}));
}

#[actix_web::test]
async fn healthz_is_200_when_the_store_is_writable() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/healthz", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["store"], "writable");
    assert_eq!(body["status"], "ok", "no GeoIP file configured is a choice");
}

#[actix_web::test]
async fn healthz_is_degraded_with_the_reason_when_the_configured_geoip_file_is_missing_or_corrupt()
{
    let missing =
        spawn_app_with(|s| s.geoip = Some("/nonexistent/GeoLite2-City.mmdb".into())).await;
    let (status, body) = missing.get_json("/healthz", &[]).await;
    assert_eq!(
        status, 200,
        "the store is writable: consents are still recorded"
    );
    assert_eq!(body["status"], "degraded");
    let reason = body["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("/nonexistent/GeoLite2-City.mmdb cannot be read")
            && reason.contains("opt-in"),
        "{reason}"
    );

    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("geo.mmdb");
    std::fs::write(&corrupt, b"not a maxmind database").unwrap();
    let app = spawn_app_with(|s| s.geoip = Some(corrupt.clone())).await;
    let (_, body) = app.get_json("/healthz", &[]).await;
    assert_eq!(body["status"], "degraded");
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("is not a valid MaxMind database"),
        "{body}"
    );
}

#[actix_web::test]
async fn metrics_count_requests_consents_and_storage_latency() {
    let app = spawn_app().await;
    app.consent("accept_all", json!({})).await;
    app.consent("reject_all", json!({})).await;
    let mut res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("consentry_consents_total{action=\"accept_all\",regime=\"opt_in\"} 1"),
        "{text}"
    );
    assert!(text.contains("consentry_consents_total{action=\"reject_all\",regime=\"opt_in\"} 1"));
    assert!(
        text.contains("consentry_ledger_commit_seconds_count 2"),
        "{text}"
    );
    assert!(text.contains(
        "consentry_http_requests_total{route=\"/api/v1/sites/{site}/consents\",method=\"POST\",status=\"201\"} 2"
    ));
    assert!(!text.contains("127.0.0.1"), "no address in metrics");
}

#[actix_web::test]
async fn the_script_is_cacheable_and_compressed_on_request() {
    let app = spawn_app().await;
    let mut plain = app
        .client
        .get(app.url("/consent.js"))
        .insert_header(("accept-encoding", "identity"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 200);
    let etag = plain.headers().get("etag").unwrap().clone();
    assert!(
        plain
            .headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(
        plain
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let raw = plain.body().limit(1 << 20).await.unwrap();
    assert!(raw.len() > 1000);

    let mut gz = app
        .client
        .get(app.url("/consent.js"))
        .insert_header(("accept-encoding", "gzip"))
        .no_decompress()
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers().get("content-encoding").unwrap(), "gzip");
    let compressed = gz.body().limit(1 << 20).await.unwrap();
    assert!(compressed.len() < raw.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, raw.to_vec());

    let br = app
        .client
        .get(app.url("/consent.js"))
        .insert_header(("accept-encoding", "gzip, br"))
        .no_decompress()
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers().get("content-encoding").unwrap(), "br");

    let again = app
        .client
        .get(app.url("/consent.js"))
        .insert_header(("if-none-match", etag.to_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
}

#[actix_web::test]
async fn sigterm_is_announced_and_the_data_folder_is_free_for_the_next_command_once_the_server_exits()
 {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::binary::start_logging(dir.path());
    // A client that trickles a body and never finishes must not hold the stop up.
    let addr = format!("127.0.0.1:{}", server.port);
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::Write;
    write!(
        slow,
        "POST /api/v1/sites/demo/consents HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{"
    )
    .unwrap();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(crate::binary::stderr_path(dir.path())).unwrap();
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    assert!(
        log.contains("stopped: everything acknowledged is on disk"),
        "{log}"
    );
    let (ok, out, err) = crate::binary::run_cli(dir.path(), &["keys", "list", "--site", "demo"]);
    assert!(ok, "the folder is free at once: {out}{err}");
    drop(slow);
}
