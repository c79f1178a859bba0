//! `consentry keys create|list|revoke`: marketer API keys, from the command line, while the
//! server is stopped. A key is printed once, at creation; only its SHA-256 is stored.

use crate::cli::{KeysCommand, open_offline};
use crate::domain::{ApiKey, ApiKeyId, Clock, SiteId, SystemClock, Timestamp};
use crate::settings::Settings;
use crate::store::AccessStore;

const DAY_MS: i64 = 86_400_000;

fn date(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.0.div_euclid(1000))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "?".into())
}

/// Runs a `keys` command; the exit code is 0 on success, 1 on a failure, 2 on bad input.
pub fn run(settings: Settings, command: KeysCommand) -> i32 {
    let site = match &command {
        KeysCommand::Create { site, .. }
        | KeysCommand::List { site }
        | KeysCommand::Revoke { site, .. } => site.clone(),
    };
    let Some(site) = settings.site(&site).map(|s| s.id.clone()) else {
        eprintln!("consentry: there is no site `{site}` in the settings");
        return 2;
    };
    let (store, runtime) = match open_offline(&settings) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    let now = SystemClock.now();
    let outcome = runtime.block_on(async {
        match command {
            KeysCommand::Create {
                label,
                expires_in_days,
                ..
            } => create(&*store, site, label, expires_in_days, now).await,
            KeysCommand::List { .. } => list(&*store, site).await,
            KeysCommand::Revoke { key_id, .. } => revoke(&*store, &site, &key_id, now).await,
        }
    });
    match outcome {
        Ok(()) => 0,
        Err((code, message)) => {
            eprintln!("consentry: {message}");
            code
        }
    }
}

type Outcome = Result<(), (i32, String)>;

async fn create(
    store: &(impl AccessStore + ?Sized),
    site: SiteId,
    label: String,
    expires_in_days: Option<u32>,
    now: Timestamp,
) -> Outcome {
    if label.len() > 200 {
        return Err((2, "the label is longer than 200 characters".into()));
    }
    let expires_at = expires_in_days.map(|d| Timestamp(now.0 + i64::from(d) * DAY_MS));
    let (record, key) = ApiKey::generate(site.clone(), label, now, expires_at, rand::random());
    let id = record.id.clone();
    store
        .put_key(record)
        .await
        .map_err(|e| (1, e.to_string()))?;
    println!("site: {site}");
    println!("id: {id}");
    if let Some(at) = expires_at {
        println!("expires: {}", date(at));
    }
    eprintln!("This key is shown once and only its hash is kept: store it now.");
    println!("key: {key}");
    Ok(())
}

async fn list(store: &(impl AccessStore + ?Sized), site: SiteId) -> Outcome {
    let keys = store.keys(site).await.map_err(|e| (1, e.to_string()))?;
    if keys.is_empty() {
        println!("(no keys)");
    }
    for k in keys {
        let state = match (k.revoked_at, k.expires_at) {
            (Some(at), _) => format!("revoked {}", date(at)),
            (None, Some(at)) => format!("expires {}", date(at)),
            (None, None) => "active".into(),
        };
        println!(
            "{}\tcreated {}\t{state}\t{}",
            k.id,
            date(k.created_at),
            k.label
        );
    }
    Ok(())
}

async fn revoke(
    store: &(impl AccessStore + ?Sized),
    site: &SiteId,
    raw: &str,
    now: Timestamp,
) -> Outcome {
    let id = ApiKeyId::parse(raw).ok_or((2, format!("`{raw}` is not a key id")))?;
    let Some(mut record) = store
        .key(id)
        .await
        .map_err(|e| (1, e.to_string()))?
        .filter(|k| k.site == *site)
    else {
        return Err((1, format!("site `{site}` has no key `{raw}`")));
    };
    if record.revoked_at.is_none() {
        record.revoked_at = Some(now);
        store
            .put_key(record)
            .await
            .map_err(|e| (1, e.to_string()))?;
    }
    println!("revoked: {raw}");
    Ok(())
}
