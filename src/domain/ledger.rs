//! The consent ledger's format: an append-only chain of entries, each naming its predecessor.
//!
//! An entry is a fixed 81-byte header and a payload. The header holds the sequence number, the
//! previous entry's hash, the SHA-256 of the payload, the server time and the kind; the entry's
//! hash (its receipt) is the SHA-256 of the header. The payload is kept apart so that erasure
//! can delete it and leave the header: the chain still verifies, and what remains holds no
//! personal data.
//!
//! The payload is `key=value` lines in a fixed order, percent-escaped, so a person or a small
//! script can check a proof without this program.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use super::clock::Timestamp;
use super::consent::{Action, Channel, Choices, Decision};
use super::ids::{CategoryId, ConsentId, PolicyVersion, SiteId, Subject, VariantName};
use super::jurisdiction::Regime;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryHash(pub [u8; 32]);

/// The `prev` of the first entry.
pub const GENESIS: EntryHash = EntryHash([0; 32]);

impl EntryHash {
    pub fn of(bytes: &[u8]) -> EntryHash {
        EntryHash(Sha256::digest(bytes).into())
    }

    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    pub fn parse_hex(raw: &str) -> Option<EntryHash> {
        if raw.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(raw.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(EntryHash(out))
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.hex())
    }
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Decision = 1,
    /// An erasure: the payload names no consent id, only that an erasure happened.
    Tombstone = 2,
}

impl EntryKind {
    fn from_byte(b: u8) -> Option<EntryKind> {
        match b {
            1 => Some(EntryKind::Decision),
            2 => Some(EntryKind::Tombstone),
            _ => None,
        }
    }
}

/// The chained part of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    pub seq: u64,
    pub prev: EntryHash,
    pub payload_digest: EntryHash,
    pub recorded_at: Timestamp,
    pub kind: EntryKind,
}

impl EntryHeader {
    pub const LEN: usize = 8 + 32 + 32 + 8 + 1;

    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..40].copy_from_slice(&self.prev.0);
        out[40..72].copy_from_slice(&self.payload_digest.0);
        out[72..80].copy_from_slice(&self.recorded_at.0.to_be_bytes());
        out[80] = self.kind as u8;
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<EntryHeader> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[..8]);
        let mut prev = [0u8; 32];
        prev.copy_from_slice(&bytes[8..40]);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&bytes[40..72]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&bytes[72..80]);
        Some(EntryHeader {
            seq: u64::from_be_bytes(seq),
            prev: EntryHash(prev),
            payload_digest: EntryHash(digest),
            recorded_at: Timestamp(i64::from_be_bytes(at)),
            kind: EntryKind::from_byte(bytes[80])?,
        })
    }

    /// The entry's hash: its receipt and the next entry's `prev`.
    pub fn hash(&self) -> EntryHash {
        EntryHash::of(&self.to_bytes())
    }

    /// Chains a payload after `prev`.
    pub fn next(
        seq: u64,
        prev: EntryHash,
        payload: &[u8],
        recorded_at: Timestamp,
        kind: EntryKind,
    ) -> EntryHeader {
        EntryHeader {
            seq,
            prev,
            payload_digest: EntryHash::of(payload),
            recorded_at,
            kind,
        }
    }
}

/// The first fault a walk along the chain finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// A header that cannot be read.
    Unreadable { seq: u64 },
    /// A sequence number is missing: an entry was removed.
    Gap { expected: u64, found: u64 },
    /// The entry does not name its predecessor's hash: an entry was changed or replaced.
    BrokenLink { seq: u64 },
    /// The payload does not match the digest in its header: the payload was changed.
    PayloadMismatch { seq: u64 },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::Unreadable { seq } => write!(f, "entry {seq}: header cannot be read"),
            ChainFault::Gap { expected, found } => {
                write!(f, "entry {expected} is missing (next present is {found})")
            }
            ChainFault::BrokenLink { seq } => {
                write!(
                    f,
                    "entry {seq}: does not link to the hash of entry {}",
                    seq.saturating_sub(1)
                )
            }
            ChainFault::PayloadMismatch { seq } => {
                write!(
                    f,
                    "entry {seq}: payload does not match the digest in its header"
                )
            }
        }
    }
}

