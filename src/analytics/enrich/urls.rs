//! Page URL helpers: UTM tags, page path and host.

use url::Url;
use url::form_urlencoded;

use super::{MAX_URL_BYTES, truncate_bytes};

/// The longest UTM value kept, in characters.
const MAX_UTM_CHARS: usize = 100;

/// The longest page path kept, in bytes (paths are ASCII after percent-encoding).
const MAX_PATH_BYTES: usize = 512;

/// The campaign tags of a page URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    /// The `utm_source` tag.
    pub source: Option<String>,
    /// The `utm_medium` tag.
    pub medium: Option<String>,
    /// The `utm_campaign` tag.
    pub campaign: Option<String>,
}

/// Reads `utm_source`, `utm_medium` and `utm_campaign` from a URL's query.
///
/// Values are percent-decoded, stripped of control characters, trimmed,
/// lower-cased and cut to 100 characters; empty values count as absent. The
/// first occurrence of each tag wins, keys match case-insensitively, and
/// relative URLs such as `/?utm_source=x` work too.
pub fn utm(url: &str) -> Utm {
    let mut tags = Utm::default();
    if url.len() > MAX_URL_BYTES {
        return tags;
    }
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let Some((_, query)) = without_fragment.split_once('?') else {
        return tags;
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = if key.eq_ignore_ascii_case("utm_source") {
            &mut tags.source
        } else if key.eq_ignore_ascii_case("utm_medium") {
            &mut tags.medium
        } else if key.eq_ignore_ascii_case("utm_campaign") {
            &mut tags.campaign
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = clean_tag(&value);
        }
    }
    tags
}

/// Normalizes one UTM value, returning `None` when nothing is left.
fn clean_tag(value: &str) -> Option<String> {
    let lowered: String = value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(char::to_lowercase)
        .collect();
    let cut: String = lowered.trim().chars().take(MAX_UTM_CHARS).collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

/// The page path of an http(s) URL, without query or fragment.
///
/// The path stays percent-encoded (so equivalent spellings collapse), is cut
/// to 512 bytes without splitting an escape, and is "/" when empty. Returns
/// `None` for other schemes and unparsable or oversized URLs.
pub fn page_path(url: &str) -> Option<String> {
    let parsed = parse_bounded(url)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let full = parsed.path();
    let mut path = truncate_bytes(full, MAX_PATH_BYTES);
    if path.len() < full.len() {
        // Drops an escape sequence cut in half by the truncation.
        let tail_start = path.len().saturating_sub(2);
        if let Some(percent) = path.get(tail_start..).and_then(|tail| tail.find('%')) {
            path = &path[..tail_start + percent];
        }
    }
    if path.is_empty() {
        Some("/".to_owned())
    } else {
        Some(path.to_owned())
    }
}

/// The host of a URL, lower-cased, without port or trailing dot.
///
/// IPv6 hosts keep their brackets. Returns `None` for unparsable or oversized
/// URLs and URLs without a host.
pub fn host(url: &str) -> Option<String> {
    let parsed = parse_bounded(url)?;
    let host = parsed
        .host_str()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Parses an absolute URL unless it exceeds [`MAX_URL_BYTES`].
fn parse_bounded(url: &str) -> Option<Url> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES {
        return None;
    }
    Url::parse(url).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn utm_tags_are_decoded_trimmed_and_lower_cased() {
        let tags = utm(
            "https://example.com/?utm_source=News%20Letter&utm_medium=+Email+&utm_campaign=Spring%2D2024#top",
        );
        assert_eq!(tags.source, some("news letter"));
        assert_eq!(tags.medium, some("email"));
        assert_eq!(tags.campaign, some("spring-2024"));
    }

    #[test]
    fn utm_tags_are_cut_to_one_hundred_characters() {
        let long = "é".repeat(150);
        let tags = utm(&format!("https://example.com/?utm_campaign={long}"));
        assert_eq!(tags.campaign.map(|c| c.chars().count()), Some(100));
    }

    #[test]
    fn missing_empty_and_duplicate_utm_tags_are_handled() {
        assert_eq!(utm("https://example.com/"), Utm::default());
        assert_eq!(
            utm("https://example.com/?utm_source=&utm_medium=%20"),
            Utm::default()
        );
        let tags = utm("https://example.com/?utm_source=first&utm_source=second");
        assert_eq!(tags.source, some("first"));
        let tags = utm("https://example.com/?UTM_Source=Upper");
        assert_eq!(tags.source, some("upper"));
    }

    #[test]
    fn utm_tags_in_the_fragment_are_ignored() {
        assert_eq!(utm("https://example.com/#x?utm_source=a"), Utm::default());
    }

    #[test]
    fn utm_tags_are_read_from_relative_urls() {
        assert_eq!(utm("/pricing?utm_medium=cpc").medium, some("cpc"));
    }

    #[test]
    fn malformed_utm_queries_do_not_panic() {
        for bad in [
            "?",
            "?&&&",
            "?utm_source",
            "?utm_source=%",
            "?utm_source=%zz%",
            "?=x",
            "?utm_source=%00%07ok",
        ] {
            let _ = utm(bad);
        }
        assert_eq!(utm("?utm_source=%zz").source, some("%zz"));
        assert_eq!(utm("?utm_source=%00%07ok").source, some("ok"));
    }

    #[test]
    fn page_paths_drop_query_and_fragment() {
        assert_eq!(page_path("https://example.com/a/b?x=1#top"), some("/a/b"));
        assert_eq!(page_path("https://example.com"), some("/"));
        assert_eq!(page_path("http://example.com/./a/../b/"), some("/b/"));
        assert_eq!(page_path("HTTPS://EXAMPLE.COM/CaseKept"), some("/CaseKept"));
        assert_eq!(page_path("https://example.com/café"), some("/caf%C3%A9"));
        assert_eq!(page_path("https://example.com/100%"), some("/100%"));
    }

    #[test]
    fn page_paths_are_bounded_without_splitting_escapes() {
        let path =
            page_path(&format!("https://example.com/{}", "a".repeat(600))).unwrap_or_default();
        assert_eq!(path.len(), 512);
        let path =
            page_path(&format!("https://example.com/{}é", "a".repeat(510))).unwrap_or_default();
        assert_eq!(path, format!("/{}", "a".repeat(510)));
        let path =
            page_path(&format!("https://example.com/{}é", "a".repeat(509))).unwrap_or_default();
        assert_eq!(path, format!("/{}", "a".repeat(509)));
    }

    #[test]
    fn page_paths_require_http_or_https() {
        for bad in [
            "ftp://example.com/a",
            "file:///etc/passwd",
            "/relative",
            "",
            "javascript:x",
            "https://",
        ] {
            assert_eq!(page_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hosts_are_lower_cased_without_port() {
        assert_eq!(
            host("https://WWW.Example.com:8443/a"),
            some("www.example.com")
        );
        assert_eq!(host("http://example.com./"), some("example.com"));
        assert_eq!(host("http://[::1]:8080/"), some("[::1]"));
        assert_eq!(host("mailto:someone@example.com"), None);
        assert_eq!(host("example.com"), None);
        assert_eq!(host(""), None);
    }
}
