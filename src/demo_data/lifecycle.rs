//! A visitor's life on the site: whether and when they come back, and which of a visit's
//! events the page script sends and the gate keeps, against the consent current at each
//! event's time.

use std::sync::Arc;

use rand::Rng;

use super::catalog::Catalog;
use super::people::Visitor;
use super::pick::{chance, duration_ms};
use super::rhythm::Rhythm;
use super::visits::{self, What};
use crate::domain::{ConsentRecord, DropReason, Site, Timestamp, gate};

/// Share of new visitors who come back at least once.
const RETURNING: f64 = 0.30;
/// After each return, the chance of yet another.
const ANOTHER_RETURN: f64 = 0.5;
const MAX_RETURNS: u8 = 12;
/// Chance that a returning visitor changes their consent during a visit.
pub const CHANGE_OF_MIND: f64 = 0.04;

/// How many times a new visitor will come back.
pub fn returns(rng: &mut impl Rng) -> u8 {
    if !chance(rng, RETURNING) {
        return 0;
    }
    let mut n = 1;
    while n < MAX_RETURNS && chance(rng, ANOTHER_RETURN) {
        n += 1;
    }
    n
}

/// When a visitor who visited at `at` comes back: days later, mostly, and at a time the site
/// is busy where they are (so returns follow the daily and weekly curves as arrivals do).
pub fn next_visit(rng: &mut impl Rng, offset_hours: i64, at: i64) -> i64 {
    let mut next = at;
    for _ in 0..20 {
        next = at + duration_ms(rng, 2.5 * 86_400.0, 1.0, 3_600.0, 30.0 * 86_400.0);
        if rng.random::<f64>() < Rhythm::activity(offset_hours, next) {
            break;
        }
    }
    next
}

/// The consent current at `at`: the latest of `records` (in time order) made by then.
fn current(records: &[Arc<ConsentRecord>], at: i64) -> Option<&ConsentRecord> {
    records
        .iter()
        .rev()
        .find(|r| r.decision.recorded_at.0 <= at)
        .or_else(|| records.first())
        .map(|r| r.as_ref())
}

/// The events of one visit that reach the store, and what happened to the others.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Time, what, page and whether it is the landing pageview.
    pub kept: Vec<(i64, What, usize, bool)>,
    /// Events the page script did not send: their category was not granted (or the consent
    /// had expired), as the script checks before sending.
    pub unsent: u64,
    /// Events sent but refused by the gate, by `DropReason::ALL` index.
    pub gated: [u64; DropReason::ALL.len()],
}

/// Plays a visit starting at `start` on `landing`: the page script sends an event only if
/// the category it sends it with is granted, and each sent event goes through the real gate.
pub fn play(
    rng: &mut impl Rng,
    cat: &Catalog,
    site: &Site,
    who: &Visitor,
    records: &[Arc<ConsentRecord>],
    start: i64,
    landing: usize,
) -> Outcome {
    let mut out = Outcome::default();
    for (i, step) in visits::plan(rng, cat, start, landing)
        .into_iter()
        .enumerate()
    {
        let Some(record) = current(records, step.at) else {
            out.unsent += 1;
            continue;
        };
        let kind = &cat.kinds[step.what.kind()];
        let now = Timestamp(step.at);
        if !record.decision.choices.granted(&kind.sent) || record.expired_at(now) {
            out.unsent += 1;
            continue;
        }
        match gate(Some(record), site, &kind.categories, who.gpc, now) {
            Ok(()) => out.kept.push((step.at, step.what, step.page, i == 0)),
            Err(reason) => {
                if let Some(k) = DropReason::ALL.iter().position(|r| *r == reason) {
                    out.gated[k] += 1;
                }
            }
        }
    }
    out
}
