//! The operator's use cases on marketer keys and operator tokens, the same for the command line
//! (`consentry keys`, `consentry admin-token`) and the administration API.
//!
//! A key or token is returned once, at creation; only its SHA-256 is stored. A revocation is a
//! stored record read on every request, so it holds from the next request on, on every node
//! sharing the store.

use crate::domain::{ApiKey, ApiKeyId, SiteId, Timestamp, TokenDigest, generate_token};
use crate::store::{AccessStore, StoreError};

const DAY_MS: i64 = 86_400_000;

/// The longest label a key may carry.
pub const MAX_LABEL: usize = 200;

/// The longest a key may be made to last, in days (about 100 years).
pub const MAX_EXPIRY_DAYS: u32 = 36_500;

/// Why a key operation did nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyAdminError {
    #[error("the label is longer than {MAX_LABEL} characters")]
    LabelTooLong,
    #[error("`expires_in_days` must be between 1 and {MAX_EXPIRY_DAYS}")]
    BadExpiry,
    #[error("`{0}` is not a key id (16 lowercase hex digits)")]
    BadKeyId(String),
    #[error("site `{site}` has no key `{id}`")]
    UnknownKey { site: SiteId, id: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a key is asked to be.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub label: String,
    pub expires_in_days: Option<u32>,
}

/// Makes a key for `site` and stores its record; the key is in the answer and nowhere else.
pub async fn create_key(
    store: &(impl AccessStore + ?Sized),
    site: SiteId,
    new: NewKey,
    now: Timestamp,
) -> Result<(ApiKey, String), KeyAdminError> {
    if new.label.chars().count() > MAX_LABEL {
        return Err(KeyAdminError::LabelTooLong);
    }
    let expires_at = match new.expires_in_days {
        None => None,
        Some(d) if d == 0 || d > MAX_EXPIRY_DAYS => return Err(KeyAdminError::BadExpiry),
        Some(d) => Some(Timestamp(now.0 + i64::from(d) * DAY_MS)),
    };
    let (record, key) = ApiKey::generate(site, new.label, now, expires_at, rand::random());
    store.put_key(record.clone()).await?;
    Ok((record, key))
}

/// Revokes a key of `site` (already revoked: nothing changes) and returns its record.
pub async fn revoke_key(
    store: &(impl AccessStore + ?Sized),
    site: &SiteId,
    raw_id: &str,
    now: Timestamp,
) -> Result<ApiKey, KeyAdminError> {
    let id = ApiKeyId::parse(raw_id).ok_or_else(|| KeyAdminError::BadKeyId(raw_id.into()))?;
    let unknown = || KeyAdminError::UnknownKey {
        site: site.clone(),
        id: raw_id.into(),
    };
    let mut record = store
        .key(id)
        .await?
        .filter(|k| k.site == *site)
        .ok_or_else(unknown)?;
    if record.revoked_at.is_none() {
        record.revoked_at = Some(now);
        store.put_key(record.clone()).await?;
    }
    Ok(record)
}

/// Makes an operator token and stores its digest; the token is in the answer and nowhere else.
/// Returns the token and its digest (whose hex is the token's id in `admin-token list`).
pub async fn create_operator_token(
    store: &(impl AccessStore + ?Sized),
    now: Timestamp,
) -> Result<(TokenDigest, String), StoreError> {
    let (digest, token) = generate_token(rand::random());
    store.add_operator_token(digest, now).await?;
    Ok((digest, token))
}

/// Every digest that opens the administration API: the configured one and the stored ones.
pub async fn operator_digests(
    store: &(impl AccessStore + ?Sized),
    configured: Option<TokenDigest>,
) -> Result<Vec<TokenDigest>, StoreError> {
    let mut out: Vec<TokenDigest> = store
        .operator_tokens()
        .await?
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    out.extend(configured);
    Ok(out)
}

/// Why an operator token was not revoked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenRevokeError {
    #[error(
        "`{0}` is not the start of a token id (at least 8 hex digits, as `admin-token list` prints)"
    )]
    BadId(String),
    #[error("no stored operator token has an id starting with `{0}`")]
    Unknown(String),
    #[error("{1} stored operator tokens have an id starting with `{0}`; give more digits")]
    Ambiguous(String, usize),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Revokes the stored operator token whose digest (its id, as `admin-token list` prints it)
/// starts with `prefix`; returns its digest.
pub async fn revoke_operator_token(
    store: &(impl AccessStore + ?Sized),
    prefix: &str,
) -> Result<TokenDigest, TokenRevokeError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() < 8 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenRevokeError::BadId(prefix));
    }
    let matching: Vec<TokenDigest> = store
        .operator_tokens()
        .await?
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| d.hex().starts_with(&prefix))
        .collect();
    match matching.as_slice() {
        [] => Err(TokenRevokeError::Unknown(prefix)),
        [one] => {
            store.remove_operator_token(*one).await?;
            Ok(*one)
        }
        many => Err(TokenRevokeError::Ambiguous(prefix, many.len())),
    }
}
