//! Visitors: where they are, what they browse with, whether they send GPC, what they choose
//! on the banner, and the `Decision` built from that the way the consents endpoint builds it
//! (`DecisionRequest::resolve`, then the same fields).

use std::collections::BTreeMap;

use rand::Rng;

use super::catalog::Catalog;
use super::pick::chance;
use crate::domain::{
    Action, ConsentId, ConsentRecord, Decision, DecisionError, DecisionRequest, Jurisdiction,
    Location, Regime, Site, Timestamp,
};
use crate::i18n;
use crate::notices::SiteNotices;

/// One browser on the site (a consent id is per browser): fixed for all its visits.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub id: ConsentId,
    pub country: Option<&'static str>,
    pub region: Option<&'static str>,
    pub language: &'static str,
    pub zone: u8,
    pub client: u16,
    pub gpc: bool,
    pub regime: Regime,
}

impl Visitor {
    pub fn new(rng: &mut impl Rng, cat: &Catalog, site: &Site, zone: usize) -> Visitor {
        let z = &cat.zones[zone];
        let place = &z.places[z.pick.pick(rng)];
        let region = place.region(rng);
        let location = Location {
            country: place.country.map(str::to_owned),
            subdivision: region.map(str::to_owned),
        };
        let regime = Jurisdiction::of(&location).regime(site.regime_without_law);
        let client = cat.client_pick.pick(rng);
        // Opt-out states' residents are likelier to have turned the signal on.
        let gpc_rate =
            cat.clients[client].gpc_rate * if regime == Regime::OptOut { 1.5 } else { 1.0 };
        // French-speaking Switzerland and Quebec get the French banner.
        let language = match (place.country, region) {
            (Some("CH"), Some("GE" | "VD")) | (Some("CA"), Some("QC")) => "fr",
            _ => place.language,
        };
        Visitor {
            id: ConsentId::from_random(rng.random()),
            country: place.country,
            region,
            language,
            zone: u8::try_from(zone).unwrap_or(0),
            client: u16::try_from(client).unwrap_or(0),
            gpc: chance(rng, gpc_rate),
            regime,
        }
    }

    pub fn location(&self) -> Location {
        Location {
            country: self.country.map(str::to_owned),
            subdivision: self.region.map(str::to_owned),
        }
    }
}

/// What a visitor does on the banner or in the preferences dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    AcceptAll,
    RejectAll,
    /// Saves the preferences with the categories that are not sale or sharing.
    SavePartial,
    /// Saves the preferences with every category ticked.
    SaveFull,
    Default,
    Withdraw,
}

impl Ask {
    pub fn action(self) -> Action {
        match self {
            Ask::AcceptAll => Action::AcceptAll,
            Ask::RejectAll => Action::RejectAll,
            Ask::SavePartial | Ask::SaveFull => Action::Save,
            Ask::Default => Action::Default,
            Ask::Withdraw => Action::Withdraw,
        }
    }
}

/// A new visitor's first decision, and maybe a second one a few seconds later: in opt-out and
/// notice regimes the banner records the defaults when shown, and some then click a button.
pub fn first_asks(rng: &mut impl Rng, regime: Regime) -> (Ask, Option<Ask>) {
    let r = rng.random_range(0..1000);
    match regime {
        Regime::OptIn => {
            let ask = match r {
                0..550 => Ask::AcceptAll,
                550..800 => Ask::RejectAll,
                800..950 => Ask::SavePartial,
                _ => Ask::SaveFull,
            };
            (ask, None)
        }
        Regime::OptOut => {
            let then = match r {
                0..100 => Some(Ask::RejectAll),
                100..130 => Some(Ask::AcceptAll),
                130..160 => Some(Ask::SavePartial),
                _ => None,
            };
            (Ask::Default, then)
        }
        Regime::Notice => {
            let then = match r {
                0..40 => Some(Ask::RejectAll),
                40..60 => Some(Ask::AcceptAll),
                _ => None,
            };
            (Ask::Default, then)
        }
    }
}

/// A returning visitor who opens the preferences again and changes their mind.
pub fn change_of_mind(rng: &mut impl Rng, site: &Site, current: &ConsentRecord) -> Ask {
    let granted = |id: &str| {
        site.category(id)
            .is_some_and(|c| current.decision.choices.granted(&c.id))
    };
    let r = rng.random_range(0..100);
    if granted("analytics") {
        match r {
            0..45 => Ask::Withdraw,
            45..70 => Ask::RejectAll,
            _ if granted("marketing") => Ask::SavePartial,
            _ => Ask::Withdraw,
        }
    } else if r < 55 {
        Ask::AcceptAll
    } else {
        Ask::SavePartial
    }
}

/// What the banner showed: the archived documents' hashes, and the geo database's build.
pub struct Shown {
    policy_hash: String,
    banner_hashes: BTreeMap<&'static str, String>,
    geo_build: Option<u64>,
}

impl Shown {
    pub fn new(notices: &SiteNotices, geo_build: Option<u64>) -> Shown {
        Shown {
            policy_hash: notices.policy.hash.hex(),
            banner_hashes: notices
                .banners
                .iter()
                .map(|(lang, b)| (*lang, b.hash.hex()))
                .collect(),
            geo_build,
        }
    }

    fn banner(&self, language: &str) -> String {
        self.banner_hashes
            .get(language)
            .or_else(|| self.banner_hashes.get("en"))
            .cloned()
            .unwrap_or_else(|| "0".repeat(64))
    }
}

/// The decision the consents endpoint would record for this visitor, ask and time.
pub fn decision(
    site: &Site,
    shown: &Shown,
    v: &Visitor,
    ask: Ask,
    at: Timestamp,
    page: &str,
) -> Result<Decision, DecisionError> {
    let requested: BTreeMap<String, bool> = match ask {
        Ask::SavePartial => site
            .categories
            .iter()
            .filter(|c| !c.required && !c.sale_or_sharing)
            .map(|c| (c.id.to_string(), true))
            .collect(),
        Ask::SaveFull => site
            .categories
            .iter()
            .filter(|c| !c.required)
            .map(|c| (c.id.to_string(), true))
            .collect(),
        _ => BTreeMap::new(),
    };
    let request = DecisionRequest {
        action: ask.action(),
        requested,
        policy_version: site.policy.version.to_string(),
        gpc: v.gpc,
    };
    let choices = request.resolve(site, v.regime)?;
    let language = i18n::choose(Some(v.language), None);
    Ok(Decision {
        site: site.id.clone(),
        consent_id: v.id.clone(),
        action: request.action,
        expires_at: at.plus_days(Decision::lifetime_days(site, &choices)),
        choices,
        policy_version: site.policy.version.clone(),
        policy_hash: shown.policy_hash.clone(),
        banner_hash: shown.banner(language),
        variant: None,
        language: language.to_owned(),
        regime: v.regime,
        jurisdiction: Jurisdiction::of(&v.location()).code(),
        country: v.country.map(str::to_owned),
        geo_build: shown.geo_build,
        gpc: v.gpc,
        url: Some(format!("{}{page}", super::world::ORIGIN)),
        channel: crate::domain::Channel::SiteOrigin,
        recorded_at: at,
    })
}
