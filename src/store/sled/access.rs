//! Marketer access in sled: API key records (`api_keys`), the query log (`query_log`) and saved
//! segments (`saved_segments`).
//!
//! A key record is `site, label` as length-prefixed strings, then the 32-byte digest and three
//! times (created, expires, revoked; 0 for none) as i64 BE. The key itself is never stored.
//!
//! A segment is keyed `site 0x00 name`; its value is the stored form of `store::records`.
//!
//! Operator tokens are kept in `meta` as `operator_token/<digest hex>` → the creation time
//! (i64 BE); the token itself is never stored.

use std::sync::Mutex;

use super::{Trees, map_err};
use crate::domain::{ApiKey, ApiKeyId, Segment, SegmentName, SiteId, Timestamp, TokenDigest};
use crate::store::records::{decode_segment, encode_segment, put_str, take_str};
use crate::store::{SegmentSaved, StoreError};

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
        .values()
        .map(|v| {
            v.map(|v| String::from_utf8_lossy(&v).into_owned())
                .map_err(map_err)
        })
        .collect()
}

/// Segment writes one at a time, so two creations cannot both pass the per-site limit.
static SEGMENT_WRITES: Mutex<()> = Mutex::new(());

fn segment_prefix(site: &SiteId) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.as_str().len() + 1 + SegmentName::MAX_LEN);
    k.extend_from_slice(site.as_str().as_bytes());
    k.push(0);
    k
}

fn segment_key(site: &SiteId, name: &SegmentName) -> Vec<u8> {
    let mut k = segment_prefix(site);
    k.extend_from_slice(name.as_str().as_bytes());
    k
}

fn corrupt_segment() -> StoreError {
    StoreError::Corrupt("a saved segment cannot be read".into())
}

pub fn put_segment(t: &Trees, site: &SiteId, s: &Segment) -> Result<SegmentSaved, StoreError> {
    let _one_at_a_time = SEGMENT_WRITES.lock().unwrap_or_else(|e| e.into_inner());
    let key = segment_key(site, &s.name);
    let saved = if t.saved_segments.contains_key(&key).map_err(map_err)? {
        SegmentSaved::Replaced
    } else if t.saved_segments.scan_prefix(segment_prefix(site)).count() >= Segment::MAX_PER_SITE {
        return Ok(SegmentSaved::LimitReached);
    } else {
        SegmentSaved::Created
    };
    t.saved_segments
        .insert(key, encode_segment(s))
        .map_err(map_err)?;
    t.saved_segments.flush().map_err(map_err)?;
    Ok(saved)
}

pub fn segment(
    t: &Trees,
    site: &SiteId,
    name: &SegmentName,
) -> Result<Option<Segment>, StoreError> {
    let Some(v) = t
        .saved_segments
        .get(segment_key(site, name))
        .map_err(map_err)?
    else {
        return Ok(None);
    };
    decode_segment(name.as_str().as_bytes(), &v)
        .map(Some)
        .ok_or_else(corrupt_segment)
}

/// Sled orders keys bytewise, so a site's segments come out by name.
pub fn segments(t: &Trees, site: &SiteId) -> Result<Vec<Segment>, StoreError> {
    let prefix = segment_prefix(site);
    let mut out = Vec::new();
    for item in t.saved_segments.scan_prefix(&prefix) {
        let (k, v) = item.map_err(map_err)?;
        let name = k.get(prefix.len()..).ok_or_else(corrupt_segment)?;
        out.push(decode_segment(name, &v).ok_or_else(corrupt_segment)?);
    }
    Ok(out)
}

pub fn delete_segment(t: &Trees, site: &SiteId, name: &SegmentName) -> Result<bool, StoreError> {
    let _one_at_a_time = SEGMENT_WRITES.lock().unwrap_or_else(|e| e.into_inner());
    let removed = t
        .saved_segments
        .remove(segment_key(site, name))
        .map_err(map_err)?;
    t.saved_segments.flush().map_err(map_err)?;
    Ok(removed)
}

const OPERATOR_TOKEN_PREFIX: &str = "operator_token/";

fn operator_token_key(digest: &TokenDigest) -> String {
    format!("{OPERATOR_TOKEN_PREFIX}{}", digest.hex())
}

pub fn add_operator_token(
    t: &Trees,
    digest: &TokenDigest,
    at: Timestamp,
) -> Result<(), StoreError> {
    t.meta
        .insert(operator_token_key(digest), &at.0.to_be_bytes()[..])
        .map_err(map_err)?;
    t.meta.flush().map_err(map_err)?;
    Ok(())
}

