//! The server's own origins, and whether a request came from one of them.
//!
//! An origin is `scheme://host[:port]`, compared exactly with what browsers send in `Origin`
//! (lower case, default port left out). The server's own origins come from configuration
//! (`public_url`), or, without it, from the address it listens on; the request's `Host` header
//! is never consulted, so a DNS-rebinding page (`Host: evil.example`, `Origin:
//! http://evil.example`) is foreign like any other.

use std::net::SocketAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

/// The origins this server's own pages are served from.
#[derive(Debug, Clone)]
pub struct OwnOrigins(Vec<String>);

impl OwnOrigins {
    /// `public` when configured; else the bound address, with `localhost` beside a loopback
    /// address and both loopback names beside an unspecified one (`0.0.0.0`).
    pub fn new(public: Option<&str>, bound: SocketAddr) -> OwnOrigins {
        if let Some(origin) = public {
            return OwnOrigins(vec![origin.to_owned()]);
        }
        let port = bound.port();
        let ip = bound.ip();
        let mut out = Vec::new();
        if ip.is_unspecified() {
            out.push(format!("http://127.0.0.1:{port}"));
            out.push(format!("http://[::1]:{port}"));
        } else {
            out.push(format!("http://{bound}"));
        }
        if ip.is_loopback() || ip.is_unspecified() {
            out.push(format!("http://localhost:{port}"));
        }
        OwnOrigins(out)
    }

    pub fn contains(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == origin)
    }

    /// The first: where links to this server's pages point.
    pub fn primary(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or_default()
    }

    /// Whether `url` (a `Referer`) is a page of one of these origins.
    fn is_own_page(&self, url: &str) -> bool {
        self.0.iter().any(|o| {
            url.strip_prefix(o.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Where a request came from, as far as the browser says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// From a page of this server.
    Own,
    /// From a page of another origin (a site's, or anyone's).
    Foreign,
    /// Nothing says: no `Origin`, no `Referer`, no `Sec-Fetch-Site` (a script, not a browser).
    Unknown,
}

/// Where `req` came from: `Origin` first, then `Sec-Fetch-Site`, then `Referer`.
pub fn provenance(own: &OwnOrigins, req: &HttpRequest) -> Provenance {
    if let Some(origin) = header_text(req, header::ORIGIN) {
        return if own.contains(origin) {
            Provenance::Own
        } else {
            Provenance::Foreign
        };
    }
    match header_text(req, header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin") => return Provenance::Own,
        Some("cross-site" | "same-site") => return Provenance::Foreign,
        _ => {}
    }
    match header_text(req, header::REFERER) {
        Some(url) if own.is_own_page(url) => Provenance::Own,
        Some(_) => Provenance::Foreign,
        None => Provenance::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn own() -> OwnOrigins {
        OwnOrigins::new(None, "127.0.0.1:8080".parse().unwrap())
    }

    #[test]
    fn the_own_origins_come_from_configuration_and_never_from_the_host_header() {
        let own = own();
        assert!(own.contains("http://127.0.0.1:8080"));
        assert!(own.contains("http://localhost:8080"));
        assert!(!own.contains("https://127.0.0.1:8080"), "the scheme counts");
        assert!(!own.contains("evil://127.0.0.1:8080"));
        assert!(!own.contains("http://127.0.0.1:8081"), "the port counts");
        let req = TestRequest::default()
            .insert_header(("host", "evil.example"))
            .insert_header(("origin", "http://evil.example"))
            .to_http_request();
        assert_eq!(provenance(&own, &req), Provenance::Foreign);
        let public = OwnOrigins::new(
            Some("https://consent.example.org"),
            "0.0.0.0:80".parse().unwrap(),
        );
        assert!(public.contains("https://consent.example.org"));
        assert!(!public.contains("http://127.0.0.1:80"));
    }

    #[test]
    fn a_request_without_origin_is_placed_by_fetch_metadata_then_by_its_referer() {
        let own = own();
        let fetch = |k: &str, v: &str| {
            provenance(
                &own,
                &TestRequest::default()
                    .insert_header((k, v))
                    .to_http_request(),
            )
        };
        assert_eq!(fetch("sec-fetch-site", "same-origin"), Provenance::Own);
        assert_eq!(fetch("sec-fetch-site", "cross-site"), Provenance::Foreign);
        assert_eq!(
            fetch("referer", "http://127.0.0.1:8080/sites/demo/policy"),
            Provenance::Own
        );
        assert_eq!(
            fetch("referer", "http://127.0.0.1:8080.evil.example/"),
            Provenance::Foreign
        );
        assert_eq!(
            provenance(&own, &TestRequest::default().to_http_request()),
            Provenance::Unknown
        );
    }
}
