//! CSRF tokens for this server's own forms (the policy page's, and the dashboard's sign-in and
//! sign-out).
//!
//! A form is issued with a random nonce in a `SameSite=Strict`, `HttpOnly` cookie and a token
//! `expiry.tag` in a hidden field, where the tag is an HMAC-SHA256, under the server's secret, of
//! the form's purpose, its scope (the site), the nonce and the expiry. A posted token is good only
//! with the cookie it was issued with, for the form it was issued for, under this server's
//! secret, before it expires: a token copied from another browser, another form or another
//! server, or made up, is refused.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::Timestamp;

/// How long an issued form stays good.
pub const FORM_HOURS: i64 = 12;

/// Which form a token is for.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// The policy page's preferences and erase forms.
    Policy,
    /// The dashboard's sign-in and sign-out.
    Dashboard,
}

impl Form {
    fn label(self) -> &'static [u8] {
        match self {
            Form::Policy => b"policy-form",
            Form::Dashboard => b"dashboard",
        }
    }

    /// The cookie that carries the nonce.
    pub fn cookie(self) -> &'static str {
        match self {
            Form::Policy => "consentry_csrf",
            Form::Dashboard => "consentry_dashboard_csrf",
        }
    }
}

/// A nonce for the cookie and the token for the form.
pub struct Issued {
    pub nonce: String,
    pub token: String,
}

fn tag(secret: &[u8; 32], form: Form, scope: &str, nonce: &str, expires: i64) -> [u8; 32] {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return [0; 32];
    };
    for part in [form.label(), scope.as_bytes(), nonce.as_bytes()] {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.update(&expires.to_be_bytes());
    m.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn issue(secret: &[u8; 32], form: Form, scope: &str, now: Timestamp) -> Issued {
    let nonce = hex(&rand::random::<[u8; 16]>());
    let expires = now.millis() + FORM_HOURS * 3_600_000;
    let token = format!(
        "{expires}.{}",
        hex(&tag(secret, form, scope, &nonce, expires))
    );
    Issued { nonce, token }
}

/// Whether `token` was issued by this server, for `form` and `scope`, with the cookie's
/// `nonce`, and has not expired.
pub fn verify(
    secret: &[u8; 32],
    form: Form,
    scope: &str,
    nonce: Option<&str>,
    token: &str,
    now: Timestamp,
) -> bool {
    let Some(nonce) = nonce.filter(|n| n.len() == 32) else {
        return false;
    };
    let Some((expires, sent)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    if expires <= now.millis() {
        return false;
    }
    let expected = hex(&tag(secret, form, scope, nonce, expires));
    bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_with_its_cookie_its_form_its_site_and_this_secret_until_it_expires() {
        let secret = [7; 32];
        let now = Timestamp(1_000_000);
        let issued = issue(&secret, Form::Policy, "demo", now);
        let ok = |secret: &[u8; 32], form, scope, nonce: &str, token: &str, at| {
            verify(secret, form, scope, Some(nonce), token, at)
        };
        assert!(ok(
            &secret,
            Form::Policy,
            "demo",
            &issued.nonce,
            &issued.token,
            now
        ));
        let other = issue(&secret, Form::Policy, "demo", now);
        assert!(
            !ok(
                &secret,
                Form::Policy,
                "demo",
                &other.nonce,
                &issued.token,
                now
            ),
            "another browser's cookie"
        );
        assert!(
            !ok(
                &secret,
                Form::Dashboard,
                "demo",
                &issued.nonce,
                &issued.token,
                now
            ),
            "another form"
        );
        assert!(
            !ok(
                &secret,
                Form::Policy,
                "shop",
                &issued.nonce,
                &issued.token,
                now
            ),
            "another site"
        );
        assert!(
            !ok(
                &[8; 32],
                Form::Policy,
                "demo",
                &issued.nonce,
                &issued.token,
                now
            ),
            "another server"
        );
        let later = Timestamp(now.0 + FORM_HOURS * 3_600_000);
        assert!(
            !ok(
                &secret,
                Form::Policy,
                "demo",
                &issued.nonce,
                &issued.token,
                later
            ),
            "expired"
        );
        assert!(
            !verify(&secret, Form::Policy, "demo", None, &issued.token, now),
            "no cookie"
        );
        assert!(!ok(&secret, Form::Policy, "demo", &issued.nonce, "", now));
        assert!(
            !ok(
                &secret,
                Form::Policy,
                "demo",
                &issued.nonce,
                &issued.nonce,
                now
            ),
            "the plain double-submit value"
        );
    }
}
