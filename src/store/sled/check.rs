//! `consentry store check`: the invariants of the stored data that the hash chain does not
//! cover, checked by walking every tree once.
//!
//! - A visitor number is held by one visitor only (`visitor_numbers` values are unique).
//! - Every event's visitor number is held by a visitor, its day is in that visitor's day index
//!   (`visitor_days`, through which export and erasure find it), and one of that visitor's decisions
//!   allowed it: recorded at or before the event, granting the event's category, not expired
//!   at the event's time. (A later withdrawal does not make an earlier event unlawful; the
//!   withdrawal purge removes it within a day.)
//! - An erased subject (one a tombstone names) holds no state, history, number or event.

use std::collections::{HashMap, HashSet};

use super::{Trees, keys, map_err, split_entry};
use crate::analytics::codec;
use crate::domain::{EntryHeader, SiteId, Subject};
use crate::store::integrity::{LedgerFacts, Who};
use crate::store::{IntegrityReport, StoreError};

/// The site and subject of a `site 0x00 subject` key.
fn who(key: &[u8]) -> Option<Who> {
    let zero = key.iter().position(|b| *b == 0)?;
    let site = SiteId::parse(std::str::from_utf8(&key[..zero]).ok()?).ok()?;
    let subject: [u8; 16] = key.get(zero + 1..zero + 17)?.try_into().ok()?;
    Some((site, Subject(subject)))
}

/// The site of an `events` key.
fn event_site(key: &[u8]) -> Option<SiteId> {
    let zero = key.iter().position(|b| *b == 0)?;
    SiteId::parse(std::str::from_utf8(&key[..zero]).ok()?).ok()
}

/// What the checks of single events compare them with.
struct Known<'a> {
    by_number: &'a HashMap<(SiteId, u64), Who>,
    days: &'a HashSet<Vec<u8>>,
    facts: &'a LedgerFacts,
}

impl Known<'_> {
    /// An event belongs to a visitor, is in its visitor's day index, and was allowed by one of
    /// that visitor's decisions.
    fn check_event(
        &self,
        report: &mut IntegrityReport,
        site: &SiteId,
        number: u64,
        event: &crate::analytics::event::StoredEvent,
    ) {
        report.events += 1;
        let at = event.at.0;
        let Some(w) = self.by_number.get(&(site.clone(), number)) else {
            report.fault(format!(
                "an event of site {site} at {at} belongs to visitor number {number}, which no visitor holds"
            ));
            return;
        };
        let mut day_key = super::events::visitor_key(site.as_str(), &w.1);
        let day = u32::try_from(at.div_euclid(crate::domain::Timestamp::MS_PER_DAY)).unwrap_or(0);
        day_key.extend_from_slice(&day.to_be_bytes());
        if !self.days.contains(&day_key) {
            report.fault(format!(
                "an event of site {site} at {at} is missing from its visitor's day index (export and erasure would not find it)"
            ));
        }
        if !self.facts.allowed(w, &event.category, event.at) {
            report.fault(format!(
                "an event of site {site} at {at} ({} {}) was allowed by no decision of subject {}",
                event.category,
                event.name,
                w.1.hex()
            ));
        }
    }
}

/// What the ledger says about subjects.
fn ledger(trees: &Trees) -> Result<LedgerFacts, StoreError> {
    let mut facts = LedgerFacts::default();
    for item in trees.ledger.iter() {
        let (_, value) = item.map_err(map_err)?;
        let (header, payload) = split_entry(&value);
        if let Some(header) = EntryHeader::from_bytes(header) {
            facts.add(&header, payload);
        }
    }
    Ok(facts)
}

