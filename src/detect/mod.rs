//! Passive cookie and tracker detection: what the banner script sees on a site's pages (the
//! names of the cookies a page can read, the hosts of its third-party scripts and frames),
//! aggregated per site and day, and the report of what the site did not declare.
//!
//! Invariants:
//! - No cookie value, consent id, query string or address is ever part of a sighting: the
//!   script sends names and hosts only (a cookie without a name is not sent: its "name" would
//!   be its value), and a part of a name, host label or path segment that looks like it
//!   carries an id is stored as `*` (`star_ids`). Times are kept to the hour, so a sighting
//!   cannot be matched to one page view of a visitor.
//! - A sighting is a hint for the site's owner, not proof: anyone can send one, so a report
//!   is bounded (names, hosts, lengths), and a site-day keeps at most `MAX_ROWS_PER_DAY` rows.
//! - Whether something is declared, its category and whether a sighting is a violation are
//!   decided when the report is asked for, from the settings in force: the stored rows hold
//!   only what was seen and which categories were granted when it was.
//!
//! Pure logic: no storage, HTTP or JSON.

pub mod catalogue;
pub mod findings;

use crate::domain::Timestamp;
use crate::domain::ids::CategoryId;

/// The most cookie names, and the most hosts, one page report holds.
pub const MAX_PER_REPORT: usize = 60;
/// The longest cookie name, in bytes.
pub const MAX_NAME: usize = 100;
/// The longest host name, in bytes.
pub const MAX_HOST: usize = 253;
/// The longest path kept, in bytes.
pub const MAX_PATH: usize = 300;
/// The most distinct pages a row remembers.
pub const MAX_PAGES: usize = 10;
/// The most path segments kept; the rest of a path becomes `/*`.
pub const MAX_SEGMENTS: usize = 3;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The most rows (kind, name, granted categories) a site keeps for one day.
pub const MAX_ROWS_PER_DAY: usize = 2_000;

/// What was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SightingKind {
    /// A cookie the page could read (`document.cookie`).
    Cookie,
    /// A host serving a script or a frame of the page, other than the site's and Consentry's.
    Host,
}

impl SightingKind {
    pub fn name(self) -> &'static str {
        match self {
            SightingKind::Cookie => "cookie",
            SightingKind::Host => "host",
        }
    }

    pub fn code(self) -> u8 {
        match self {
            SightingKind::Cookie => 0,
            SightingKind::Host => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<SightingKind> {
        match code {
            0 => Some(SightingKind::Cookie),
            1 => Some(SightingKind::Host),
            _ => None,
        }
    }
}

/// One page's report, checked: what was seen, on which page, and which of the site's
/// categories the visitor had granted then (none: before consent, or after a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageReport {
    /// The hour it came in (its start).
    pub at: Timestamp,
    pub path: String,
    pub seen: Vec<(SightingKind, String)>,
    /// Sorted, each a category of the site that is not required.
    pub granted: Vec<CategoryId>,
}

/// What a store keeps of a site's day: one row per cookie or host and per set of granted
/// categories it was seen under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingRow {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub kind: SightingKind,
    pub name: String,
    /// The granted categories of the reports counted here (`granted_key`).
    pub granted: String,
    pub first: Timestamp,
    pub last: Timestamp,
    /// How many page reports held it.
    pub reports: u64,
    /// Distinct pages it was seen on, at most `MAX_PAGES`, first seen first.
    pub pages: Vec<String>,
}

impl SightingRow {
    /// The row a first report makes.
    pub fn first(report: &PageReport, kind: SightingKind, name: &str) -> SightingRow {
        SightingRow {
            day: report.day(),
            kind,
            name: name.to_owned(),
            granted: granted_key(&report.granted),
            first: report.at,
            last: report.at,
            reports: 1,
            pages: vec![report.path.clone()],
        }
    }

    /// Counts one more report of the same day, kind, name and granted categories.
    pub fn add(&mut self, report: &PageReport) {
        self.first = self.first.min(report.at);
        self.last = self.last.max(report.at);
        self.reports += 1;
        if self.pages.len() < MAX_PAGES && !self.pages.contains(&report.path) {
            self.pages.push(report.path.clone());
        }
    }
}