pub fn operator_tokens(t: &Trees) -> Result<Vec<(TokenDigest, Timestamp)>, StoreError> {
    let unreadable = || StoreError::Corrupt("an operator token record cannot be read".into());
    let mut out = Vec::new();
    for item in t.meta.scan_prefix(OPERATOR_TOKEN_PREFIX) {
        let (key, value) = item.map_err(map_err)?;
        let digest = std::str::from_utf8(&key[OPERATOR_TOKEN_PREFIX.len()..])
            .ok()
            .and_then(TokenDigest::parse_hex)
            .ok_or_else(unreadable)?;
        let at: [u8; 8] = value.as_ref().try_into().map_err(|_| unreadable())?;
        out.push((digest, Timestamp(i64::from_be_bytes(at))));
    }
    Ok(out)
}

pub fn remove_operator_token(t: &Trees, digest: &TokenDigest) -> Result<bool, StoreError> {
    let removed = t.meta.remove(operator_token_key(digest)).map_err(map_err)?;
    t.meta.flush().map_err(map_err)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SegmentFilter;

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

    #[test]
    fn segments_round_trip_and_a_damaged_one_is_not_read() {
        let s = Segment {
            name: SegmentName::parse("de-mobile").unwrap(),
            description: "Germany, on phones: ü".into(),
            filters: vec![
                SegmentFilter {
                    op: "is".into(),
                    dimension: "visit:country".into(),
                    values: vec!["DE".into()],
                },
                SegmentFilter {
                    op: "is_not".into(),
                    dimension: "visit:device".into(),
                    values: vec!["desktop".into(), "tablet".into()],
                },
            ],
        };
        let bytes = encode_segment(&s);
        assert_eq!(decode_segment(b"de-mobile", &bytes), Some(s));
        assert_eq!(
            decode_segment(b"de-mobile", &bytes[..bytes.len() - 1]),
            None
        );
        assert_eq!(decode_segment(b"De", &bytes), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_segment(b"de-mobile", &longer), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_site_keeps_at_most_a_hundred_segments_and_never_sees_another_sites() {
        use crate::store::AccessStore;
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::SledStore::open(
            dir.path(),
            crate::store::StoreOptions {
                encryption_key: None,
                cache_capacity_mb: 16,
                analytics_cache_mb: 8,
                durability: crate::store::Durability::Flush,
            },
            std::sync::Arc::new(crate::telemetry::Metrics::default()),
        )
        .unwrap();
        let (shop, blog) = (
            SiteId::parse("shop").unwrap(),
            SiteId::parse("blog").unwrap(),
        );
        let named = |name: &str, description: &str| Segment {
            name: SegmentName::parse(name).unwrap(),
            description: description.into(),
            filters: vec![SegmentFilter {
                op: "is".into(),
                dimension: "visit:country".into(),
                values: vec!["DE".into()],
            }],
        };
        for i in 0..Segment::MAX_PER_SITE {
            let saved = store
                .put_segment(shop.clone(), named(&format!("s{i:03}"), ""))
                .await;
            assert_eq!(saved.unwrap(), SegmentSaved::Created);
        }
        let one_more = store.put_segment(shop.clone(), named("s100", "")).await;
        assert_eq!(one_more.unwrap(), SegmentSaved::LimitReached);
        let replaced = store.put_segment(shop.clone(), named("s000", "new")).await;
        assert_eq!(replaced.unwrap(), SegmentSaved::Replaced);
        let elsewhere = store.put_segment(blog.clone(), named("s100", "")).await;
        assert_eq!(elsewhere.unwrap(), SegmentSaved::Created);

        let listed = store.segments(shop.clone()).await.unwrap();
        assert_eq!(listed.len(), Segment::MAX_PER_SITE);
        assert_eq!(listed[0], named("s000", "new"));
        assert!(listed.windows(2).all(|w| w[0].name < w[1].name), "by name");
        assert_eq!(
            store.segments(blog.clone()).await.unwrap(),
            [named("s100", "")]
        );

        let gone = SegmentName::parse("s100").unwrap();
        assert_eq!(
            store.segment(shop.clone(), gone.clone()).await.unwrap(),
            None
        );
        assert!(
            store
                .delete_segment(blog.clone(), gone.clone())
                .await
                .unwrap()
        );
        assert!(!store.delete_segment(blog.clone(), gone).await.unwrap());
        assert!(store.segments(blog).await.unwrap().is_empty());
        let kept = SegmentName::parse("s000").unwrap();
        assert_eq!(
            store.segment(shop, kept).await.unwrap(),
            Some(named("s000", "new"))
        );
    }
}
