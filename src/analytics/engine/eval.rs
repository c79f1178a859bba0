//! Answers a `Query` from days, one day at a time: filters are decided once per dictionary
//! word, visit-level filters once per visit, and events are read column by column, so no
//! question builds a table of visits or keeps more than one day's columns.
//!
//! Counting (the shared contract's "Analytics v2"):
//! - `visitors` is the number of distinct visitor numbers among the counted events of a group
//!   over the whole span (per period for a `time:*` part), exact;
//! - an event is counted when its time is in the span and it passes every filter; a filter on
//!   a visit-level dimension reads the visit's value;
//! - a visit is counted (with its bounce and duration) in the group of its attributes and the
//!   period it started in, when it started in the span and at least one of its events passed
//!   every filter; a query split by an event-level dimension counts no visits.

use std::collections::HashMap;
use std::ops::Range;

use super::day::Day;
use super::day_answer::{DayAnswer, DayTally, Visitors};
use super::format::Need;
use super::goal_marks::DayGoals;
use crate::analytics::goals::{GoalSet, Goals, members};
use crate::analytics::query::{
    Counters, DAY_MS, Dimension, Filter, FilterOp, Groups, Metric, Part, Query, Span, TimeGrain,
    VisitField, period_at,
};

/// What a filter reads in a day.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    Visit(VisitField),
    Page,
    Name,
    /// The goals an event completes: a set, not one word (see `DayGoals`).
    Goal,
    /// A property, by its key's code; `None` when no event of the day has the key.
    Prop(Option<u32>),
}

pub(super) fn target(d: &Day, dim: &Dimension) -> Target {
    match dim {
        Dimension::Visit(f) => Target::Visit(*f),
        Dimension::Page => Target::Page,
        Dimension::Name => Target::Name,
        Dimension::Goal => Target::Goal,
        Dimension::Prop(key) => Target::Prop(d.find(key)),
        // Parsing keeps time out of filters; as a group part it is read from the event's time.
        Dimension::Time(_) => Target::Page,
    }
}

/// A target's value code for event `i` (0: none). A goal is no word of the day: its code is
/// 0 here, and the callers read goal sets from `DayGoals`.
pub(super) fn code_of(d: &Day, t: Target, i: usize) -> u32 {
    match t {
        Target::Goal => 0,
        Target::Visit(f) => d.attr(f)[d.ev_visit[i] as usize],
        Target::Page if d.ev_name[i] == 0 => d.ev_path[i],
        Target::Page => 0,
        Target::Name => d.ev_name[i],
        Target::Prop(None) => 0,
        Target::Prop(Some(key)) => {
            let (from, to) = (d.ev_props[i] as usize, d.ev_props[i + 1] as usize);
            (from..to)
                .find(|p| d.prop_key[*p] == key)
                .map_or(0, |p| d.prop_value[p])
        }
    }
}

/// A filter decided per dictionary word, lazily: 0 undecided, 1 fails, 2 passes.
pub(super) struct Compiled<'a> {
    filter: &'a Filter,
    target: Target,
    memo: Vec<u8>,
    /// A filter on `event:goal`: the goals each event completes.
    goals: Option<GoalFilter<'a>>,
}

/// A filter on `event:goal`, decided per event from the goals it completes, by
/// `Filter::admits_any_of`: `is_not` when none of them is excluded, the others when one of
/// them passes.
struct GoalFilter<'a> {
    marks: DayGoals<'a>,
    /// The goals whose name the filter admits.
    admitted: GoalSet,
    negated: bool,
}