/// A report as sent, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct RawReport {
    pub path: String,
    pub cookies: Vec<String>,
    pub hosts: Vec<String>,
    pub granted: Vec<String>,
}

/// Why a report was refused: always the sender's to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError(pub String);

/// What a report is checked against: the site's optional categories and its own hosts.
pub struct SiteView<'a> {
    /// The categories that are not required.
    pub optional: &'a [CategoryId],
    /// The hosts of the site's origins: scripts from them (or their subdomains) are its own,
    /// not third-party.
    pub own_hosts: &'a [String],
}

impl PageReport {
    /// Checks a report against the site. Names and hosts that cannot be a cookie's or a host's
    /// are left out, and so are the site's own hosts; granted ids that are not an optional
    /// category of the site are ignored.
    pub fn parse(
        raw: RawReport,
        at: Timestamp,
        site: &SiteView,
    ) -> Result<PageReport, ReportError> {
        if !raw.path.starts_with('/') {
            return Err(ReportError(
                "`path` must be a page path starting with `/`".into(),
            ));
        }
        if raw.cookies.len() > MAX_PER_REPORT || raw.hosts.len() > MAX_PER_REPORT {
            return Err(ReportError(format!(
                "a report holds at most {MAX_PER_REPORT} cookie names and {MAX_PER_REPORT} hosts"
            )));
        }
        let mut seen: Vec<(SightingKind, String)> = Vec::new();
        for name in raw.cookies.iter().filter(|n| is_cookie_name(n)) {
            seen.push((SightingKind::Cookie, cookie_name(name)));
        }
        let own = |h: &str| site.own_hosts.iter().any(|o| is_under(h, o));
        for host in raw
            .hosts
            .iter()
            .filter_map(|h| host_name(h))
            .filter(|h| !own(h))
        {
            seen.push((SightingKind::Host, star_ids(&host, &['.', '-'])));
        }
        seen.sort();
        seen.dedup();
        let mut granted: Vec<CategoryId> = site
            .optional
            .iter()
            .filter(|c| raw.granted.iter().any(|g| g == c.as_str()))
            .cloned()
            .collect();
        granted.sort();
        Ok(PageReport {
            at: Timestamp(at.0 - at.0.rem_euclid(HOUR_MS)),
            path: page_path(&raw.path),
            seen,
            granted,
        })
    }
}

impl PageReport {
    /// The day (since the epoch, UTC) it belongs to.
    pub fn day(&self) -> i64 {
        self.at.0.div_euclid(DAY_MS)
    }
}

