//! The TOML file's shape, and its conversion into typed settings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{RateLimit, Settings, SettingsSource};
use crate::domain::TokenDigest;
use crate::domain::site::{Localized, Policy};
use crate::domain::{
    Category, CategoryId, CookieDecl, PolicyVersion, Regime, Service, Site, SiteId,
};
use crate::geo::TrustedProxies;

/// A setting that could not be used. The message names the setting and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

pub(super) fn err(setting: &str, problem: impl std::fmt::Display) -> SettingsError {
    SettingsError(format!("setting `{setting}`: {problem}"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub geoip: Option<PathBuf>,
    pub geoip_reload_seconds: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
    pub cache_capacity_mb: Option<u64>,
    /// Decoded analytics days kept in memory for queries, in megabytes (default 192).
    pub analytics_cache_mb: Option<u64>,
    /// `fsync` consent writes before acknowledging them (default true).
    pub fsync: Option<bool>,
    pub rate_limit: Option<FileRateLimit>,
    /// Per API key, for the marketer endpoints.
    pub query_rate_limit: Option<FileRateLimit>,
    /// Per client address, for export and erasure.
    pub rights_rate_limit: Option<FileRateLimit>,
    /// Per consent id, for every request naming one.
    pub consent_id_rate_limit: Option<FileRateLimit>,
    /// Per client address, failed API-key attempts.
    pub auth_failure_limit: Option<FileRateLimit>,
    /// The longest a request body may take to arrive, in seconds (default 10).
    pub body_timeout_seconds: Option<u64>,
    /// The origin this server's pages are served from, e.g. `https://consent.example.org`.
    pub public_url: Option<String>,
    /// Query groups with fewer visitors than this are suppressed.
    pub min_group_size: Option<u32>,
    /// The SHA-256 (64 hex digits) of an operator token for the administration API.
    pub admin_token_sha256: Option<String>,
    /// The PostgreSQL database every node shares (everything is kept there when set).
    pub postgres_url: Option<String>,
    /// ClickHouse's HTTP interface, when analytics events live there (needs `postgres_url`).
    pub clickhouse_url: Option<String>,
    /// The ClickHouse database of the events table (default `consentry`).
    pub clickhouse_database: Option<String>,
    /// A file holding the key-encryption key of the data folder (32 bytes, raw or hex).
    pub encryption_key_file: Option<PathBuf>,
    /// Ignored: it bounded the raw-event scans that the analytics engine replaced. Still
    /// accepted so that existing configuration files keep working.
    #[allow(dead_code)]
    pub max_scan_events: Option<u64>,
    #[serde(default)]
    pub sites: Vec<FileSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSite {
    id: String,
    name: String,
    #[serde(default)]
    origins: Vec<String>,
    regime_without_law: Option<String>,
    consent_max_age_days: Option<u32>,
    reject_max_age_days: Option<u32>,
    policy: FilePolicy,
    #[serde(default)]
    categories: Vec<FileCategory>,
    #[serde(default)]
    event_categories: BTreeMap<String, String>,
    #[serde(default)]
    goals: Vec<super::goals::FileGoal>,
    /// Cookie and tracker detection (default on).
    detect: Option<bool>,
    /// A banner experiment: its variants.
    #[serde(default)]
    banner_variants: Vec<super::variants::FileVariant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePolicy {
    version: String,
    last_updated: String,
    controller: String,
    address: String,
    contact_email: String,
    dpo_email: Option<String>,
    log_retention_days: Option<u32>,
    inactivity_deletion_months: Option<u32>,
    event_retention_days: Option<u32>,
    /// Earlier versions whose consents still count for the categories not in `material`.
    #[serde(default)]
    earlier: Vec<FileEarlierVersion>,
    /// A version announced ahead of its effective date.
    upcoming: Option<FileUpcoming>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpcoming {
    version: String,
    /// `YYYY-MM-DD`; the change takes effect at 00:00 UTC that day.
    effective: String,
    #[serde(default)]
    material: Vec<String>,
    summary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEarlierVersion {
    version: String,
    #[serde(default)]
    material: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileText {
    Plain(String),
    ByLanguage(BTreeMap<String, String>),
}

impl FileText {
    fn into_localized(self) -> Localized {
        match self {
            FileText::Plain(s) => Localized::english(&s),
            FileText::ByLanguage(m) => Localized::new(m),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCategory {
    id: String,
    #[serde(default)]
    required: bool,
    sale_or_sharing: Option<bool>,
    title: FileText,
    description: FileText,
    #[serde(default)]
    services: Vec<FileService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileService {
    name: String,
    provider: String,
    purpose: String,
    privacy_url: Option<String>,
    #[serde(default)]
    cookies: Vec<FileCookie>,
    /// Hosts its scripts and frames come from, for cookie and tracker detection.
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCookie {
    name: String,
    duration: String,
    purpose: String,
}

impl FileSettings {
    pub fn parse(text: &str) -> Result<FileSettings, SettingsError> {
        toml::from_str(text).map_err(|e| SettingsError(format!("configuration file: {e}")))
    }

    pub fn into_settings(self) -> Result<Settings, SettingsError> {
        let listen_raw = self.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            err(
                "listen",
                format!("`{listen_raw}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let trusted_proxies = TrustedProxies::parse(&self.trusted_proxies.unwrap_or_default())
            .map_err(|e| err("trusted_proxies", e))?;
        let limit = |name: &str, raw: Option<FileRateLimit>, default: RateLimit| match raw {
            Some(r) if r.burst == 0 || r.per_minute == 0 => {
                Err(err(name, "burst and per_minute must be above zero"))
            }
            Some(r) => Ok(RateLimit {
                burst: r.burst,
                per_minute: r.per_minute,
            }),
            None => Ok(default),
        };
        let rate_limit = limit(
            "rate_limit",
            self.rate_limit,
            RateLimit {
                burst: 60,
                per_minute: 300,
            },
        )?;
        let query_rate_limit = limit(
            "query_rate_limit",
            self.query_rate_limit,
            // A dashboard view sends about twenty queries at once.
            RateLimit {
                burst: 400,
                per_minute: 2400,
            },
        )?;
        let rights_rate_limit = limit(
            "rights_rate_limit",
            self.rights_rate_limit,
            RateLimit {
                burst: 10,
                per_minute: 10,
            },
        )?;
        let consent_id_rate_limit = limit(
            "consent_id_rate_limit",
            self.consent_id_rate_limit,
            RateLimit {
                burst: 30,
                per_minute: 30,
            },
        )?;
        let auth_failure_limit = limit(
            "auth_failure_limit",
            self.auth_failure_limit,
            RateLimit {
                burst: 10,
                per_minute: 5,
            },
        )?;
        let body_timeout_seconds = match self.body_timeout_seconds {
            Some(0) => return Err(err("body_timeout_seconds", "must be at least 1")),
            Some(s) => s.min(300),
            None => 10,
        };
        let public_origin = match &self.public_url {
            None => None,
            Some(raw) => Some(normalise_origin(raw).ok_or_else(|| {
                err(
                    "public_url",
                    format!("`{raw}` is not an origin like https://consent.example.org"),
                )
            })?),
        };
        let min_group_size = match self.min_group_size {
            Some(0) => return Err(err("min_group_size", "must be at least 1")),
            Some(k) => k,
            None => 5,
        };
        let admin_token = match &self.admin_token_sha256 {
            None => None,
            Some(raw) => Some(TokenDigest::parse_hex(raw).ok_or_else(|| {
                err(
                    "admin_token_sha256",
                    "expected the SHA-256 of the token as 64 hex digits (`printf %s \"$TOKEN\" | sha256sum`)",
                )
            })?),
        };
        let postgres_url = match self.postgres_url.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(super::PostgresUrl::parse(raw).map_err(|e| err("postgres_url", e))?),
        };
        if let Some(name) = &self.clickhouse_database {
            super::ClickHouse::check_database(name).map_err(|e| err("clickhouse_database", e))?;
        }
        let clickhouse = match self.clickhouse_url.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(
                super::ClickHouse::parse(raw, self.clickhouse_database.as_deref())
                    .map_err(|e| err("clickhouse_url", e))?,
            ),
        };
        if clickhouse.is_some() && postgres_url.is_none() {
            return Err(err(
                "clickhouse_url",
                "needs `postgres_url`: with ClickHouse holding the events, PostgreSQL holds the \
                 consents they are gated by, the visitor numbers and everything else",
            ));
        }
        let encryption_key = match &self.encryption_key_file {
            None => None,
            Some(path) if path.as_os_str().is_empty() => None,
            Some(path) => Some(
                crate::store::vault::KeyEncryptionKey::read(path)
                    .map_err(|e| err("encryption_key_file", e))?,
            ),
        };
        if encryption_key.is_some() && postgres_url.is_some() {
            return Err(err(
                "encryption_key_file",
                "encrypts the data folder, which holds nothing with `postgres_url` set: encrypt \
                 the database's storage with PostgreSQL's own means instead",
            ));
        }
        let mut sites = Vec::with_capacity(self.sites.len());
        for raw in self.sites {
            let site = raw.into_site()?;
            if sites.iter().any(|s: &Site| s.id == site.id) {
                return Err(err("sites", format!("site `{}` is defined twice", site.id)));
            }
            sites.push(site);
        }
        Ok(Settings {
            listen,
            data_dir: self.data_dir.unwrap_or_else(|| PathBuf::from("./data")),
            geoip: self.geoip,
            geoip_reload_seconds: self.geoip_reload_seconds.unwrap_or(60).max(1),
            trusted_proxies,
            cache_capacity_mb: self.cache_capacity_mb.unwrap_or(64).max(8),
            analytics_cache_mb: self.analytics_cache_mb.unwrap_or(192),
            durability: if self.fsync.unwrap_or(true) {
                crate::store::Durability::Fsync
            } else {
                crate::store::Durability::Flush
            },
            rate_limit,
            query_rate_limit,
            rights_rate_limit,
            consent_id_rate_limit,
            auth_failure_limit,
            body_timeout_seconds,
            public_origin,
            min_group_size,
            admin_token,
            postgres_url,
            clickhouse,
            encryption_key,
            sites,
            source: SettingsSource::default(),
        })
    }
}

/// `scheme://host[:port]` with nothing after it, lower-cased.
fn normalise_origin(raw: &str) -> Option<String> {
    let (scheme, rest) = raw.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return None;
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    // Browsers leave the default port out of `Origin`.
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    Some(format!("{scheme}://{host}"))
}

/// An address a visitor can write to, as the policy page publishes it: one `@`, a local part
/// without spaces or controls, a domain of dot-separated labels.
fn check_email(field: &str, raw: &str) -> Result<(), SettingsError> {
    let refuse = || {
        err(
            field,
            format!("`{raw}` is not an e-mail address like privacy@shop.example"),
        )
    };
    let (local, domain) = raw.split_once('@').ok_or_else(refuse)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// A link the policy page publishes: an absolute `http` or `https` URL (never `javascript:`).
fn check_http_url(field: &str, raw: &str) -> Result<(), SettingsError> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(err(
            field,
            format!("`{raw}` is not a web address like https://example.org/privacy"),
        )),
    }
}

/// A host name as detection reports one (`detect::host_name`), with a dot; in that form.
fn check_host(field: &str, raw: &str) -> Result<String, SettingsError> {
    crate::detect::host_name(raw)
        .filter(|h| h.contains('.'))
        .ok_or_else(|| {
            err(
                field,
                format!(
                    "`{raw}` is not a host name like cdn.example.org (no scheme, path or port)"
                ),
            )
        })
}

fn is_date(raw: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format).is_ok()
}

impl FileSite {
    fn into_site(self) -> Result<Site, SettingsError> {
        let id =
            SiteId::parse(&self.id).map_err(|e| err("sites.id", format!("`{}` {e}", self.id)))?;
        let at = |field: &str| format!("sites[{id}].{field}");
        let mut origins = Vec::new();
        for o in &self.origins {
            let norm = normalise_origin(o).ok_or_else(|| {
                err(
                    &at("origins"),
                    format!("`{o}` is not an origin like https://shop.example"),
                )
            })?;
            origins.push(norm);
        }
        let regime_without_law = match self.regime_without_law.as_deref() {
            None => Regime::OptIn,
            Some(r) => Regime::parse(r).ok_or_else(|| {
                err(
                    &at("regime_without_law"),
                    format!("`{r}` is not opt_in, opt_out or notice"),
                )
            })?,
        };
        let consent_max_age_days = self.consent_max_age_days.unwrap_or(Site::MAX_CONSENT_DAYS);
        if consent_max_age_days == 0 || consent_max_age_days > Site::MAX_CONSENT_DAYS {
            return Err(err(
                &at("consent_max_age_days"),
                "must be between 1 and 395 (13 months)",
            ));
        }
        let reject_max_age_days = self.reject_max_age_days.unwrap_or(182);
        if reject_max_age_days == 0 || reject_max_age_days > Site::MAX_CONSENT_DAYS {
            return Err(err(&at("reject_max_age_days"), "must be between 1 and 395"));
        }
        let p = self.policy;
        let version = PolicyVersion::parse(&p.version)
            .map_err(|e| err(&at("policy.version"), format!("`{}` {e}", p.version)))?;
        if !is_date(&p.last_updated) {
            return Err(err(
                &at("policy.last_updated"),
                "must be a date like 2026-11-01",
            ));
        }
        check_email(&at("policy.contact_email"), &p.contact_email)?;
        if let Some(dpo) = &p.dpo_email {
            check_email(&at("policy.dpo_email"), dpo)?;
        }
        let earlier = p.earlier;
        let upcoming = p.upcoming;
        let mut policy = Policy {
            version,
            last_updated: p.last_updated,
            controller: p.controller,
            address: p.address,
            contact_email: p.contact_email,
            dpo_email: p.dpo_email,
            log_retention_days: p.log_retention_days.unwrap_or(90),
            inactivity_deletion_months: p.inactivity_deletion_months.unwrap_or(12),
            event_retention_days: p.event_retention_days.unwrap_or(90),
            earlier_versions: BTreeMap::new(),
            upcoming: None,
        };
        let mut categories: Vec<Category> = Vec::new();
        for c in self.categories {
            let cid = CategoryId::parse(&c.id)
                .map_err(|e| err(&at("categories.id"), format!("`{}` {e}", c.id)))?;
            if categories.iter().any(|k| k.id == cid) {
                return Err(err(
                    &at("categories"),
                    format!("category `{cid}` is defined twice"),
                ));
            }
            for s in &c.services {
                if let Some(url) = &s.privacy_url {
                    check_http_url(&at("categories.services.privacy_url"), url)?;
                }
                for h in &s.hosts {
                    check_host(&at("categories.services.hosts"), h)?;
                }
            }
            let services = c
                .services
                .into_iter()
                .map(|s| Service {
                    name: s.name,
                    provider: s.provider,
                    purpose: s.purpose,
                    privacy_url: s.privacy_url,
                    cookies: s
                        .cookies
                        .into_iter()
                        .map(|k| CookieDecl {
                            name: k.name,
                            duration: k.duration,
                            purpose: k.purpose,
                        })
                        .collect(),
                    hosts: s
                        .hosts
                        .iter()
                        .filter_map(|h| crate::detect::host_name(h))
                        .collect(),
                })
                .collect();
            categories.push(Category {
                required: c.required || cid.is_necessary(),
                sale_or_sharing: c.sale_or_sharing.unwrap_or(cid.as_str() == "marketing"),
                id: cid,
                title: c.title.into_localized(),
                description: c.description.into_localized(),
                services,
            });
        }
        if !categories.iter().any(|c| c.id.is_necessary()) {
            categories.insert(0, default_necessary());
        }
        for e in earlier {
            let v = PolicyVersion::parse(&e.version).map_err(|bad| {
                err(
                    &at("policy.earlier.version"),
                    format!("`{}` {bad}", e.version),
                )
            })?;
            let mut material = Vec::new();
            for m in e.material {
                let known = categories
                    .iter()
                    .find(|c| c.id.as_str() == m)
                    .ok_or_else(|| {
                        err(
                            &at("policy.earlier.material"),
                            format!("`{m}` is not a category of this site"),
                        )
                    })?;
                material.push(known.id.clone());
            }
            policy.earlier_versions.insert(v, material);
        }
        if let Some(u) = upcoming {
            let version = PolicyVersion::parse(&u.version).map_err(|bad| {
                err(
                    &at("policy.upcoming.version"),
                    format!("`{}` {bad}", u.version),
                )
            })?;
            if version == policy.version {
                return Err(err(
                    &at("policy.upcoming.version"),
                    "must differ from the current version",
                ));
            }
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = time::Date::parse(&u.effective, &format).map_err(|_| {
                err(
                    &at("policy.upcoming.effective"),
                    "must be a date like 2027-01-01",
                )
            })?;
            let effective_at = crate::domain::Timestamp(
                i64::try_from(day.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(0),
            );
            let mut material = Vec::new();
            for m in u.material {
                let known = categories
                    .iter()
                    .find(|c| c.id.as_str() == m)
                    .ok_or_else(|| {
                        err(
                            &at("policy.upcoming.material"),
                            format!("`{m}` is not a category of this site"),
                        )
                    })?;
                material.push(known.id.clone());
            }
            policy.upcoming = Some(crate::domain::site::Upcoming {
                version,
                effective_at,
                effective_date: u.effective,
                material,
                summary: u.summary,
            });
        }
        let mut event_categories = BTreeMap::new();
        for (event, category) in self.event_categories {
            let known = categories.iter().find(|c| c.id.as_str() == category);
            let Some(known) = known else {
                return Err(err(
                    &at(&format!("event_categories.{event}")),
                    format!("`{category}` is not a category of this site"),
                ));
            };
            event_categories.insert(event, known.id.clone());
        }
        let goals = super::goals::goals(self.goals, &format!("sites[{id}]"))?;
        let experiment =
            super::variants::experiment(self.banner_variants, &format!("sites[{id}]"))?;
        Ok(Site {
            id,
            name: self.name,
            origins,
            regime_without_law,
            consent_max_age_days,
            reject_max_age_days,
            policy,
            categories,
            event_categories,
            goals,
            detect_cookies: self.detect.unwrap_or(true),
            experiment,
        })
    }
}

fn default_necessary() -> Category {
    Category {
        id: CategoryId::necessary(),
        required: true,
        sale_or_sharing: false,
        title: Localized::new(BTreeMap::from([
            ("en".into(), "Essential".into()),
            ("de".into(), "Notwendig".into()),
            ("fr".into(), "Essentiels".into()),
            ("es".into(), "Esenciales".into()),
        ])),
        description: Localized::new(BTreeMap::from([
            (
                "en".into(),
                "Needed for the site to work and to remember your privacy choices. Always on."
                    .into(),
            ),
            (
                "de".into(),
                "Für den Betrieb der Website nötig und um Ihre Datenschutz-Entscheidung zu \
                 speichern. Immer aktiv."
                    .into(),
            ),
            (
                "fr".into(),
                "Nécessaires au fonctionnement du site et à la mémorisation de vos choix de \
                 confidentialité. Toujours actifs."
                    .into(),
            ),
            (
                "es".into(),
                "Necesarias para que el sitio funcione y para recordar sus preferencias de \
                 privacidad. Siempre activas."
                    .into(),
            ),
        ])),
        services: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{default_necessary, normalise_origin};

    #[test]
    fn the_automatic_essential_category_speaks_every_banner_language() {
        let c = default_necessary();
        let en = c.description.get("en");
        for lang in crate::i18n::LANGUAGES {
            assert!(!c.title.get(lang).is_empty(), "{lang}");
            if lang != "en" {
                assert_ne!(c.description.get(lang), en, "{lang} falls back to English");
            }
        }
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        assert_eq!(
            normalise_origin("https://Shop.Example/"),
            Some("https://shop.example".into())
        );
        assert_eq!(
            normalise_origin("http://localhost:3000"),
            Some("http://localhost:3000".into())
        );
        assert_eq!(normalise_origin("https://shop.example/path"), None);
        assert_eq!(normalise_origin("ftp://shop.example"), None);
    }
}
