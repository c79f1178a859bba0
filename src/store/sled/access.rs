//! Marketer access in sled: API key records (`api_keys`) and the query log (`query_log`).
//!
//! A key record is `site, label` as length-prefixed strings, then the 32-byte digest and three
//! times (created, expires, revoked; 0 for none) as i64 BE. The key itself is never stored.

use super::{Trees, map_err};
use crate::domain::{ApiKey, ApiKeyId, SiteId, Timestamp};
use crate::store::StoreError;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(usize::from(u16::MAX))]);
}

fn take_str<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
    let len = usize::from(u16::from_be_bytes(b.get(..2)?.try_into().ok()?));
    let s = std::str::from_utf8(b.get(2..2 + len)?).ok()?;
    *b = b.get(2 + len..)?;
    Some(s)
}

fn time_or_zero(t: Option<Timestamp>) -> [u8; 8] {
    t.map_or(0, |t| t.0).to_be_bytes()
}

pub fn encode_key(k: &ApiKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(80 + k.label.len());
    put_str(&mut out, k.site.as_str());
    put_str(&mut out, &k.label);
    out.extend_from_slice(&k.digest);
    out.extend_from_slice(&k.created_at.0.to_be_bytes());
    out.extend_from_slice(&time_or_zero(k.expires_at));
    out.extend_from_slice(&time_or_zero(k.revoked_at));
    out
}

pub fn decode_key(id: &[u8], mut b: &[u8]) -> Option<ApiKey> {
    let id = ApiKeyId::parse(std::str::from_utf8(id).ok()?)?;
    let site = SiteId::parse(take_str(&mut b)?).ok()?;
    let label = take_str(&mut b)?.to_owned();
    let digest: [u8; 32] = b.get(..32)?.try_into().ok()?;
    let time = |i: usize| -> Option<i64> {
        Some(i64::from_be_bytes(
            b.get(32 + i * 8..40 + i * 8)?.try_into().ok()?,
        ))
    };
    let optional = |t: i64| (t != 0).then_some(Timestamp(t));
    Some(ApiKey {
        id,
        site,
        label,
        digest,
        created_at: Timestamp(time(0)?),
        expires_at: optional(time(1)?),
        revoked_at: optional(time(2)?),
    })
}

pub fn put_key(t: &Trees, key: &ApiKey) -> Result<(), StoreError> {
    t.api_keys
        .insert(key.id.as_str(), encode_key(key))
        .map_err(map_err)?;
    t.api_keys.flush().map_err(map_err)?;
    Ok(())
}

pub fn key(t: &Trees, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
    let Some(v) = t.api_keys.get(id.as_str()).map_err(map_err)? else {
        return Ok(None);
    };
    decode_key(id.as_str().as_bytes(), &v)
        .map(Some)
        .ok_or_else(|| StoreError::Corrupt("an API key record cannot be read".into()))
}

pub fn keys(t: &Trees, site: &SiteId) -> Result<Vec<ApiKey>, StoreError> {
    let mut out = Vec::new();
    for item in t.api_keys.iter() {
        let (k, v) = item.map_err(map_err)?;
        if let Some(key) = decode_key(&k, &v).filter(|key| key.site == *site) {
            out.push(key);
        }
    }
    out.sort_by_key(|k| k.created_at.0);
    Ok(out)
}

/// Logs a query, keyed by time then a monotonic id.
pub fn log_query(t: &Trees, at: Timestamp, line: &str) -> Result<(), StoreError> {
    let mut key = at.0.to_be_bytes().to_vec();
    key.extend_from_slice(&t.db.generate_id().map_err(map_err)?.to_be_bytes());
    t.query_log.insert(key, line.as_bytes()).map_err(map_err)?;
    Ok(())
}

pub fn query_log(t: &Trees) -> Result<Vec<String>, StoreError> {
    t.query_log
        .iter()
        .values()
        .map(|v| {
            v.map(|v| String::from_utf8_lossy(&v).into_owned())
                .map_err(map_err)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_records_round_trip_with_and_without_times() {
        let site = SiteId::parse("shop").unwrap();
        let (mut k, _) = ApiKey::generate(site, "ops team".into(), Timestamp(5), None, [3; 40]);
        let id = k.id.as_str().as_bytes().to_vec();
        assert_eq!(decode_key(&id, &encode_key(&k)), Some(k.clone()));
        k.expires_at = Some(Timestamp(9));
        k.revoked_at = Some(Timestamp(7));
        assert_eq!(decode_key(&id, &encode_key(&k)), Some(k));
    }
}
