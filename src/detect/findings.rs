//! From stored sightings to the report a site's owner reads: each cookie or host seen, whether
//! the site declared it (and in which category), what the catalogue suggests, whether it was
//! seen while its category was not granted, and the settings lines that would declare it.

use std::collections::BTreeMap;

use super::catalogue::{self, Entry};
use super::{SightingKind, SightingRow};
use crate::domain::Timestamp;
use crate::domain::glob::Glob;
use crate::domain::site::Site;

/// Where the site declared a cookie or host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub category: String,
    pub service: String,
}

/// One cookie or host over the report's days.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: SightingKind,
    pub name: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Page reports that held it.
    pub reports: u64,
    pub pages: Vec<String>,
    pub declared: Option<Declared>,
    pub suggestion: Option<&'static Entry>,
    /// Reports made while its category was not granted (for a category no one knows, or one
    /// the site does not have: while nothing was granted, that is before consent or after a
    /// refusal).
    pub unconsented: u64,
    /// Seen while its (declared or suggested) category was not granted. Never for a category
    /// that is required.
    pub violation: bool,
}

impl Finding {
    /// Whether a report lists it: undeclared or flagged ones, or every one with `all`.
    pub fn listed(&self, all: bool) -> bool {
        all || self.declared.is_none() || self.violation
    }

    /// The category the judgement uses: the declared one, else the suggested one.
    pub fn category(&self) -> Option<&str> {
        self.declared
            .as_ref()
            .map(|d| d.category.as_str())
            .or_else(|| self.suggestion.map(Entry::suggested_category))
    }
}

/// The name of the cookie the banner itself keeps (the visitor's consent id): always a part
/// of the required category, declared or not.
pub const OWN_COOKIE: &str = "consentry";

/// Every cookie and host of `rows`, judged against the site's declarations; undeclared ones
/// and violations first, then by reports.
pub fn findings(site: &Site, rows: &[SightingRow]) -> Vec<Finding> {
    let mut by_name: BTreeMap<(SightingKind, &str), Vec<&SightingRow>> = BTreeMap::new();
    for r in rows {
        by_name
            .entry((r.kind, r.name.as_str()))
            .or_default()
            .push(r);
    }
    let mut out: Vec<Finding> = by_name
        .into_iter()
        .map(|((kind, name), rows)| finding(site, kind, name, &rows))
        .collect();
    out.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.declared.is_some() && !f.violation,
                std::cmp::Reverse(f.reports),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    out
}

fn finding(site: &Site, kind: SightingKind, name: &str, rows: &[&SightingRow]) -> Finding {
    let declared = match kind {
        SightingKind::Cookie => declared_cookie(site, name),
        SightingKind::Host => declared_host(site, name),
    };
    let suggestion = match kind {
        SightingKind::Cookie => catalogue::cookie(name),
        SightingKind::Host => catalogue::host(name),
    };
    let mut pages: Vec<String> = Vec::new();
    for p in rows.iter().flat_map(|r| &r.pages) {
        if pages.len() < super::MAX_PAGES && !pages.contains(p) {
            pages.push(p.clone());
        }
    }
    let mut f = Finding {
        kind,
        name: name.to_owned(),
        first_seen: rows.iter().map(|r| r.first).min().unwrap_or(Timestamp(0)),
        last_seen: rows.iter().map(|r| r.last).max().unwrap_or(Timestamp(0)),
        reports: rows.iter().map(|r| r.reports).sum(),
        pages,
        declared,
        suggestion,
        unconsented: 0,
        violation: false,
    };
    let required = |c: &str| site.category(c).is_some_and(|c| c.required) || c == "necessary";
    let optional = |c: &str| site.category(c).is_some_and(|c| !c.required);
    f.unconsented = match f.category() {
        Some(c) if required(c) => 0,
        Some(c) if optional(c) => rows
            .iter()
            .filter(|r| !r.granted.split(',').any(|g| g == c))
            .map(|r| r.reports)
            .sum(),
        // No category, or one the site does not have (no visitor can grant it): flagged only
        // where nothing was granted.
        _ => rows
            .iter()
            .filter(|r| r.granted.is_empty())
            .map(|r| r.reports)
            .sum(),
    };
    f.violation = f.unconsented > 0;
    f
}

