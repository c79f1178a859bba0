//! A visitor's decision, how the regime and GPC shape it, and the record kept as proof.

use std::collections::BTreeMap;
use std::fmt;

use super::clock::Timestamp;
use super::ids::{CategoryId, ConsentId, PolicyVersion, SiteId, VariantName};
use super::jurisdiction::Regime;
use super::site::Site;

/// What the visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    AcceptAll,
    RejectAll,
    /// Saved a custom selection from the preferences dialog.
    Save,
    Withdraw,
    /// The regime's defaults, recorded when an opt-out or notice banner is first shown.
    Default,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::AcceptAll,
        Action::RejectAll,
        Action::Save,
        Action::Withdraw,
        Action::Default,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::AcceptAll => "accept_all",
            Action::RejectAll => "reject_all",
            Action::Save => "save",
            Action::Withdraw => "withdraw",
            Action::Default => "default",
        }
    }

    pub fn parse(raw: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// How a decision reached the server, as the server saw it. Recorded with every decision, so
/// that a decision replayed from outside a browser (the consent id is a bearer credential) can
/// be told apart in the ledger from one made in the banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// From a page of one of the site's configured origins: the banner on the site.
    SiteOrigin,
    /// From a page this server serves (the hosted policy page or the demo), with JavaScript.
    HostedPage,
    /// The hosted policy page's form, without JavaScript, with its CSRF token.
    PolicyForm,
    /// No browser origin: a script or a server-to-server call.
    NoOrigin,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::SiteOrigin,
        Channel::HostedPage,
        Channel::PolicyForm,
        Channel::NoOrigin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::SiteOrigin => "site_origin",
            Channel::HostedPage => "hosted_page",
            Channel::PolicyForm => "policy_form",
            Channel::NoOrigin => "no_origin",
        }
    }

    pub fn parse(raw: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Granted or refused, for every category of the site. `necessary` is always granted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Choices(BTreeMap<CategoryId, bool>);

impl Choices {
    pub fn from_map(map: BTreeMap<CategoryId, bool>) -> Choices {
        Choices(map)
    }

    pub fn granted(&self, category: &CategoryId) -> bool {
        self.0.get(category).copied().unwrap_or(false)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CategoryId, bool)> {
        self.0.iter().map(|(k, v)| (k, *v))
    }
}

/// Why a decision could not be recorded as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionError {
    UnknownCategory(String),
    StalePolicy { current: PolicyVersion },
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionError::UnknownCategory(c) => write!(f, "unknown category `{c}`"),
            DecisionError::StalePolicy { current } => {
                write!(
                    f,
                    "the policy version is not current; the current one is `{current}`"
                )
            }
        }
    }
}

/// What the visitor asked for, before the regime and GPC are applied.
#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub action: Action,
    /// Only read for `save`. Categories left out are refused: nothing is pre-ticked.
    pub requested: BTreeMap<String, bool>,
    pub policy_version: String,
    pub gpc: bool,
}

impl DecisionRequest {
    /// The choices to store, or why none can be stored.
    ///
    /// The rules: `necessary` (any required category) is always on; `accept_all` grants every
    /// category, `reject_all` and `withdraw` refuse every optional one, `save` takes the
    /// request, `default` takes the regime's defaults (on in opt-out and notice regimes, off in
    /// opt-in). Then, while GPC is on, every sale-or-sharing category is refused whatever was
    /// asked.
    pub fn resolve(&self, site: &Site, regime: Regime) -> Result<Choices, DecisionError> {
        if self.policy_version != site.policy.version.as_str() {
            return Err(DecisionError::StalePolicy {
                current: site.policy.version.clone(),
            });
        }
        for name in self.requested.keys() {
            if site.category(name).is_none() {
                return Err(DecisionError::UnknownCategory(name.clone()));
            }
        }
        let mut out = BTreeMap::new();
        for category in &site.categories {
            let asked = match self.action {
                Action::AcceptAll => true,
                Action::RejectAll | Action::Withdraw => false,
                Action::Save => self
                    .requested
                    .get(category.id.as_str())
                    .copied()
                    .unwrap_or(false),
                Action::Default => regime != Regime::OptIn,
            };
            let granted = category.required || (asked && !(self.gpc && category.sale_or_sharing));
            out.insert(category.id.clone(), granted);
        }
        Ok(Choices(out))
    }
}

/// A recorded decision: the ledger entry's content and the visitor's current state.
///
/// It answers who (consent id, site), when (server time), what was shown (policy version and
/// the hashes of the policy and banner texts, language), what was chosen, and how (action, GPC,
/// regime and the location it was based on). It never holds an IP address or User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub site: SiteId,
    pub consent_id: ConsentId,
    pub action: Action,
    pub choices: Choices,
    pub policy_version: PolicyVersion,
    /// Hex SHA-256 of the archived policy document shown.
    pub policy_hash: String,
    /// Hex SHA-256 of the archived banner texts shown, in `language`.
    pub banner_hash: String,
    /// The variant of the site's banner experiment shown, if one ran.
    pub variant: Option<VariantName>,
    pub language: String,
    pub regime: Regime,
    /// The contract's jurisdiction code, e.g. `EEA` or `US-CA`.
    pub jurisdiction: String,
    pub country: Option<String>,
    /// The geo database's build time (seconds since the epoch), if one was loaded.
    pub geo_build: Option<u64>,
    pub gpc: bool,
    /// The page the decision was made on: origin and path only, never its query.
    pub url: Option<String>,
    pub channel: Channel,
    pub recorded_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Decision {
    /// Whether this decision allowed an event of `category` at `at`: recorded at or before it,
    /// not expired then, granting the category. (A later withdrawal does not make an earlier
    /// event unlawful.)
    pub fn allowed(&self, category: &CategoryId, at: Timestamp) -> bool {
        self.recorded_at <= at && at < self.expires_at && self.choices.granted(category)
    }

    /// How long a decision lasts: a refusal is asked again sooner than a consent.
    pub fn lifetime_days(site: &Site, choices: &Choices) -> u32 {
        let any_optional_granted = site
            .categories
            .iter()
            .any(|c| !c.required && choices.granted(&c.id));
        let days = if any_optional_granted {
            site.consent_max_age_days
        } else {
            site.reject_max_age_days
        };
        days.min(Site::MAX_CONSENT_DAYS)
    }
}

/// The current consent of one id: its latest decision and the receipt that proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub decision: Decision,
    pub seq: u64,
    /// Hex SHA-256 of the ledger entry that holds the decision.
    pub receipt: String,
}

impl ConsentRecord {
    pub fn expired_at(&self, now: Timestamp) -> bool {
        now >= self.decision.expires_at
    }
}
