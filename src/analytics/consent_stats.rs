//! Consent statistics: daily counts of decisions, kept as the ledger records them, so the
//! banner's own funnel (how many decide, how many opt in) can be reported without reading the
//! ledger.
//!
//! Two kinds of rows per day, action, jurisdiction and banner variant (none outside an
//! experiment):
//! - a decision row per number of granted categories (required ones included), counting
//!   decisions; whether a decision opted in is decided at query time, when the site's required
//!   categories are known;
//! - a category row per category, counting decisions and how many granted it.
//!
//! Nothing here names a visitor: rows are counts.

use std::sync::Arc;

use crate::domain::Decision;

const DAY_MS: i64 = 86_400_000;

/// What a row counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatKind {
    /// Decisions that granted this many categories.
    Granted(u8),
    /// Decisions about this category.
    Category(String),
}

/// A parsed statistics key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatKey {
    pub day: u32,
    pub action: String,
    pub jurisdiction: String,
    /// The banner variant the decisions were made on; `None` outside an experiment.
    pub variant: Option<String>,
    pub kind: StatKind,
}

/// A day's rows (or any run of rows), shared by the questions that read them.
pub type StatRows = Arc<Vec<(StatKey, StatCounts)>>;

/// The counts of one row: decisions, and of those, how many granted the row's category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatCounts {
    pub decisions: i64,
    pub granted: i64,
}

impl StatCounts {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.decisions.to_le_bytes());
        out[8..].copy_from_slice(&self.granted.to_le_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> StatCounts {
        let f = |r: std::ops::Range<usize>| {
            b.get(r)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_le_bytes)
                .unwrap_or(0)
        };
        StatCounts {
            decisions: f(0..8),
            granted: f(8..16),
        }
    }

    pub fn add(&mut self, o: StatCounts) {
        self.decisions += o.decisions;
        self.granted += o.granted;
    }
}

/// The key prefix of a site's day: `site 0x00 day(u32 BE)`.
pub fn day_prefix(site: &str, day: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 5);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

/// `site 0x00 day action 0x00 jurisdiction 0x00 kind tail`, where kind and tail are
/// 0 and the granted count, or 1 and the category, for a decision outside an experiment (the
/// rows written before experiments existed), and 2 or 3 with `variant 0x00` before the same
/// tails for one made on a banner variant.
pub fn key(site: &str, k: &StatKey) -> Vec<u8> {
    let mut out = day_prefix(site, k.day);
    out.extend_from_slice(k.action.as_bytes());
    out.push(0);
    out.extend_from_slice(k.jurisdiction.as_bytes());
    out.push(0);
    let variant_kinds = u8::from(k.variant.is_some()) * 2;
    match &k.kind {
        StatKind::Granted(_) => out.push(variant_kinds),
        StatKind::Category(_) => out.push(1 + variant_kinds),
    }
    if let Some(v) = &k.variant {
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    match &k.kind {
        StatKind::Granted(n) => out.push(*n),
        StatKind::Category(c) => out.extend_from_slice(c.as_bytes()),
    }
    out
}

/// The inverse of `key`, without the site.
pub fn parse_key(k: &[u8]) -> Option<StatKey> {
    let zero = k.iter().position(|b| *b == 0)?;
    let rest = k.get(zero + 1..)?;
    let day = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let rest = rest.get(4..)?;
    let mut parts = rest.splitn(3, |b| *b == 0);
    let action = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let jurisdiction = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let tail = parts.next()?;
    let kind_byte = *tail.first()?;
    let mut tail = tail.get(1..)?;
    let variant = if kind_byte >= 2 {
        let end = tail.iter().position(|b| *b == 0)?;
        let name = std::str::from_utf8(&tail[..end]).ok()?.to_owned();
        tail = tail.get(end + 1..)?;
        Some(name)
    } else {
        None
    };
    let kind = match kind_byte % 2 {
        0 if kind_byte < 4 => StatKind::Granted(*tail.first()?),
        1 if kind_byte < 4 => StatKind::Category(std::str::from_utf8(tail).ok()?.to_owned()),
        _ => return None,
    };
    Some(StatKey {
        day,
        action,
        jurisdiction,
        variant,
        kind,
    })
}

/// The rows one decision adds to.
pub fn deltas(d: &Decision) -> Vec<(StatKey, StatCounts)> {
    let day = u32::try_from(d.recorded_at.millis().div_euclid(DAY_MS)).unwrap_or(0);
    let row = |kind| StatKey {
        day,
        action: d.action.as_str().to_owned(),
        jurisdiction: d.jurisdiction.clone(),
        variant: d.variant.as_ref().map(ToString::to_string),
        kind,
    };
    let granted = d.choices.iter().filter(|(_, g)| *g).count();
    let mut out = vec![(
        row(StatKind::Granted(u8::try_from(granted).unwrap_or(u8::MAX))),
        StatCounts {
            decisions: 1,
            granted: 0,
        },
    )];
    for (category, g) in d.choices.iter() {
        out.push((
            row(StatKind::Category(category.as_str().to_owned())),
            StatCounts {
                decisions: 1,
                granted: i64::from(g),
            },
        ));
    }
    out
}

/// Adds statistics counts (the tree's merge operator).
pub fn merge(_key: &[u8], old: Option<&[u8]>, delta: &[u8]) -> Option<Vec<u8>> {
    let mut sum = old.map(StatCounts::from_bytes).unwrap_or_default();
    sum.add(StatCounts::from_bytes(delta));
    Some(sum.to_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_for_both_kinds_with_and_without_a_variant() {
        for variant in [None, Some("short-text".to_owned())] {
            for kind in [StatKind::Granted(3), StatKind::Category("analytics".into())] {
                let k = StatKey {
                    day: 20_000,
                    action: "accept_all".into(),
                    jurisdiction: "US-CA".into(),
                    variant: variant.clone(),
                    kind,
                };
                assert_eq!(parse_key(&key("demo", &k)), Some(k));
            }
        }
    }

    #[test]
    fn a_key_outside_an_experiment_is_written_as_before_experiments_existed() {
        let k = StatKey {
            day: 1,
            action: "save".into(),
            jurisdiction: "EEA".into(),
            variant: None,
            kind: StatKind::Granted(2),
        };
        assert_eq!(key("s", &k), b"s\0\0\0\0\x01save\0EEA\0\0\x02");
    }

    #[test]
    fn counts_add_up_through_bytes() {
        let mut a = StatCounts {
            decisions: 2,
            granted: 1,
        };
        a.add(StatCounts::from_bytes(
            &StatCounts {
                decisions: 3,
                granted: 3,
            }
            .to_bytes(),
        ));
        assert_eq!((a.decisions, a.granted), (5, 4));
    }
}
