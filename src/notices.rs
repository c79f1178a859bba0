//! The notices a visitor is shown, as archived documents with content hashes.
//!
//! A decision's ledger entry names the hash of the policy and of the banner texts the visitor
//! saw; the documents are archived under those hashes (the `notices` tree) so every version
//! stays retrievable as proof of what was shown.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{EntryHash, Site};
use crate::i18n;

#[derive(Debug, Clone, Serialize)]
pub struct CookieDoc {
    pub name: String,
    pub duration: String,
    pub purpose: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceDoc {
    pub name: String,
    pub provider: String,
    pub purpose: String,
    pub privacy_url: Option<String>,
    pub cookies: Vec<CookieDoc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryDoc {
    pub id: String,
    pub required: bool,
    pub sale_or_sharing: bool,
    pub title: String,
    pub description: String,
    pub services: Vec<ServiceDoc>,
}

/// What the banner shows in one language.
#[derive(Debug, Clone, Serialize)]
pub struct BannerDoc {
    pub kind: &'static str,
    pub site: String,
    pub language: &'static str,
    pub policy_version: String,
    pub texts: BTreeMap<&'static str, &'static str>,
    pub categories: Vec<CategoryDoc>,
}

/// A document and its hash.
#[derive(Debug, Clone)]
pub struct Archived<T> {
    pub doc: T,
    pub bytes: Vec<u8>,
    pub hash: EntryHash,
}

impl<T: Serialize> Archived<T> {
    fn new(doc: T) -> Archived<T> {
        // Serializing plain structs and maps of strings cannot fail.
        let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        let hash = EntryHash::of(&bytes);
        Archived { doc, bytes, hash }
    }
}

/// The policy document: everything the policy page renders.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDoc {
    pub kind: &'static str,
    pub site: String,
    pub site_name: String,
    pub version: String,
    pub last_updated: String,
    pub controller: String,
    pub address: String,
    pub contact_email: String,
    pub dpo_email: Option<String>,
    pub log_retention_days: u32,
    pub event_retention_days: u32,
    pub inactivity_deletion_months: u32,
    pub consent_max_age_days: u32,
    pub reject_max_age_days: u32,
    /// Category texts in every language the site provides.
    pub categories: BTreeMap<&'static str, Vec<CategoryDoc>>,
}

/// A site's notices.
#[derive(Debug, Clone)]
pub struct SiteNotices {
    pub policy: Archived<PolicyDoc>,
    pub banners: BTreeMap<&'static str, Archived<BannerDoc>>,
}

impl SiteNotices {
    pub fn banner(&self, language: &str) -> Option<&Archived<BannerDoc>> {
        self.banners
            .get(language)
            .or_else(|| self.banners.get("en"))
    }

    /// Every document with its hash, for the archive.
    pub fn documents(&self) -> Vec<(EntryHash, Vec<u8>)> {
        let mut out = vec![(self.policy.hash, self.policy.bytes.clone())];
        out.extend(self.banners.values().map(|b| (b.hash, b.bytes.clone())));
        out
    }
}

fn categories(site: &Site, language: &str) -> Vec<CategoryDoc> {
    site.categories
        .iter()
        .map(|c| CategoryDoc {
            id: c.id.to_string(),
            required: c.required,
            sale_or_sharing: c.sale_or_sharing,
            title: c.title.get(language).to_owned(),
            description: c.description.get(language).to_owned(),
            services: c
                .services
                .iter()
                .map(|s| ServiceDoc {
                    name: s.name.clone(),
                    provider: s.provider.clone(),
                    purpose: s.purpose.clone(),
                    privacy_url: s.privacy_url.clone(),
                    cookies: s
                        .cookies
                        .iter()
                        .map(|k| CookieDoc {
                            name: k.name.clone(),
                            duration: k.duration.clone(),
                            purpose: k.purpose.clone(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

impl SiteNotices {
    pub fn build(site: &Site) -> SiteNotices {
        let p = &site.policy;
        let policy = PolicyDoc {
            kind: "policy",
            site: site.id.to_string(),
            site_name: site.name.clone(),
            version: p.version.to_string(),
            last_updated: p.last_updated.clone(),
            controller: p.controller.clone(),
            address: p.address.clone(),
            contact_email: p.contact_email.clone(),
            dpo_email: p.dpo_email.clone(),
            log_retention_days: p.log_retention_days,
            event_retention_days: p.event_retention_days,
            inactivity_deletion_months: p.inactivity_deletion_months,
            consent_max_age_days: site.consent_max_age_days,
            reject_max_age_days: site.reject_max_age_days,
            categories: i18n::LANGUAGES
                .iter()
                .map(|l| (*l, categories(site, l)))
                .collect(),
        };
        let banners = i18n::LANGUAGES
            .iter()
            .map(|l| {
                let doc = BannerDoc {
                    kind: "banner",
                    site: site.id.to_string(),
                    language: l,
                    policy_version: p.version.to_string(),
                    texts: i18n::texts(l).collect(),
                    categories: categories(site, l),
                };
                (*l, Archived::new(doc))
            })
            .collect();
        SiteNotices {
            policy: Archived::new(policy),
            banners,
        }
    }
}