/// The granted categories as one key: sorted ids joined by commas (`""`: none granted).
pub fn granted_key(granted: &[CategoryId]) -> String {
    granted
        .iter()
        .map(CategoryId::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A cookie name as a browser can hold one: printable ASCII without separators, at most
/// `MAX_NAME` bytes.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;\\\"/[]?={}".contains(&b))
}

/// Whether `host` is `domain` or one of its subdomains.
pub fn is_under(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// A host name, lower-cased: letters, digits, dots and dashes, with a dot (or `localhost`).
pub fn host_name(raw: &str) -> Option<String> {
    let h = raw.trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= MAX_HOST
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && (h.contains('.') || h == "localhost");
    ok.then_some(h)
}

/// The path with its query and fragment cut, each segment that looks like an id written `*`,
/// at most `MAX_SEGMENTS` segments (the rest `/*`) and `MAX_PATH` bytes.
fn page_path(raw: &str) -> String {
    let path = raw.split(['?', '#']).next().unwrap_or("/");
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        if i == MAX_SEGMENTS {
            out.push('*');
            break;
        }
        out.push_str(if looks_like_id(segment) { "*" } else { segment });
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.len() > MAX_PATH {
        let mut cut = MAX_PATH;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// A cookie name as it is kept: its id-like parts (between `_ - . :`) written `*`. Declared
/// names are compared in the same form, so a declared `_ga_2X3Y4Z5W` is the stored `_ga_*`.
pub fn cookie_name(raw: &str) -> String {
    star_ids(raw, &['_', '-', '.', ':'])
}

/// `text` with every part between `separators` that looks like an id replaced by `*`
/// (`wp_user_48213` → `wp_user_*`, `_ga_2X3Y4Z5W` → `_ga_*`, `u81723.cdn.example` →
/// `*.cdn.example`).
pub fn star_ids(text: &str, separators: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut part = String::new();
    let flush = |part: &mut String, out: &mut String| {
        if looks_like_id(part) {
            out.push('*');
        } else {
            out.push_str(part);
        }
        part.clear();
    };
    for c in text.chars() {
        if separators.contains(&c) {
            flush(&mut part, &mut out);
            out.push(c);
        } else {
            part.push(c);
        }
    }
    flush(&mut part, &mut out);
    out
}

/// Whether a part may carry an id: digits without letters (`42`, `2024`), an `@` (an
/// address), or six or more characters mixing letters and digits (a hash, a UUID, a session
/// token). A name in letters alone is kept: it cannot be told from a word.
fn looks_like_id(part: &str) -> bool {
    let digits = part.chars().filter(char::is_ascii_digit).count();
    let letters = part.chars().filter(|c| c.is_alphabetic()).count();
    part.contains('@')
        || (digits > 0 && letters == 0)
        || (part.chars().count() >= 6 && digits > 0 && letters > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: &str) -> CategoryId {
        CategoryId::parse(id).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ids_in_names_hosts_and_paths_become_stars_and_the_rest_is_kept() {
        let c = ['_', '-', '.', ':'];
        assert_eq!(star_ids("wp_user_48213", &c), "wp_user_*");
        assert_eq!(star_ids("wp-settings-42", &c), "wp-settings-*");
        assert_eq!(star_ids("_ga_2X3Y4Z5W", &c), "_ga_*");
        assert_eq!(star_ids("_ga", &c), "_ga");
        assert_eq!(
            star_ids("intercom-session-abc12def", &c),
            "intercom-session-*"
        );
        assert_eq!(star_ids("_gat_UA-2024", &c), "_gat_UA-*");
        assert_eq!(star_ids("u81723.cdn.example", &['.']), "*.cdn.example");
        assert_eq!(
            star_ids("d1a2b3c4e5.cloudfront.net", &['.']),
            "*.cloudfront.net"
        );
        assert_eq!(
            page_path("/orders/98765/items?token=secret#x"),
            "/orders/*/items"
        );
        assert_eq!(
            page_path("/orders/550e8400-e29b-41d4-a716-446655440000"),
            "/orders/*"
        );
        assert_eq!(
            page_path("/unsubscribe/jane.doe@example.com"),
            "/unsubscribe/*"
        );
        assert_eq!(page_path("/blog/2024-review"), "/blog/*");
        assert_eq!(page_path("/a/b/c/d/e"), "/a/b/c/*");
        assert_eq!(page_path("/pricing"), "/pricing");
        assert_eq!(page_path("/"), "/");
    }

    #[test]
    fn a_report_keeps_names_and_hosts_only_and_the_sites_optional_categories() {
        let raw = RawReport {
            path: "/shop?session=abc".into(),
            cookies: vec!["_ga".into(), "bad name".into(), "x=1".into(), "_ga".into()],
            hosts: vec![
                "WWW.GoogleTagManager.com".into(),
                "http://evil".into(),
                "nodot".into(),
                "cdn.shop.example".into(),
                "shop.example".into(),
            ],
            granted: vec!["marketing".into(), "necessary".into(), "bogus".into()],
        };
        let optional = [cat("analytics"), cat("marketing")];
        let own_hosts = ["shop.example".to_owned()];
        let site = SiteView {
            optional: &optional,
            own_hosts: &own_hosts,
        };
        let r = PageReport::parse(raw, Timestamp(3_600_000 + 5), &site)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.at, Timestamp(3_600_000), "kept to the hour");
        assert_eq!(r.path, "/shop");
        assert_eq!(
            r.seen,
            [
                (SightingKind::Cookie, "_ga".to_owned()),
                (SightingKind::Host, "www.googletagmanager.com".to_owned()),
            ]
        );
        assert_eq!(r.granted, [cat("marketing")]);
        assert_eq!(granted_key(&r.granted), "marketing");
        let bad = RawReport {
            path: "shop".into(),
            ..RawReport::default()
        };
        assert!(PageReport::parse(bad, Timestamp(5), &site).is_err());
    }
}