impl<'a> Compiled<'a> {
    pub(super) fn new(d: &Day, filter: &'a Filter, goals: &'a Goals) -> Compiled<'a> {
        let target = target(d, &filter.dimension);
        Compiled {
            filter,
            target,
            memo: vec![0; d.dict.len()],
            goals: matches!(target, Target::Goal).then(|| GoalFilter {
                marks: DayGoals::new(d, goals, false),
                admitted: goals.set_where(|g| filter.admits(Some(&g.name))),
                negated: filter.matcher.op() == FilterOp::IsNot,
            }),
        }
    }

    /// Whether event `i` passes.
    pub(super) fn admits_event(&mut self, d: &Day, i: usize) -> bool {
        if let Some(g) = &mut self.goals {
            let set = g.marks.completed(d, i);
            return if g.negated {
                set & !g.admitted == 0
            } else {
                set & g.admitted != 0
            };
        }
        let code = code_of(d, self.target, i);
        self.passes(d, code)
    }

    /// The goals this filter lets an `event:goal` row be: all of them for a filter on
    /// another dimension.
    fn goal_rows(&self) -> GoalSet {
        self.goals.as_ref().map_or(GoalSet::MAX, |g| g.admitted)
    }

    fn passes(&mut self, d: &Day, code: u32) -> bool {
        let slot = &mut self.memo[code as usize];
        if *slot == 0 {
            let value = (code != 0).then(|| d.text(code));
            *slot = 1 + u8::from(self.filter.admits(value));
        }
        *slot == 2
    }
}

/// A group's key inside one day: dictionary codes, or periods for the time part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct LocalKey([i64; 4]);

impl std::hash::Hash for LocalKey {
    /// Four words, each mixed in whole: the derived hash would feed the array to the hasher
    /// as 32 single bytes.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for part in self.0 {
            state.write_i64(part);
        }
    }
}

/// A fast hash for small integer keys (the Fx hash of rustc): the keys are the engine's own
/// codes, not attacker-chosen strings, so no flooding defence is needed here.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// A day's groups. With one part read from the dictionary, a group is found by its code in
/// a table; otherwise by key through the last one used (consecutive events of a visit mostly
/// share it), then a hash table.
#[derive(Default)]
struct LocalGroups {
    /// Group position + 1 by code, when the key is one dictionary code.
    by_code: Vec<u32>,
    index: HashMap<LocalKey, usize, std::hash::BuildHasherDefault<Fx>>,
    tallies: Vec<(LocalKey, Tally)>,
    last: Option<(LocalKey, usize)>,
}

impl LocalGroups {
    fn new(d: &Day, parts: &[KeyPart]) -> LocalGroups {
        let one_code = matches!(parts, [(_, None)]);
        LocalGroups {
            by_code: if one_code {
                vec![0; d.dict.len()]
            } else {
                Vec::new()
            },
            ..LocalGroups::default()
        }
    }

    fn get(&mut self, key: LocalKey) -> &mut Tally {
        if let Some(slot) = usize::try_from(key.0[0])
            .ok()
            .and_then(|code| self.by_code.get_mut(code))
        {
            if *slot == 0 {
                self.tallies.push((key, Tally::default()));
                *slot = u32::try_from(self.tallies.len()).unwrap_or(u32::MAX);
            }
            let i = *slot as usize - 1;
            return &mut self.tallies[i].1;
        }
        let i = match self.last {
            Some((k, i)) if k == key => i,
            _ => {
                let next = self.tallies.len();
                let i = *self.index.entry(key).or_insert(next);
                if i == next {
                    self.tallies.push((key, Tally::default()));
                }
                self.last = Some((key, i));
                i
            }
        };
        &mut self.tallies[i].1
    }
}

#[derive(Default)]
struct Tally {
    counters: Counters,
    visitors: Vec<u64>,
    converters: Vec<u64>,
}

impl Tally {
    fn visitor(list: &mut Vec<u64>, visitor: u64) {
        if list.last() != Some(&visitor) {
            list.push(visitor);
        }
    }
}

/// An evaluation in progress: feed it days, then finish it.
pub struct Evaluation<'q> {
    query: &'q Query,
    range: Range<i64>,
    splits_visits: bool,
    groups: HashMap<Vec<Part>, Tally>,
    /// Tests turn the visits-table path off, to hold both paths to the same reference.
    every_event: bool,
}

