//! Saved segments: a named set of query filters kept per site, which a query may name to have
//! them ANDed with its own.
//!
//! The filters are kept as sent (operator, dimension, values), after the query parser accepted
//! them: the query language decides what a filter means, and a segment is read through it again
//! each time a query names it.

use std::fmt;

/// A segment's name: 1 to 64 characters of `a-z`, `0-9`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentName(String);

/// Why a segment name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSegmentName;

impl fmt::Display for BadSegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "must be 1 to {} characters of a-z, 0-9, '_' and '-'",
            SegmentName::MAX_LEN
        )
    }
}

impl SegmentName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<SegmentName, BadSegmentName> {
        let ok = (1..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        if ok {
            Ok(SegmentName(raw.to_owned()))
        } else {
            Err(BadSegmentName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One filter of a segment, as the query API takes it: `[op, dimension, [values]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFilter {
    pub op: String,
    pub dimension: String,
    pub values: Vec<String>,
}

/// A saved segment of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: SegmentName,
    /// What it is for, in the marketer's words (at most `MAX_DESCRIPTION` characters).
    pub description: String,
    pub filters: Vec<SegmentFilter>,
}

impl Segment {
    /// The most segments one site keeps.
    pub const MAX_PER_SITE: usize = 100;
    /// The longest description, in characters.
    pub const MAX_DESCRIPTION: usize = 500;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_tokens() {
        for good in [
            "a",
            "pricing-visitors",
            "de_mobile",
            "2026",
            &"x".repeat(64),
        ] {
            assert_eq!(SegmentName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Pricing",
            "a.b",
            "a b",
            "a/b",
            "ä",
            "ｘ",
            &"x".repeat(65),
        ] {
            assert_eq!(SegmentName::parse(bad), Err(BadSegmentName), "{bad:?}");
        }
    }
}
