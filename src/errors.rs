//! The one place where failures become HTTP responses.
//!
//! Policy:
//! - Every error a client sees is `{"error": {"code": "snake_case", "message": "sentence"}}`.
//! - The status says whose fault it is: 4xx when the request can be fixed by its sender, 503
//!   when storage cannot be trusted right now. There is no 500 for bad input: input failures are
//!   parsed into a 4xx before any work is done.
//! - Messages name the field or value at fault, never internal detail: no paths, no sled errors,
//!   no stack traces. Storage failures are logged here, once, with their cause.
//! - Nothing here logs an IP address, a User-Agent or a consent id.
//!
//! The mapping, explicit and exhaustive:
//!
//! | variant              | status | code                     |
//! |----------------------|--------|--------------------------|
//! | `BadRequest`         | 400    | `invalid_request` or own (`invalid_configuration`: a reload that does not parse) |
//! | `Unauthorized`       | 401    | `unauthorized`           |
//! | `OriginNotAllowed`   | 403    | `origin_not_allowed`     |
//! | `Forbidden`          | 403    | `forbidden`              |
//! | `OriginRequired`     | 403    | `origin_required`        |
//! | `UnknownSite`        | 404    | `unknown_site`           |
//! | `NotFound`           | 404    | own code (`unknown_key`, `unknown_consent`, …) |
//! | `MethodNotAllowed`   | 405    | `method_not_allowed` (with `Allow`) |
//! | `RequestTimeout`     | 408    | `request_timeout`        |
//! | `StalePolicy`        | 409    | `stale_policy_version`   |
//! | `Conflict`           | 409    | own code (`backup_target_not_empty`, `backup_not_available`, …) |
//! | `PayloadTooLarge`    | 413    | `payload_too_large`      |
//! | `UnsupportedMedia`   | 415    | `unsupported_media_type` |
//! | `RateLimited`        | 429    | `rate_limited`           |
//! | `Storage`            | 503    | `storage_unavailable`    |
//!
//! Request heads that cannot be read as HTTP are refused before the application runs, by
//! `http::front` (which writes the same body with [`error_body`]), and the connection closed:
//!
//! | head                                                        | status | code                              |
//! |-------------------------------------------------------------|--------|-----------------------------------|
//! | malformed (bad `Content-Length`, control bytes, no `Host`…) | 400    | `malformed_request`               |
//! | not complete within 10 s                                    | 408    | `request_timeout`                 |
//! | a target over 8 KiB                                         | 414    | `uri_too_long`                    |
//! | over 32 KiB or 64 header fields                             | 431    | `request_header_fields_too_large` |

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::admin::KeyAdminError;
use crate::ledger_export::DaysError;
use crate::reload::ReloadError;
use crate::store::StoreError;
use crate::store::backup::BackupError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("requests from origin `{0}` are not allowed for this site")]
    OriginNotAllowed(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    OriginRequired(&'static str),
    #[error("there is no site `{0}`")]
    UnknownSite(String),
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("this method is not allowed here; this path answers {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("the request body did not arrive in time; send it at once after the headers")]
    RequestTimeout,
    #[error("policy version `{sent}` is not current; the current version is `{current}`")]
    StalePolicy { sent: String, current: String },
    /// The request is well-formed but what is stored does not allow it now (a limit reached).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is larger than the {limit} bytes this endpoint accepts")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be sent as `Content-Type: {expected}`")]
    UnsupportedMedia { expected: &'static str },
    #[error("too many requests; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("storage is unavailable; the request was not recorded")]
    Storage(#[source] StoreError),
}

impl ApiError {
    /// A 400 naming the field at fault.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest {
            code: "invalid_request",
            message: format!("`{field}` {problem}"),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::OriginRequired(_) => "origin_required",
            ApiError::UnknownSite(_) => "unknown_site",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::StalePolicy { .. } => "stale_policy_version",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMedia { .. } => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Storage(_) => "storage_unavailable",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            // Not a storage fault: the id named was erased before its decision was written.
            StoreError::UnknownConsent => ApiError::NotFound {
                code: "unknown_consent",
                message: "there is no consent with this id for this site".into(),
            },
            e => ApiError::Storage(e),
        }
    }
}

impl From<KeyAdminError> for ApiError {
    fn from(e: KeyAdminError) -> ApiError {
        match e {
            KeyAdminError::LabelTooLong => {
                ApiError::invalid("label", "is longer than 200 characters")
            }
            KeyAdminError::BadExpiry => {
                ApiError::invalid("expires_in_days", "must be between 1 and 36500")
            }
            KeyAdminError::BadKeyId(_) | KeyAdminError::UnknownKey { .. } => ApiError::NotFound {
                code: "unknown_key",
                message: e.to_string(),
            },
            KeyAdminError::Store(e) => e.into(),
        }
    }
}

impl From<DaysError> for ApiError {
    fn from(e: DaysError) -> ApiError {
        match e {
            DaysError::NotADay { param, .. } => {
                ApiError::invalid(param, "is not a day (YYYY-MM-DD)")
            }
            DaysError::ToBeforeFrom => ApiError::invalid("to", "is before `from`"),
        }
    }
}

impl From<ReloadError> for ApiError {
    fn from(e: ReloadError) -> ApiError {
        match e {
            // The configuration as it reads now is the operator's to fix; the old one stays.
            ReloadError::Settings(e) => ApiError::BadRequest {
                code: "invalid_configuration",
                message: format!("{e}; the configuration in force is unchanged"),
            },
            ReloadError::Store(e) => e.into(),
        }
    }
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> ApiError {
        match e {
            BackupError::NotEmpty(_) => ApiError::Conflict {
                code: "backup_target_not_empty",
                message: e.to_string(),
            },
            BackupError::Unavailable(_) => ApiError::Conflict {
                code: "backup_not_available",
                message: e.to_string(),
            },
            BackupError::Damaged(_) => ApiError::BadRequest {
                code: "backup_damaged",
                message: e.to_string(),
            },
            BackupError::Store(e) => e.into(),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_policy_version: Option<&'a str>,
}

/// The error body, for answers written below actix-web (`http::front`).
pub fn error_body(code: &str, message: &str) -> String {
    let body = Body {
        error: Inner {
            code,
            message: message.to_owned(),
            current_policy_version: None,
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::OriginNotAllowed(_)
            | ApiError::Forbidden(_)
            | ApiError::OriginRequired(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownSite(_) | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::StalePolicy { .. } | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Storage(cause) = self {
            log::error!("storage failure answered with 503: {cause}");
        }
        let current = match self {
            ApiError::StalePolicy { current, .. } => Some(current.as_str()),
            _ => None,
        };
        let body = Body {
            error: Inner {
                code: self.code(),
                message: self.to_string(),
                current_policy_version: current,
            },
        };
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let ApiError::Storage(_) = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        if let ApiError::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        response.json(body)
    }
}
