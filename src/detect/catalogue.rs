//! The bundled cookie catalogue (`third_party/open-cookie-database/cookie-catalogue.tsv`, from
//! the Open Cookie Database, Apache-2.0: see `third_party/open-cookie-database/NOTICE`): what a
//! cookie name or a script's host probably is, to suggest a category for what a site did not
//! declare.

use std::collections::HashMap;
use std::sync::OnceLock;

const TSV: &str = include_str!("../../third_party/open-cookie-database/cookie-catalogue.tsv");

/// One catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The cookie's name, or its prefix when `prefix`.
    pub name: String,
    pub prefix: bool,
    pub platform: String,
    /// The catalogue's category: Functional, Necessary, Security, Analytics, Marketing,
    /// Personalization.
    pub category: String,
    /// Host names the entry's cookies come from.
    pub domains: Vec<String>,
    pub retention: String,
    pub controller: String,
    pub description: String,
}

impl Entry {
    /// The category id a site would usually declare this in.
    pub fn suggested_category(&self) -> &'static str {
        match self.category.as_str() {
            "Analytics" => "analytics",
            "Marketing" => "marketing",
            "Personalization" | "Preferences" => "preferences",
            _ => "necessary",
        }
    }
}

fn parse(tsv: &str) -> Vec<Entry> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [
                name,
                prefix,
                platform,
                category,
                domains,
                retention,
                controller,
                description,
            ] = f[..]
            else {
                return None;
            };
            // A few entries name no platform: the cookie's name stands for it.
            let platform = if platform.is_empty() { name } else { platform };
            Some(Entry {
                name: name.to_owned(),
                prefix: prefix == "1",
                platform: platform.to_owned(),
                category: category.to_owned(),
                domains: domains
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned)
                    .collect(),
                retention: retention.to_owned(),
                controller: controller.to_owned(),
                description: description.to_owned(),
            })
        })
        .collect()
}

/// The catalogue, read once.
pub fn entries() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| parse(TSV))
}

/// The catalogue indexed once: exact names, prefixes (longest first), and entries by domain.
struct Index {
    exact: HashMap<&'static str, &'static Entry>,
    prefixes: Vec<&'static Entry>,
    by_domain: HashMap<&'static str, Vec<&'static Entry>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut i = Index {
            exact: HashMap::new(),
            prefixes: Vec::new(),
            by_domain: HashMap::new(),
        };
        for e in entries() {
            if e.prefix {
                i.prefixes.push(e);
            } else {
                i.exact.entry(e.name.as_str()).or_insert(e);
            }
            for d in &e.domains {
                i.by_domain.entry(d.as_str()).or_default().push(e);
            }
        }
        i.prefixes.sort_by_key(|e| std::cmp::Reverse(e.name.len()));
        i
    })
}

/// The entry for a cookie name: an exact name first, else the longest matching prefix. A
/// name stored with an id part as `*` (`_ga_*`) matches by what comes before the star.
pub fn cookie(name: &str) -> Option<&'static Entry> {
    let i = index();
    let before_star = name.split('*').next().unwrap_or(name);
    i.exact.get(name).copied().or_else(|| {
        i.prefixes
            .iter()
            .copied()
            .find(|e| before_star.starts_with(e.name.as_str()))
    })
}

/// The entry for a host: one whose domains hold the host or its nearest parent (the longest
/// domain wins; among its entries, a marketing one before analytics before the rest, since a
/// suggestion errs toward asking consent).
pub fn host(host: &str) -> Option<&'static Entry> {
    let rank = |e: &Entry| match e.category.as_str() {
        "Marketing" => 2,
        "Analytics" => 1,
        _ => 0,
    };
    let mut rest = host;
    loop {
        if let Some(found) = index().by_domain.get(rest) {
            return found.iter().copied().max_by_key(|e| rank(e));
        }
        rest = rest.split_once('.')?.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_read_whole() {
        assert!(entries().len() > 2_000, "{}", entries().len());
        assert!(
            entries()
                .iter()
                .all(|e| !e.name.is_empty() && !e.platform.is_empty())
        );
    }

    #[test]
    fn well_known_cookies_and_hosts_get_their_category() {
        let ga = cookie("_ga").unwrap_or_else(|| panic!("no _ga"));
        assert_eq!(
            (ga.platform.as_str(), ga.suggested_category()),
            ("Google Analytics", "analytics")
        );
        let ga4 = cookie("_ga_*").unwrap_or_else(|| panic!("no _ga_"));
        assert_eq!(ga4.name, "_ga_");
        let fb = host("connect.facebook.com").map(Entry::suggested_category);
        assert_eq!(fb, Some("marketing"));
        assert!(cookie("no_such_cookie_here").is_none());
        assert!(host("example.org").is_none());
    }
}
