//! The generator's promises: deterministic for a seed, exactly the asked number of events, in
//! time order, each one behind a recorded decision that the real gate lets it through; and a
//! small fill of a real store.

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::Catalog;
use super::generator::{Generator, Plan, Stats};
use super::people::Shown;
use super::rhythm::DAY_MS;
use crate::analytics::event::AcceptedEvent;
use crate::domain::{
    Action, ConsentId, ConsentRecord, Decision, Regime, Site, event_categories, gate,
};
use crate::notices::SiteNotices;
use crate::settings::Settings;
use crate::telemetry::Metrics;

/// 2026-11-23T12:34:56Z: a fixed end, so runs can be compared.
const END: i64 = 1_795_437_296_000;

fn demo_site() -> Site {
    Settings::demo("/tmp/unused".into())
        .site("demo")
        .cloned()
        .expect("the demo site is configured")
}

fn plan(target: u64, days: i64, seed: u64) -> Plan {
    Plan {
        start: END - days * DAY_MS,
        end: END,
        target,
        seed,
    }
}

/// Runs the generator against an in-memory stand-in for the store.
fn simulate(site: &Site, plan: Plan) -> (Vec<Decision>, Vec<AcceptedEvent>, Stats) {
    let cat = Catalog::build(site).expect("the demo site builds");
    let shown = Shown::new(&SiteNotices::build(site), Some(1));
    let mut g = Generator::new(site, &cat, shown, plan).expect("the generator starts");
    let (mut decisions, mut events) = (Vec::new(), Vec::new());
    while let Some(batch) = g.open().expect("decisions resolve") {
        decisions.extend(batch);
        events.extend(g.close().iter().map(|p| cat.event(p)));
    }
    (decisions, events, g.stats.clone())
}

#[test]
fn the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic() {
    let site = demo_site();
    let a = simulate(&site, plan(3_000, 3, 7));
    let b = simulate(&site, plan(3_000, 3, 7));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    let c = simulate(&site, plan(3_000, 3, 8));
    assert_ne!(a.1, c.1);
}

#[test]
fn exactly_the_target_is_released_in_time_order_within_the_range() {
    let site = demo_site();
    for (target, days) in [(1, 1), (500, 1), (20_000, 10)] {
        let p = plan(target, days, 3);
        let (decisions, events, stats) = simulate(&site, p);
        assert_eq!(events.len() as u64, target, "target {target}");
        assert_eq!(stats.released, target);
        if let Some(i) = events.windows(2).position(|w| w[0].at > w[1].at) {
            panic!(
                "target {target}: {i} {:?} {:?} end {}",
                events[i],
                events[i + 1],
                p.end
            );
        }
        assert!(events.iter().all(|e| e.at.0 >= p.start && e.at.0 < p.end));
        assert!(
            decisions
                .windows(2)
                .all(|w| w[0].recorded_at <= w[1].recorded_at)
        );
        assert!(decisions.iter().all(|d| d.recorded_at.0 < p.end));
    }
}

#[test]
fn every_event_follows_a_recorded_decision_and_passes_the_real_gate() {
    let site = demo_site();
    let (decisions, events, stats) = simulate(&site, plan(20_000, 7, 11));
    let mut by_id: HashMap<&ConsentId, Vec<&Decision>> = HashMap::new();
    for d in &decisions {
        by_id.entry(&d.consent_id).or_default().push(d);
    }
    for e in &events {
        let made = by_id.get(&e.consent_id).expect("a decision exists");
        let current = made
            .iter()
            .rev()
            .find(|d| d.recorded_at <= e.at)
            .expect("the decision came first");
        let record = ConsentRecord {
            decision: (*current).clone(),
            seq: 1,
            receipt: String::new(),
        };
        let sent = if e.name == "purchase" {
            "marketing"
        } else {
            "analytics"
        };
        let sent = site.category(sent).expect("configured").id.clone();
        let categories = event_categories(&site, &e.name, &sent);
        assert_eq!(e.category, categories[0]);
        let gpc = current.gpc;
        assert_eq!(gate(Some(&record), &site, &categories, gpc, e.at), Ok(()));
    }
    // Signups need marketing: those of visitors who granted only analytics are gated out.
    assert!(stats.gated_total() > 0);
    assert!(events.iter().any(|e| e.name == "signup"));
    assert!(events.iter().any(|e| e.name == "purchase"));
    assert!(events.iter().any(|e| e.name == "outbound"));
    assert!(events.iter().any(|e| e.name == "download"));
}

