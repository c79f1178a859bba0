//! The pilot: how many events a new visitor brings, measured on a sample before the run, so
//! the generator knows how many visitors to bring for the target.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::catalog::Catalog;
use super::generator::{Plan, WARM_UP_DAYS};
use super::lifecycle::{self, CHANGE_OF_MIND};
use super::people::{self, Shown, Visitor};
use super::pick::chance;
use super::rhythm::DAY_MS;
use crate::domain::{ConsentRecord, Decision, Site, Timestamp};

/// Visitors sampled in the range.
const PILOT_VISITORS: usize = 4000;
/// At most this many warm-up visitors (a one-day range would ask for 112,000).
const PILOT_WARM_UP_MAX: usize = 120_000;

/// Kept events in the range per new visitor in it, and per first visit, from a sample
/// played against unstored records: visitors arriving evenly over the warm-up and the range,
/// their events counted only within the range, so returns cut off by its end and those of
/// earlier visitors are both accounted for.
pub fn estimate(
    site: &Site,
    cat: &Catalog,
    shown: &Shown,
    plan: Plan,
) -> Result<(f64, f64), String> {
    let mut rng = SmallRng::seed_from_u64(plan.seed ^ 0x5EED_F00D);
    let record = |d: Decision| {
        Arc::new(ConsentRecord {
            decision: d,
            seq: 0,
            receipt: String::new(),
        })
    };
    let refused = |e| format!("a demo decision was refused: {e}");
    let warm_from = plan.start - WARM_UP_DAYS * DAY_MS;
    let range = (plan.end - plan.start).max(1);
    let warm = (PILOT_VISITORS as i64 * (plan.start - warm_from) / range)
        .clamp(0, PILOT_WARM_UP_MAX as i64) as usize;
    let in_range = |t: i64| t >= plan.start && t < plan.end;
    let (mut kept, mut first_visits) = (0usize, 0usize);
    for i in 0..PILOT_VISITORS + warm {
        let at = if i < PILOT_VISITORS {
            plan.start + rng.random_range(0..range)
        } else {
            warm_from + rng.random_range(0..(plan.start - warm_from).max(1))
        };
        let zone = cat.zone_pick.pick(&mut rng);
        let who = Visitor::new(&mut rng, cat, site, zone);
        let source = cat.source(&mut rng, false);
        let landing = cat.landing(&mut rng, source, 0);
        let page = &cat.pages[landing];
        let (first, then) = people::first_asks(&mut rng, who.regime);
        let mut records = vec![record(
            people::decision(site, shown, &who, first, Timestamp(at), page).map_err(refused)?,
        )];
        if let Some(then) = then {
            let d = people::decision(site, shown, &who, then, Timestamp(at + 30_000), page)
                .map_err(refused)?;
            records.push(record(d));
        }
        let first = lifecycle::play(&mut rng, cat, site, &who, &records, at + 800, landing)
            .kept
            .iter()
            .filter(|e| in_range(e.0))
            .count();
        if i < PILOT_VISITORS {
            first_visits += first;
        }
        kept += first;
        let mut t = at;
        for _ in 0..lifecycle::returns(&mut rng) {
            t = lifecycle::next_visit(&mut rng, cat.zones[zone].offset_hours, t);
            if t >= plan.end {
                break;
            }
            let latest = records[records.len() - 1].clone();
            if chance(&mut rng, CHANGE_OF_MIND) {
                let ask = people::change_of_mind(&mut rng, site, &latest);
                let d = people::decision(site, shown, &who, ask, Timestamp(t + 20_000), page)
                    .map_err(refused)?;
                records.push(record(d));
            }
            let source = cat.source(&mut rng, true);
            let landing = cat.landing(&mut rng, source, 0);
            kept += lifecycle::play(&mut rng, cat, site, &who, &records, t, landing)
                .kept
                .iter()
                .filter(|e| in_range(e.0))
                .count();
        }
    }
    let n = PILOT_VISITORS as f64;
    Ok((kept as f64 / n, first_visits as f64 / n))
}