pub(crate) fn check(trees: &Trees) -> Result<IntegrityReport, StoreError> {
    let mut report = IntegrityReport::default();
    let facts = ledger(trees)?;

    let mut by_number: HashMap<(SiteId, u64), Who> = HashMap::new();
    for item in trees.visitor_numbers.iter() {
        let (k, v) = item.map_err(map_err)?;
        let (Some(w), Ok(n)) = (who(&k), <[u8; 8]>::try_from(v.as_ref())) else {
            report.fault("a visitor-number row cannot be read".into());
            continue;
        };
        let n = u64::from_be_bytes(n);
        report.visitors += 1;
        if let Some(other) = by_number.insert((w.0.clone(), n), w.clone()) {
            report.fault(format!(
                "visitor number {n} of site {} is held by subjects {} and {}",
                w.0,
                other.1.hex(),
                w.1.hex()
            ));
        }
    }

    let mut days: HashSet<Vec<u8>> = HashSet::new();
    for item in trees.visitor_days.iter() {
        let (k, _) = item.map_err(map_err)?;
        days.insert(k.to_vec());
    }

    // Buffered events, then sealed ones, a day at a time.
    let known = Known {
        by_number: &by_number,
        days: &days,
        facts: &facts,
    };
    for item in trees.events.iter() {
        let (k, v) = item.map_err(map_err)?;
        if super::sealed::parse_map_key(&k).is_some() {
            continue;
        }
        let (Some(site), Some(at)) = (event_site(&k), super::events::event_time(&k)) else {
            report.fault("an event key cannot be read".into());
            continue;
        };
        let Some((number, event)) = codec::decode(crate::domain::Timestamp(at), &v) else {
            report.fault(format!("an event of site {site} at {at} cannot be decoded"));
            continue;
        };
        known.check_event(&mut report, &site, number, &event);
    }
    for (site, day) in trees.sealed.all() {
        let Ok(site_id) = SiteId::parse(&site) else {
            report.fault(format!("segment folder {site} is not a site id"));
            continue;
        };
        match trees.sealed.read(&site, day) {
            Ok(Some(sealed)) => {
                for row in sealed.rows() {
                    let of_day = row
                        .event
                        .at
                        .0
                        .div_euclid(crate::domain::Timestamp::MS_PER_DAY);
                    if of_day != day {
                        report.fault(format!(
                            "segment {site}/{day} holds an event of another day"
                        ));
                    }
                    known.check_event(&mut report, &site_id, row.visitor, &row.event);
                }
            }
            Ok(None) => {}
            Err(e) => report.fault(format!("segment {site}/{day} cannot be read: {e}")),
        }
    }

    report.tombstones = facts.erased.len() as u64;
    for (site, subject) in &facts.erased {
        let key = keys::consent(site, subject);
        let holds = super::erase::holds_anything(trees, site, subject)?;
        // A pending erasure job is still to finish (at the next start); not a fault yet.
        let pending = trees.erasures.contains_key(&key).map_err(map_err)?;
        if holds && !pending {
            report.fault(format!(
                "erased subject {} of site {site} still holds data",
                subject.hex()
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::SledStore;
    use super::super::registry_test::decision;
    use crate::analytics::event::{AcceptedEvent, Context};
    use crate::domain::{CategoryId, Choices, ConsentId, SiteId, Timestamp};
    use crate::store::{AnalyticsStore, ConsentStore, Durability, StoreOptions};
    use crate::telemetry::Metrics;

    fn event(id: &ConsentId, at: i64) -> AcceptedEvent {
        AcceptedEvent {
            site: SiteId::parse("demo").unwrap(),
            consent_id: id.clone(),
            at: Timestamp(at),
            name: "pageview".into(),
            category: CategoryId::parse("analytics").unwrap(),
            path: "/".into(),
            props: vec![],
            context: Context::default(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_check_finds_a_shared_visitor_number_an_unconsented_event_and_a_revived_erasure() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            encryption_key: None,
            cache_capacity_mb: 16,
            analytics_cache_mb: 32,
            durability: Durability::Flush,
        };
        let store = SledStore::open(dir.path(), options, Arc::new(Metrics::default())).unwrap();
        let site = SiteId::parse("demo").unwrap();
        let (a, b, c) = (
            ConsentId::from_random([1; 16]),
            ConsentId::from_random([2; 16]),
            ConsentId::from_random([3; 16]),
        );
        for id in [&a, &b] {
            store.record(decision(id), false).await.unwrap();
        }
        let mut refused = decision(&c);
        refused.choices =
            Choices::from_map([(CategoryId::parse("analytics").unwrap(), false)].into());
        store.record(refused, false).await.unwrap();
        store
            .append_events(vec![
                event(&a, 1_790_000_000_500),
                event(&b, 1_790_000_000_600),
            ])
            .unwrap();
        store.sync_events().await.unwrap();
        let sound = store.check_integrity().unwrap();
        assert_eq!(sound.faults, Vec::<String>::new());
        assert_eq!((sound.visitors, sound.events), (2, 2));

        // An event the gate would have dropped (analytics refused), written below it.
        store
            .append_events(vec![event(&c, 1_790_000_000_700)])
            .unwrap();
        store.sync_events().await.unwrap();
        // The number of a copied onto b.
        let t = &store.trees;
        let key = |id: &ConsentId| super::super::events::visitor_key("demo", &t.subject(&site, id));
        let number_of_a = t.visitor_numbers.get(key(&a)).unwrap().unwrap();
        t.visitor_numbers.insert(key(&b), number_of_a).unwrap();
        // d erased, then its state put back.
        let d = ConsentId::from_random([4; 16]);
        store.record(decision(&d), false).await.unwrap();
        let state_key = super::keys::consent(&site, &t.subject(&site, &d));
        let state = t.consents.get(&state_key).unwrap().unwrap();
        store
            .erase(site.clone(), d.clone(), Timestamp(1_790_000_001_000), "api")
            .await
            .unwrap();
        t.consents.insert(&state_key, state).unwrap();

        let found = store.check_integrity().unwrap().faults.join("\n");
        assert!(found.contains("is held by subjects"), "{found}");
        assert!(found.contains("was allowed by no decision"), "{found}");
        assert!(found.contains("still holds data"), "{found}");
    }
}
