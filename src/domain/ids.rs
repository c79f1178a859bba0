//! Identifiers, each parsed once at the edge so the rest of the code can trust it.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong {
        max: usize,
    },
    BadCharacter,
    /// Valid but for capital letters, where only lowercase is allowed.
    NotLowercase,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => write!(f, "must not be empty"),
            IdError::TooLong { max } => write!(f, "must be at most {max} characters"),
            IdError::BadCharacter => {
                write!(f, "may contain only letters, digits, '-', '_' and '.'")
            }
            IdError::NotLowercase => write!(
                f,
                "must be lowercase: only a-z, digits, '-', '_' and '.' (capital letters are not allowed)"
            ),
        }
    }
}

fn check_token(raw: &str, max: usize, lowercase_only: bool) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > max {
        return Err(IdError::TooLong { max });
    }
    let ok = raw.bytes().all(|b| {
        let letter = if lowercase_only {
            b.is_ascii_lowercase()
        } else {
            b.is_ascii_alphabetic()
        };
        letter || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
    });
    if ok {
        return Ok(());
    }
    let fine_but_for_capitals = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if lowercase_only && fine_but_for_capitals {
        return Err(IdError::NotLowercase);
    }
    Err(IdError::BadCharacter)
}

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $lower:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(raw: &str) -> Result<$name, IdError> {
                check_token(raw, $max, $lower)?;
                Ok($name(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_type!(
    /// A site's id from configuration, e.g. `shop`. Lowercase, at most 64 characters.
    SiteId,
    64,
    true
);
token_type!(
    /// A cookie category's id, e.g. `analytics`. Lowercase, at most 32 characters.
    CategoryId,
    32,
    true
);
token_type!(
    /// The operator's name for a policy version, e.g. `2026-11-01` or `v3`.
    PolicyVersion,
    64,
    false
);

token_type!(
    /// A banner variant's name in a site's experiment, e.g. `short-text`. Lowercase, at most
    /// 40 characters.
    VariantName,
    40,
    true
);

impl CategoryId {
    /// The category every site has, always granted.
    pub fn necessary() -> CategoryId {
        CategoryId("necessary".to_owned())
    }

    pub fn is_necessary(&self) -> bool {
        self.0 == "necessary"
    }
}

/// A pseudonymous consent id: 26 characters of Crockford base32 (128 random bits).
///
/// It identifies a browser's consent on one site, never a person, and is minted by the server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsentId(String);

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

impl ConsentId {
    pub const LEN: usize = 26;

    /// Builds an id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> ConsentId {
        let mut value = u128::from_be_bytes(bytes);
        let mut out = [0u8; Self::LEN];
        for slot in out.iter_mut().rev() {
            *slot = CROCKFORD[(value & 31) as usize];
            value >>= 5;
        }
        ConsentId(out.iter().map(|&b| b as char).collect())
    }

    pub fn parse(raw: &str) -> Result<ConsentId, IdError> {
        if raw.is_empty() {
            return Err(IdError::Empty);
        }
        if raw.len() != Self::LEN {
            return Err(IdError::TooLong { max: Self::LEN });
        }
        if !raw.bytes().all(|b| CROCKFORD.contains(&b)) {
            return Err(IdError::BadCharacter);
        }
        // 26 base32 digits hold 130 bits; the first digit carries only the top 3 of 128.
        if !matches!(raw.as_bytes()[0], b'0'..=b'7') {
            return Err(IdError::BadCharacter);
        }
        Ok(ConsentId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a consent id is written at rest: a keyed SHA-256 of the site and the id, cut to 16
/// bytes. The raw id never reaches disk, so once the visitor's cookie and the records under
/// this key are gone, nothing left can be tied back to the id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(pub [u8; 16]);

impl Subject {
    pub fn derive(secret: &[u8; 32], site: &SiteId, id: &ConsentId) -> Subject {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(secret);
        h.update(site.as_str().as_bytes());
        h.update([0]);
        h.update(id.as_str().as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Subject(out)
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn parse_hex(raw: &str) -> Option<Subject> {
        if raw.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(raw.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Subject(out))
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subject({})", self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_depends_on_the_secret_the_site_and_the_id() {
        let site = SiteId::parse("demo").unwrap();
        let other = SiteId::parse("shop").unwrap();
        let id = ConsentId::from_random([5; 16]);
        let a = Subject::derive(&[1; 32], &site, &id);
        assert_eq!(Subject::parse_hex(&a.hex()), Some(a));
        assert_ne!(a, Subject::derive(&[2; 32], &site, &id));
        assert_ne!(a, Subject::derive(&[1; 32], &other, &id));
        assert!(!a.hex().contains(id.as_str()));
    }

    #[test]
    fn a_minted_consent_id_parses_back() {
        for seed in [[0u8; 16], [255u8; 16], [7u8; 16]] {
            let id = ConsentId::from_random(seed);
            assert_eq!(ConsentId::parse(id.as_str()), Ok(id));
        }
    }

    #[test]
    fn consent_ids_of_the_wrong_shape_are_refused() {
        assert!(ConsentId::parse("").is_err());
        assert!(ConsentId::parse("short").is_err());
        assert!(ConsentId::parse("zzzzzzzzzzzzzzzzzzzzzzzzzz").is_err());
        assert!(ConsentId::parse("0000000000000000000000000u").is_err());
    }

    #[test]
    fn site_ids_are_lowercase_tokens() {
        assert!(SiteId::parse("shop-2").is_ok());
        assert_eq!(SiteId::parse("Shop"), Err(IdError::NotLowercase));
        assert!(IdError::NotLowercase.to_string().contains("lowercase"));
        assert_eq!(SiteId::parse("Shöp"), Err(IdError::BadCharacter));
        assert_eq!(SiteId::parse("a b"), Err(IdError::BadCharacter));
        assert_eq!(
            SiteId::parse(&"a".repeat(65)),
            Err(IdError::TooLong { max: 64 })
        );
    }
}