impl<'q> Evaluation<'q> {
    pub fn new(query: &'q Query, span: Span) -> Evaluation<'q> {
        Evaluation {
            query,
            range: span.millis(),
            splits_visits: query.dimensions.iter().any(Dimension::is_event_level),
            groups: HashMap::new(),
            every_event: false,
        }
    }

    /// The same evaluation, always reading the events table.
    #[cfg(test)]
    pub(super) fn reading_every_event(mut self) -> Evaluation<'q> {
        self.every_event = true;
        self
    }

    /// The optional columns a query reads over `span`: the visits table alone when every
    /// day of the span is whole and nothing reads an event (see `visits_suffice`).
    pub fn need(query: &Query, span: Span) -> Need {
        let dims = query
            .dimensions
            .iter()
            .chain(query.filters.iter().map(|f| &f.dimension));
        let mut need = Need {
            visits_only: matches!(span, Span::Days { .. }),
            ..Need::default()
        };
        for d in dims {
            match d {
                Dimension::Visit(f) => need = need.with_attr(*f),
                Dimension::Time(g) => need.visits_only &= *g != TimeGrain::Hour,
                Dimension::Page => {
                    need.paths = true;
                    need.visits_only = false;
                }
                Dimension::Prop(_) => {
                    need.props = true;
                    need.visits_only = false;
                }
                Dimension::Name | Dimension::Goal => need.visits_only = false,
            }
        }
        if query.reads_goals() {
            need.visits_only = false;
            need.paths |= query.goals.reads_pages();
            need.props |= query.goals.has_revenue() && query.metrics.contains(&Metric::Revenue);
        }
        need
    }

    /// The days (since the epoch) whose events can count.
    pub fn days(span: Span) -> Range<i64> {
        let ms = span.millis();
        Day::of(ms.start)..Day::of(ms.end - 1) + 1
    }

    /// Counts one day's events and visits.
    pub fn add(&mut self, d: &Day) {
        if let Some(answer) = self.answer(d) {
            self.merge(&answer);
        }
    }

    /// What a whole day's answer depends on besides the day, for a question a store may keep
    /// day answers of (`None` for any other: one with a filter, or for the tests' every-event
    /// path). Two questions of one shape get the same answer from a day wholly in their spans.
    pub fn shape(&self) -> Option<Shape> {
        let query = self.query;
        (query.filters.is_empty() && !self.every_event).then(|| {
            let goals = query.reads_goals();
            Shape {
                dimensions: query.dimensions.clone(),
                revenue: goals && query.metrics.contains(&Metric::Revenue),
                goals: goals.then(|| query.goals.clone()),
            }
        })
    }

    /// Whether every moment of a day is in the span: its answer is then the same for any span
    /// that holds it.
    pub fn holds_day(&self, day: i64) -> bool {
        self.range.start <= day * DAY_MS && (day + 1) * DAY_MS <= self.range.end
    }

    /// What a day adds to the answer; `None` when no moment of it is in the span.
    pub fn answer(&self, d: &Day) -> Option<DayAnswer> {
        if (d.day + 1) * DAY_MS <= self.range.start || self.range.end <= d.day * DAY_MS {
            return None;
        }
        let query = self.query;
        let mut filters: Vec<Compiled> = query
            .filters
            .iter()
            .map(|f| Compiled::new(d, f, &query.goals))
            .collect();
        let (visit_filters, event_filters): (Vec<_>, Vec<_>) = filters
            .iter_mut()
            .partition(|c| matches!(c.target, Target::Visit(_)));
        let visit_ok = admitted_visits(d, visit_filters);
        let parts: Vec<KeyPart> = query
            .dimensions
            .iter()
            .map(|dim| match dim {
                Dimension::Time(g) => (Target::Page, Some(*g)),
                other => (target(d, other), None),
            })
            .collect();
        let goal_rows = event_filters
            .iter()
            .fold(GoalSet::MAX, |rows, c| rows & c.goal_rows());
        let mut local = LocalGroups::new(d, &parts);
        if self.visits_suffice(d, &event_filters, &parts) {
            let goals = self.query.reads_goals().then(|| {
                let with_revenue = self.query.metrics.contains(&Metric::Revenue);
                visit_goals(d, &mut DayGoals::new(d, &self.query.goals, with_revenue))
            });
            count_whole_visits(d, &visit_ok, &parts, &mut local, goals.as_ref());
        } else {
            debug_assert!(
                d.events() > 0 || d.visits() == 0,
                "a day read without its events table for a question that reads events"
            );
            let mut marks = self.query.reads_goals().then(|| {
                let with_revenue = self.query.metrics.contains(&Metric::Revenue);
                DayGoals::new(d, &self.query.goals, with_revenue)
            });
            let pass = EventPass {
                visit_ok: &visit_ok,
                parts: &parts,
                goal_rows,
            };
            let matched = self.count_events(d, &pass, event_filters, marks.as_mut(), &mut local);
            if !self.splits_visits {
                self.count_visits(d, &matched, &parts, &mut local);
            }
        }
        Some(self.keyed(d, &parts, local))
    }

