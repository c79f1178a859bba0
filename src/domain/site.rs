//! A site as the operator configured it: its categories, the services in each, and its policy.

use std::collections::BTreeMap;

use crate::analytics::goals::Goals;

use super::clock::Timestamp;
use super::ids::{CategoryId, PolicyVersion, SiteId};
use super::jurisdiction::Regime;
use super::variant::Experiment;

/// Text in several languages, with English as the fallback every site must provide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Localized(BTreeMap<String, String>);

impl Localized {
    pub fn new(by_language: BTreeMap<String, String>) -> Localized {
        Localized(by_language)
    }

    pub fn english(text: &str) -> Localized {
        Localized(BTreeMap::from([("en".to_owned(), text.to_owned())]))
    }

    /// The text in `language`, else English, else any.
    pub fn get(&self, language: &str) -> &str {
        self.0
            .get(language)
            .or_else(|| self.0.get("en"))
            .or_else(|| self.0.values().next())
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A cookie (or a family of cookies, when the name ends in `*`) that a service sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieDecl {
    pub name: String,
    pub duration: String,
    pub purpose: String,
}

/// A third party (or first-party tool) that processes data under a category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub provider: String,
    pub purpose: String,
    pub privacy_url: Option<String>,
    pub cookies: Vec<CookieDecl>,
    /// Hosts its scripts and frames are served from (a host covers its subdomains), so that
    /// cookie and tracker detection knows them as declared.
    pub hosts: Vec<String>,
}

/// A purpose the visitor can grant or refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    /// Always granted and not refusable (`necessary`).
    pub required: bool,
    /// Whether an opt-out preference signal (GPC) turns it off: sale, sharing, targeted ads.
    pub sale_or_sharing: bool,
    pub title: Localized,
    pub description: Localized,
    pub services: Vec<Service>,
}

/// The privacy policy a site publishes, versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: PolicyVersion,
    /// `YYYY-MM-DD`.
    pub last_updated: String,
    pub controller: String,
    pub address: String,
    pub contact_email: String,
    pub dpo_email: Option<String>,
    pub log_retention_days: u32,
    pub inactivity_deletion_months: u32,
    pub event_retention_days: u32,
    /// Earlier versions whose consents still count, each with the categories changed
    /// materially since: a consent given under it counts for every other category.
    pub earlier_versions: BTreeMap<PolicyVersion, Vec<CategoryId>>,
    /// A version announced in advance, taking effect at its time.
    pub upcoming: Option<Upcoming>,
}

/// A policy change scheduled ahead: announced until `effective_at`, in force from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    pub version: PolicyVersion,
    pub effective_at: Timestamp,
    /// `YYYY-MM-DD` of `effective_at`, for the page.
    pub effective_date: String,
    /// The categories it changes materially: consents for them must be given again.
    pub material: Vec<CategoryId>,
    /// What changes, in a sentence or two, for the announcement.
    pub summary: String,
}

impl Policy {
    /// Whether a consent given under `version` still counts for `category`.
    pub fn still_covers(&self, version: &PolicyVersion, category: &CategoryId) -> bool {
        if *version == self.version {
            return true;
        }
        self.earlier_versions
            .get(version)
            .is_some_and(|material| !material.contains(category))
    }
}

/// One configured site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    /// Exact origins (`scheme://host[:port]`) allowed to call the browser-facing API.
    pub origins: Vec<String>,
    /// The regime where no privacy law is known to apply.
    pub regime_without_law: Regime,
    pub consent_max_age_days: u32,
    pub reject_max_age_days: u32,
    pub policy: Policy,
    pub categories: Vec<Category>,
    /// Event names whose category is fixed by the site, e.g. `purchase` → `marketing`.
    pub event_categories: BTreeMap<String, CategoryId>,
    /// What the site counts as conversions.
    pub goals: Goals,
    /// Whether the banner reports the cookies and third-party hosts it sees (`detect`).
    pub detect_cookies: bool,
    /// The banner's variants, when the site runs an experiment.
    pub experiment: Experiment,
}

impl Site {
    /// The longest a consent may last: 13 months (CNIL), 395 days.
    pub const MAX_CONSENT_DAYS: u32 = 395;

    /// The site as it will be once its upcoming policy version takes effect: the new version
    /// is current, and consents under every earlier one stop counting for what it changed.
    pub fn after_upcoming_change(&self) -> Option<Site> {
        let up = self.policy.upcoming.as_ref()?;
        let mut next = self.clone();
        let p = &mut next.policy;
        for material in p.earlier_versions.values_mut() {
            for c in &up.material {
                if !material.contains(c) {
                    material.push(c.clone());
                }
            }
        }
        p.earlier_versions
            .insert(p.version.clone(), up.material.clone());
        p.version = up.version.clone();
        p.last_updated = up.effective_date.clone();
        p.upcoming = None;
        Some(next)
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id.as_str() == id)
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}
