//! Operator tokens: what the administration API admits. Kept only as a SHA-256.
//!
//! A token made by `consentry admin-token create` reads `cso_<64 hex>` (256 random bits). An
//! operator may instead configure the SHA-256 of a secret of their own (`admin_token_sha256`),
//! so any token of 16 to 512 visible ASCII characters is presented and hashed alike. Digests
//! are compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of an operator token: safe to store and configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// Parses 64 hex digits (either case), as `sha256sum` prints them.
    pub fn parse_hex(raw: &str) -> Option<TokenDigest> {
        let raw = raw.trim();
        if raw.len() != 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(raw.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(TokenDigest(out))
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A new token from 32 random bytes: the digest to keep and the token to show once.
pub fn generate_token(random: [u8; 32]) -> (TokenDigest, String) {
    let token = format!("cso_{}", TokenDigest(random).hex());
    (digest_of(&token), token)
}

fn digest_of(token: &str) -> TokenDigest {
    TokenDigest(Sha256::digest(token.as_bytes()).into())
}

/// A token as a client presented it: plausible, not yet checked.
pub struct PresentedToken(TokenDigest);

impl PresentedToken {
    pub const MIN_LEN: usize = 16;
    pub const MAX_LEN: usize = 512;

    /// Anything of 16 to 512 visible ASCII characters may be a token.
    pub fn parse(raw: &str) -> Option<PresentedToken> {
        let plausible = (Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_graphic());
        plausible.then(|| PresentedToken(digest_of(raw)))
    }

    /// Whether this is one of `known`: every digest is compared, each in constant time.
    pub fn is_one_of(&self, known: &[TokenDigest]) -> bool {
        known
            .iter()
            .fold(false, |found, d| found | bool::from(d.0.ct_eq(&self.0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_admitted_by_its_digest_and_by_no_other() {
        let (digest, token) = generate_token([9; 32]);
        assert!(token.starts_with("cso_") && token.len() == 68);
        let presented = PresentedToken::parse(&token).unwrap();
        assert!(presented.is_one_of(&[TokenDigest([0; 32]), digest]));
        assert!(!presented.is_one_of(&[TokenDigest([0; 32])]));
        assert!(!presented.is_one_of(&[]));
        assert!(!token.contains(&digest.hex()));
    }

    #[test]
    fn a_configured_digest_is_the_sha256_hex_sha256sum_prints() {
        // printf %s 'correct-horse-battery-staple' | sha256sum (in upper case: either is read)
        let d = TokenDigest::parse_hex(
            "87CBEBFEEBC05F7C54AC9336C4B4BBEC831227A641951A4BDE7EDD56020F8590",
        )
        .unwrap();
        assert!(
            PresentedToken::parse("correct-horse-battery-staple")
                .unwrap()
                .is_one_of(&[d])
        );
        assert_eq!(TokenDigest::parse_hex(&d.hex()), Some(d));
        assert_eq!(TokenDigest::parse_hex("abc"), None);
        assert_eq!(TokenDigest::parse_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn short_long_or_invisible_tokens_are_not_tokens() {
        for raw in ["", "short", &"x".repeat(513), "sixteen chars ok\n"] {
            assert!(PresentedToken::parse(raw).is_none(), "{raw:?}");
        }
    }
}