    /// Whether a day's answer can be read from its visits table alone (with each visit's goal
    /// completions, for a question about them): every event of the day is in the span, no
    /// filter or group part reads an event, and no period is shorter than a day (a visit never
    /// spans two days).
    fn visits_suffice(&self, d: &Day, event_filters: &[&mut Compiled], parts: &[KeyPart]) -> bool {
        self.holds_day(d.day)
            && !self.every_event
            && !self.splits_visits
            && event_filters.is_empty()
            && parts
                .iter()
                .all(|(_, grain)| *grain != Some(TimeGrain::Hour))
    }

    /// Counts the events in the span that pass every filter; returns which visits had one.
    fn count_events(
        &self,
        d: &Day,
        pass: &EventPass,
        mut event_filters: Vec<&mut Compiled>,
        mut marks: Option<&mut DayGoals>,
        local: &mut LocalGroups,
    ) -> Vec<bool> {
        let mut matched = vec![false; d.visits()];
        let goal_slot = pass
            .parts
            .iter()
            .position(|(t, _)| matches!(t, Target::Goal));
        'events: for i in 0..d.events() {
            let at = d.ev_at[i];
            let v = d.ev_visit[i] as usize;
            if !self.range.contains(&at) || !pass.visit_ok[v] {
                continue;
            }
            if !event_filters.iter_mut().all(|c| c.admits_event(d, i)) {
                continue;
            }
            matched[v] = true;
            let mut key = LocalKey::default();
            for (slot, (t, grain)) in key.0.iter_mut().zip(pass.parts) {
                *slot = match (grain, t) {
                    (Some(g), _) => period_at(*g, at),
                    (None, Target::Goal) => 0,
                    (None, t) => match code_of(d, *t, i) {
                        0 => continue 'events,
                        code => i64::from(code),
                    },
                };
            }
            let set = marks.as_deref_mut().map_or(0, |m| m.completed(d, i));
            let seen = Seen {
                custom: d.ev_name[i] != 0,
                visitor: d.visit_visitor[v],
            };
            let Some(slot) = goal_slot else {
                let revenue = marks
                    .as_deref_mut()
                    .map_or(0, |m| m.amount_of_set(d, i, set & pass.goal_rows));
                seen.count(local.get(key), set != 0, revenue);
                continue;
            };
            // One row per goal the event completes (and the filters let be a row).
            for goal in members(set & pass.goal_rows) {
                key.0[slot] = goal as i64 + 1;
                let revenue = marks.as_deref_mut().map_or(0, |m| m.amount(d, i, goal));
                seen.count(local.get(key), true, revenue);
            }
        }
        matched
    }

    /// Counts the visits that started in the span and had a counted event.
    fn count_visits(&self, d: &Day, matched: &[bool], parts: &[KeyPart], local: &mut LocalGroups) {
        for (v, _) in matched.iter().enumerate().filter(|(_, m)| **m) {
            let start = d.visit_start[v];
            if !self.range.contains(&start) {
                continue;
            }
            let Some(key) = visit_key(d, v, parts) else {
                continue;
            };
            count_visit(&mut local.get(key).counters, d, v);
        }
    }

    /// A day's groups keyed by text instead of day-local codes (a goal by its name), each with
    /// its distinct visitors.
    fn keyed(&self, d: &Day, parts: &[KeyPart], local: LocalGroups) -> DayAnswer {
        let goals = &self.query.goals;
        let groups = local
            .tallies
            .into_iter()
            .map(|(key, tally)| {
                let key: Vec<Part> = parts
                    .iter()
                    .zip(key.0)
                    .map(|((target, grain), k)| match (grain, target) {
                        (Some(_), _) => Part::Period(k),
                        (None, Target::Goal) => Part::Text(
                            usize::try_from(k - 1)
                                .ok()
                                .and_then(|i| goals.get(i))
                                .map_or_else(String::new, |g| g.name.clone()),
                        ),
                        (None, _) => Part::Text(d.text(u32::try_from(k).unwrap_or(0)).to_owned()),
                    })
                    .collect();
                let tally = DayTally {
                    counters: tally.counters,
                    visitors: Visitors::of(tally.visitors),
                    converters: Visitors::of(tally.converters),
                };
                (key, tally)
            })
            .collect();
        DayAnswer { groups }
    }

    /// Adds a day's answer (from `answer`, now or kept from before) to the evaluation's groups.
    pub fn merge(&mut self, answer: &DayAnswer) {
        for (key, tally) in &answer.groups {
            let into = match self.groups.get_mut(key) {
                Some(into) => into,
                None => self.groups.entry(key.clone()).or_default(),
            };
            let c = &mut into.counters;
            c.pageviews += tally.counters.pageviews;
            c.events += tally.counters.events;
            c.visits += tally.counters.visits;
            c.bounces += tally.counters.bounces;
            c.duration_ms += tally.counters.duration_ms;
            c.conversions += tally.counters.conversions;
            c.revenue = c.revenue.saturating_add(tally.counters.revenue);
            tally.visitors.extend_into(&mut into.visitors);
            tally.converters.extend_into(&mut into.converters);
        }
    }

    /// The groups, with distinct visitors counted.
    pub fn finish(self) -> Groups {
        self.groups
            .into_iter()
            .map(|(key, mut t)| {
                t.counters.visitors = distinct(&mut t.visitors);
                t.counters.converters = distinct(&mut t.converters);
                (key, t.counters)
            })
            .collect()
    }
}

