//! `spawn_app()`: the real application on port 0 with a temporary data folder, or, when
//! `CONSENTRY_TEST_BACKEND=postgres`, with a fresh database of its own on the test PostgreSQL
//! server (`consentry::store::postgres::test_cluster`): the same assertions, either backend.

use std::sync::{Arc, Once};

use awc::Client;
use consentry::domain::Timestamp;
use consentry::domain::clock::ManualClock;
use consentry::geo::TrustedProxies;
use consentry::settings::{PostgresUrl, RateLimit, Settings};
use consentry::startup::Application;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::mmdb_writer::MmdbWriter;

pub const POLICY_VERSION: &str = "2026-11-01";

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    /// The application's clock: tests move it instead of sleeping.
    pub clock: ManualClock,
    /// The data folder, for tests that scan what was written.
    pub data_dir: std::path::PathBuf,
    /// The database, when the app keeps everything in PostgreSQL.
    pub postgres_url: Option<PostgresUrl>,
    /// The ClickHouse database, when the app keeps its events there.
    pub clickhouse: Option<consentry::settings::ClickHouse>,
    /// The store below HTTP, for retention sweeps.
    pub store: Arc<dyn consentry::store::ConsentStore>,
    /// The analytics store: to wait for queued events, or query below HTTP.
    pub analytics: Arc<dyn consentry::store::AnalyticsStore>,
    /// API keys and the query log.
    pub access: Arc<dyn consentry::store::AccessStore>,
    /// The retention the demo site's policy promises.
    pub retention: Vec<consentry::store::Retention>,
    pub client: Client,
    _dir: Arc<TempDir>,
}

static LOGS: Once = Once::new();

/// Whether this run keeps everything in PostgreSQL (`CONSENTRY_TEST_BACKEND=postgres`, or
/// `clickhouse`: PostgreSQL with the analytics events in ClickHouse) rather than the data
/// folder.
pub fn on_postgres() -> bool {
    std::env::var("CONSENTRY_TEST_BACKEND").is_ok_and(|b| b == "postgres" || b == "clickhouse")
}

/// Whether this run keeps the analytics events in ClickHouse (`CONSENTRY_TEST_BACKEND=clickhouse`).
pub fn on_clickhouse() -> bool {
    std::env::var("CONSENTRY_TEST_BACKEND").is_ok_and(|b| b == "clickhouse")
}

/// The ClickHouse database of the test PostgreSQL database `url`: the same for every node
/// sharing it, a new one for every new PostgreSQL database.
#[cfg(feature = "test-support")]
pub fn clickhouse_for(url: &PostgresUrl) -> consentry::settings::ClickHouse {
    let (server, _) = consentry::store::clickhouse::test_server::database();
    let db = url
        .expose()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .expect("a test database's URL names it");
    consentry::settings::ClickHouse::parse(&server, Some(&format!("ch_{db}")))
        .expect("the test server's URL parses")
}

#[cfg(not(feature = "test-support"))]
pub fn clickhouse_for(_: &PostgresUrl) -> consentry::settings::ClickHouse {
    panic!("the ClickHouse tests need the test suite's features: run scripts/test")
}

/// Points the settings at PostgreSQL database `url`, and at its ClickHouse database when the
/// run is against ClickHouse.
pub fn keep_in(settings: &mut Settings, url: PostgresUrl) {
    if on_clickhouse() {
        settings.clickhouse = Some(clickhouse_for(&url));
    }
    settings.postgres_url = Some(url);
}

/// A new, empty database on the test server (made on a thread of its own: it waits).
pub fn fresh_database() -> PostgresUrl {
    let url = std::thread::spawn(make_database)
        .join()
        .expect("a test database is made");
    PostgresUrl::parse(&url).expect("the test database's URL parses")
}

#[cfg(feature = "test-support")]
fn make_database() -> String {
    consentry::store::postgres::test_cluster::database()
}

#[cfg(not(feature = "test-support"))]
fn make_database() -> String {
    panic!(
        "the PostgreSQL tests need the test suite's features: run scripts/test, or cargo test --features fault-injection"
    )
}

/// Points the settings at a fresh database when the run is against PostgreSQL.
fn on_the_tested_backend(settings: &mut Settings) {
    if on_postgres() {
        keep_in(settings, fresh_database());
    }
}

/// Test addresses, one per row of the jurisdiction table, all in documentation or
/// otherwise unused ranges so no real visitor is implied.
pub const FIXTURES: [(&str, &str, Option<&str>); 9] = [
    ("2.16.10.1", "DE", None),
    ("2.16.20.1", "GB", None),
    ("2.16.30.1", "CH", None),
    ("2.16.40.1", "NO", None),
    ("2.16.50.1", "US", Some("CA")),
    ("2.16.60.1", "US", Some("VA")),
    ("2.16.70.1", "US", Some("NY")),
    ("2.16.80.1", "BR", None),
    ("2.16.90.1", "US", None),
];

