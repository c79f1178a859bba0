//! The consent audit export over HTTP (`GET /api/v1/admin/sites/{site}/ledger/export`), for an
//! operator holding an operator token: what `consentry ledger export` writes, streamed.

use consentry::domain::SiteId;
use consentry::ledger_export::{self, Days, Format, PAGE_ROWS};
use consentry::ledger_export_stream;
use serde_json::{Value, json};

use crate::admin::{TOKEN, digest};
use crate::helpers::{POLICY_VERSION, TestApp, assert_error, spawn_app_with};

/// What an answer carried: status, the headers a download needs, the body.
struct Answer {
    status: u16,
    content_type: String,
    disposition: String,
    cache_control: String,
    /// `chunked` when the body is streamed.
    transfer_encoding: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the export is UTF-8")
    }
}

async fn get(client: &awc::Client, url: String, token: Option<&str>) -> Answer {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    let mut res = req.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (content_type, disposition, cache_control, transfer_encoding) = (
        header("content-type"),
        header("content-disposition"),
        header("cache-control"),
        header("transfer-encoding"),
    );
    let body = res.body().limit(256 << 20).await.unwrap().to_vec();
    Answer {
        status: res.status().as_u16(),
        content_type,
        disposition,
        cache_control,
        transfer_encoding,
        body,
    }
}

impl TestApp {
    async fn ledger_export(&self, query: &str, token: Option<&str>) -> Answer {
        let url = self.url(&format!("/api/v1/admin/sites/demo/ledger/export{query}"));
        get(&self.client, url, token).await
    }

    /// What the library makes for the same range, read from the app's store.
    async fn library_export(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        format: Format,
    ) -> Vec<u8> {
        let days = Days::parse(
            from,
            to,
            consentry::domain::Clock::now(&self.clock).millis(),
        )
        .unwrap();
        let mut export = ledger_export_stream::prepare(
            self.store.clone(),
            SiteId::parse("demo").unwrap(),
            days,
            format,
            PAGE_ROWS,
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = export.next_chunk().await.unwrap() {
            out.extend(chunk);
        }
        out
    }
}

async fn operator_app() -> TestApp {
    spawn_app_with(|s| s.admin_token = Some(digest())).await
}

#[actix_web::test]
async fn the_export_over_http_is_what_the_library_writes_and_verifies_as_json_lines_and_as_csv() {
    let app = operator_app().await;
    let mut ids = Vec::new();
    for action in ["accept_all", "reject_all", "save", "withdraw", "accept_all"] {
        ids.push(app.consent_id(action, json!({})).await);
    }
    let (from, to) = ("2026-01-01", "2026-12-31");

    let jsonl = app
        .ledger_export(&format!("?from={from}&to={to}"), Some(TOKEN))
        .await;
    assert_eq!(jsonl.status, 200, "{}", jsonl.text());
    assert_eq!(jsonl.content_type, "application/x-ndjson");
    assert_eq!(
        jsonl.disposition,
        "attachment; filename=\"consentry-ledger-demo-2026-01-01-2026-12-31.jsonl\""
    );
    assert_eq!(jsonl.cache_control, "no-store");
    assert_eq!(
        jsonl.body,
        app.library_export(Some(from), Some(to), Format::Jsonl)
            .await,
        "byte for byte what the command line's code writes"
    );
    let verified = ledger_export::verify(&jsonl.text()).expect("the export verifies");
    assert_eq!((verified.entries, verified.with_payload), (5, 5));
    assert_eq!(verified.documents, 2);
    for id in &ids {
        assert!(!jsonl.text().contains(id.as_str()), "no consent id");
    }

    // The defaults: from the first entry to today (the app's clock), JSON Lines.
    let all = app.ledger_export("", Some(TOKEN)).await;
    assert_eq!(all.status, 200);
    assert_eq!(
        all.body,
        app.library_export(None, None, Format::Jsonl).await
    );
    assert!(
        all.disposition
            .contains("consentry-ledger-demo-1970-01-01-2026-09-21.jsonl"),
        "{}",
        all.disposition
    );

    let csv = app
        .ledger_export(&format!("?from={from}&to={to}&format=csv"), Some(TOKEN))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        csv.disposition,
        "attachment; filename=\"consentry-ledger-demo-2026-01-01-2026-12-31.csv\""
    );
    assert_eq!(csv.cache_control, "no-store");
    assert_eq!(
        csv.body,
        app.library_export(Some(from), Some(to), Format::Csv).await
    );
    let table = csv.text();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 6, "a header and five decisions: {table}");
    assert!(rows[0].starts_with("seq,hash,recorded_at,type,subject,action,choices"));
    assert!(rows[3].contains(",save,"), "{table}");

    // A range without the site's entries: the export line alone, which verifies.
    let empty = app
        .ledger_export("?from=2020-01-01&to=2020-01-31", Some(TOKEN))
        .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.text().lines().count(), 1, "{}", empty.text());
    assert_eq!(ledger_export::verify(&empty.text()).unwrap().entries, 0);
}