fn declared_cookie(site: &Site, name: &str) -> Option<Declared> {
    if name == OWN_COOKIE {
        let required = site.categories.iter().find(|c| c.required)?;
        return Some(Declared {
            category: required.id.to_string(),
            service: "Consentry".into(),
        });
    }
    site.categories.iter().find_map(|c| {
        c.services.iter().find_map(|s| {
            s.cookies
                .iter()
                .any(|k| Glob::new(&super::cookie_name(&k.name)).matches(name))
                .then(|| Declared {
                    category: c.id.to_string(),
                    service: s.name.clone(),
                })
        })
    })
}

fn declared_host(site: &Site, host: &str) -> Option<Declared> {
    site.categories.iter().find_map(|c| {
        c.services.iter().find_map(|s| {
            s.hosts
                .iter()
                .any(|h| super::is_under(host, h))
                .then(|| Declared {
                    category: c.id.to_string(),
                    service: s.name.clone(),
                })
        })
    })
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The settings lines that would declare an undeclared finding: a service under the suggested
/// category (or one to choose), with the cookie or host in it.
pub fn declaration(site: &Site, f: &Finding) -> String {
    let category = f.category().unwrap_or("CHOOSE-A-CATEGORY");
    let exists = site.category(category).is_some();
    let mut lines = vec![format!(
        "# in [[sites]] id = {}, under the [[sites.categories]] with id = {}{}",
        quoted(site.id.as_str()),
        quoted(category),
        if exists { "" } else { " (add that category)" }
    )];
    let (service, provider, purpose) = match f.suggestion {
        Some(e) => (
            e.platform.as_str(),
            if e.controller.is_empty() {
                "WHO PROVIDES IT"
            } else {
                e.controller.as_str()
            },
            e.description.as_str(),
        ),
        None => (f.name.as_str(), "WHO PROVIDES IT", "WHAT IT IS FOR"),
    };
    lines.push("[[sites.categories.services]]".into());
    lines.push(format!("name = {}", quoted(service)));
    lines.push(format!("provider = {}", quoted(provider)));
    lines.push(format!("purpose = {}", quoted(purpose)));
    match f.kind {
        SightingKind::Cookie => {
            let duration = f
                .suggestion
                .map_or("HOW LONG IT IS KEPT", |e| e.retention.as_str());
            let name = match f.suggestion {
                Some(e) if e.prefix => format!("{}*", e.name),
                _ => f.name.clone(),
            };
            lines.push(format!(
                "cookies = [{{ name = {}, duration = {}, purpose = {} }}]",
                quoted(&name),
                quoted(duration),
                quoted(purpose)
            ));
        }
        SightingKind::Host => lines.push(format!("hosts = [{}]", quoted(&f.name))),
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::site::CookieDecl;

    fn row(name: &str, granted: &str) -> SightingRow {
        SightingRow {
            day: 20_000,
            kind: SightingKind::Cookie,
            name: name.into(),
            granted: granted.into(),
            first: Timestamp(0),
            last: Timestamp(0),
            reports: 1,
            pages: vec!["/".into()],
        }
    }

    #[test]
    fn a_declared_name_with_an_id_in_it_matches_the_stored_form_and_is_judged_by_its_category() {
        let mut site = crate::settings::Settings::demo(std::env::temp_dir()).sites[0].clone();
        let marketing = site
            .categories
            .iter_mut()
            .find(|c| c.id.as_str() == "marketing")
            .unwrap_or_else(|| panic!("the demo site has marketing"));
        marketing.services[0].cookies.push(CookieDecl {
            name: "_ga_2X3Y4Z5W".into(),
            duration: "2 years".into(),
            purpose: "x".into(),
        });
        let rows = [
            row("_ga_*", "analytics"),
            row("_ga_*", "analytics,marketing"),
        ];
        let f = &findings(&site, &rows)[0];
        assert_eq!(
            f.declared.as_ref().map(|d| d.category.as_str()),
            Some("marketing")
        );
        assert_eq!((f.reports, f.unconsented, f.violation), (2, 1, true));
        assert!(!f.listed(false) || f.violation);
        let granted = [row("_ga_*", "analytics,marketing")];
        assert!(
            !findings(&site, &granted)[0].listed(false),
            "declared and consented"
        );
    }
}