/// Writes a City database with one /24 per fixture row.
pub fn write_geo_fixture(path: &std::path::Path) {
    let mut w = MmdbWriter::new("GeoIP2-City").build_epoch(1_763_000_000);
    for (ip, country, subdivision) in FIXTURES {
        let net = format!("{}.0/24", ip.rsplit_once('.').unwrap().0);
        w.insert_city(&net, country, subdivision);
    }
    w.write_to(path).unwrap();
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Budgets generous enough that tests stay independent of each other unless they set their own.
fn out_of_the_way(settings: &mut Settings) {
    let generous = RateLimit {
        burst: 10_000,
        per_minute: 60_000,
    };
    settings.rate_limit = generous;
    settings.rights_rate_limit = generous;
    settings.consent_id_rate_limit = generous;
    settings.auth_failure_limit = generous;
}

/// Spawns the app with the demo settings, changed by `configure`. A generous rate limit keeps
/// tests independent of each other unless they set their own.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    LOGS.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = env_logger::builder().is_test(true).try_init();
        }
    });
    let dir = TempDir::new().unwrap();
    let mut settings = Settings::demo(dir.path().join("data"));
    on_the_tested_backend(&mut settings);
    out_of_the_way(&mut settings);
    configure(&mut settings);
    start(settings, Arc::new(dir)).await
}

/// Spawns the app keeping everything in the PostgreSQL database `url` (whichever backend the
/// run tests): several such apps are nodes sharing one database.
#[cfg(feature = "test-support")]
pub async fn spawn_app_on(url: &PostgresUrl) -> TestApp {
    let url = url.clone();
    spawn_app_with(move |s| keep_in(s, url)).await
}

/// Spawns the app with a fixture geo database and 127.0.0.1 as a trusted proxy, so that a
/// test picks the visitor's address with `X-Forwarded-For`.
pub async fn spawn_app_behind_proxy() -> TestApp {
    let dir = TempDir::new().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_geo_fixture(&geo);
    let mut settings = Settings::demo(dir.path().join("data"));
    settings.geoip = Some(geo);
    // Places without a law get a notice, so the table shows the site's setting at work.
    settings.sites[0].regime_without_law = consentry::domain::Regime::Notice;
    settings.trusted_proxies = TrustedProxies::parse(&["127.0.0.1/32".to_owned()]).unwrap();
    on_the_tested_backend(&mut settings);
    out_of_the_way(&mut settings);
    start(settings, Arc::new(dir)).await
}

async fn start(settings: Settings, dir: Arc<TempDir>) -> TestApp {
    let clock = ManualClock::starting_at(Timestamp(1_790_000_000_000));
    let data_dir = settings.data_dir.clone();
    let postgres_url = settings.postgres_url.clone();
    let clickhouse = settings.clickhouse.clone();
    let retention = consentry::startup::retention_plan(&settings);
    let app = Application::build_with_clock(settings, Arc::new(clock.clone()))
        .await
        .expect("the application builds");
    let port = app.port();
    let store = app.store();
    let analytics = app.analytics();
    let access = app.access();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        clock,
        data_dir,
        postgres_url,
        clickhouse,
        store,
        analytics,
        access,
        retention,
        client: Client::builder().disable_redirects().finish(),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The server's own origin, as a browser on one of its pages sends it.
    pub fn origin(&self) -> (&'static str, &str) {
        ("origin", self.address.as_str())
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_json_with(path, body, &[]).await
    }

    pub async fn post_json_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .insert_header(("content-type", "application/json"));
        for h in headers {
            req = req.insert_header(*h);
        }
        let mut res = req.send_body(body.to_string()).await.unwrap();
        let status = res.status().as_u16();
        let body = res.body().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.client.get(self.url(path));
        for h in headers {
            req = req.insert_header(*h);
        }
        let mut res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.body().limit(1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Records a decision for the demo site and returns the 201 body.
    pub async fn consent(&self, action: &str, choices: Value) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/sites/demo/consents",
                &json!({"action": action, "choices": choices, "policy_version": POLICY_VERSION}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

impl TestApp {
    /// Opens a page of this server's that holds a form, as a browser would, and returns the
    /// form's CSRF nonce cookie (`name=value`, for a `Cookie` header) and the token in its
    /// `csrf` field, from the same response.
    pub async fn form_page(
        &self,
        path: &str,
        cookie: Option<&str>,
        nonce_cookie: &str,
    ) -> (String, String) {
        let mut req = self.client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.insert_header(("cookie", c));
        }
        let mut page = req.send().await.unwrap();
        let nonce = page
            .cookies()
            .unwrap()
            .iter()
            .find(|c| c.name() == nonce_cookie)
            .unwrap_or_else(|| panic!("{path} sets its CSRF cookie {nonce_cookie}"))
            .clone();
        assert_eq!(nonce.http_only(), Some(true));
        assert_eq!(nonce.same_site(), Some(awc::cookie::SameSite::Strict));
        let html = String::from_utf8(page.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
        let token = input_value(&html, "csrf");
        assert_ne!(token, nonce.value(), "the token is not the cookie's value");
        (format!("{nonce_cookie}={}", nonce.value()), token)
    }
}

/// The `value` of the `<input>` whose `name` is `name`.
pub fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).expect("the input is on the page");
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let v = tag.find("value=\"").expect("the input has a value") + 7;
    tag[v..v + tag[v..].find('"').unwrap()].to_owned()
}

/// Asserts the contract's error shape and code.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "an error names the problem: {body}");
}

