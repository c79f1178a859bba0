//! The traffic, one window (an hour) at a time: who arrives and who comes back, the decisions
//! to record first (`open`), then the events of those visits once their consents are stored
//! (`close`), released in global time order until exactly the target count is reached.
//!
//! Before the range, four weeks of warm-up bring the visitors who will come back during it,
//! so the first days already have returning visitors; their decisions are recorded at their
//! time, their earlier visits leave no events.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::catalog::Catalog;
use super::lifecycle::{self, CHANGE_OF_MIND};
use super::people::{self, Ask, Shown, Visitor};
use super::pick::chance;
use super::pilot;
use super::rhythm::{DAY_MS, HOUR_MS, Rhythm};
use super::visits::Planned;
use crate::domain::{Action, ConsentRecord, Decision, DropReason, Site, Timestamp};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Milliseconds since the epoch; the range is `[start, end)`.
    pub start: i64,
    pub end: i64,
    /// Exactly this many events are released.
    pub target: u64,
    pub seed: u64,
}

/// What was generated so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Visitors whose first visit is in the range.
    pub new_visitors: u64,
    /// Visitors from before the range who come back during it.
    pub earlier_visitors: u64,
    pub visits: u64,
    pub returning_visits: u64,
    pub decisions: u64,
    /// Decisions by `Action::ALL` index.
    pub by_action: [u64; Action::ALL.len()],
    pub released: u64,
    pub pageviews: u64,
    /// Events the page script would not send (category not granted, consent expired).
    pub unsent: u64,
    /// Events sent but refused by the gate, by `DropReason::ALL` index.
    pub gated: [u64; DropReason::ALL.len()],
}

impl Stats {
    pub fn gated_total(&self) -> u64 {
        self.gated.iter().sum()
    }
}

/// A visitor who will come back.
struct Returner {
    who: Arc<Visitor>,
    record: Arc<ConsentRecord>,
    left: u8,
}

/// A return visit, ordered so the earliest is on top of the heap.
struct Due {
    at: i64,
    seq: u64,
    returner: Returner,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Decisions of the open window: time, creation order, the visit (in `openings`) and the
/// decision.
type Pending = Vec<(i64, u64, usize, Decision)>;

/// A visit of the open window, waiting for its decisions to be recorded.
struct Opening {
    at: i64,
    who: Arc<Visitor>,
    /// Its consents in time order: the known one, then those recorded in this window.
    records: Vec<Arc<ConsentRecord>>,
    left: u8,
    /// The next visit and the returns after it, when already drawn.
    next: Option<(i64, u8)>,
    returning: bool,
    in_range: bool,
    entry: usize,
    landing: usize,
    /// The first pageview leaves after the decision is committed.
    first_delay: i64,
}

/// Days before the range whose visitors may come back in it.
pub const WARM_UP_DAYS: i64 = 28;
const MAX_TOP_UPS: u32 = 30;
const MAX_TOP_UP_VISITORS: u64 = 200_000;

pub struct Generator<'a> {
    site: &'a Site,
    cat: &'a Catalog,
    shown: Shown,
    rhythm: Rhythm,
    plan: Plan,
    rng: SmallRng,
    next_start: i64,
    window: (i64, i64),
    openings: Vec<Opening>,
    due: BinaryHeap<Due>,
    buffer: Vec<Planned>,
    seq: u64,
    /// New visitors per unit of rhythm weight.
    scale: f64,
    total_weight: f64,
    weight_so_far: f64,
    /// The weight so far, each window's times the correction it was given.
    applied_weight: f64,
    last_correction: f64,
    per_first_visit: f64,
    /// Events still missing when the last window closed.
    short: Option<u64>,
    top_ups: u32,
    /// The time of the latest decision handed out.
    last_decision: i64,
    done: bool,
    pub stats: Stats,
}

