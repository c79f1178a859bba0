//! The administration API: marketer keys and configuration reloads without a restart, for an
//! operator holding an operator token; and what an operator notices across restarts.

use consentry::domain::{TokenDigest, generate_token};
use consentry::settings::{DEMO_TOML, Overrides, Settings, SettingsSource};
use serde_json::{Value, json};

use crate::binary;
use crate::helpers::{POLICY_VERSION, TestApp, assert_error, input_value, spawn_app_with};

pub(crate) const TOKEN: &str = "operator-token-used-by-the-tests";

/// The SHA-256 of `TOKEN`, as an operator configures it (`admin_token_sha256`).
pub(crate) fn digest() -> TokenDigest {
    TokenDigest::parse_hex(&sha256_hex(TOKEN)).unwrap()
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn admin_app() -> TestApp {
    spawn_app_with(|s| s.admin_token = Some(digest())).await
}

impl TestApp {
    /// An administration call with `token` (none: no `Authorization`).
    pub(crate) async fn admin(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = self.url(&format!("/api/v1/admin{path}"));
        let mut req = match method {
            "GET" => self.client.get(url),
            "POST" => self.client.post(url),
            "DELETE" => self.client.delete(url),
            other => panic!("no {other} here"),
        };
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let mut res = match body {
            Some(b) => req
                .insert_header(("content-type", "application/json"))
                .send_body(b.to_string())
                .await
                .unwrap(),
            None => req.send().await.unwrap(),
        };
        let status = res.status().as_u16();
        let bytes = res.body().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Revokes a demo-site key through the administration API.
    pub(crate) async fn revoke_key(&self, id: &str) -> (u16, Value) {
        self.admin(
            "DELETE",
            &format!("/sites/demo/keys/{id}"),
            Some(TOKEN),
            None,
        )
        .await
    }

    pub(crate) async fn visitors_with(&self, key: &str) -> u16 {
        let (status, _) = self
            .post_json_with(
                "/api/v1/sites/demo/query",
                &json!({"metrics": ["visitors"], "date_range": "7d"}),
                &[("authorization", &format!("Bearer {key}"))],
            )
            .await;
        status
    }
}

#[actix_web::test]
async fn admin_requests_without_a_known_operator_token_are_refused_with_401_and_the_json_error() {
    let app = admin_app().await;
    let (_, marketer_key) = app.api_key("demo").await;
    for token in [
        None,
        Some("not-the-operator-token-at-all"),
        Some(&*marketer_key),
        Some("short"),
    ] {
        for (method, path) in [
            ("GET", "/sites/demo/keys"),
            ("POST", "/sites/demo/keys"),
            ("POST", "/reload"),
            ("DELETE", "/sites/demo/keys/0123456789abcdef"),
        ] {
            let (status, body) = app.admin(method, path, token, None).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_error(&body, "unauthorized");
        }
    }

    let unconfigured = spawn_app_with(|_| {}).await;
    let (status, body) = unconfigured
        .admin("GET", "/sites/demo/keys", Some(TOKEN), None)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("consentry admin-token create"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_key_made_through_the_admin_api_works_at_once_and_its_revocation_holds_from_the_next_request()
 {
    let app = admin_app().await;
    let (status, created) = app
        .admin(
            "POST",
            "/sites/demo/keys",
            Some(TOKEN),
            Some(json!({"label": "Growth team", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("cs_{}_", created["id"].as_str().unwrap())));
    assert_eq!(created["label"], "Growth team");
    assert_eq!(created["site"], "demo");
    assert!(created["expires_at"].is_string());
    assert_eq!(app.visitors_with(&key).await, 200);

    let id = created["id"].as_str().unwrap();
    let (status, body) = app.revoke_key(id).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(app.visitors_with(&key).await, 401);
    // Revoking again changes nothing and still answers 204.
    let (status, _) = app.revoke_key(id).await;
    assert_eq!(status, 204);
}

#[actix_web::test]
async fn the_key_list_shows_each_record_and_never_a_key_or_its_hash() {
    let app = admin_app().await;
    let (_, made) = app
        .admin(
            "POST",
            "/sites/demo/keys",
            Some(TOKEN),
            Some(json!({"label": "a"})),
        )
        .await;
    let (record, other) = app.api_key("demo").await;
    let (status, listed) = app
        .admin("GET", "/sites/demo/keys", Some(TOKEN), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(
        keys.iter()
            .any(|k| k["id"] == made["id"] && k["state"] == "active")
    );
    assert!(keys.iter().any(|k| k["id"] == record.id.as_str()));
    let text = listed.to_string();
    assert!(!text.contains(made["key"].as_str().unwrap()), "{text}");
    assert!(!text.contains(&other), "{text}");
    let digest: String = record.digest.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&digest), "{text}");
    assert!(keys.iter().all(|k| k.get("key").is_none()));
}

#[actix_web::test]
async fn bad_admin_requests_get_a_clear_error_and_change_nothing() {
    let app = admin_app().await;
    let cases = [
        (
            "POST",
            "/sites/nowhere/keys",
            Some(json!({})),
            404,
            "unknown_site",
        ),
        (
            "POST",
            "/sites/demo/keys",
            Some(json!({"label": "x".repeat(201)})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/sites/demo/keys",
            Some(json!({"expires_in_days": 0})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/sites/demo/keys",
            Some(json!({"owner": "me"})),
            400,
            "invalid_json",
        ),
        (
            "DELETE",
            "/sites/demo/keys/0123456789abcdef",
            None,
            404,
            "unknown_key",
        ),
        (
            "DELETE",
            "/sites/demo/keys/not-an-id",
            None,
            404,
            "unknown_key",
        ),
        ("GET", "/sites/demo/nothing", None, 404, "not_found"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = app.admin(method, path, Some(TOKEN), body.clone()).await;
        assert_eq!(got, status, "{method} {path} {body:?}: {answer}");
        assert_error(&answer, code);
    }
    let (_, listed) = app
        .admin("GET", "/sites/demo/keys", Some(TOKEN), None)
        .await;
    assert_eq!(listed, json!({"keys": []}));
}

#[actix_web::test]
async fn a_token_made_by_admin_token_create_is_admitted_from_the_next_request() {
    let app = admin_app().await;
    let (digest, token) = generate_token(rand::random());
    let (status, _) = app
        .admin("GET", "/sites/demo/keys", Some(&token), None)
        .await;
    assert_eq!(status, 401);
    app.access
        .add_operator_token(digest, consentry::domain::Timestamp(0))
        .await
        .unwrap();
    let (status, body) = app
        .admin("GET", "/sites/demo/keys", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    // The configured token still works beside it.
    let (status, _) = app
        .admin("GET", "/sites/demo/keys", Some(TOKEN), None)
        .await;
    assert_eq!(status, 200);
}

/// The demo site with `origins` and policy `version` as given, and generous budgets.
fn config(origins: &str, version: &str, extra: &str) -> String {
    let site = DEMO_TOML
        .replacen("origins = []", &format!("origins = {origins}"), 1)
        .replacen(
            "version = \"2026-11-01\"",
            &format!("version = \"{version}\""),
            1,
        );
    format!(
        "{extra}\n[rate_limit]\nburst = 10000\nper_minute = 60000\n\
         [rights_rate_limit]\nburst = 10000\nper_minute = 60000\n\
         [consent_id_rate_limit]\nburst = 10000\nper_minute = 60000\n\
         [auth_failure_limit]\nburst = 10000\nper_minute = 60000\n{site}"
    )
}

/// An app whose settings come from a file the test can rewrite.
async fn app_with_file(text: &str) -> (TestApp, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("consentry.toml");
    std::fs::write(&file, text).unwrap();
    let path = file.clone();
    let app = spawn_app_with(move |s| {
        let source = SettingsSource {
            file: Some(path),
            overrides: Overrides {
                listen: Some("127.0.0.1:0".into()),
                data_dir: Some(s.data_dir.clone()),
                admin_token_sha256: Some(sha256_hex(TOKEN)),
                ..Overrides::default()
            },
        };
        *s = Settings::from_source(source).unwrap();
    })
    .await;
    (app, file, dir)
}

async fn preflight_allows(app: &TestApp, origin: &str) -> bool {
    let res = app
        .client
        .request(
            actix_web::http::Method::OPTIONS,
            app.url("/api/v1/sites/demo/consents"),
        )
        .insert_header(("origin", origin))
        .insert_header(("access-control-request-method", "POST"))
        .send()
        .await
        .unwrap();
    res.headers()
        .get("access-control-allow-origin")
        .is_some_and(|v| v == origin)
}

#[actix_web::test]
async fn a_reload_puts_new_origins_and_a_new_policy_version_in_force_without_a_restart() {
    let (app, file, _dir) = app_with_file(&config("[]", POLICY_VERSION, "")).await;
    app.consent("accept_all", json!({"analytics": true})).await;
    assert!(!preflight_allows(&app, "https://shop.example").await);

    std::fs::write(
        &file,
        config(
            r#"["https://shop.example"]"#,
            "2026-12-01",
            "min_group_size = 3",
        ),
    )
    .unwrap();
    let (status, report) = app.admin("POST", "/reload", Some(TOKEN), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sites"]["changed"], json!(["demo"]));
    assert_eq!(report["needs_restart"], json!(["min_group_size"]));

    assert!(preflight_allows(&app, "https://shop.example").await);
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    assert_eq!(banner["policy_version"], "2026-12-01", "{banner}");
    // The version visitors agreed to is no longer current: they are asked again.
    let (status, body) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "accept_all", "choices": {"analytics": true}, "policy_version": POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "stale_policy_version");
    // The new banner's document is archived under its hash, as proof of what was shown.
    let (status, _) = app
        .get_json(
            &format!(
                "/api/v1/sites/demo/notices/{}",
                banner["banner_hash"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{banner}");
}

#[actix_web::test]
async fn a_configuration_that_does_not_parse_is_refused_naming_the_setting_and_the_old_one_stays() {
    let (app, file, _dir) =
        app_with_file(&config(r#"["https://shop.example"]"#, POLICY_VERSION, "")).await;
    for (broken, named) in [
        (
            config("[]", POLICY_VERSION, "min_group_size = 0"),
            "min_group_size",
        ),
        (
            config(r#"["not an origin"]"#, POLICY_VERSION, ""),
            "origins",
        ),
        ("this is not toml [".to_owned(), "configuration file"),
    ] {
        std::fs::write(&file, &broken).unwrap();
        let (status, body) = app.admin("POST", "/reload", Some(TOKEN), None).await;
        assert_eq!(status, 400, "{body}");
        assert_error(&body, "invalid_configuration");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
        assert!(preflight_allows(&app, "https://shop.example").await);
        app.consent("accept_all", json!({"analytics": true})).await;
    }
    std::fs::remove_file(&file).unwrap();
    let (status, body) = app.admin("POST", "/reload", Some(TOKEN), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(preflight_allows(&app, "https://shop.example").await);
}

/// Signs in to a running binary's dashboard with `key`; the session cookie (`name=value`).
async fn sign_in(client: &awc::Client, server: &binary::Server, key: &str) -> String {
    let mut page = client
        .get(server.url("/dashboard/demo"))
        .send()
        .await
        .unwrap();
    let nonce = page
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry_dashboard_csrf")
        .expect("the sign-in page sets its CSRF cookie")
        .clone();
    let html = String::from_utf8(page.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    let token = input_value(&html, "csrf");
    let res = client
        .post(server.url("/dashboard/demo/session"))
        .insert_header((
            "cookie",
            format!("consentry_dashboard_csrf={}", nonce.value()),
        ))
        .insert_header(server.origin())
        .send_form(&[("key", key), ("csrf", token.as_str())])
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        303,
        "the sign-in redirects to the dashboard"
    );
    let session = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry_dashboard")
        .expect("the sign-in sets the session cookie")
        .clone();
    format!("consentry_dashboard={}", session.value())
}

async fn query_with_session(client: &awc::Client, server: &binary::Server, session: &str) -> u16 {
    client
        .post(server.url("/api/v1/sites/demo/query"))
        .insert_header(("cookie", session))
        .insert_header(server.origin())
        .insert_header(("content-type", "application/json"))
        .send_body(json!({"metrics": ["visitors"], "date_range": "7d"}).to_string())
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn created(out: &str, field: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("`{field}:` is printed in {out}"))
        .to_owned()
}

#[actix_web::test]
async fn a_dashboard_session_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = binary::run_cli(dir.path(), &["keys", "create", "--site", "demo"]);
    assert!(ok, "{err}");
    let key = created(&out, "key");
    let client = awc::Client::builder().disable_redirects().finish();

    let server = binary::start(dir.path());
    let session = sign_in(&client, &server, &key).await;
    assert_eq!(query_with_session(&client, &server, &session).await, 200);
    assert!(server.terminate().success());

    let server = binary::start(dir.path());
    assert_eq!(query_with_session(&client, &server, &session).await, 200);
    server.kill();
}

#[actix_web::test]
async fn keys_commands_go_through_the_running_server_when_it_holds_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = binary::run_cli(dir.path(), &["admin-token", "create"]);
    assert!(ok, "{err}");
    let token = created(&out, "token");
    let server = binary::start(dir.path());
    let url = server.url("");
    let keys = |args: &[&str], token: &str| {
        let mut all = vec!["keys", "--server", url.as_str()];
        all.extend_from_slice(args);
        binary::run_cli_with_env(dir.path(), &all, &[("CONSENTRY_ADMIN_TOKEN", token)])
    };

    let (ok, _, err) = keys(&["list", "--site", "demo"], "");
    assert!(!ok);
    assert!(err.contains("CONSENTRY_ADMIN_TOKEN"), "{err}");
    let (ok, _, err) = keys(&["list", "--site", "demo"], "a-wrong-operator-token");
    assert!(!ok);
    assert!(err.contains("operator token is not known"), "{err}");

    let (ok, out, err) = keys(
        &["create", "--site", "demo", "--label", "from the shell"],
        &token,
    );
    assert!(ok, "{err}");
    let key = created(&out, "key");
    let id = created(&out, "id");
    let client = awc::Client::default();
    let ask = || {
        client
            .post(server.url("/api/v1/sites/demo/query"))
            .insert_header(("authorization", format!("Bearer {key}")))
            .insert_header(("content-type", "application/json"))
            .send_body(json!({"metrics": ["visitors"], "date_range": "7d"}).to_string())
    };
    assert_eq!(ask().await.unwrap().status().as_u16(), 200);

    let (ok, out, err) = keys(&["list", "--site", "demo"], &token);
    assert!(ok, "{err}");
    assert!(
        out.contains(&id) && out.contains("from the shell") && !out.contains(&key),
        "{out}"
    );

    let (ok, _, err) = keys(&["revoke", "--site", "demo", &id], &token);
    assert!(ok, "{err}");
    assert_eq!(ask().await.unwrap().status().as_u16(), 401);
    let (ok, _, err) = keys(&["create", "--site", "nowhere"], &token);
    assert!(!ok && err.contains("no site `nowhere`"), "{err}");
    server.kill();
}

#[actix_web::test]
async fn sighup_reloads_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("consentry.toml");
    std::fs::write(&file, config("[]", POLICY_VERSION, "")).unwrap();
    let server = binary::start_with_config(&data, &file);
    let client = awc::Client::default();
    let version = || async {
        let mut res = client
            .get(server.url("/api/v1/sites/demo/banner"))
            .send()
            .await
            .unwrap();
        let banner: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        banner["policy_version"].as_str().unwrap_or("").to_owned()
    };
    assert_eq!(version().await, POLICY_VERSION);

    std::fs::write(&file, config("[]", "2026-12-24", "")).unwrap();
    server.signal("HUP");
    let mut seen = String::new();
    for _ in 0..100 {
        seen = version().await;
        if seen == "2026-12-24" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "2026-12-24", "the new version is served after SIGHUP");

    // A broken file at SIGHUP leaves the running configuration in force.
    std::fs::write(&file, "not toml [").unwrap();
    server.signal("HUP");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(version().await, "2026-12-24");
    server.kill();
}

#[actix_web::test]
async fn admin_token_list_and_revoke_manage_stored_tokens_and_a_revoked_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<(String, String)> = (0..2)
        .map(|_| {
            let (ok, out, err) = binary::run_cli(dir.path(), &["admin-token", "create"]);
            assert!(ok, "{err}");
            (created(&out, "id"), created(&out, "token"))
        })
        .collect();
    let (ok, out, _) = binary::run_cli(dir.path(), &["admin-token", "list"]);
    assert!(ok);
    assert!(
        made.iter().all(|(id, _)| out.contains(id.as_str())),
        "{out}"
    );
    assert!(made.iter().all(|(_, t)| !out.contains(t.as_str())), "{out}");

    let (ok, _, err) = binary::run_cli(dir.path(), &["admin-token", "revoke", "abc"]);
    assert!(!ok && err.contains("at least 8 hex digits"), "{err}");
    let (ok, out, err) = binary::run_cli(dir.path(), &["admin-token", "revoke", &made[0].0[..12]]);
    assert!(ok, "{err}");
    assert!(out.contains(&made[0].0), "{out}");

    let server = binary::start(dir.path());
    let client = awc::Client::default();
    for ((_, token), status) in made.iter().zip([401, 200]) {
        let res = client
            .get(server.url("/api/v1/admin/sites/demo/keys"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status);
    }
    server.kill();
}

#[actix_web::test]
async fn a_reload_starts_a_banner_experiment_and_refuses_a_variant_without_an_equal_reject_button()
{
    let (app, file, _dir) = app_with_file(&config("[]", POLICY_VERSION, "")).await;
    let variants = |second: &str| {
        format!(
            "{}\n[[sites.banner_variants]]\nname = \"control\"\n\
             [[sites.banner_variants]]\nname = \"bar\"\nlayout = \"bar\"\n{second}\n",
            config("[]", POLICY_VERSION, "")
        )
    };
    std::fs::write(&file, variants("")).unwrap();
    let (status, body) = app.admin("POST", "/reload", Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    let (_, bar) = app
        .get_json("/api/v1/sites/demo/banner?variant=bar", &[])
        .await;
    assert_eq!(bar["layout"], "bar", "{bar}");

    std::fs::write(&file, variants("buttons = [\"accept_all\", \"customise\"]")).unwrap();
    let (status, body) = app.admin("POST", "/reload", Some(TOKEN), None).await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_configuration");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("sites[demo].banner_variants[1].buttons")
            && message.contains("lacks `reject_all`")
            && message.contains("equal weight"),
        "{message}"
    );
    let (_, still) = app
        .get_json("/api/v1/sites/demo/banner?variant=bar", &[])
        .await;
    assert_eq!(
        still["buttons"],
        json!(["reject_all", "accept_all", "customise"]),
        "the running experiment stays: {still}"
    );
}