#[test]
fn the_mix_looks_like_a_real_site() {
    let site = demo_site();
    let (decisions, events, stats) = simulate(&site, plan(40_000, 14, 5));
    // Every new visitor in the range decided at least once.
    assert!(stats.decisions >= stats.new_visitors);
    let opt_in: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.regime == Regime::OptIn)
        .collect();
    let share =
        |a: Action| opt_in.iter().filter(|d| d.action == a).count() as f64 / opt_in.len() as f64;
    assert!((0.48..0.62).contains(&share(Action::AcceptAll)));
    assert!((0.18..0.32).contains(&share(Action::RejectAll)));
    assert!((0.14..0.26).contains(&share(Action::Save)));
    let eea = decisions.iter().filter(|d| d.jurisdiction == "EEA").count();
    assert!(eea * 2 > decisions.len(), "the EEA is the majority");
    for j in ["UK", "CH", "US-CA", "OTHER", "UNKNOWN"] {
        assert!(decisions.iter().any(|d| d.jurisdiction == j), "{j}");
    }
    assert!(decisions.iter().any(|d| d.action == Action::Default));
    assert!(decisions.iter().any(|d| d.gpc));
    for device in ["desktop", "mobile", "tablet"] {
        assert!(
            events.iter().any(|e| e.context.device == device),
            "{device}"
        );
    }
    for browser in ["Chrome", "Safari", "Firefox", "Edge"] {
        assert!(
            events.iter().any(|e| e.context.browser == browser),
            "{browser}"
        );
    }
    for source in ["Google", "Bing", "DuckDuckGo", "X", "LinkedIn"] {
        assert!(
            events
                .iter()
                .any(|e| e.context.source.as_deref() == Some(source)),
            "{source}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e.context.utm_source.as_deref() == Some("newsletter"))
    );
    assert!(events.iter().any(|e| e.path.starts_with("/blog/")));
    let pageviews = events.iter().filter(|e| e.is_pageview()).count();
    assert!(pageviews * 10 > events.len() * 8, "mostly pageviews");
    assert!(stats.returning_visits > 0 && stats.earlier_visitors > 0);
}

#[test]
fn a_real_store_is_filled_through_its_own_paths() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut settings = crate::settings::Settings::demo(dir.path().to_path_buf());
    settings.cache_capacity_mb = 16;
    settings.analytics_cache_mb = 32;
    settings.durability = crate::store::Durability::Flush;
    let store = crate::store::open(&settings, Arc::new(Metrics::default())).expect("opens");
    let site = demo_site();
    let cat = Catalog::build(&site).expect("builds");
    let notices = SiteNotices::build(&site);
    let shown = Shown::new(&notices, Some(1));
    let now = crate::domain::Clock::now(&crate::domain::SystemClock).0;
    // Long enough for withdrawals more than a day before the end, which the sweep purges.
    let p = Plan {
        start: now - 10 * DAY_MS,
        end: now,
        target: 2_000,
        seed: 9,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let report = runtime
        .block_on(super::load::fill(&*store, &site, &cat, &notices, shown, p))
        .expect("the fill succeeds");
    assert_eq!(report.stats.released, 2_000);
    let (_, ledger) = store.verify_ledger().expect("the ledger reads").remove(0);
    assert_eq!(ledger.fault, None);
    assert!(ledger.entries >= report.stats.decisions);
    // The fill ends with the server's sweep, so the server's own first sweep finds nothing
    // to delete and the numbers a dashboard shows do not change under it.
    let purged = report.swept.withdrawn_events_deleted;
    assert!(
        purged > 0,
        "some visitors withdrew over a day before the end"
    );
    assert_eq!(
        report.swept.events_deleted, 0,
        "nothing is past the retention"
    );
    let again = runtime
        .block_on(store.sweep(
            crate::sites::retention_plan(std::slice::from_ref(&site)),
            crate::domain::Timestamp(now),
            crate::analytics::query::Cancel::default(),
        ))
        .expect("a second sweep runs");
    assert_eq!(again, crate::store::SweepReport::default());
    // The same plan without a store gives the same events: each is stored under its id,
    // but for the purged ones.
    let (_, expected, _) = simulate(&site, p);
    let mut per_id: HashMap<ConsentId, usize> = HashMap::new();
    for e in &expected {
        *per_id.entry(e.consent_id.clone()).or_default() += 1;
    }
    let stored_total = runtime.block_on(async {
        let mut total = 0;
        for (id, n) in &per_id {
            let stored = store
                .events_of(site.id.clone(), id.clone())
                .await
                .expect("events read");
            assert!(stored.len() <= *n);
            total += stored.len() as u64;
        }
        total
    });
    assert_eq!(stored_total, 2_000 - purged);
}

#[test]
fn the_demo_browsers_classify_as_people() {
    let site = demo_site();
    let cat = Catalog::build(&site).expect("builds");
    let devices: Vec<&str> = cat.clients.iter().map(|c| c.device.as_str()).collect();
    assert!(
        devices
            .iter()
            .all(|d| ["desktop", "mobile", "tablet"].contains(d))
    );
    assert!(
        cat.clients
            .iter()
            .all(|c| c.browser != "Other" && c.os != "Other")
    );
}
