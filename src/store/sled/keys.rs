//! Key layouts. Site ids and consent ids never contain 0x00, so it separates them.

use crate::domain::{ConsentId, SiteId};

pub fn consent(site: &SiteId, id: &ConsentId) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.as_str().len() + 1 + ConsentId::LEN);
    k.extend_from_slice(site.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

pub fn history_prefix(site: &SiteId, id: &ConsentId) -> Vec<u8> {
    let mut k = consent(site, id);
    k.push(0);
    k
}

pub fn history(site: &SiteId, id: &ConsentId, seq: u64) -> Vec<u8> {
    let mut k = history_prefix(site, id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn seq(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn seq_from_history(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    seq(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_key_gives_back_its_sequence_number() {
        let site = SiteId::parse("demo").unwrap();
        let id = ConsentId::from_random([3; 16]);
        assert_eq!(seq_from_history(&history(&site, &id, 42)), Some(42));
        assert!(history(&site, &id, 1).starts_with(&history_prefix(&site, &id)));
    }
}