#[actix_web::test]
async fn a_bad_export_request_gets_the_json_error_naming_what_is_wrong() {
    let app = operator_app().await;
    app.consent("accept_all", json!({})).await;
    for token in [None, Some("not-the-operator-token")] {
        let refused = app.ledger_export("", token).await;
        assert_eq!(refused.status, 401, "{token:?}");
        assert_error(&refused.json(), "unauthorized");
    }
    for (query, named) in [
        ("?from=2026-13-01", "`from`"),
        ("?from=yesterday", "`from`"),
        ("?to=2026-02-30", "`to`"),
        ("?from=2026-11-02&to=2026-11-01", "`to` is before `from`"),
        ("?format=xml", "`format`"),
        ("?format=", "`format`"),
        ("?since=2026-01-01", "query string"),
        ("?from=2026-01-01&from=2026-01-02", "query string"),
    ] {
        let refused = app.ledger_export(query, Some(TOKEN)).await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.text());
        let body = refused.json();
        assert_error(&body, "invalid_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
        assert!(refused.content_type.starts_with("application/json"));
    }
    let url = app.url("/api/v1/admin/sites/nowhere/ledger/export");
    let unknown = get(&app.client, url, Some(TOKEN)).await;
    assert_eq!(unknown.status, 404);
    assert_error(&unknown.json(), "unknown_site");
}

#[actix_web::test]
async fn an_export_over_more_entries_than_a_page_is_complete_and_verifies() {
    let app = operator_app().await;
    let decisions = PAGE_ROWS * 2 + 150;
    let url = app.url("/api/v1/sites/demo/consents");
    let body = json!({"action": "accept_all", "policy_version": POLICY_VERSION}).to_string();
    // Many decisions at once: they share the ledger's group commits.
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (client, url, body) = (app.client.clone(), url.clone(), body.clone());
        handles.push(actix_web::rt::spawn(async move {
            for _ in 0..decisions / 50 {
                let res = client
                    .post(url.as_str())
                    .insert_header(("content-type", "application/json"))
                    .send_body(body.clone())
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }

    let export = app.ledger_export("", Some(TOKEN)).await;
    assert_eq!(export.status, 200);
    assert_eq!(
        export.transfer_encoding, "chunked",
        "streamed, not sized first"
    );
    let text = export.text();
    let verified = ledger_export::verify(&text).expect("the export verifies");
    assert_eq!(
        verified.entries, decisions as u64,
        "every entry, over three pages"
    );
    assert_eq!(verified.with_payload, decisions as u64);
    let head: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(head["first_seq"], 1);
    assert_eq!(head["last_seq"], decisions);
    assert_eq!(
        export.body,
        app.library_export(None, None, Format::Jsonl).await
    );
    let csv = app.ledger_export("?format=csv", Some(TOKEN)).await;
    assert_eq!(
        csv.text().lines().count(),
        decisions + 1,
        "a header and every decision"
    );
}

/// The real binary: with the data folder the command line runs once the server is stopped;
/// with PostgreSQL (`CONSENTRY_TEST_BACKEND=postgres`) while it runs.
#[cfg(feature = "test-support")]
#[actix_web::test]
async fn the_endpoints_file_is_what_consentry_ledger_export_writes_and_ledger_verify_accepts_it() {
    use crate::binary;
    use crate::helpers::on_postgres;
    let dir = tempfile::tempdir().unwrap();
    let digest_hex = digest().hex();
    let url = on_postgres().then(crate::helpers::fresh_database);
    let mut env = vec![("CONSENTRY_ADMIN_TOKEN_SHA256", digest_hex.as_str())];
    if let Some(url) = &url {
        env.push(("CONSENTRY_POSTGRES_URL", url.expose()));
    }
    let server = binary::start_with_env(dir.path(), &env);
    let client = awc::Client::default();
    for action in ["accept_all", "reject_all", "save", "withdraw", "accept_all"] {
        let res = client
            .post(server.url("/api/v1/sites/demo/consents"))
            .insert_header(("content-type", "application/json"))
            .send_body(json!({"action": action, "policy_version": POLICY_VERSION}).to_string())
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
    }
    let range = "?from=2000-01-01&to=2100-12-31";
    let path = "/api/v1/admin/sites/demo/ledger/export";
    let jsonl = get(&client, server.url(&format!("{path}{range}")), Some(TOKEN)).await;
    assert_eq!(jsonl.status, 200, "{}", jsonl.text());
    let csv = get(
        &client,
        server.url(&format!("{path}{range}&format=csv")),
        Some(TOKEN),
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    match &url {
        None => assert!(server.terminate().success(), "the data folder is released"),
        Some(_) => assert!(!dir.path().join("sled").exists(), "all in PostgreSQL"),
    }

    let served = dir.path().join("served.jsonl");
    std::fs::write(&served, &jsonl.body).unwrap();
    let (ok, out, _) = binary::run_cli(
        dir.path(),
        &["ledger", "verify", "--file", served.to_str().unwrap()],
    );
    assert!(
        ok && out
            .contains("5 entries verified (5 with their payload), 2 documents match their hashes"),
        "{out}"
    );
    for (format, answer) in [("jsonl", &jsonl), ("csv", &csv)] {
        let written = dir.path().join(format!("written.{format}"));
        let args = [
            "ledger",
            "export",
            "--site",
            "demo",
            "--from",
            "2000-01-01",
            "--to",
            "2100-12-31",
            "--format",
            format,
            "--out",
            written.to_str().unwrap(),
        ];
        let (ok, _, err) = binary::run_cli_with_env(dir.path(), &args, &env);
        assert!(ok && err.contains("5 entries (seq 1–5)"), "{err}");
        assert_eq!(
            answer.body,
            std::fs::read(&written).unwrap(),
            "{format}: the same bytes as the command line"
        );
    }
}
