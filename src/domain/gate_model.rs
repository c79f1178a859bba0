//! The gate checked against a small reference model over thousands of generated cases:
//! regime × action × choices × GPC (at decision and at event) × elapsed time × policy version ×
//! event category and name. An event is stored exactly when the model allows it.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::clock::Timestamp;
use super::consent::{Action, ConsentRecord, Decision, DecisionRequest};
use super::event::{DropReason, event_categories, gate};
use super::ids::{CategoryId, ConsentId, PolicyVersion, SiteId};
use super::jurisdiction::Regime;
use super::site::{Category, Localized, Policy, Site};

fn cat(id: &str, required: bool, sale: bool) -> Category {
    Category {
        id: CategoryId::parse(id).unwrap(),
        required,
        sale_or_sharing: sale,
        title: Localized::english(id),
        description: Localized::english(id),
        services: vec![],
    }
}

fn site() -> Site {
    Site {
        id: SiteId::parse("demo").unwrap(),
        name: "Demo".into(),
        origins: vec![],
        regime_without_law: Regime::OptIn,
        consent_max_age_days: 395,
        reject_max_age_days: 182,
        policy: Policy {
            version: PolicyVersion::parse("v2").unwrap(),
            last_updated: "2026-11-01".into(),
            controller: String::new(),
            address: String::new(),
            contact_email: String::new(),
            dpo_email: None,
            log_retention_days: 90,
            inactivity_deletion_months: 12,
            event_retention_days: 90,
            // v1 consents still count, except for marketing, which v2 changed materially.
            earlier_versions: BTreeMap::from([(
                PolicyVersion::parse("v1").unwrap(),
                vec![CategoryId::parse("marketing").unwrap()],
            )]),
            upcoming: None,
        },
        categories: vec![
            cat("necessary", true, false),
            cat("analytics", false, false),
            cat("marketing", false, true),
        ],
        event_categories: BTreeMap::from([(
            "purchase".to_owned(),
            CategoryId::parse("marketing").unwrap(),
        )]),
        goals: Default::default(),
        detect_cookies: true,
        experiment: Default::default(),
    }
}

#[derive(Debug, Clone)]
struct Case {
    exists: bool,
    regime: Regime,
    action: Action,
    ask_analytics: bool,
    ask_marketing: bool,
    gpc_at_decision: bool,
    days_later: u32,
    version: &'static str,
    sent: &'static str,
    name: &'static str,
    gpc_at_event: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        prop_oneof![
            Just(Regime::OptIn),
            Just(Regime::OptOut),
            Just(Regime::Notice)
        ],
        prop::sample::select(Action::ALL.to_vec()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![0u32..10, 170u32..200, 380u32..410, 0u32..800],
        prop::sample::select(vec!["v2", "v1", "v0"]),
        prop::sample::select(vec!["analytics", "marketing"]),
        prop::sample::select(vec!["pageview", "purchase", "signup"]),
        any::<bool>(),
    )
        .prop_map(|t| Case {
            exists: t.0,
            regime: t.1,
            action: t.2,
            ask_analytics: t.3,
            ask_marketing: t.4,
            gpc_at_decision: t.5,
            days_later: t.6,
            version: t.7,
            sent: t.8,
            name: t.9,
            gpc_at_event: t.10,
        })
}

/// The rule, written again from the contract and the checklist without the production code.
fn model(c: &Case) -> Result<(), DropReason> {
    if !c.exists {
        return Err(DropReason::NoConsent);
    }
    let chosen = |asked: bool, sale: bool| {
        let on = match c.action {
            Action::AcceptAll => true,
            Action::RejectAll | Action::Withdraw => false,
            Action::Save => asked,
            Action::Default => c.regime != Regime::OptIn,
        };
        on && !(sale && c.gpc_at_decision)
    };
    let analytics = chosen(c.ask_analytics, false);
    let marketing = chosen(c.ask_marketing, true);
    let lifetime = if analytics || marketing { 395 } else { 182 };
    if c.days_later >= lifetime {
        return Err(DropReason::ConsentExpired);
    }
    let needs_marketing = c.sent == "marketing" || c.name == "purchase";
    let needs_analytics = c.sent == "analytics";
    match c.version {
        "v2" => {}
        "v1" if !needs_marketing => {}
        _ => return Err(DropReason::PolicyOutdated),
    }
    if (needs_analytics && !analytics) || (needs_marketing && !marketing) {
        return Err(DropReason::CategoryDenied);
    }
    if needs_marketing && c.gpc_at_event {
        return Err(DropReason::CategoryDenied);
    }
    Ok(())
}

fn production(c: &Case) -> Result<(), DropReason> {
    let site = site();
    let request = DecisionRequest {
        action: c.action,
        requested: BTreeMap::from([
            ("analytics".to_owned(), c.ask_analytics),
            ("marketing".to_owned(), c.ask_marketing),
        ]),
        policy_version: "v2".into(),
        gpc: c.gpc_at_decision,
    };
    let choices = request.resolve(&site, c.regime).unwrap();
    let recorded = Timestamp(1_790_000_000_000);
    let record = ConsentRecord {
        decision: Decision {
            site: site.id.clone(),
            consent_id: ConsentId::from_random([4; 16]),
            action: c.action,
            expires_at: recorded.plus_days(Decision::lifetime_days(&site, &choices)),
            choices,
            policy_version: PolicyVersion::parse(c.version).unwrap(),
            policy_hash: String::new(),
            banner_hash: String::new(),
            variant: None,
            language: "en".into(),
            regime: c.regime,
            jurisdiction: "EEA".into(),
            country: None,
            geo_build: None,
            gpc: c.gpc_at_decision,
            url: None,
            channel: crate::domain::Channel::SiteOrigin,
            recorded_at: recorded,
        },
        seq: 1,
        receipt: String::new(),
    };
    let categories = event_categories(&site, c.name, &CategoryId::parse(c.sent).unwrap());
    let now = recorded.plus_days(c.days_later);
    gate(
        c.exists.then_some(&record),
        &site,
        &categories,
        c.gpc_at_event,
        now,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_event_is_stored_exactly_when_the_reference_model_allows_it(c in cases()) {
        prop_assert_eq!(production(&c), model(&c), "{:?}", c);
    }
}
