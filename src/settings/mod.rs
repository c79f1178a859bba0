//! Settings: defaults, then a TOML file, then `CONSENTRY_*` environment variables, then flags.
//!
//! Everything is parsed here into typed values (`SocketAddr`, `TrustedProxies`, `domain::Site`)
//! so the rest of the program never sees a raw string from configuration. A bad value is an
//! error naming the setting, reported before the server starts.

mod clickhouse;
mod file;
mod goals;
mod variants;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::domain::{Site, TokenDigest};
use crate::geo::TrustedProxies;
use crate::store::{Durability, StoreOptions};

pub use clickhouse::ClickHouse;
pub use file::{FileSettings, SettingsError};

/// The demo site served when no site is configured.
pub const DEMO_TOML: &str = include_str!("demo.toml");

/// Per-client-address request budgets for the browser-facing API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a client may make in a burst.
    pub burst: u32,
    /// Requests per minute refilled after the burst.
    pub per_minute: u32,
}

/// The server's settings, fully parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub geoip: Option<PathBuf>,
    pub geoip_reload_seconds: u64,
    pub trusted_proxies: TrustedProxies,
    /// sled's page cache, in megabytes.
    pub cache_capacity_mb: u64,
    /// Decoded analytics days kept in memory for queries, in megabytes.
    pub analytics_cache_mb: u64,
    /// Whether consent writes are `fsync`ed before they are acknowledged (`fsync`, default on).
    pub durability: Durability,
    pub rate_limit: RateLimit,
    /// Per API key, for the marketer endpoints.
    pub query_rate_limit: RateLimit,
    /// Per client address, for export and erasure (and the policy page's forms).
    pub rights_rate_limit: RateLimit,
    /// Per consent id, for every request that names one (read, renew, export, erase).
    pub consent_id_rate_limit: RateLimit,
    /// Per client address, failed API-key attempts (the API and the dashboard's sign-in).
    pub auth_failure_limit: RateLimit,
    /// The longest a client may take to send a request body, in seconds.
    pub body_timeout_seconds: u64,
    /// The origin the server's own pages are served from (`public_url`), if configured.
    pub public_origin: Option<String>,
    /// Query groups narrower than the whole site with fewer visitors than this are suppressed.
    pub min_group_size: u32,
    /// A configured operator token (its SHA-256), besides those made with `admin-token create`.
    pub admin_token: Option<TokenDigest>,
    /// The PostgreSQL database every node shares; `None`: the data folder holds everything.
    pub postgres_url: Option<PostgresUrl>,
    /// Where analytics events live when not beside the rest; `None`: with the rest.
    pub clickhouse: Option<ClickHouse>,
    /// The key-encryption key of the data folder (`encryption_key_file`); `None`: the folder
    /// is not encrypted.
    pub encryption_key: Option<crate::store::vault::KeyEncryptionKey>,
    pub sites: Vec<Site>,
    /// Where these settings came from, so that a reload reads the same places again.
    pub source: SettingsSource,
}

/// The file and the overrides settings were read from.
#[derive(Debug, Clone, Default)]
pub struct SettingsSource {
    pub file: Option<PathBuf>,
    pub overrides: Overrides,
}

/// Values from the environment or the command line, each overriding the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub geoip: Option<PathBuf>,
    /// Comma-separated CIDRs.
    pub trusted_proxies: Option<String>,
    /// 64 hex digits.
    pub admin_token_sha256: Option<String>,
    pub postgres_url: Option<String>,
    pub clickhouse_url: Option<String>,
    pub encryption_key_file: Option<PathBuf>,
}

/// A PostgreSQL connection string (`postgres://user:password@host:port/db` or
/// `host=… user=… dbname=…`), checked when the settings are read. It may hold a password, so it
/// is never printed: its `Debug` and `summary` name the hosts and the database only.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    raw: String,
    summary: String,
}

impl PostgresUrl {
    pub fn parse(raw: &str) -> Result<PostgresUrl, String> {
        let config: tokio_postgres::Config = raw.parse().map_err(|e| {
            format!(
                "not a PostgreSQL connection string (postgres://user:password@host:5432/db): {e}"
            )
        })?;
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
        let summary = format!(
            "host {} port {} database {}",
            if hosts.is_empty() {
                "localhost".into()
            } else {
                hosts.join(",")
            },
            if ports.is_empty() {
                "5432".into()
            } else {
                ports.join(",")
            },
            config.get_dbname().unwrap_or("(the user's)"),
        );
        Ok(PostgresUrl {
            raw: raw.to_owned(),
            summary,
        })
    }

