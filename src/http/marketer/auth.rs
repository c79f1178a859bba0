//! Who is asking: an API key in `Authorization: Bearer`, or a dashboard session cookie that
//! names one. Either way the key's record is read on every request, so a revoked or expired
//! key stops working on the next one.
//!
//! A session cookie is `key id . expiry (ms) . HMAC-SHA256` under a secret made when the
//! process starts: it holds no key, is useless once the key is revoked, and ends with the
//! process or after `SESSION_HOURS`.

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{ApiKey, ApiKeyId, KeyRefusal, PresentedKey, SiteId, Timestamp};
use crate::errors::ApiError;
use crate::http::state::AppState;
use crate::http::visitor::client_address;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "consentry_dashboard";
pub const SESSION_HOURS: i64 = 8;

/// An authenticated marketer request: the key it used, never the key itself.
#[derive(Debug, Clone)]
pub struct Access {
    pub key_id: ApiKeyId,
}

fn mac(secret: &[u8; 32], site: &SiteId, id: &ApiKeyId, expires: i64) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(site.as_str().as_bytes());
    m.update(b"\0");
    m.update(id.as_str().as_bytes());
    m.update(b"\0");
    m.update(&expires.to_be_bytes());
    Some(m)
}

/// A session cookie value for a key on a site.
pub fn session_value(secret: &[u8; 32], site: &SiteId, id: &ApiKeyId, now: Timestamp) -> String {
    let expires = now.millis() + SESSION_HOURS * 3_600_000;
    let tag = mac(secret, site, id, expires)
        .map(|m| m.finalize().into_bytes())
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .unwrap_or_default();
    format!("{id}.{expires}.{tag}")
}

/// The key id a session cookie vouches for, if its tag is right and it has not expired.
pub fn session_key(
    secret: &[u8; 32],
    site: &SiteId,
    raw: &str,
    now: Timestamp,
) -> Option<ApiKeyId> {
    let mut parts = raw.split('.');
    let id = ApiKeyId::parse(parts.next()?)?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    if parts.next().is_some() || expires <= now.millis() || tag.len() != 64 {
        return None;
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(tag.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    mac(secret, site, &id, expires)?
        .verify_slice(&bytes)
        .ok()
        .map(|()| id)
}

fn bearer(req: &ServiceRequest) -> Option<Result<PresentedKey, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|k| PresentedKey::parse(k.trim()));
    Some(parsed.ok_or_else(|| {
        ApiError::Unauthorized(
            "the `Authorization` header does not hold a Consentry API key".into(),
        )
    }))
}

/// The stored record of a presented key, if the key opens `site` now. The outer error is a
/// storage failure.
pub async fn admit(
    state: &AppState,
    presented: &PresentedKey,
    site: &SiteId,
    now: Timestamp,
) -> Result<Result<ApiKey, KeyRefusal>, ApiError> {
    let record = state
        .access
        .key(presented.id.clone())
        .await
        .map_err(ApiError::Storage)?;
    Ok(match record {
        Some(record) => record.admit(presented, site, now).map(|()| record),
        None => Err(KeyRefusal::Invalid),
    })
}

/// The record of the key a session names, if it is still in force for `site`.
pub async fn session_record(
    state: &AppState,
    id: ApiKeyId,
    site: &SiteId,
    now: Timestamp,
) -> Result<Option<ApiKey>, ApiError> {
    let record = state.access.key(id).await.map_err(ApiError::Storage)?;
    Ok(record.filter(|k| k.site == *site && k.in_force(now)))
}