/// A desktop Firefox: a browser, not a bot.
pub const BROWSER_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

impl TestApp {
    /// Sends events as a browser would; returns the 202 body.
    pub async fn send_events(&self, events: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("user-agent", BROWSER_UA)];
        all.extend_from_slice(headers);
        self.post_json_with("/api/v1/sites/demo/events", events, &all)
            .await
    }

    /// Records a decision and returns its consent id.
    pub async fn consent_id(&self, action: &str, choices: Value) -> String {
        self.consent(action, choices).await["consent_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A pageview for `consent_id`.
    pub fn pageview(consent_id: &str, path: &str) -> Value {
        json!({"consent_id": consent_id, "name": "pageview", "url": format!("https://parcelwise.example{path}")})
    }

    /// Erases a consent id as the site's pages do: the status and the body.
    pub async fn erase(&self, consent_id: &str) -> (u16, Value) {
        let mut res = self
            .client
            .delete(self.url(&format!("/api/v1/sites/demo/consents/{consent_id}")))
            .insert_header(self.origin())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (
            status,
            serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    /// Everything the server holds about a consent id.
    pub async fn export(&self, consent_id: &str) -> Value {
        let (status, body) = self
            .get_json(
                &format!("/api/v1/sites/demo/consents/{consent_id}/export"),
                &[self.origin()],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl TestApp {
    /// Every byte the app has stored: each file of the data folder, or each row of each table
    /// of its database (as text, with every `bytea` value also decoded).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match &self.postgres_url {
            None => {
                self.store.flush().unwrap();
                all_bytes(&self.data_dir)
            }
            Some(url) => {
                let mut bytes = table_bytes(url, None).await;
                if let Some(ch) = &self.clickhouse {
                    bytes.extend(clickhouse_events(ch).await);
                }
                bytes
            }
        }
    }

    /// The bytes of the stored events only: the sealed day files, or the `events` table (of
    /// ClickHouse when the events are there).
    pub async fn event_bytes(&self) -> Vec<u8> {
        match (&self.postgres_url, &self.clickhouse) {
            (None, _) => all_bytes(&self.data_dir.join("events")),
            (Some(_), Some(ch)) => clickhouse_events(ch).await,
            (Some(url), None) => table_bytes(url, Some("events")).await,
        }
    }
}

/// Every row of ClickHouse's events table, as text.
async fn clickhouse_events(ch: &consentry::settings::ClickHouse) -> Vec<u8> {
    clickhouse_statement(ch, "SELECT * FROM events FORMAT TabSeparated").await
}

/// Runs a statement in the test ClickHouse database behind the app's back; its answer.
pub async fn clickhouse_statement(ch: &consentry::settings::ClickHouse, sql: &str) -> Vec<u8> {
    let mut res = Client::default()
        .post(format!(
            "http://{}/?database={}&wait_end_of_query=1",
            ch.address, ch.database
        ))
        .send_body(sql.to_owned())
        .await
        .expect("the test ClickHouse answers");
    let body = res.body().limit(1 << 30).await.unwrap().to_vec();
    assert_eq!(
        res.status().as_u16(),
        200,
        "ClickHouse ran `{sql}`: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

/// A connection to a test database, for tests that read or change it behind the app's back.
pub async fn connect(url: &PostgresUrl) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .expect("the test database answers");
    actix_web::rt::spawn(connection);
    client
}

/// Each row of `only` (or of every table) as text, and each `\x…` (bytea) run in it decoded.
async fn table_bytes(url: &PostgresUrl, only: Option<&str>) -> Vec<u8> {
    let client = connect(url).await;
    let tables: Vec<String> = match only {
        Some(t) => vec![t.to_owned()],
        None => client
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect(),
    };
    let mut out = Vec::new();
    for table in tables {
        for row in client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .await
            .unwrap()
        {
            let text: String = row.get(0);
            out.extend_from_slice(text.as_bytes());
            for run in text.split("\\\\x").skip(1) {
                let hex: String = run.chars().take_while(char::is_ascii_hexdigit).collect();
                out.extend(
                    (0..hex.len() / 2)
                        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()),
                );
            }
        }
    }
    out
}

/// Every byte of every file under `dir`.
pub fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.extend(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