/// What a whole day's answer to a question with no filter depends on besides the day
/// (`Evaluation::shape`): its group parts and, when it counts goals, the goals and whether it
/// sums their revenue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    dimensions: Vec<Dimension>,
    goals: Option<Goals>,
    revenue: bool,
}

/// A group part: what it reads, or the time grain it buckets by.
type KeyPart = (Target, Option<TimeGrain>);

/// What every event of a day's pass is checked against: the visits the visit-level filters
/// admit, the group parts, and the goals an `event:goal` row may be.
struct EventPass<'p> {
    visit_ok: &'p [bool],
    parts: &'p [KeyPart],
    goal_rows: GoalSet,
}

/// A counted event: a custom one or a pageview, and whose.
struct Seen {
    custom: bool,
    visitor: u64,
}

impl Seen {
    /// Counts the event in a group; `conversion`: it completed a goal (of the group's goal,
    /// in an `event:goal` split), with `revenue` thousandths.
    fn count(&self, tally: &mut Tally, conversion: bool, revenue: i64) {
        let c = &mut tally.counters;
        c.pageviews += i64::from(!self.custom);
        c.events += i64::from(self.custom);
        c.conversions += i64::from(conversion);
        c.revenue = c.revenue.saturating_add(revenue);
        Tally::visitor(&mut tally.visitors, self.visitor);
        if conversion {
            Tally::visitor(&mut tally.converters, self.visitor);
        }
    }
}

/// Which visits pass every visit-level filter.
fn admitted_visits(d: &Day, mut visit_filters: Vec<&mut Compiled>) -> Vec<bool> {
    (0..d.visits())
        .map(|v| {
            visit_filters.iter_mut().all(|c| match c.target {
                Target::Visit(f) => c.passes(d, d.attr(f)[v]),
                _ => true,
            })
        })
        .collect()
}

