//! `GET /consent.js`: the banner bundle, built and compressed once at start-up.

use std::io::Write;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::script_bundle::build_bundle;
use super::state::AppState;
use crate::domain::EntryHash;

const JS: &str = include_str!("../../static/consent.js");
const CSS: &str = include_str!("../../static/consent.css");

/// The bundle as served: raw, gzip and brotli, with its ETag.
pub struct ScriptBundle {
    pub raw: Vec<u8>,
    pub gzip: Vec<u8>,
    pub brotli: Vec<u8>,
    pub etag: String,
}

impl ScriptBundle {
    pub fn build() -> ScriptBundle {
        let raw = build_bundle(JS, CSS).into_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = match gz.write_all(&raw) {
            Ok(()) => gz.finish().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        if brotli::BrotliCompress(&mut raw.as_slice(), &mut brotli, &params).is_err() {
            brotli.clear();
        }
        let etag = format!("\"{}\"", &EntryHash::of(&raw).hex()[..20]);
        ScriptBundle {
            raw,
            gzip,
            brotli,
            etag,
        }
    }
}

/// Which encoding the client accepts, best first: br, gzip, identity.
fn pick_encoding(accept: &str) -> &'static str {
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut bits = part.split(';');
            let token = bits.next().unwrap_or("").trim();
            let refused = bits.any(|b| {
                let b = b.trim();
                b == "q=0" || b == "q=0.0" || b == "q=0.00" || b == "q=0.000"
            });
            token.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepts("br") {
        "br"
    } else if accepts("gzip") {
        "gzip"
    } else {
        "identity"
    }
}

#[get("/consent.js")]
pub async fn consent_js(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let bundle = &state.script;
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/javascript; charset=utf-8")
        .insert_header((
            header::CACHE_CONTROL,
            "public, max-age=3600, stale-while-revalidate=86400",
        ))
        .insert_header((header::ETAG, bundle.etag.as_str()))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header(("cross-origin-resource-policy", "cross-origin"));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == bundle.etag));
    if matches {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, bundle.etag.as_str()))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish();
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = match pick_encoding(accept) {
        "br" if !bundle.brotli.is_empty() => {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("br")));
            bundle.brotli.clone()
        }
        "gzip" | "br" if !bundle.gzip.is_empty() => {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
            bundle.gzip.clone()
        }
        _ => bundle.raw.clone(),
    };
    response.body(body)
}

#[cfg(test)]
mod tests {
    use super::pick_encoding;

    #[test]
    fn brotli_is_preferred_then_gzip_and_a_zero_quality_refuses() {
        assert_eq!(pick_encoding("gzip, deflate, br"), "br");
        assert_eq!(pick_encoding("gzip"), "gzip");
        assert_eq!(pick_encoding("br;q=0, gzip"), "gzip");
        assert_eq!(pick_encoding(""), "identity");
    }
}
