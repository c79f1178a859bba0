//! `consentry keys create|list|revoke` (marketer API keys) and `consentry admin-token
//! create|list|revoke` (operator tokens), from the command line. A key or token is printed
//! once, at creation; only its SHA-256 is stored.
//!
//! With the server stopped, the commands open the data folder. While a server holds it, `keys`
//! goes through that server's administration API instead, given an operator token in
//! `CONSENTRY_ADMIN_TOKEN` (and `--server` when the server is not at the `listen` setting).

use serde_json::{Value, json};

use crate::admin::{self, NewKey};
use crate::admin_client::{AdminClient, Answer};
use crate::cli::{AdminTokenCommand, KeysCommand, open_offline};
use crate::domain::{ApiKey, Clock, SiteId, SystemClock};
use crate::http::wire::rfc3339;
use crate::settings::Settings;
use crate::store::{AccessStore, StoreError};

/// A key as printed: the same from the store and from the administration API.
struct KeyView {
    id: String,
    site: String,
    label: String,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

impl KeyView {
    fn of_record(k: &ApiKey) -> KeyView {
        KeyView {
            id: k.id.to_string(),
            site: k.site.to_string(),
            label: k.label.clone(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }

    fn of_json(v: &Value) -> KeyView {
        let text = |name: &str| v[name].as_str().map(str::to_owned);
        KeyView {
            id: text("id").unwrap_or_default(),
            site: text("site").unwrap_or_default(),
            label: text("label").unwrap_or_default(),
            created_at: text("created_at").unwrap_or_default(),
            expires_at: text("expires_at"),
            revoked_at: text("revoked_at"),
        }
    }

    fn print_created(&self, key: &str) {
        println!("site: {}", self.site);
        println!("id: {}", self.id);
        if let Some(at) = &self.expires_at {
            println!("expires: {at}");
        }
        eprintln!("This key is shown once and only its hash is kept: store it now.");
        println!("key: {key}");
    }

    fn print_line(&self) {
        let state = match (&self.revoked_at, &self.expires_at) {
            (Some(at), _) => format!("revoked {at}"),
            (None, Some(at)) => format!("expires {at}"),
            (None, None) => "active".into(),
        };
        println!(
            "{}\tcreated {}\t{state}\t{}",
            self.id, self.created_at, self.label
        );
    }
}

fn print_list(keys: &[KeyView]) {
    if keys.is_empty() {
        println!("(no keys)");
    }
    for k in keys {
        k.print_line();
    }
}

/// A failure: the exit code (1 failed, 2 bad input) and what to say.
type Outcome = Result<(), (i32, String)>;

/// Runs a `keys` command; the exit code is 0 on success, 1 on a failure, 2 on bad input.
pub fn run(settings: Settings, command: KeysCommand, server: Option<String>) -> i32 {
    let outcome = match open_offline(&settings) {
        Ok((store, runtime)) => runtime.block_on(offline(&settings, &*store, command)),
        Err(StoreError::Locked) => match std::env::var("CONSENTRY_ADMIN_TOKEN") {
            Ok(token) if !token.is_empty() => {
                let client = match server {
                    Some(url) => AdminClient::new(&url, token),
                    None => Ok(AdminClient::for_listen(settings.listen, token)),
                };
                client
                    .map_err(|e| (2, e))
                    .and_then(|c| through_server(&c, command))
            }
            _ => Err((
                1,
                "the data folder is held by a running server; set CONSENTRY_ADMIN_TOKEN to an operator token (`consentry admin-token create` while the server is stopped, or the setting `admin_token_sha256`) and this command goes through the server's administration API".into(),
            )),
        },
        Err(e) => Err((1, e.to_string())),
    };
    finish(outcome)
}

fn finish(outcome: Outcome) -> i32 {
    match outcome {
        Ok(()) => 0,
        Err((code, message)) => {
            eprintln!("consentry: {message}");
            code
        }
    }
}

fn site_named(settings: &Settings, raw: &str) -> Result<SiteId, (i32, String)> {
    settings
        .site(raw)
        .map(|s| s.id.clone())
        .ok_or_else(|| (2, format!("there is no site `{raw}` in the settings")))
}

fn failed(e: admin::KeyAdminError) -> (i32, String) {
    let code = match e {
        admin::KeyAdminError::Store(_) | admin::KeyAdminError::UnknownKey { .. } => 1,
        _ => 2,
    };
    (code, e.to_string())
}

async fn offline(
    settings: &Settings,
    store: &(impl AccessStore + ?Sized),
    command: KeysCommand,
) -> Outcome {
    let now = SystemClock.now();
    match command {
        KeysCommand::Create {
            site,
            label,
            expires_in_days,
        } => {
            let site = site_named(settings, &site)?;
            let new = NewKey {
                label,
                expires_in_days,
            };
            let (record, key) = admin::create_key(store, site, new, now)
                .await
                .map_err(failed)?;
            KeyView::of_record(&record).print_created(&key);
        }
        KeysCommand::List { site } => {
            let site = site_named(settings, &site)?;
            let keys = store.keys(site).await.map_err(|e| (1, e.to_string()))?;
            print_list(&keys.iter().map(KeyView::of_record).collect::<Vec<_>>());
        }
        KeysCommand::Revoke { site, key_id } => {
            let site = site_named(settings, &site)?;
            admin::revoke_key(store, &site, &key_id, now)
                .await
                .map_err(failed)?;
            println!("revoked: {key_id}");
        }
    }
    Ok(())
}

fn expect(answer: Answer, status: u16) -> Result<Value, (i32, String)> {
    if answer.status == status {
        return Ok(answer.body);
    }
    let code = if answer.status == 400 { 2 } else { 1 };
    Err((code, answer.message()))
}

/// Path segments are sent as given; the server refuses any that is not a site or key id.
fn segment(raw: &str) -> Result<&str, (i32, String)> {
    if raw.is_empty()
        || !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err((2, format!("`{raw}` cannot be part of a path")));
    }
    Ok(raw)
}

fn through_server(client: &AdminClient, command: KeysCommand) -> Outcome {
    let unreachable = |e: String| (1, e);
    match command {
        KeysCommand::Create {
            site,
            label,
            expires_in_days,
        } => {
            let body = json!({"label": label, "expires_in_days": expires_in_days});
            let path = format!("/sites/{}/keys", segment(&site)?);
            let created = expect(
                client
                    .call("POST", &path, Some(&body))
                    .map_err(unreachable)?,
                201,
            )?;
            let key = created["key"].as_str().unwrap_or_default();
            KeyView::of_json(&created).print_created(key);
        }
        KeysCommand::List { site } => {
            let path = format!("/sites/{}/keys", segment(&site)?);
            let listed = expect(client.call("GET", &path, None).map_err(unreachable)?, 200)?;
            let keys: Vec<KeyView> = listed["keys"]
                .as_array()
                .map(|a| a.iter().map(KeyView::of_json).collect())
                .unwrap_or_default();
            print_list(&keys);
        }
        KeysCommand::Revoke { site, key_id } => {
            let path = format!("/sites/{}/keys/{}", segment(&site)?, segment(&key_id)?);
            expect(
                client.call("DELETE", &path, None).map_err(unreachable)?,
                204,
            )?;
            println!("revoked: {key_id}");
        }
    }
    Ok(())
}

/// `consentry admin-token create|list|revoke`: the data folder must be free (the server
/// stopped); a token configured as `admin_token_sha256` is not stored and not listed.
pub fn admin_token(settings: &Settings, command: AdminTokenCommand) -> i32 {
    let outcome = match open_offline(settings) {
        Ok((store, runtime)) => runtime.block_on(async {
            match command {
                AdminTokenCommand::Create => {
                    let (digest, token) = admin::create_operator_token(&*store, SystemClock.now())
                        .await
                        .map_err(|e| (1, e.to_string()))?;
                    println!("id: {}", digest.hex());
                    eprintln!(
                        "This operator token is shown once and only its hash is kept: store it now."
                    );
                    println!("token: {token}");
                }
                AdminTokenCommand::List => {
                    let tokens = store
                        .operator_tokens()
                        .await
                        .map_err(|e| (1, e.to_string()))?;
                    if tokens.is_empty() {
                        println!("(no stored operator tokens)");
                    }
                    for (digest, at) in tokens {
                        println!("{}\tcreated {}", digest.hex(), rfc3339(at));
                    }
                }
                AdminTokenCommand::Revoke { id } => {
                    let digest = admin::revoke_operator_token(&*store, &id)
                        .await
                        .map_err(|e| match e {
                            admin::TokenRevokeError::Store(e) => (1, e.to_string()),
                            e => (2, e.to_string()),
                        })?;
                    println!("revoked: {}", digest.hex());
                }
            }
            Ok(())
        }),
        Err(e) => Err((1, e.to_string())),
    };
    finish(outcome)
}
