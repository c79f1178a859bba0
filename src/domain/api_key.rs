//! Marketer API keys: 256 bits of randomness, shown once, kept only as a SHA-256.
//!
//! A key reads `cs_<id>_<secret>`: the id (16 hex digits) finds the stored record without
//! scanning, the secret (64 hex digits, 256 bits) proves possession. Only the SHA-256 of the
//! whole key is stored, and it is compared in constant time. A key belongs to one site.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{SiteId, Timestamp};

/// The public half of a key: safe to store, log and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    pub const LEN: usize = 16;

    /// Parses an id: exactly 16 lowercase hex digits.
    pub fn parse(raw: &str) -> Option<ApiKeyId> {
        (raw.len() == Self::LEN && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| ApiKeyId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key as presented by a client: well-formed, not yet checked.
pub struct PresentedKey {
    pub id: ApiKeyId,
    digest: [u8; 32],
}

impl PresentedKey {
    /// Parses `cs_<16 hex>_<64 hex>`; anything else is not a key.
    pub fn parse(raw: &str) -> Option<PresentedKey> {
        let rest = raw.strip_prefix("cs_")?;
        let (id, secret) = rest.split_once('_')?;
        let id = ApiKeyId::parse(id)?;
        let hex_ok = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
        hex_ok.then(|| PresentedKey {
            id,
            digest: Sha256::digest(raw.as_bytes()).into(),
        })
    }
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub site: SiteId,
    pub label: String,
    /// SHA-256 of the whole key.
    pub digest: [u8; 32],
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Why a presented key does not open a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Unknown, wrong, revoked or expired: the client is not authenticated.
    Invalid,
    /// A valid key of another site: authenticated, not authorised.
    OtherSite,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApiKey {
    /// A new key for `site`, from 40 random bytes (8 for the id, 32 for the secret). Returns
    /// the record to store and the key to show once.
    pub fn generate(
        site: SiteId,
        label: String,
        now: Timestamp,
        expires_at: Option<Timestamp>,
        random: [u8; 40],
    ) -> (ApiKey, String) {
        let id = ApiKeyId(hex(&random[..8]));
        let key = format!("cs_{id}_{}", hex(&random[8..]));
        let digest = Sha256::digest(key.as_bytes()).into();
        let record = ApiKey {
            id,
            site,
            label,
            digest,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        (record, key)
    }

    /// Neither revoked nor expired at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now.millis() < at.millis())
    }

    /// Whether `presented` is this key, in force at `now`, for `site`.
    pub fn admit(
        &self,
        presented: &PresentedKey,
        site: &SiteId,
        now: Timestamp,
    ) -> Result<(), KeyRefusal> {
        let same: bool = self.digest.ct_eq(&presented.digest).into();
        let in_force = self.revoked_at.is_none()
            && self.expires_at.is_none_or(|at| now.millis() < at.millis());
        if !(same && in_force) {
            return Err(KeyRefusal::Invalid);
        }
        if self.site != *site {
            return Err(KeyRefusal::OtherSite);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    #[test]
    fn a_generated_key_admits_itself_for_its_site_only() {
        let (record, key) = ApiKey::generate(site("shop"), "x".into(), Timestamp(0), None, [7; 40]);
        let presented = PresentedKey::parse(&key).unwrap();
        assert_eq!(presented.id, record.id);
        assert_eq!(
            record.admit(&presented, &site("shop"), Timestamp(1)),
            Ok(())
        );
        assert_eq!(
            record.admit(&presented, &site("blog"), Timestamp(1)),
            Err(KeyRefusal::OtherSite)
        );
        assert_eq!(key.len(), 3 + 16 + 1 + 64);
        assert!(!key.contains(&hex(&record.digest)));
    }

    #[test]
    fn a_wrong_secret_a_revoked_key_and_an_expired_key_are_invalid() {
        let (mut record, key) = ApiKey::generate(
            site("shop"),
            String::new(),
            Timestamp(0),
            Some(Timestamp(10)),
            [1; 40],
        );
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('0') { '1' } else { '0' });
        let wrong = PresentedKey::parse(&wrong).unwrap();
        assert_eq!(
            record.admit(&wrong, &site("shop"), Timestamp(1)),
            Err(KeyRefusal::Invalid)
        );
        let right = PresentedKey::parse(&key).unwrap();
        assert_eq!(
            record.admit(&right, &site("shop"), Timestamp(10)),
            Err(KeyRefusal::Invalid)
        );
        record.expires_at = None;
        record.revoked_at = Some(Timestamp(5));
        assert_eq!(
            record.admit(&right, &site("shop"), Timestamp(6)),
            Err(KeyRefusal::Invalid)
        );
    }

    #[test]
    fn malformed_keys_are_not_keys() {
        for raw in [
            "",
            "cs_",
            "cs_0123456789abcdef",
            "xx_0123456789abcdef_00",
            "cs_0123_ab",
        ] {
            assert!(PresentedKey::parse(raw).is_none(), "{raw}");
        }
    }
}
