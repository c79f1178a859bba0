//! Filters: which values of a dimension pass. Parsed once per query (regular expressions
//! compiled, with bounded size), then asked per dictionary word or per value.

use super::{Dimension, QueryError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Is,
    IsNot,
    Contains,
    /// A regular expression (RE2-like: no backreferences, linear time).
    Matches,
}

impl FilterOp {
    pub fn name(self) -> &'static str {
        match self {
            FilterOp::Is => "is",
            FilterOp::IsNot => "is_not",
            FilterOp::Contains => "contains",
            FilterOp::Matches => "matches",
        }
    }
}

/// The most memory one compiled expression may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// An operator with its values; several values combine with OR (`is_not`: none of them).
#[derive(Debug, Clone)]
pub struct Matcher {
    op: FilterOp,
    values: Vec<String>,
    patterns: Vec<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.op == other.op && self.values == other.values
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// An operator and its values as sent; `on` names the dimension for error messages.
    pub fn parse(op: &str, values: &[String], on: &str) -> Result<Matcher, QueryError> {
        let op = match op {
            "is" => FilterOp::Is,
            "is_not" => FilterOp::IsNot,
            "contains" => FilterOp::Contains,
            "matches" => FilterOp::Matches,
            other => {
                return Err(QueryError::new(
                    "invalid_request",
                    format!(
                        "`filters` has operator `{}`; use `is`, `is_not`, `contains` or `matches`",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
            }
        };
        let patterns = if op == FilterOp::Matches {
            values
                .iter()
                .map(|v| {
                    regex::RegexBuilder::new(v)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            let why = match e {
                                regex::Error::CompiledTooBig(_) => "it is too large".to_owned(),
                                other => other.to_string().lines().last().unwrap_or("").trim().to_owned(),
                            };
                            QueryError::new(
                                "invalid_request",
                                format!("`filters` on `{on}` has a regular expression that does not compile: {why}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Matcher {
            op,
            values: values.to_vec(),
            patterns,
        })
    }

    pub fn op(&self) -> FilterOp {
        self.op
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a value passes; `None` is "no value" (a pageview has no event name), which
    /// only `is_not` admits.
    pub fn admits(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            return self.op == FilterOp::IsNot;
        };
        match self.op {
            FilterOp::Is => self.values.iter().any(|w| w == v),
            FilterOp::IsNot => !self.values.iter().any(|w| w == v),
            FilterOp::Contains => self.values.iter().any(|w| v.contains(w.as_str())),
            FilterOp::Matches => self.patterns.iter().any(|p| p.is_match(v)),
        }
    }
}

/// A filter on a non-time dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub matcher: Matcher,
}

impl Filter {
    pub fn admits(&self, value: Option<&str>) -> bool {
        self.matcher.admits(value)
    }

    /// Whether a thing with several values passes (an event completing several goals): `is_not`
    /// when none of them is excluded, the other operators when one of them passes. With one
    /// value this is `admits` of it; with none, `admits(None)`.
    pub fn admits_any_of<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        match self.matcher.op {
            FilterOp::IsNot => values.all(|v| self.admits(Some(v))),
            _ => values.any(|v| self.admits(Some(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: &str, values: &[&str]) -> Matcher {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Matcher::parse(op, &values, "event:page").unwrap()
    }

    #[test]
    fn each_operator_admits_what_its_name_says() {
        assert!(m("is", &["/a", "/b"]).admits(Some("/b")));
        assert!(!m("is", &["/a"]).admits(Some("/ab")));
        assert!(m("is_not", &["/a"]).admits(Some("/b")));
        assert!(m("is_not", &["/a"]).admits(None));
        assert!(!m("is", &["/a"]).admits(None));
        assert!(m("contains", &["pri"]).admits(Some("/pricing")));
        assert!(m("matches", &["^/blog/[0-9]+$"]).admits(Some("/blog/42")));
        assert!(!m("matches", &["^/blog/[0-9]+$"]).admits(Some("/blog/x")));
    }

    #[test]
    fn a_bad_or_huge_regular_expression_is_a_clear_400() {
        let e = Matcher::parse("matches", &["(".into()], "event:page").unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.contains("does not compile"), "{}", e.message);
        let e = Matcher::parse("matches", &["(a{1000}){1000}".into()], "event:page").unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        let e = Matcher::parse("regex", &["x".into()], "event:page").unwrap_err();
        assert!(e.message.contains("`matches`"), "{}", e.message);
    }
}