/// Refuses (429) a client address whose failed-key budget is spent, before its next attempt is
/// even looked at: guessing keys costs a wait, whatever the guess.
pub fn check_failure_budget(state: &AppState, client: IpAddr) -> Result<(), ApiError> {
    state
        .limits
        .auth_failures
        .peek(client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

/// Spends one of the client's failed-key budget. Logged once per spent budget, never with the
/// address, so failures cannot flood the log either.
pub fn note_failure(state: &AppState, client: IpAddr) {
    state.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
    if state.limits.auth_failures.check(client).is_err() {
        log::warn!("a client spent its failed API-key budget; it is refused until it refills");
    } else {
        log::debug!("an API key was refused");
    }
}

/// Checks the request's credentials for `site`: 401 without valid ones, 403 for another
/// site's key, 429 past the key's rate limit.
pub async fn authenticate(
    state: &AppState,
    req: &ServiceRequest,
    site: &SiteId,
) -> Result<Access, ApiError> {
    let now = state.clock.now();
    let client = client_address(state, req.request());
    check_failure_budget(state, client)?;
    let access = match admitted(state, req, site, now).await {
        Ok(access) => access,
        Err(e) => {
            // A presented key that fails is a guess; an expired session cookie is not.
            let guessed = req.headers().contains_key(header::AUTHORIZATION);
            if guessed && matches!(e, ApiError::Unauthorized(_) | ApiError::Forbidden(_)) {
                note_failure(state, client);
            }
            return Err(e);
        }
    };
    state
        .limits
        .keys
        .check(access.key_id.clone())
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    Ok(access)
}

/// The key a request presents (bearer or session), if it opens `site` now.
async fn admitted(
    state: &AppState,
    req: &ServiceRequest,
    site: &SiteId,
    now: Timestamp,
) -> Result<Access, ApiError> {
    let denied = || ApiError::Unauthorized("the API key is unknown, revoked or expired".into());
    let access = match bearer(req) {
        Some(presented) => match admit(state, &presented?, site, now).await? {
            Ok(record) => Access { key_id: record.id },
            Err(KeyRefusal::OtherSite) => {
                return Err(ApiError::Forbidden(format!(
                    "this API key belongs to another site, not `{site}`"
                )));
            }
            Err(KeyRefusal::Invalid) => return Err(denied()),
        },
        None => {
            let cookie = req.cookie(SESSION_COOKIE).ok_or_else(|| {
                ApiError::Unauthorized(
                    "send `Authorization: Bearer <api key>`, or sign in to the dashboard".into(),
                )
            })?;
            let id =
                session_key(&state.session_secret, site, cookie.value(), now).ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the dashboard session has expired; sign in again".into(),
                    )
                })?;
            match session_record(state, id, site, now).await? {
                Some(record) => Access { key_id: record.id },
                None => return Err(denied()),
            }
        }
    };
    Ok(access)
}

/// Middleware for the marketer endpoints: nothing past it runs for an unauthenticated request.
pub async fn marketer_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req
            .into_response(HttpResponse::ServiceUnavailable().finish())
            .map_into_right_body());
    };
    let site = match state.site(req.match_info().get("site").unwrap_or("")) {
        Ok(entry) => entry.site.id.clone(),
        Err(e) => return Ok(req.into_response(e.error_response()).map_into_right_body()),
    };
    match authenticate(&state, &req, &site).await {
        Ok(access) => {
            req.extensions_mut().insert(access);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => {
            let status = e.status_code().as_u16();
            log::debug!("marketer request refused: site {site}, status {status}, {e}");
            Ok(req.into_response(e.error_response()).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_holds_for_its_site_until_it_expires_and_cannot_be_forged() {
        let secret = [9; 32];
        let site = SiteId::parse("shop").unwrap();
        let id = ApiKeyId::parse("0123456789abcdef").unwrap();
        let value = session_value(&secret, &site, &id, Timestamp(1_000));
        assert_eq!(
            session_key(&secret, &site, &value, Timestamp(2_000)),
            Some(id.clone())
        );
        let later = Timestamp(1_000 + SESSION_HOURS * 3_600_000);
        assert_eq!(session_key(&secret, &site, &value, later), None);
        let other = SiteId::parse("blog").unwrap();
        assert_eq!(session_key(&secret, &other, &value, Timestamp(2_000)), None);
        assert_eq!(session_key(&[8; 32], &site, &value, Timestamp(2_000)), None);
        let forged = value.replacen("0123456789abcdef", "fedcba9876543210", 1);
        assert_eq!(session_key(&secret, &site, &forged, Timestamp(2_000)), None);
    }
}
