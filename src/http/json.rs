//! Strict JSON bodies: the right content type, a size limit per route, unknown fields refused.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web::BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// A JSON body of at most `LIMIT` bytes, sent as `application/json`, parsed into `T` (whose
/// serde derive must say `deny_unknown_fields`).
pub struct StrictJson<T, const LIMIT: usize>(pub T);

/// What a `Content-Type` says about a JSON body.
#[derive(Debug, PartialEq, Eq)]
enum Media {
    /// `application/json`, with no charset or `charset=utf-8`.
    Json,
    /// `application/json` in another charset: the body would be misread as UTF-8.
    OtherCharset,
    NotJson,
}

fn media(content_type: Option<&str>) -> Media {
    let Some(value) = content_type else {
        return Media::NotJson;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Media::NotJson;
    }
    for param in parts {
        let Some((name, v)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let v = v.trim().trim_matches('"');
            if !(v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")) {
                return Media::OtherCharset;
            }
        }
    }
    Media::Json
}

fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// serde's message, without the position suffix that means nothing to a client.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Reads a body of at most `limit` bytes.
pub async fn read_limited(mut payload: Payload, limit: usize) -> Result<BytesMut, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if super::deadline::is_timeout(&e) {
                return ApiError::RequestTimeout;
            }
            ApiError::BadRequest {
                code: "invalid_body",
                message: "the request body could not be read".into(),
            }
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for StrictJson<T, LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let media = media(content_type(req));
        let declared = declared_length(req);
        let payload = payload.take();
        let _type: PhantomData<T> = PhantomData;
        Box::pin(async move {
            if declared.is_some_and(|n| n > LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: LIMIT });
            }
            match media {
                Media::Json => {}
                Media::OtherCharset => {
                    return Err(ApiError::UnsupportedMedia {
                        expected: "application/json; charset=utf-8",
                    });
                }
                Media::NotJson => {
                    return Err(ApiError::UnsupportedMedia {
                        expected: "application/json",
                    });
                }
            }
            let body = read_limited(payload, LIMIT).await?;
            if body.is_empty() {
                return Err(ApiError::BadRequest {
                    code: "invalid_json",
                    message: "the request body is empty; a JSON object is expected".into(),
                });
            }
            serde_json::from_slice(&body)
                .map(StrictJson)
                .map_err(|e| ApiError::BadRequest {
                    code: "invalid_json",
                    message: format!("the JSON body is invalid: {}", describe(&e)),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Media, media};

    #[test]
    fn json_is_read_only_as_utf_8() {
        assert_eq!(media(Some("application/json")), Media::Json);
        assert_eq!(media(Some("Application/JSON; charset=UTF-8")), Media::Json);
        assert_eq!(
            media(Some("application/json;charset=\"utf-8\"")),
            Media::Json
        );
        assert_eq!(
            media(Some("application/json; charset=utf-16")),
            Media::OtherCharset
        );
        assert_eq!(
            media(Some("application/json; charset=iso-8859-1")),
            Media::OtherCharset
        );
        assert_eq!(media(Some("text/plain")), Media::NotJson);
        assert_eq!(media(None), Media::NotJson);
    }
}
