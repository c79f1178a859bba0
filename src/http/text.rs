//! Text a client sends that the server keeps or shows again (URLs, referrers, event
//! properties): control characters and bidirectional overrides are refused.
//!
//! Refused: C0 controls U+0000–U+001F (NUL, tab and newlines included), DEL U+007F, C1 controls
//! U+0080–U+009F, the bidirectional embeddings and overrides U+202A–U+202E and the isolates
//! U+2066–U+2069. None of them belongs in a URL or a short property value, and each can forge
//! what an export, a log line, a CSV cell or the dashboard shows. A browser percent-encodes them
//! in `location.href`, so the tracker never sends them itself.

use crate::errors::ApiError;

/// Whether `c` is refused in client text.
pub fn is_refused(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A 400 naming `field` if `value` holds a refused character.
pub fn check(field: &str, value: &str) -> Result<(), ApiError> {
    match value.chars().find(|c| is_refused(*c)) {
        None => Ok(()),
        Some(c) => Err(ApiError::invalid(
            field,
            format!(
                "contains U+{:04X}; control characters and bidirectional overrides are not accepted",
                u32::from(c)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_refused_and_other_text_is_not() {
        for c in [
            '\0', '\t', '\n', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{202a}', '\u{202e}',
            '\u{2066}', '\u{2069}',
        ] {
            assert!(is_refused(c), "{:04X}", u32::from(c));
        }
        for c in [
            ' ', '~', '\u{a0}', 'é', '\u{200f}', '\u{2065}', '\u{206a}', '€', '😀',
        ] {
            assert!(!is_refused(c), "{:04X}", u32::from(c));
        }
        let e = check("url", "https://a.example/\u{202e}gpj").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`url` contains U+202E; control characters and bidirectional overrides are not accepted"
        );
        assert!(check("url", "https://a.example/ünïcode").is_ok());
    }
}