    /// The connection string itself, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// Where it points, without the user or password: for logs.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", self.summary)
    }
}

impl Settings {
    /// Loads settings from an optional TOML text (the file's content) and the overrides.
    pub fn load(file_text: Option<&str>, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let mut file = match file_text {
            Some(text) => FileSettings::parse(text)?,
            None => FileSettings::default(),
        };
        if file.sites.is_empty() {
            file.sites = FileSettings::parse(DEMO_TOML)?.sites;
        }
        if let Some(listen) = &overrides.listen {
            file.listen = Some(listen.clone());
        }
        if let Some(dir) = &overrides.data_dir {
            file.data_dir = Some(dir.clone());
        }
        if let Some(geoip) = &overrides.geoip {
            file.geoip = Some(geoip.clone());
        }
        if let Some(digest) = &overrides.admin_token_sha256 {
            file.admin_token_sha256 = Some(digest.clone());
        }
        if let Some(url) = &overrides.postgres_url {
            file.postgres_url = Some(url.clone());
        }
        if let Some(url) = &overrides.clickhouse_url {
            file.clickhouse_url = Some(url.clone());
        }
        if let Some(path) = &overrides.encryption_key_file {
            file.encryption_key_file = Some(path.clone());
        }
        if let Some(list) = &overrides.trusted_proxies {
            file.trusted_proxies = Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
        let mut settings = file.into_settings()?;
        settings.source.overrides = overrides.clone();
        Ok(settings)
    }

    /// Reads the configuration file, if any, and applies the overrides.
    pub fn from_source(source: SettingsSource) -> Result<Settings, SettingsError> {
        let text = match &source.file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                SettingsError(format!(
                    "cannot read the configuration file {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let mut settings = Settings::load(text.as_deref(), &source.overrides)?;
        settings.source = source;
        Ok(settings)
    }

    /// The settings as their file now reads, with the same overrides.
    pub fn reread(&self) -> Result<Settings, SettingsError> {
        Settings::from_source(self.source.clone())
    }

    /// The settings a reload cannot apply that differ between `self` and `new`: these need a
    /// restart.
    pub fn needing_restart(&self, new: &Settings) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut differs = |name: &'static str, different: bool| {
            if different {
                out.push(name);
            }
        };
        differs("listen", self.listen != new.listen);
        differs("data_dir", self.data_dir != new.data_dir);
        differs("geoip", self.geoip != new.geoip);
        differs(
            "trusted_proxies",
            self.trusted_proxies != new.trusted_proxies,
        );
        differs(
            "cache_capacity_mb",
            self.cache_capacity_mb != new.cache_capacity_mb,
        );
        differs(
            "analytics_cache_mb",
            self.analytics_cache_mb != new.analytics_cache_mb,
        );
        differs("fsync", self.durability != new.durability);
        differs(
            "rate limits",
            (
                self.rate_limit,
                self.query_rate_limit,
                self.rights_rate_limit,
                self.consent_id_rate_limit,
                self.auth_failure_limit,
            ) != (
                new.rate_limit,
                new.query_rate_limit,
                new.rights_rate_limit,
                new.consent_id_rate_limit,
                new.auth_failure_limit,
            ),
        );
        differs(
            "body_timeout_seconds",
            self.body_timeout_seconds != new.body_timeout_seconds,
        );
        differs("public_url", self.public_origin != new.public_origin);
        differs("min_group_size", self.min_group_size != new.min_group_size);
        differs("admin_token_sha256", self.admin_token != new.admin_token);
        differs("postgres_url", self.postgres_url != new.postgres_url);
        differs("clickhouse_url", self.clickhouse != new.clickhouse);
        let fingerprint = |s: &Settings| s.encryption_key.as_ref().map(|k| k.fingerprint());
        differs("encryption_key_file", fingerprint(self) != fingerprint(new));
        out
    }

    /// The demo defaults with a different data folder: what tests start from.
    pub fn demo(data_dir: PathBuf) -> Settings {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir),
            ..Overrides::default()
        };
        match Settings::load(None, &overrides) {
            Ok(s) => s,
            // The embedded demo is checked by a unit test; this cannot fail at run time.
            Err(e) => panic!("the embedded demo settings are invalid: {e}"),
        }
    }

    /// What the store is opened with.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            cache_capacity_mb: self.cache_capacity_mb,
            analytics_cache_mb: self.analytics_cache_mb,
            durability: self.durability,
            encryption_key: self.encryption_key.clone(),
        }
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_demo_settings_parse() {
        let s = Settings::load(None, &Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        let demo = s.site("demo").unwrap();
        let ids: Vec<_> = demo.categories.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["necessary", "analytics", "marketing"]);
    }

    #[test]
    fn overrides_win_over_the_file() {
        let file = "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/a\"";
        let o = Overrides {
            listen: Some("127.0.0.1:9100".into()),
            trusted_proxies: Some("10.0.0.0/8, 192.168.1.1".into()),
            ..Overrides::default()
        };
        let s = Settings::load(Some(file), &o).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/a"));
        assert!(s.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        let err = Settings::load(Some("listen = \"nowhere\""), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err = Settings::load(Some("colour = 3"), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let o = Overrides {
            trusted_proxies: Some("10.0.0.0/99".into()),
            ..Overrides::default()
        };
        let err = Settings::load(None, &o).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn clickhouse_is_taken_beside_postgresql_only() {
        let alone = Overrides {
            clickhouse_url: Some("http://ch:8123".into()),
            ..Overrides::default()
        };
        let err = Settings::load(None, &alone).unwrap_err().to_string();
        assert!(
            err.contains("clickhouse_url") && err.contains("postgres_url"),
            "{err}"
        );
        let both = Overrides {
            postgres_url: Some("host=db user=consentry dbname=consentry".into()),
            ..alone
        };
        let s = Settings::load(Some("clickhouse_database = \"events_db\""), &both).unwrap();
        let ch = s.clickhouse.expect("ClickHouse is set");
        assert_eq!(
            (ch.address.as_str(), ch.database.as_str()),
            ("ch:8123", "events_db")
        );
        let err = Settings::load(Some("clickhouse_database = \"no-dashes\""), &both).unwrap_err();
        assert!(err.to_string().contains("clickhouse_database"), "{err}");
    }

    #[test]
    fn a_site_with_an_unknown_event_category_is_refused() {
        let text =
            site_with(|t| format!("{t}[sites.event_categories]\npurchase = \"marketing\"\n"));
        let err = Settings::load(Some(&text), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("purchase"), "{err}");
    }

    /// One site as the README shows it, with `edit` applied to its text.
    fn site_with(edit: impl Fn(&str) -> String) -> String {
        edit(
            r#"
[[sites]]
id = "shop"
name = "Shop"
origins = ["https://shop.example"]
[sites.policy]
version = "1"
last_updated = "2026-01-01"
controller = "Shop Ltd"
address = "1 Road"
contact_email = "privacy@shop.example"
[[sites.categories]]
id = "analytics"
title = "Analytics"
description = "Counts visits."
[[sites.categories.services]]
name = "Consentry"
provider = "Shop Ltd"
purpose = "Counts visits."
privacy_url = "https://shop.example/privacy"
"#,
        )
    }

    #[test]
    fn the_readme_site_loads_and_each_published_contact_and_link_is_checked() {
        assert!(Settings::load(Some(&site_with(str::to_owned)), &Overrides::default()).is_ok());
        let refused = |from: &str, to: &str| {
            Settings::load(
                Some(&site_with(|t| t.replace(from, to))),
                &Overrides::default(),
            )
            .unwrap_err()
            .to_string()
        };
        let e = refused("privacy@shop.example", "not-an-email");
        assert!(
            e.contains("sites[shop].policy.contact_email") && e.contains("not an e-mail address"),
            "{e}"
        );
        assert!(refused("privacy@shop.example", "privacy@localhost").contains("contact_email"));
        assert!(refused("privacy@shop.example", "a b@shop.example").contains("contact_email"));
        let e = refused("https://shop.example/privacy", "javascript:alert(1)");
        assert!(
            e.contains("privacy_url") && e.contains("not a web address"),
            "{e}"
        );
        let e = refused(r#"id = "shop""#, r#"id = "Shop""#);
        assert!(e.contains("lowercase"), "{e}");
    }
}
