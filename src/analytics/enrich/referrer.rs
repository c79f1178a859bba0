//! Referrer classification: registrable domain plus well-known source names.

use url::{Host, Url};

use super::MAX_URL_BYTES;

/// The longest host name accepted, per RFC 1035.
const MAX_HOST_BYTES: usize = 253;

/// The longest Android application id accepted from an `android-app://` referrer.
const MAX_APP_ID_BYTES: usize = 100;

/// Exact hosts whose name differs from what their registrable domain implies.
const WELL_KNOWN_HOSTS: &[(&str, &str)] = &[
    ("news.ycombinator.com", "Hacker News"),
    ("search.brave.com", "Brave Search"),
];

/// Registrable domains with a well-known name.
const WELL_KNOWN_DOMAINS: &[(&str, &str)] = &[
    ("bing.com", "Bing"),
    ("duckduckgo.com", "DuckDuckGo"),
    ("baidu.com", "Baidu"),
    ("ecosia.org", "Ecosia"),
    ("kagi.com", "Kagi"),
    ("startpage.com", "Startpage"),
    ("fb.com", "Facebook"),
    ("fb.me", "Facebook"),
    ("t.co", "X"),
    ("twitter.com", "X"),
    ("x.com", "X"),
    ("lnkd.in", "LinkedIn"),
    ("redd.it", "Reddit"),
    ("youtu.be", "YouTube"),
    ("github.com", "GitHub"),
    ("mastodon.social", "Mastodon"),
    ("bsky.app", "Bluesky"),
    ("pin.it", "Pinterest"),
];

/// Brands recognised under any ICANN public suffix (so `google.co.uk` is Google).
const WELL_KNOWN_LABELS: &[(&str, &str)] = &[
    ("google", "Google"),
    ("yandex", "Yandex"),
    ("yahoo", "Yahoo"),
    ("facebook", "Facebook"),
    ("instagram", "Instagram"),
    ("linkedin", "LinkedIn"),
    ("reddit", "Reddit"),
    ("youtube", "YouTube"),
    ("pinterest", "Pinterest"),
    ("tiktok", "TikTok"),
];

/// Android application ids with a well-known name.
const WELL_KNOWN_APPS: &[(&str, &str)] = &[
    ("com.google.android.gm", "Gmail"),
    (
        "com.google.android.googlequicksearchbox",
        "Google Search app",
    ),
    ("com.google.android.apps.searchlite", "Google Go"),
    ("com.google.android.youtube", "YouTube"),
    ("com.google.android.apps.messaging", "Google Messages"),
    ("com.facebook.katana", "Facebook"),
    ("com.facebook.orca", "Messenger"),
    ("com.instagram.android", "Instagram"),
    ("com.twitter.android", "X"),
    ("com.linkedin.android", "LinkedIn"),
    ("com.reddit.frontpage", "Reddit"),
    ("com.whatsapp", "WhatsApp"),
    ("org.telegram.messenger", "Telegram"),
    ("org.thoughtcrime.securesms", "Signal"),
    ("com.slack", "Slack"),
    ("com.discord", "Discord"),
    ("com.pinterest", "Pinterest"),
    ("com.zhiliaoapp.musically", "TikTok"),
    ("com.microsoft.teams", "Microsoft Teams"),
    ("com.microsoft.office.outlook", "Outlook"),
];

/// Where a visit came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// A well-known name such as "Google" or "Hacker News", otherwise the registrable domain.
    pub name: String,
    /// The registrable domain of the referrer, or the application id for `android-app://` referrers.
    pub referrer_domain: String,
}

/// Classifies a referrer URL.
///
/// Returns `None` for empty, oversized or unparsable referrers, for schemes
/// other than http(s) and `android-app`, for IP-address hosts (so no address
/// is ever returned), and for same-site referrers, whose registrable domain
/// equals that of `own_host`. `own_host` may be a bare host, a host with a
/// port, or a full URL.
pub fn classify_referrer(referrer: &str, own_host: &str) -> Option<Source> {
    let referrer = referrer.trim();
    if referrer.is_empty() || referrer.len() > MAX_URL_BYTES {
        return None;
    }
    let parsed = Url::parse(referrer).ok()?;
    match parsed.scheme() {
        "http" | "https" => web_source(&parsed, own_host),
        "android-app" => app_source(&parsed),
        _ => None,
    }
}

/// Classifies an http(s) referrer.
fn web_source(parsed: &Url, own_host: &str) -> Option<Source> {
    let Host::Domain(raw) = parsed.host()? else {
        return None;
    };
    let host = normalize_host(raw)?;
    let domain = registrable_domain(&host);
    if let Some(own) = own_registrable_domain(own_host)
        && own == domain
    {
        return None;
    }
    let name = well_known_name(&host, &domain).map_or_else(|| domain.clone(), str::to_owned);
    Some(Source {
        name,
        referrer_domain: domain,
    })
}