impl<'a> Generator<'a> {
    pub fn new(
        site: &'a Site,
        cat: &'a Catalog,
        shown: Shown,
        plan: Plan,
    ) -> Result<Generator<'a>, String> {
        let rhythm = Rhythm::new(
            plan.start,
            plan.seed,
            cat.zones
                .iter()
                .map(|z| (z.offset_hours, z.share))
                .collect(),
        );
        let (per_visitor, per_first_visit) = pilot::estimate(site, cat, &shown, plan)?;
        if per_visitor <= 0.0 || per_first_visit <= 0.0 {
            return Err(format!(
                "visitors of site `{}` would let no events through the gate",
                site.id
            ));
        }
        let mut total_weight = 0.0;
        let mut t = plan.start;
        while t < plan.end {
            let e = (t + HOUR_MS).min(plan.end);
            total_weight += window_weight(&rhythm, t, e);
            t = e;
        }
        let scale = plan.target as f64 / per_visitor / total_weight.max(f64::MIN_POSITIVE);
        // Warm-up windows are aligned so the range's own windows start at its start.
        let warm_from = plan.start - WARM_UP_DAYS * DAY_MS;
        Ok(Generator {
            site,
            cat,
            shown,
            rhythm,
            plan,
            rng: SmallRng::seed_from_u64(plan.seed),
            next_start: warm_from,
            window: (warm_from, warm_from),
            openings: Vec::new(),
            due: BinaryHeap::new(),
            buffer: Vec::new(),
            seq: 0,
            scale,
            total_weight,
            weight_so_far: 0.0,
            applied_weight: 0.0,
            last_correction: 1.0,
            per_first_visit,
            short: None,
            top_ups: 0,
            last_decision: i64::MIN,
            done: false,
            stats: Stats::default(),
        })
    }

    /// The time the generation has reached (the open window's end).
    pub fn reached(&self) -> i64 {
        self.window.1
    }

    /// Opens the next window: the decisions to record, in time order, before `close`.
    /// `None` once the target is reached or the range is over.
    pub fn open(&mut self) -> Result<Option<Vec<Decision>>, String> {
        if self.done {
            return Ok(None);
        }
        let mut pending = Vec::new();
        if let Some(short) = self.short.take() {
            // Still short in the last window: more visitors arrive in it, after its decisions
            // so far, so the ledger stays in time order.
            // Each round takes the first half of what is left of the window, so rounds stay
            // apart and later visits still have time for their pages.
            let (ws, we) = self.window;
            let from = ws.max(self.last_decision);
            let span = ((we - from) / 2).max(1);
            let n = ((short as f64 * 2.0 / self.per_first_visit).ceil() as u64)
                .clamp(10, MAX_TOP_UP_VISITORS);
            for _ in 0..n {
                let zone = self.cat.zone_pick.pick(&mut self.rng);
                let at = from + self.rng.random_range(0..span);
                self.arrive(at, zone, None, from + span, &mut pending)?;
            }
        } else {
            if self.next_start >= self.plan.end {
                self.done = true;
                return Ok(None);
            }
            let ws = self.next_start;
            let we = (ws + HOUR_MS).min(self.plan.end);
            let warm = ws < self.plan.start;
            let correction = if warm { 1.0 } else { self.correction() };
            self.arrivals(ws, we, correction, &mut pending)?;
            self.returns_due(we, &mut pending)?;
            if !warm {
                let weight = window_weight(&self.rhythm, ws, we);
                self.weight_so_far += weight;
                self.applied_weight += weight * correction;
            }
            self.window = (ws, we);
            self.next_start = we;
        }
        pending.sort_by_key(|(at, seq, _, _)| (*at, *seq));
        if let Some((at, ..)) = pending.last() {
            self.last_decision = *at;
        }
        let mut decisions = Vec::with_capacity(pending.len());
        for (_, _, slot, decision) in pending {
            self.stats.decisions += 1;
            if let Some(k) = Action::ALL.iter().position(|a| *a == decision.action) {
                self.stats.by_action[k] += 1;
            }
            // The record the store will hold: the gate reads only its decision.
            if let Some(o) = self.openings.get_mut(slot) {
                o.records.push(Arc::new(ConsentRecord {
                    decision: decision.clone(),
                    seq: 0,
                    receipt: String::new(),
                }));
            }
            decisions.push(decision);
        }
        Ok(Some(decisions))
    }

    /// Closes the open window: plays its visits, each event checked by the gate against the
    /// visitor's consent at its time, and releases the events due before the window's end.
    /// The caller appends them only once the window's decisions are recorded.
    pub fn close(&mut self) -> Vec<Planned> {
        let cat = self.cat;
        let site = self.site;
        for o in std::mem::take(&mut self.openings) {
            if o.in_range {
                self.stats.visits += 1;
                self.stats.returning_visits += u64::from(o.returning);
                let outcome = lifecycle::play(
                    &mut self.rng,
                    cat,
                    site,
                    &o.who,
                    &o.records,
                    o.at + o.first_delay,
                    o.landing,
                );
                self.stats.unsent += outcome.unsent;
                for (total, n) in self.stats.gated.iter_mut().zip(outcome.gated) {
                    *total += n;
                }
                for (at, what, page, landing) in outcome.kept {
                    self.seq += 1;
                    self.buffer.push(Planned {
                        at,
                        seq: self.seq,
                        who: o.who.clone(),
                        what,
                        page: u16::try_from(page).unwrap_or(0),
                        entry: landing.then(|| u16::try_from(o.entry).unwrap_or(0)),
                    });
                }
            }
            let Some(latest) = o.records.last() else {
                continue;
            };
            let offset = cat.zones[usize::from(o.who.zone)].offset_hours;
            let next = o.next.or_else(|| {
                (o.left > 0).then(|| {
                    let at = lifecycle::next_visit(&mut self.rng, offset, o.at);
                    (at, o.left - 1)
                })
            });
            // Never before this window's end, so nothing comes after what was released.
            if let Some((at, left)) = next.map(|(at, left)| (at.max(self.window.1), left))
                && at < self.plan.end
            {
                self.seq += 1;
                self.due.push(Due {
                    at,
                    seq: self.seq,
                    returner: Returner {
                        who: o.who.clone(),
                        record: latest.clone(),
                        left,
                    },
                });
            }
        }
        self.release()
    }

    /// The events due before the window's end, up to the target.
    fn release(&mut self) -> Vec<Planned> {
        let we = self.window.1;
        self.buffer.sort_unstable_by_key(|p| (p.at, p.seq));
        let ready = self.buffer.partition_point(|p| p.at < we) as u64;
        let room = self.plan.target - self.stats.released;
        let last = we >= self.plan.end;
        if last && ready < room && self.top_ups < MAX_TOP_UPS {
            self.top_ups += 1;
            self.short = Some(room - ready);
            return Vec::new();
        }
        let take = ready.min(room) as usize;
        let out: Vec<Planned> = self.buffer.drain(..take).collect();
        self.stats.released += out.len() as u64;
        self.stats.pageviews += out.iter().filter(|p| p.what.kind() == 0).count() as u64;
        if last || self.stats.released >= self.plan.target {
            self.done = true;
            self.buffer.clear();
            self.due.clear();
        }
        out
    }

    /// The factor on new arrivals that spends what is left of the target over what is left
    /// of the range, at the rate of events per unit of (corrected) weight seen so far.
    fn correction(&mut self) -> f64 {
        let left_weight = self.total_weight - self.weight_so_far;
        let enough = (self.plan.target / 50).max(100);
        if self.stats.released < enough
            || self.applied_weight <= 0.0
            || left_weight < self.total_weight * 0.01
        {
            return self.last_correction;
        }
        let rate = self.stats.released as f64 / self.applied_weight;
        let left = (self.plan.target - self.stats.released) as f64;
        self.last_correction = (left / (rate * left_weight)).clamp(0.6, 1.6);
        self.last_correction
    }

    fn arrivals(
        &mut self,
        ws: i64,
        we: i64,
        correction: f64,
        pending: &mut Pending,
    ) -> Result<(), String> {
        for zone in 0..self.rhythm.zone_count() {
            let expected = self.scale * correction * self.rhythm.zone_weight(zone, ws, we);
            let n = (expected + self.rng.random::<f64>()).floor() as u64;
            for _ in 0..n {
                let at = ws + self.rng.random_range(0..(we - ws).max(1));
                self.arrive(at, zone, None, we, pending)?;
            }
        }
        let expected = self.scale * correction * self.rhythm.burst_weight(ws, we);
        let n = (expected + self.rng.random::<f64>()).floor() as u64;
        let newsletter = Some(self.cat.newsletter());
        for _ in 0..n {
            let zone = self.cat.zone_pick.pick(&mut self.rng);
            let at = ws + self.rng.random_range(0..(we - ws).max(1));
            self.arrive(at, zone, newsletter, we, pending)?;
        }
        Ok(())
    }

    /// A new visitor arrives and decides; a warm-up visitor only if they will come back. A
    /// second decision stays before `until`, so each window's decisions stay within it.
    fn arrive(
        &mut self,
        at: i64,
        zone: usize,
        source: Option<usize>,
        until: i64,
        pending: &mut Pending,
    ) -> Result<(), String> {
        let cat = self.cat;
        let in_range = at >= self.plan.start;
        let who = Visitor::new(&mut self.rng, cat, self.site, zone);
        let left = lifecycle::returns(&mut self.rng);
        let source = source.unwrap_or_else(|| cat.source(&mut self.rng, false));
        let campaign = Rhythm::campaign(at);
        let landing = cat.landing(&mut self.rng, source, campaign);
        let (first, then) = people::first_asks(&mut self.rng, who.regime);
        let then_at = (at + self.rng.random_range(5_000..60_000))
            .min(until - 1)
            .max(at);
        let first_delay = self.rng.random_range(300..1500);
        // A visitor from before the range matters only from their first visit in it.
        let mut next = None;
        if !in_range {
            let (mut t, mut l) = (at, left);
            while l > 0 && next.is_none() {
                t = lifecycle::next_visit(&mut self.rng, cat.zones[zone].offset_hours, t);
                l -= 1;
                next = (t >= self.plan.start).then_some((t, l));
            }
            if next.is_none() {
                return Ok(());
            }
        }
        let slot = self.openings.len();
        let page = &cat.pages[landing];
        self.push_decision(pending, slot, &who, first, at, page)?;
        if let Some(then) = then {
            self.push_decision(pending, slot, &who, then, then_at, page)?;
        }
        if in_range {
            self.stats.new_visitors += 1;
        } else {
            self.stats.earlier_visitors += 1;
        }
        self.openings.push(Opening {
            at,
            entry: cat.entry(source, who.country, campaign),
            who: Arc::new(who),
            records: Vec::new(),
            left,
            next,
            returning: false,
            in_range,
            landing,
            first_delay,
        });
        Ok(())
    }

    /// Return visits due before `we`; some change their consent, and an expired consent is
    /// asked for again.
    fn returns_due(&mut self, we: i64, pending: &mut Pending) -> Result<(), String> {
        let cat = self.cat;
        while self.due.peek().is_some_and(|d| d.at < we) {
            let Some(Due { at, returner, .. }) = self.due.pop() else {
                break;
            };
            let in_range = at >= self.plan.start;
            let source = cat.source(&mut self.rng, true);
            let campaign = Rhythm::campaign(at);
            let landing = cat.landing(&mut self.rng, source, campaign);
            let slot = self.openings.len();
            let page = &cat.pages[landing];
            let mut first_delay = 0;
            if in_range {
                let expired = returner.record.expired_at(Timestamp(at));
                if expired {
                    let (ask, _) = people::first_asks(&mut self.rng, returner.who.regime);
                    self.push_decision(pending, slot, &returner.who, ask, at, page)?;
                    first_delay = self.rng.random_range(300..1500);
                } else if chance(&mut self.rng, CHANGE_OF_MIND) {
                    let ask = people::change_of_mind(&mut self.rng, self.site, &returner.record);
                    let t = (at + self.rng.random_range(5_000..40_000)).min(we - 1);
                    self.push_decision(pending, slot, &returner.who, ask, t.max(at), page)?;
                }
            }
            self.openings.push(Opening {
                at,
                entry: cat.entry(source, returner.who.country, campaign),
                who: returner.who,
                records: vec![returner.record],
                left: returner.left,
                next: None,
                returning: true,
                in_range,
                landing,
                first_delay,
            });
        }
        Ok(())
    }

    fn push_decision(
        &mut self,
        pending: &mut Pending,
        slot: usize,
        who: &Visitor,
        ask: Ask,
        at: i64,
        page: &str,
    ) -> Result<(), String> {
        let d = people::decision(self.site, &self.shown, who, ask, Timestamp(at), page)
            .map_err(|e| format!("a demo decision was refused: {e}"))?;
        self.seq += 1;
        pending.push((at, self.seq, slot, d));
        Ok(())
    }
}

/// The rhythm's weight of all new arrivals in `[from, to)`.
fn window_weight(rhythm: &Rhythm, from: i64, to: i64) -> f64 {
    (0..rhythm.zone_count())
        .map(|z| rhythm.zone_weight(z, from, to))
        .sum::<f64>()
        + rhythm.burst_weight(from, to)
}
