//! The registry of trees is complete, and erasure reaches every tree that can hold a visitor.

use std::sync::Arc;

use super::{SledStore, TREES};
use crate::analytics::event::{AcceptedEvent, Context};
use crate::domain::{
    Action, CategoryId, Choices, ConsentId, Decision, PolicyVersion, Regime, SiteId, Timestamp,
};
use crate::store::{AnalyticsStore, ConsentStore};
use crate::telemetry::Metrics;

/// The consent id numbered `n`: a test's ids, told apart by number.
pub(crate) fn numbered_id(n: u32) -> ConsentId {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    ConsentId::from_random(bytes)
}

/// Submits the decisions to the ledger writer and waits for every record, on a runtime of its
/// own (the caller is a plain thread).
pub(crate) fn submit_all(
    writer: &crate::store::ledger::Writer,
    decisions: Vec<Decision>,
) -> Vec<crate::domain::ConsentRecord> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let pending: Vec<_> = decisions
            .into_iter()
            .map(|d| writer.submit_decision(d, false))
            .collect();
        let mut out = Vec::new();
        for p in pending {
            out.push(p.await.unwrap());
        }
        out
    })
}

pub(crate) fn decision(id: &ConsentId) -> Decision {
    Decision {
        site: SiteId::parse("demo").unwrap(),
        consent_id: id.clone(),
        action: Action::AcceptAll,
        choices: Choices::from_map([(CategoryId::parse("analytics").unwrap(), true)].into()),
        policy_version: PolicyVersion::parse("v1").unwrap(),
        policy_hash: "00".repeat(32),
        banner_hash: "00".repeat(32),
        variant: None,
        language: "en".into(),
        regime: Regime::OptIn,
        jurisdiction: "EEA".into(),
        country: Some("DE".into()),
        geo_build: None,
        gpc: false,
        url: Some("https://x.example/".into()),
        channel: crate::domain::Channel::SiteOrigin,
        recorded_at: Timestamp(1_790_000_000_000),
        expires_at: Timestamp(1_800_000_000_000),
    }
}

/// Every tree's keys and values, concatenated.
fn contents(store: &SledStore, tree: &str) -> Vec<u8> {
    let t = store.trees.db.open_tree(tree).unwrap();
    let mut out = Vec::new();
    for item in t.iter() {
        let (k, v) = item.unwrap();
        out.extend_from_slice(&k);
        out.push(0xff);
        out.extend_from_slice(&v);
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn every_tree_is_registered_and_erasure_leaves_no_trace_of_the_visitor_in_any() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(
        dir.path(),
        crate::store::StoreOptions {
            encryption_key: None,
            cache_capacity_mb: 16,
            analytics_cache_mb: 32,
            durability: crate::store::Durability::Flush,
        },
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let site = SiteId::parse("demo").unwrap();
    let id = ConsentId::from_random([42; 16]);
    store.record(decision(&id), false).await.unwrap();
    store
        .append_events(vec![AcceptedEvent {
            site: site.clone(),
            consent_id: id.clone(),
            at: Timestamp(1_790_000_000_500),
            name: "pageview".into(),
            category: CategoryId::parse("analytics").unwrap(),
            path: "/".into(),
            props: vec![],
            context: Context {
                browser: "Firefox".into(),
                os: "Linux".into(),
                device: "desktop".into(),
                ..Context::default()
            },
        }])
        .unwrap();
    store.sync_events().await.unwrap();

    // A tree that is not in the registry would escape export and erasure: refuse it.
    for name in store.trees.db.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        assert!(
            name == "__sled__default" || TREES.contains(&name.as_str()),
            "tree `{name}` is not in the registry (src/store/sled/mod.rs): add it, and cover it in export and erasure"
        );
    }

    let subject = store.trees.subject(&site, &id);
    let number_of = |bytes: &[u8]| bytes.windows(16).any(|w| w == subject.0);
    let holding: Vec<_> = TREES
        .iter()
        .filter(|t| number_of(&contents(&store, t)))
        .collect();
    assert!(
        holding.contains(&&"consents") && holding.contains(&&"visitor_numbers"),
        "the visitor was seeded: {holding:?}"
    );

    let receipt = store
        .erase(
            site.clone(),
            id.clone(),
            Timestamp(1_790_000_001_000),
            "api",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.events_deleted, 1);
    for tree in TREES {
        let bytes = contents(&store, tree);
        assert!(
            !number_of(&bytes),
            "tree `{tree}` still holds the visitor's subject key"
        );
        assert!(
            !bytes
                .windows(id.as_str().len())
                .any(|w| w == id.as_str().as_bytes()),
            "tree `{tree}` holds the raw id"
        );
    }
    let (_, report) = store.verify_ledger().unwrap().remove(0);
    assert_eq!(report.fault, None);
    assert_eq!(report.entries, 2, "the decision's header and the tombstone");
    assert!(
        store
            .history(site.clone(), id.clone())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.events_of(site, id).await.unwrap().is_empty());
}