/// Classifies an `android-app://application.id/` referrer.
fn app_source(parsed: &Url) -> Option<Source> {
    let app = parsed.host_str()?.to_ascii_lowercase();
    let valid = app.len() <= MAX_APP_ID_BYTES
        && app.contains('.')
        && !app.starts_with('.')
        && !app.ends_with('.')
        && app
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
    if !valid {
        return None;
    }
    let name = WELL_KNOWN_APPS
        .iter()
        .find(|(id, _)| *id == app)
        .map_or_else(|| app.clone(), |(_, name)| (*name).to_owned());
    Some(Source {
        name,
        referrer_domain: app,
    })
}

/// Lower-cases a host name and drops a trailing dot; rejects empty or oversized names.
fn normalize_host(raw: &str) -> Option<String> {
    let host = raw.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.len() <= MAX_HOST_BYTES).then_some(host)
}

/// The registrable domain ("eTLD+1") of a host, or the host itself when it has none (e.g. `localhost`).
fn registrable_domain(host: &str) -> String {
    psl::domain_str(host).unwrap_or(host).to_owned()
}

/// The registrable domain of the site's own host, accepting a bare host, `host:port` or a URL.
fn own_registrable_domain(own_host: &str) -> Option<String> {
    let own_host = own_host.trim();
    if own_host.is_empty() || own_host.len() > MAX_URL_BYTES {
        return None;
    }
    let host = if own_host.contains("://") {
        super::host(own_host)?
    } else {
        super::host(&format!("http://{own_host}"))?
    };
    normalize_host(&host).map(|host| registrable_domain(&host))
}

