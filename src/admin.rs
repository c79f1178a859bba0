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
pub async fn create_operator_token(
    store: &(impl AccessStore + ?Sized),
    now: Timestamp,
) -> Result<String, StoreError> {
    let (digest, token) = generate_token(rand::random());
    store.add_operator_token(digest, now).await?;
    Ok(token)
}

/// Every digest that opens the administration API: the configured one and the stored ones.
pub async fn operator_digests(
    store: &(impl AccessStore + ?Sized),
    configured: Option<TokenDigest>,
) -> Result<Vec<TokenDigest>, StoreError> {
    let mut out = store.operator_tokens().await?;
    out.extend(configured);
    Ok(out)
}
