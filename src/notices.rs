//! The notices a visitor is shown, as archived documents with content hashes.
//!
//! A decision's ledger entry names the hash of the policy and of the banner texts the visitor
//! saw; the documents are archived under those hashes (the `notices` tree) so every version
//! stays retrievable as proof of what was shown.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::variant::Variant;
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

/// What the banner shows in one language (in one variant, when the site runs an experiment).
#[derive(Debug, Clone, Serialize)]
pub struct BannerDoc {
    pub kind: &'static str,
    pub site: String,
    pub language: &'static str,
    pub policy_version: String,
    pub texts: BTreeMap<&'static str, String>,
    pub categories: Vec<CategoryDoc>,
    /// Absent for the banner without a variant, whose document is as it was before
    /// experiments existed (and so keeps its hash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<VariantDoc>,
}

/// What a variant changes besides texts: its name, layout and the order of the first layer.
#[derive(Debug, Clone, Serialize)]
pub struct VariantDoc {
    pub name: String,
    pub layout: &'static str,
    pub buttons: [&'static str; 3],
}

impl VariantDoc {
    fn of(v: &Variant) -> VariantDoc {
        VariantDoc {
            name: v.name.to_string(),
            layout: v.layout.as_str(),
            buttons: v.first_layer.buttons().map(|b| b.as_str()),
        }
    }
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

/// The banner's documents by language.
pub type Banners = BTreeMap<&'static str, Archived<BannerDoc>>;

/// A site's notices.
#[derive(Debug, Clone)]
pub struct SiteNotices {
    pub policy: Archived<PolicyDoc>,
    /// The banner without a variant.
    pub banners: Banners,
    /// Each variant's banner, by variant name.
    pub variants: BTreeMap<String, Banners>,
}

fn in_language<'a>(banners: &'a Banners, language: &str) -> Option<&'a Archived<BannerDoc>> {
    banners.get(language).or_else(|| banners.get("en"))
}

impl SiteNotices {
    /// The banner without a variant in `language` (else English).
    pub fn banner(&self, language: &str) -> Option<&Archived<BannerDoc>> {
        in_language(&self.banners, language)
    }

    /// The banner of `variant` (none: the banner without a variant) in `language`.
    pub fn banner_of(&self, variant: Option<&str>, language: &str) -> Option<&Archived<BannerDoc>> {
        match variant {
            None => self.banner(language),
            Some(name) => in_language(self.variants.get(name)?, language),
        }
    }

    /// Every document with its hash, for the archive.
    pub fn documents(&self) -> Vec<(EntryHash, Vec<u8>)> {
        let mut out = vec![(self.policy.hash, self.policy.bytes.clone())];
        let banners = self.variants.values().chain([&self.banners]);
        out.extend(banners.flat_map(|b| b.values().map(|b| (b.hash, b.bytes.clone()))));
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
        SiteNotices {
            policy: Archived::new(policy),
            banners: banners(site, None),
            variants: site
                .experiment
                .variants()
                .iter()
                .map(|v| (v.name.to_string(), banners(site, Some(v))))
                .collect(),
        }
    }
}

/// The banner's documents in every language, with a variant's texts over the banner's own.
fn banners(site: &Site, variant: Option<&Variant>) -> Banners {
    i18n::LANGUAGES
        .iter()
        .map(|l| {
            let own = variant.and_then(|v| v.texts.get(*l));
            let texts = i18n::texts(l)
                .map(|(key, text)| {
                    let text = own.and_then(|t| t.get(key)).map_or(text, String::as_str);
                    (key, text.to_owned())
                })
                .collect();
            let doc = BannerDoc {
                kind: "banner",
                site: site.id.to_string(),
                language: l,
                policy_version: site.policy.version.to_string(),
                texts,
                categories: categories(site, l),
                variant: variant.map(VariantDoc::of),
            };
            (*l, Archived::new(doc))
        })
        .collect()
}
