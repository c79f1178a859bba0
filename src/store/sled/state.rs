//! A visitor's current consent in the `consents` tree: which ledger entry holds it, and what a
//! retention sweep needs of it, never the decision itself (that is the ledger entry's payload,
//! read when asked: one copy of each decision, not two).
//!
//! Layout: the entry's sequence number (8 bytes, big-endian), its hash (32), the tag
//! `SUMMARY`, when the decision was recorded (8 bytes, big-endian milliseconds, `i64::MIN` when
//! unknown) and the categories it refuses (ids joined by `,`). Folders written before this
//! layout hold the decision's payload after the hash instead (it starts with `format=`, never
//! with the tag); both read.

use super::{Trees, map_err, split_entry};
use crate::domain::ledger::{
    EntryHash, EntryHeader, parse_decision_payload, payload_recorded_at, payload_refused,
};
use crate::domain::{ConsentId, ConsentRecord, Timestamp};
use crate::store::StoreError;
use crate::store::retention::StateSummary;

/// Marks the summary layout (an older value's payload starts with `f`).
const SUMMARY: u8 = 1;
const HEAD: usize = 8 + 32;

/// The state value of the decision in ledger entry `seq` with hash `hash` and this payload.
pub(crate) fn encode(seq: u64, hash: &EntryHash, payload: &[u8]) -> Vec<u8> {
    let refused = payload_refused(payload).unwrap_or_default().join(",");
    let at = payload_recorded_at(payload).map_or(i64::MIN, |t| t.0);
    let mut value = Vec::with_capacity(HEAD + 9 + refused.len());
    value.extend_from_slice(&seq.to_be_bytes());
    value.extend_from_slice(&hash.0);
    value.push(SUMMARY);
    value.extend_from_slice(&at.to_be_bytes());
    value.extend_from_slice(refused.as_bytes());
    value
}

/// The ledger entry a state value names.
pub(crate) fn seq(value: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(value.get(..8)?.try_into().ok()?))
}

/// What a sweep needs of a state value.
pub(crate) fn summary(value: &[u8]) -> StateSummary {
    let rest = value.get(HEAD..).unwrap_or_default();
    match rest.split_first() {
        Some((&SUMMARY, tail)) => {
            let at = tail
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes)
                .filter(|&ms| ms != i64::MIN);
            let refused = std::str::from_utf8(tail.get(8..).unwrap_or_default())
                .unwrap_or_default()
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            StateSummary {
                decided_at: at.map(Timestamp),
                refused,
            }
        }
        _ => StateSummary {
            decided_at: payload_recorded_at(rest),
            refused: payload_refused(rest).unwrap_or_default(),
        },
    }
}

/// The consent record a state value names, read from its ledger entry (or, in an older value,
/// from the value itself), for the consent id it belongs to; `None` when that entry has just
/// been redacted (an erasure removes the state first, so a read that found the state a moment
/// before finds the consent gone).
pub(crate) fn decode(
    trees: &Trees,
    value: &[u8],
    id: &ConsentId,
) -> Result<Option<ConsentRecord>, StoreError> {
    let corrupt = || StoreError::Corrupt("a consent state value cannot be read".into());
    let (seq, hash) = match (seq(value), value.get(8..HEAD)) {
        (Some(seq), Some(hash)) => (seq, hash),
        _ => return Err(corrupt()),
    };
    let rest = &value[HEAD..];
    let entry;
    let payload = if rest.first() == Some(&SUMMARY) {
        entry = trees
            .ledger
            .get(seq.to_be_bytes())
            .map_err(map_err)?
            .ok_or_else(|| StoreError::Corrupt(format!("ledger entry {seq} is missing")))?;
        let (header, payload) = split_entry(&entry);
        let named = EntryHeader::from_bytes(header).map(|h| h.hash().0);
        if named.as_ref().map(|h| &h[..]) != Some(hash) {
            return Err(StoreError::Corrupt(format!(
                "ledger entry {seq} is not the one its consent state names"
            )));
        }
        if payload.is_empty() {
            return Ok(None);
        }
        payload
    } else {
        rest
    };
    let decision = parse_decision_payload(payload, id).ok_or_else(corrupt)?;
    let mut receipt = [0u8; 32];
    receipt.copy_from_slice(hash);
    Ok(Some(ConsentRecord {
        decision,
        seq,
        receipt: EntryHash(receipt).hex(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = b"format=consentry-decision-1\nsite=demo\nchoices=analytics:0,marketing:1,necessary:1\nrecorded_at=1794144432789\n";

    #[test]
    fn a_state_holds_what_a_sweep_needs_and_not_the_decision() {
        let value = encode(7, &EntryHash([3; 32]), PAYLOAD);
        assert_eq!(seq(&value), Some(7));
        let s = summary(&value);
        assert_eq!(s.decided_at, Some(Timestamp(1_794_144_432_789)));
        assert_eq!(s.refused, vec!["analytics".to_owned()]);
        assert!(value.len() < 60, "{} bytes", value.len());
        assert!(!value.windows(6).any(|w| w == b"format"), "no payload kept");
    }

    #[test]
    fn an_older_state_holding_the_payload_reads_the_same_summary() {
        let mut old = Vec::new();
        old.extend_from_slice(&7u64.to_be_bytes());
        old.extend_from_slice(&[3; 32]);
        old.extend_from_slice(PAYLOAD);
        let (new, old) = (
            summary(&encode(7, &EntryHash([3; 32]), PAYLOAD)),
            summary(&old),
        );
        assert_eq!((new.decided_at, new.refused), (old.decided_at, old.refused));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_consent_reads_the_same_from_a_state_in_the_older_layout() {
        use crate::store::ConsentStore;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let options = crate::store::StoreOptions {
            encryption_key: None,
            cache_capacity_mb: 16,
            analytics_cache_mb: 32,
            durability: crate::store::Durability::Flush,
        };
        let open = || {
            let metrics = Arc::new(crate::telemetry::Metrics::default());
            super::super::SledStore::open(dir.path(), options.clone(), metrics).unwrap()
        };
        let site = crate::domain::SiteId::parse("demo").unwrap();
        let id = ConsentId::from_random([9; 16]);
        let store = open();
        store
            .record(super::super::registry_test::decision(&id), false)
            .await
            .unwrap();
        let t = &store.trees;
        let key = super::super::keys::consent(&site, &t.subject(&site, &id));
        let value = t.consents.get(&key).unwrap().unwrap();
        let entry = t.ledger.get(&value[..8]).unwrap().unwrap();
        let payload = split_entry(&entry).1;
        assert!(
            value.len() < payload.len() / 4,
            "the state does not copy the decision"
        );
        // As a folder written before this layout holds it: the payload after the hash.
        let older = [&value[..HEAD], payload].concat();
        t.consents.insert(&key, older).unwrap();
        drop(store);

        let store = open();
        let read = store.current(site, id).await.unwrap().expect("still there");
        assert_eq!(read.seq, seq(&value).unwrap());
        assert_eq!(
            read.receipt,
            EntryHash(value[8..HEAD].try_into().unwrap()).hex()
        );
        assert_eq!(
            read.decision.choices,
            super::super::registry_test::decision(&read.decision.consent_id).choices
        );
    }
}