/// The well-known name for a host, if any.
fn well_known_name(host: &str, domain: &str) -> Option<&'static str> {
    let lookup = |table: &[(&str, &'static str)], key: &str| {
        table.iter().find(|(k, _)| *k == key).map(|(_, name)| *name)
    };
    if let Some(name) = lookup(WELL_KNOWN_HOSTS, host) {
        return Some(name);
    }
    if let Some(name) = lookup(WELL_KNOWN_DOMAINS, domain) {
        return Some(name);
    }
    let parsed = psl::domain(domain.as_bytes())?;
    let suffix = parsed.suffix();
    if suffix.typ() != Some(psl::Type::Icann) {
        return None;
    }
    let label = domain
        .as_bytes()
        .strip_suffix(suffix.as_bytes())?
        .strip_suffix(b".")?;
    WELL_KNOWN_LABELS
        .iter()
        .find(|(brand, _)| brand.as_bytes() == label)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shorthand: the (name, domain) pair a referrer classifies as, seen from `example.com`.
    fn source(referrer: &str) -> Option<(String, String)> {
        classify_referrer(referrer, "example.com").map(|s| (s.name, s.referrer_domain))
    }

    fn named(name: &str, domain: &str) -> Option<(String, String)> {
        Some((name.to_owned(), domain.to_owned()))
    }

    #[test]
    fn search_engines_are_named() {
        assert_eq!(
            source("https://www.google.com/"),
            named("Google", "google.com")
        );
        assert_eq!(
            source("https://www.google.co.uk/"),
            named("Google", "google.co.uk")
        );
        assert_eq!(
            source("https://google.de/search?q=x"),
            named("Google", "google.de")
        );
        assert_eq!(
            source("https://www.bing.com/search?q=x"),
            named("Bing", "bing.com")
        );
        assert_eq!(
            source("https://duckduckgo.com/"),
            named("DuckDuckGo", "duckduckgo.com")
        );
        assert_eq!(
            source("https://search.yahoo.com/"),
            named("Yahoo", "yahoo.com")
        );
        assert_eq!(
            source("https://yandex.ru/search/"),
            named("Yandex", "yandex.ru")
        );
        assert_eq!(
            source("https://www.baidu.com/link?url=x"),
            named("Baidu", "baidu.com")
        );
        assert_eq!(
            source("https://www.ecosia.org/"),
            named("Ecosia", "ecosia.org")
        );
        assert_eq!(
            source("https://search.brave.com/search?q=x"),
            named("Brave Search", "brave.com")
        );
        assert_eq!(
            source("https://kagi.com/search?q=x"),
            named("Kagi", "kagi.com")
        );
        assert_eq!(
            source("https://www.startpage.com/"),
            named("Startpage", "startpage.com")
        );
    }

    #[test]
    fn social_networks_are_named() {
        assert_eq!(
            source("https://l.facebook.com/l.php?u=x"),
            named("Facebook", "facebook.com")
        );
        assert_eq!(
            source("https://m.facebook.com/"),
            named("Facebook", "facebook.com")
        );
        assert_eq!(source("https://t.co/abc123"), named("X", "t.co"));
        assert_eq!(
            source("https://twitter.com/someone"),
            named("X", "twitter.com")
        );
        assert_eq!(source("https://x.com/someone"), named("X", "x.com"));
        assert_eq!(
            source("https://www.linkedin.com/feed/"),
            named("LinkedIn", "linkedin.com")
        );
        assert_eq!(source("https://lnkd.in/abc"), named("LinkedIn", "lnkd.in"));
        assert_eq!(
            source("https://old.reddit.com/r/rust/"),
            named("Reddit", "reddit.com")
        );
        assert_eq!(
            source("https://news.ycombinator.com/item?id=1"),
            named("Hacker News", "ycombinator.com")
        );
        assert_eq!(
            source("https://www.youtube.com/watch?v=x"),
            named("YouTube", "youtube.com")
        );
        assert_eq!(source("https://youtu.be/x"), named("YouTube", "youtu.be"));
        assert_eq!(
            source("https://github.com/a/b"),
            named("GitHub", "github.com")
        );
        assert_eq!(
            source("https://mastodon.social/@a"),
            named("Mastodon", "mastodon.social")
        );
        assert_eq!(
            source("https://bsky.app/profile/a"),
            named("Bluesky", "bsky.app")
        );
        assert_eq!(
            source("https://www.instagram.com/"),
            named("Instagram", "instagram.com")
        );
        assert_eq!(
            source("https://www.pinterest.co.uk/"),
            named("Pinterest", "pinterest.co.uk")
        );
        assert_eq!(
            source("https://www.tiktok.com/"),
            named("TikTok", "tiktok.com")
        );
    }

    #[test]
    fn other_sites_are_named_by_registrable_domain() {
        assert_eq!(
            source("https://blog.rust-lang.org/2024/"),
            named("rust-lang.org", "rust-lang.org")
        );
        assert_eq!(
            source("http://www.bbc.co.uk/news"),
            named("bbc.co.uk", "bbc.co.uk")
        );
        assert_eq!(
            source("https://WWW.Example.ORG./x"),
            named("example.org", "example.org")
        );
        assert_eq!(
            source("https://someone.github.io/"),
            named("someone.github.io", "someone.github.io")
        );
        assert_eq!(
            source("https://news.ycombinator.org/"),
            named("ycombinator.org", "ycombinator.org")
        );
    }

    #[test]
    fn brand_labels_under_private_suffixes_are_not_named() {
        assert_eq!(
            source("https://google.github.io/"),
            named("google.github.io", "google.github.io")
        );
    }

    #[test]
    fn same_site_referrers_are_dropped() {
        assert_eq!(
            classify_referrer("https://example.com/a", "example.com"),
            None
        );
        assert_eq!(
            classify_referrer("https://www.example.com/a", "example.com"),
            None
        );
        assert_eq!(
            classify_referrer("https://blog.example.com/", "www.example.com:8443"),
            None
        );
        assert_eq!(
            classify_referrer("https://example.com/", "https://shop.example.com/x"),
            None
        );
        assert_eq!(
            classify_referrer("https://EXAMPLE.com/", "Example.COM"),
            None
        );
        assert!(classify_referrer("https://example.org/", "example.com").is_some());
        assert!(classify_referrer("https://example.com/", "").is_some());
    }

    #[test]
    fn android_app_referrers_name_the_app() {
        assert_eq!(
            source("android-app://com.google.android.gm/"),
            named("Gmail", "com.google.android.gm")
        );
        assert_eq!(
            source("android-app://com.google.android.googlequicksearchbox/https/www.google.com"),
            named(
                "Google Search app",
                "com.google.android.googlequicksearchbox"
            )
        );
        assert_eq!(
            source("android-app://org.example.reader"),
            named("org.example.reader", "org.example.reader")
        );
        assert_eq!(source("android-app://noperiod/"), None);
        assert_eq!(source("android-app://bad%20app.id/"), None);
        assert_eq!(source("android-app:///"), None);
    }

    #[test]
    fn malformed_and_unsupported_referrers_are_dropped() {
        for bad in [
            "",
            "   ",
            "not a url",
            "www.google.com",
            "//www.google.com/",
            "https://",
            "http://[::1",
            "ftp://example.org/",
            "about:blank",
            "chrome-extension://abcdef/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,hi",
        ] {
            assert_eq!(source(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ip_address_referrers_are_never_returned() {
        assert_eq!(source("http://192.168.1.10/admin"), None);
        assert_eq!(source("http://[2001:db8::1]:8080/"), None);
        assert_eq!(source("http://0x7f.1/"), None);
    }

    #[test]
    fn internationalised_domains_are_returned_in_ascii() {
        let found = classify_referrer("https://bücher.de/", "example.com");
        assert_eq!(
            found.map(|s| s.referrer_domain),
            Some("xn--bcher-kva.de".to_owned())
        );
    }

    #[test]
    fn hosts_without_a_public_suffix_are_kept_whole() {
        assert_eq!(
            source("http://localhost:3000/"),
            named("localhost", "localhost")
        );
    }
}