/// A visit's group key; `None` when a part has no value for it.
fn visit_key(d: &Day, v: usize, parts: &[KeyPart]) -> Option<LocalKey> {
    let mut key = LocalKey::default();
    for (slot, (t, grain)) in key.0.iter_mut().zip(parts) {
        *slot = match (grain, t) {
            (Some(g), _) => period_at(*g, d.visit_start[v]),
            (None, Target::Visit(f)) => match d.attr(*f)[v] {
                0 => return None,
                code => i64::from(code),
            },
            (None, _) => return None,
        };
    }
    Some(key)
}

fn count_visit(c: &mut Counters, d: &Day, v: usize) {
    c.visits += 1;
    c.bounces += i64::from(d.visit_events[v] == 1);
    c.duration_ms += d.visit_end[v] - d.visit_start[v];
}

/// Each visit's goal completions and their revenue (thousandths), in one pass over the day's
/// events: what the visits-table path adds for a question that reads goals and nothing else of
/// an event.
struct VisitGoals {
    conversions: Vec<u32>,
    revenue: Vec<i64>,
}

fn visit_goals(d: &Day, marks: &mut DayGoals) -> VisitGoals {
    let mut g = VisitGoals {
        conversions: vec![0; d.visits()],
        revenue: vec![0; d.visits()],
    };
    for i in 0..d.events() {
        let set = marks.completed(d, i);
        if set != 0 {
            let v = d.ev_visit[i] as usize;
            g.conversions[v] += 1;
            g.revenue[v] = g.revenue[v].saturating_add(marks.amount_of_set(d, i, set));
        }
    }
    g
}

/// Counts a day's admitted visits with all their events, read from the visits table (and,
/// for a question about goals, each visit's completions): what the event pass and the visit
/// pass together count when `visits_suffice`.
fn count_whole_visits(
    d: &Day,
    visit_ok: &[bool],
    parts: &[KeyPart],
    local: &mut LocalGroups,
    goals: Option<&VisitGoals>,
) {
    for (v, _) in visit_ok.iter().enumerate().filter(|(_, ok)| **ok) {
        let Some(key) = visit_key(d, v, parts) else {
            continue;
        };
        let tally = local.get(key);
        let pageviews = d.visit_pageviews[v];
        let custom = d.visit_events[v].saturating_sub(pageviews);
        let c = &mut tally.counters;
        c.pageviews += i64::from(pageviews);
        c.events += i64::from(custom);
        count_visit(c, d, v);
        Tally::visitor(&mut tally.visitors, d.visit_visitor[v]);
        if let Some(g) = goals.filter(|g| g.conversions[v] > 0) {
            tally.counters.conversions += i64::from(g.conversions[v]);
            tally.counters.revenue = tally.counters.revenue.saturating_add(g.revenue[v]);
            Tally::visitor(&mut tally.converters, d.visit_visitor[v]);
        }
    }
}

/// How many distinct visitor numbers a list holds. A dense list (many entries against its
/// largest number) is counted in a bitset, in one pass; a sparse one is sorted.
fn distinct(list: &mut Vec<u64>) -> i64 {
    let Some(max) = list.iter().copied().max() else {
        return 0;
    };
    let dense = usize::try_from(max / 64)
        .ok()
        .filter(|words| *words <= list.len().saturating_mul(2));
    match dense {
        Some(words) => {
            let mut bits = vec![0u64; words + 1];
            for v in list.iter() {
                bits[(v / 64) as usize] |= 1 << (v % 64);
            }
            bits.iter().map(|w| i64::from(w.count_ones())).sum()
        }
        None => {
            list.sort_unstable();
            list.dedup();
            list.len() as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::distinct;

    #[test]
    fn distinct_counts_agree_for_dense_and_sparse_lists() {
        let mut dense: Vec<u64> = (0..1000).chain(0..500).collect();
        assert_eq!(distinct(&mut dense), 1000);
        let mut sparse = vec![u64::MAX - 1, 3, u64::MAX - 1, 1 << 40];
        assert_eq!(distinct(&mut sparse), 3);
        assert_eq!(distinct(&mut Vec::new()), 0);
    }
}
