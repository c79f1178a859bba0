//! Key layouts. A consent is keyed by its `Subject` (a keyed hash), never by the raw id; site ids
//! never contain 0x00, so it separates the site from what follows.

use crate::domain::{SiteId, Subject};

pub fn consent(site: &SiteId, subject: &Subject) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.as_str().len() + 1 + 16);
    k.extend_from_slice(site.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&subject.0);
    k
}

pub fn history_prefix(site: &SiteId, subject: &Subject) -> Vec<u8> {
    consent(site, subject)
}

pub fn history(site: &SiteId, subject: &Subject, seq: u64) -> Vec<u8> {
    let mut k = history_prefix(site, subject);
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
        let subject = Subject([3; 16]);
        assert_eq!(seq_from_history(&history(&site, &subject, 42)), Some(42));
        assert!(history(&site, &subject, 1).starts_with(&history_prefix(&site, &subject)));
    }
}
