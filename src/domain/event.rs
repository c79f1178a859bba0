//! The server-side gate for analytics and marketing events.
//!
//! The rule: an event is kept only if the stored consent for its id exists, has not expired,
//! was given under the current policy version (or one whose later changes did not touch the
//! event's categories), grants every category the event needs, and, for a sale-or-sharing
//! category, no opt-out signal (GPC) is on. What the client claims about consent is ignored.

use super::clock::Timestamp;
use super::consent::ConsentRecord;
use super::ids::CategoryId;
use super::site::Site;

/// Why an event was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    NoConsent,
    CategoryDenied,
    ConsentExpired,
    PolicyOutdated,
    Bot,
    Invalid,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::NoConsent,
        DropReason::CategoryDenied,
        DropReason::ConsentExpired,
        DropReason::PolicyOutdated,
        DropReason::Bot,
        DropReason::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoConsent => "no_consent",
            DropReason::CategoryDenied => "category_denied",
            DropReason::ConsentExpired => "consent_expired",
            DropReason::PolicyOutdated => "policy_outdated",
            DropReason::Bot => "bot",
            DropReason::Invalid => "invalid",
        }
    }
}

/// The longest event name, in bytes.
pub const MAX_EVENT_NAME: usize = 64;

/// The longest event property key, in characters.
pub const MAX_PROP_KEY: usize = 40;

/// Whether a name can be an event's: 1 to 64 ASCII letters, digits, `_ - . :` and spaces.
pub fn is_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_EVENT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b' '))
}

/// The categories an event needs: the one it was sent with and the one the site configures
/// for its name, both. The first is the stricter, under which it is stored: a sale-or-sharing
/// category wins over any other.
pub fn event_categories(site: &Site, name: &str, sent: &CategoryId) -> Vec<CategoryId> {
    let mut out = vec![sent.clone()];
    if let Some(configured) = site.event_categories.get(name) {
        if configured != sent {
            out.push(configured.clone());
        }
    }
    let strict = |c: &CategoryId| site.category(c.as_str()).is_some_and(|k| k.sale_or_sharing);
    out.sort_by_key(|c| !strict(c));
    out
}

/// Decides whether an event needing `categories` may be kept.
pub fn gate(
    record: Option<&ConsentRecord>,
    site: &Site,
    categories: &[CategoryId],
    gpc_now: bool,
    now: Timestamp,
) -> Result<(), DropReason> {
    let Some(record) = record else {
        return Err(DropReason::NoConsent);
    };
    if record.expired_at(now) {
        return Err(DropReason::ConsentExpired);
    }
    let decision = &record.decision;
    if categories
        .iter()
        .any(|c| !site.policy.still_covers(&decision.policy_version, c))
    {
        return Err(DropReason::PolicyOutdated);
    }
    for c in categories {
        let Some(category) = site.category(c.as_str()) else {
            return Err(DropReason::Invalid);
        };
        if !decision.choices.granted(c) {
            return Err(DropReason::CategoryDenied);
        }
        if category.sale_or_sharing && (gpc_now || decision.gpc) {
            return Err(DropReason::CategoryDenied);
        }
    }
    Ok(())
}
