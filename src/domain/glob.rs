//! A wildcard pattern: literal text in which `*` matches any run of characters (none included),
//! as page patterns, goal pages and declared cookie names (`_adp_*`) are written.

/// A compiled pattern. Matching is a left-to-right search for each literal piece, with no
/// backtracking: linear in the text for a fixed pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Glob {
    raw: String,
    /// The literal pieces between stars (`"/blog/*/x"` → `["/blog/", "/x"]`); empty pieces of
    /// consecutive stars are dropped.
    pieces: Vec<String>,
    /// Whether the pattern starts with `*`, so its first piece may start anywhere.
    open_start: bool,
    /// Whether the pattern ends with `*`, so its last piece may end anywhere.
    open_end: bool,
}

impl Glob {
    pub fn new(raw: &str) -> Glob {
        Glob {
            raw: raw.to_owned(),
            pieces: raw
                .split('*')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            open_start: raw.starts_with('*'),
            open_end: raw.ends_with('*'),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let mut pieces: &[String] = &self.pieces;
        let mut rest = text;
        if !self.open_start {
            let Some((first, others)) = pieces.split_first() else {
                // No pieces and no leading star: only the empty pattern.
                return text.is_empty();
            };
            let Some(after) = rest.strip_prefix(first.as_str()) else {
                return false;
            };
            rest = after;
            pieces = others;
        }
        if !self.open_end {
            let Some((last, others)) = pieces.split_last() else {
                // The whole pattern was its prefix: the text must be exactly it.
                return rest.is_empty();
            };
            let Some(before) = rest.strip_suffix(last.as_str()) else {
                return false;
            };
            rest = before;
            pieces = others;
        }
        // The middle pieces, each found leftmost after the one before: the leftmost match
        // leaves the most room for the rest, so no other choice can succeed where it fails.
        for piece in pieces {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn stars_match_any_run_and_the_rest_is_literal() {
        assert!(Glob::new("_adp_*").matches("_adp_x1"));
        assert!(Glob::new("_adp_*").matches("_adp_"));
        assert!(!Glob::new("_adp_*").matches("x_adp_"));
        assert!(Glob::new("*a*b*").matches("xxaxxbxx"));
        assert!(!Glob::new("a*b").matches("ab_"));
        assert!(Glob::new("exact").matches("exact"));
        assert!(!Glob::new("exact").matches("exactly"));
        assert!(Glob::new("a*a").matches("aa"));
        assert!(!Glob::new("a*a").matches("a"));
    }
}