/// Checks a chain read in sequence order. Each item is a sequence number from the key, the
/// raw header, and the payload if it was not erased.
pub fn verify_chain<I>(entries: I) -> Result<u64, ChainFault>
where
    I: IntoIterator<Item = (u64, Vec<u8>, Option<Vec<u8>>)>,
{
    verify_chain_from(1, GENESIS, entries)
}

/// `verify_chain` for a stretch of a chain that starts at entry `first`, whose predecessor's
/// hash is `prev` (an export of part of a chain).
pub fn verify_chain_from<I>(first: u64, prev: EntryHash, entries: I) -> Result<u64, ChainFault>
where
    I: IntoIterator<Item = (u64, Vec<u8>, Option<Vec<u8>>)>,
{
    let mut prev = prev;
    let mut checked = 0u64;
    for (expected, (key_seq, header, payload)) in (first..).zip(entries) {
        if key_seq != expected {
            return Err(ChainFault::Gap {
                expected,
                found: key_seq,
            });
        }
        let header =
            EntryHeader::from_bytes(&header).ok_or(ChainFault::Unreadable { seq: key_seq })?;
        if header.seq != key_seq || header.prev != prev {
            return Err(ChainFault::BrokenLink { seq: key_seq });
        }
        if let Some(payload) = payload {
            if EntryHash::of(&payload) != header.payload_digest {
                return Err(ChainFault::PayloadMismatch { seq: key_seq });
            }
        }
        prev = header.hash();
        checked += 1;
    }
    Ok(checked)
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '%' => out.push_str("%25"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(value: &str) -> String {
    value
        .replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

/// The `name=value` lines of a decision or tombstone payload, values unescaped, in order.
pub fn payload_lines(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines()
        .map(|l| {
            let (name, value) = l.split_once('=')?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

/// The payload of a decision entry. It names the consent by its `Subject`, never the raw id.
pub fn decision_payload(d: &Decision, subject: &Subject) -> Vec<u8> {
    let choices: Vec<String> = d
        .choices
        .iter()
        .map(|(c, granted)| format!("{}:{}", c, u8::from(granted)))
        .collect();
    let mut lines = vec![
        ("format", "consentry-decision-1".to_owned()),
        ("site", d.site.to_string()),
        ("subject", subject.hex()),
        ("action", d.action.as_str().to_owned()),
        ("choices", choices.join(",")),
        ("policy_version", d.policy_version.to_string()),
        ("policy_hash", d.policy_hash.clone()),
        ("banner_hash", d.banner_hash.clone()),
        ("language", d.language.clone()),
        ("regime", d.regime.as_str().to_owned()),
        ("jurisdiction", d.jurisdiction.clone()),
        ("country", d.country.clone().unwrap_or_default()),
        (
            "geo_build",
            d.geo_build.map(|b| b.to_string()).unwrap_or_default(),
        ),
        ("gpc", u8::from(d.gpc).to_string()),
        ("url", d.url.clone().unwrap_or_default()),
        ("channel", d.channel.as_str().to_owned()),
        ("recorded_at", d.recorded_at.0.to_string()),
        ("expires_at", d.expires_at.0.to_string()),
    ];
    // Written only when a variant was shown, so a decision outside an experiment keeps the
    // payload it had before experiments existed.
    if let Some(v) = &d.variant {
        lines.insert(8, ("variant", v.to_string()));
    }
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(k);
        out.push('=');
        out.push_str(&escape(&v));
        out.push('\n');
    }
    out.into_bytes()
}

fn payload_fields(bytes: &[u8]) -> Option<BTreeMap<&str, String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=')?;
        fields.insert(k, unescape(v));
    }
    (fields.get("format")? == "consentry-decision-1").then_some(fields)
}

/// The categories a decision payload refuses.
pub fn payload_refused(bytes: &[u8]) -> Option<Vec<String>> {
    let fields = payload_fields(bytes)?;
    Some(
        fields
            .get("choices")?
            .split(',')
            .filter_map(|item| item.split_once(':'))
            .filter(|(_, on)| *on == "0")
            .map(|(c, _)| c.to_owned())
            .collect(),
    )
}

/// When a decision payload was recorded.
pub fn payload_recorded_at(bytes: &[u8]) -> Option<Timestamp> {
    Some(Timestamp(
        payload_fields(bytes)?.get("recorded_at")?.parse().ok()?,
    ))
}

/// The site and subject a decision payload is about.
pub fn payload_subject(bytes: &[u8]) -> Option<(SiteId, Subject)> {
    let fields = payload_fields(bytes)?;
    Some((
        SiteId::parse(fields.get("site")?).ok()?,
        Subject::parse_hex(fields.get("subject")?)?,
    ))
}

/// Reads a decision payload back for the consent id it was written for. `None` if it is not one.
pub fn parse_decision_payload(bytes: &[u8], consent_id: &ConsentId) -> Option<Decision> {
    let fields = payload_fields(bytes)?;
    let opt = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    let mut choices = BTreeMap::new();
    for item in fields.get("choices")?.split(',').filter(|s| !s.is_empty()) {
        let (c, g) = item.split_once(':')?;
        choices.insert(CategoryId::parse(c).ok()?, g == "1");
    }
    Some(Decision {
        site: SiteId::parse(fields.get("site")?).ok()?,
        consent_id: consent_id.clone(),
        action: Action::parse(fields.get("action")?)?,
        choices: Choices::from_map(choices),
        policy_version: PolicyVersion::parse(fields.get("policy_version")?).ok()?,
        policy_hash: fields.get("policy_hash")?.clone(),
        banner_hash: fields.get("banner_hash")?.clone(),
        variant: opt("variant").and_then(|v| VariantName::parse(&v).ok()),
        language: fields.get("language")?.clone(),
        regime: Regime::parse(fields.get("regime")?)?,
        jurisdiction: fields.get("jurisdiction")?.clone(),
        country: opt("country"),
        geo_build: opt("geo_build").and_then(|b| b.parse().ok()),
        gpc: fields.get("gpc")? == "1",
        url: opt("url"),
        channel: Channel::parse(fields.get("channel")?)?,
        recorded_at: Timestamp(fields.get("recorded_at")?.parse().ok()?),
        expires_at: Timestamp(fields.get("expires_at")?.parse().ok()?),
    })
}

/// The record an erasure leaves in the ledger: that it happened, when, how and how much, about
/// a subject (a keyed hash of the id). No choice, page, location or id is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub site: SiteId,
    pub subject: Subject,
    pub requested_at: Timestamp,
    pub completed_at: Timestamp,
    /// `api`, `policy_page` or `cli`.
    pub channel: String,
    pub entries_redacted: u64,
    pub events_deleted: u64,
}

pub fn tombstone_payload(t: &Tombstone) -> Vec<u8> {
    format!(
        "format=consentry-tombstone-1\nsite={}\nsubject={}\nrequested_at={}\ncompleted_at={}\nscope=consent,ledger,events\nchannel={}\noutcome=erased\nentries_redacted={}\nevents_deleted={}\n",
        t.site,
        t.subject.hex(),
        t.requested_at.0,
        t.completed_at.0,
        escape(&t.channel),
        t.entries_redacted,
        t.events_deleted
    )
    .into_bytes()
}

/// Whether a payload is the tombstone of `subject`.
/// The site and subject a tombstone payload names, if it is one.
pub fn tombstone_subject(payload: &[u8]) -> Option<(SiteId, Subject)> {
    let text = std::str::from_utf8(payload).ok()?;
    let rest = text.strip_prefix("format=consentry-tombstone-1\n")?;
    let field = |name: &str| {
        rest.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    Some((
        SiteId::parse(field("site")?).ok()?,
        Subject::parse_hex(field("subject")?)?,
    ))
}

pub fn is_tombstone_of(payload: &[u8], subject: &Subject) -> bool {
    let needle = format!("\nsubject={}\n", subject.hex());
    payload.starts_with(b"format=consentry-tombstone-1\n")
        && payload
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        Decision {
            site: SiteId::parse("demo").unwrap(),
            consent_id: ConsentId::from_random([9; 16]),
            action: Action::Save,
            choices: Choices::from_map(BTreeMap::from([
                (CategoryId::parse("analytics").unwrap(), true),
                (CategoryId::parse("marketing").unwrap(), false),
            ])),
            policy_version: PolicyVersion::parse("v1").unwrap(),
            policy_hash: "ab".repeat(32),
            banner_hash: "cd".repeat(32),
            variant: None,
            language: "de".into(),
            regime: Regime::OptIn,
            jurisdiction: "EEA".into(),
            country: Some("DE".into()),
            geo_build: Some(1_700_000_000),
            gpc: true,
            url: Some("https://x.example/a=b%\nc".into()),
            channel: crate::domain::Channel::SiteOrigin,
            recorded_at: Timestamp(1),
            expires_at: Timestamp(2),
        }
    }

    #[test]
    fn a_decision_payload_reads_back_to_the_same_decision() {
        let d = decision();
        let subject = Subject([7; 16]);
        let bytes = decision_payload(&d, &subject);
        assert_eq!(
            parse_decision_payload(&bytes, &d.consent_id),
            Some(d.clone())
        );
        assert_eq!(payload_subject(&bytes), Some((d.site.clone(), subject)));
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains(d.consent_id.as_str()),
            "the raw id is not in the payload"
        );
        assert!(
            !text.contains("variant="),
            "no variant line outside an experiment"
        );
    }

    #[test]
    fn a_decision_made_on_a_banner_variant_names_it_in_its_payload() {
        let d = Decision {
            variant: Some(VariantName::parse("short").unwrap()),
            ..decision()
        };
        let bytes = decision_payload(&d, &Subject([7; 16]));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\nbanner_hash=cdcd"), "{text}");
        assert!(text.contains("\nvariant=short\n"), "{text}");
        assert_eq!(parse_decision_payload(&bytes, &d.consent_id), Some(d));
    }

    fn chain(n: u64) -> Vec<(u64, Vec<u8>, Option<Vec<u8>>)> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let payload = format!("entry {seq}").into_bytes();
                let h = EntryHeader::next(
                    seq,
                    prev,
                    &payload,
                    Timestamp(seq as i64),
                    EntryKind::Decision,
                );
                prev = h.hash();
                (seq, h.to_bytes().to_vec(), Some(payload))
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(chain(5)), Ok(5));
    }

    #[test]
    fn a_changed_payload_a_removed_entry_and_a_changed_header_are_each_found() {
        let mut c = chain(5);
        c[2].2.as_mut().unwrap()[0] ^= 1;
        assert_eq!(verify_chain(c), Err(ChainFault::PayloadMismatch { seq: 3 }));

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify_chain(c),
            Err(ChainFault::Gap {
                expected: 2,
                found: 3
            })
        );

        let mut c = chain(5);
        c[3].1[75] ^= 1;
        assert_eq!(verify_chain(c), Err(ChainFault::BrokenLink { seq: 5 }));
    }

    #[test]
    fn an_erased_payload_leaves_the_chain_verifiable() {
        let mut c = chain(3);
        c[1].2 = None;
        assert_eq!(verify_chain(c), Ok(3));
    }
}
