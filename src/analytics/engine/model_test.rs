//! The engine against a reference: random datasets and random queries, each answer compared
//! with one computed here, directly from the rows, by the contract's definitions (a visit's
//! attributes are its first event's; visitors are distinct over the span or per period).

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::{Day, Evaluation, Row, format};
use crate::analytics::event::{Context, PropValue, StoredEvent};
use crate::analytics::funnel::{PagePattern, Step, TouchKind};
use crate::analytics::goals::{Currency, Goal, Goals, amount_thousandths};
use crate::analytics::query::{
    Counters, Dimension, Filter, Groups, Matcher, Metric, Part, Query, Span, TimeGrain, VisitField,
    period_at,
};
use crate::domain::Timestamp;

const DAY_MS: i64 = 86_400_000;
pub(super) const FIRST_DAY: i64 = 20_000;
const PATHS: [&str; 4] = ["/", "/pricing", "/blog/1", "/blog/22"];
const NAMES: [&str; 3] = ["pageview", "signup", "buy"];
const COUNTRIES: [Option<&str>; 3] = [Some("DE"), Some("GB"), None];
const BROWSERS: [&str; 2] = ["Firefox", "Chrome"];
const SOURCES: [Option<&str>; 3] = [Some("Google"), Some("Bing"), None];
const PLANS: [Option<&str>; 3] = [Some("pro"), Some("free"), None];
/// The `amount` and `net` properties of an event, by the same index as its plan.
const AMOUNTS: [Option<&str>; 3] = [Some("19.99"), Some("oops"), Some("-4")];
const NETS: [&str; 3] = ["16.8", "2", "x"];
/// Names the generated filters use, goals' among them.
const GOAL_NAMES: [&str; 5] = ["Signup", "Twos", "Blog", "Buy", "Big buy"];

/// Goals that overlap (`/blog/22` completes two), one with revenue, one never completed.
pub(super) fn model_goals() -> Goals {
    let page =
        |p: &str| Step::Page(PagePattern::parse(p, "model").unwrap_or_else(|e| panic!("{e}")));
    let goal = |name: &str, trigger: Step, revenue: Option<&str>| Goal {
        name: name.into(),
        trigger,
        revenue_property: revenue.map(str::to_owned),
    };
    Goals::new(
        vec![
            goal("Signup", Step::Event("signup".into()), None),
            goal("Pricing", page("/pricing"), None),
            goal("Blog", page("/blog/*"), None),
            goal("Twos", page("*2*"), None),
            goal("Buy", Step::Event("buy".into()), Some("amount")),
            goal("Big buy", Step::Event("buy".into()), Some("net")),
            goal("Never", Step::Event("outbound".into()), None),
        ],
        Currency::parse("EUR"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// One visit as generated: its visitor, day, start minute, context and events.
#[derive(Debug, Clone)]
pub(super) struct GenVisit {
    visitor: u64,
    day: i64,
    start_min: i64,
    country: usize,
    browser: usize,
    source: usize,
    /// (minutes after the start, name, path, plan)
    events: Vec<(i64, usize, usize, usize)>,
}

pub(super) fn gen_visit() -> impl Strategy<Value = GenVisit> {
    (
        1u64..7,
        0i64..5,
        0i64..1300,
        0..COUNTRIES.len(),
        0..BROWSERS.len(),
        0..SOURCES.len(),
        prop::collection::vec(
            (0i64..25, 0..NAMES.len(), 0..PATHS.len(), 0..PLANS.len()),
            1..5,
        ),
    )
        .prop_map(
            |(visitor, day, start_min, country, browser, source, events)| GenVisit {
                visitor,
                day,
                start_min,
                country,
                browser,
                source,
                events,
            },
        )
}

/// Rows from generated visits, with visits made whole and distinct per visitor and day.
pub(super) fn rows(visits: &[GenVisit]) -> Vec<Row> {
    let mut out = Vec::new();
    let mut seen: HashSet<(u64, i64, i64)> = HashSet::new();
    for (n, v) in visits.iter().enumerate() {
        // Two visits of a visitor closer than their length would be one: keep them apart.
        if !seen.insert((v.visitor, v.day, v.start_min / 120)) {
            continue;
        }
        let start = (FIRST_DAY + v.day) * DAY_MS + (v.start_min / 120) * 120 * 60_000;
        let mut at = start;
        for (i, (gap, name, path, plan)) in v.events.iter().enumerate() {
            if i > 0 {
                at += gap * 60_000 + 1_000;
            }
            let mut props = match PLANS[*plan] {
                Some(p) => vec![("plan".to_owned(), PropValue::Str(p.to_owned()))],
                None => Vec::new(),
            };
            if let Some(a) = AMOUNTS[*plan] {
                props.push(("amount".to_owned(), PropValue::Str(a.to_owned())));
            }
            props.push(("net".to_owned(), PropValue::Str(NETS[*plan].to_owned())));
            out.push(Row {
                visitor: v.visitor,
                event: StoredEvent {
                    at: Timestamp(at),
                    visit: (u64::try_from(start).unwrap_or(0) << 12) | n as u64,
                    name: NAMES[*name].to_owned(),
                    category: "analytics".to_owned(),
                    path: PATHS[*path].to_owned(),
                    props,
                    context: Context {
                        country: COUNTRIES[v.country].map(str::to_owned),
                        browser: BROWSERS[v.browser].to_owned(),
                        os: "Linux".to_owned(),
                        device: "desktop".to_owned(),
                        source: SOURCES[v.source].map(str::to_owned),
                        ..Context::default()
                    },
                },
            });
        }
    }
    out
}

fn dims() -> Vec<Dimension> {
    vec![
        Dimension::Page,
        Dimension::Name,
        Dimension::Goal,
        Dimension::Prop("plan".into()),
        Dimension::Visit(VisitField::Country),
        Dimension::Visit(VisitField::Browser),
        Dimension::Visit(VisitField::Source),
        Dimension::Visit(VisitField::EntryPage),
        Dimension::Visit(VisitField::ExitPage),
    ]
}

pub(super) fn gen_filter() -> impl Strategy<Value = Filter> {
    let values = [
        "/",
        "/pricing",
        "DE",
        "GB",
        "Firefox",
        "Google",
        "Direct / None",
        "pro",
        "signup",
        "blog",
        "Signup",
        "Twos",
        "Buy",
        "Big buy",
    ];
    (
        0usize..4,
        0..dims().len(),
        prop::collection::vec(0..values.len(), 1..3),
    )
        .prop_map(move |(op, dim, picked)| {
            let op = ["is", "is_not", "contains", "matches"][op];
            let mut vs: Vec<String> = picked.iter().map(|i| values[*i].to_owned()).collect();
            if op == "matches" {
                vs = vs
                    .iter()
                    .map(|v| format!("^{}[0-9a-z/]*$", regex::escape(v)))
                    .collect();
            }
            Filter {
                dimension: dims()[dim].clone(),
                matcher: Matcher::parse(op, &vs, "model").unwrap_or_else(|_| unreachable!()),
            }
        })
}

/// The model's goals that events complete (none by pageviews: a day read for them has no
/// paths).
fn event_goals() -> Goals {
    let all = model_goals();
    let events = all
        .list()
        .iter()
        .filter(|g| matches!(g.trigger, Step::Event(_)))
        .cloned()
        .collect();
    Goals::new(events, all.currency().cloned()).unwrap_or_else(|e| panic!("{e}"))
}

/// A question about goals: one or two filters on goal names, split by `event:goal` or not
/// (with up to one other part), the model's goals.
fn gen_goal_query() -> impl Strategy<Value = Query> {
    (
        gen_query(),
        prop::option::of(0..dims().len()),
        prop::collection::vec((any::<bool>(), 0..GOAL_NAMES.len()), 1..3),
        any::<bool>(),
    )
        .prop_map(|(mut q, other, goal_filters, split)| {
            q.goals = model_goals();
            q.dimensions = if split {
                vec![Dimension::Goal]
            } else {
                Vec::new()
            };
            if let Some(d) = other
                .map(|i| dims()[i].clone())
                .filter(|d| *d != Dimension::Goal)
            {
                q.dimensions.push(d);
            }
            for (negated, name) in goal_filters {
                let op = if negated { "is_not" } else { "is" };
                q.filters.push(Filter {
                    dimension: Dimension::Goal,
                    matcher: Matcher::parse(op, &[GOAL_NAMES[name].to_owned()], "model")
                        .unwrap_or_else(|_| unreachable!()),
                });
            }
            q
        })
}

fn gen_query() -> impl Strategy<Value = Query> {
    (
        prop::collection::vec(0..dims().len(), 0..4),
        0usize..4,
        prop::collection::vec(gen_filter(), 0..4),
        0i64..5,
        0i64..5,
        0u8..3,
    )
        .prop_map(|(picked, time, filters, a, b, goals)| {
            let mut dimensions: Vec<Dimension> = Vec::new();
            for i in picked {
                let d = dims()[i].clone();
                if !dimensions.contains(&d) && dimensions.len() < 3 {
                    dimensions.push(d);
                }
            }
            match time {
                1 => dimensions.push(Dimension::Time(TimeGrain::Day)),
                2 => dimensions.push(Dimension::Time(TimeGrain::Hour)),
                3 => dimensions.push(Dimension::Time(TimeGrain::Month)),
                _ => {}
            }
            Query {
                metrics: crate::analytics::query::Metric::ALL.to_vec(),
                dimensions,
                filters,
                order: Vec::new(),
                limit: usize::MAX,
                span: Span::Days {
                    first: FIRST_DAY + a.min(b),
                    last: FIRST_DAY + a.max(b),
                },
                compare: None,
                goals: match goals {
                    0 => Goals::default(),
                    1 => event_goals(),
                    _ => model_goals(),
                },
            }
        })
}

/// A visit's value of a visit-level field, from its events (oldest first), by the contract.
pub(super) fn visit_value(events: &[&Row], f: VisitField) -> Option<String> {
    let first = &events[0].event;
    let pages: Vec<&str> = events
        .iter()
        .filter(|r| r.event.name == "pageview")
        .map(|r| r.event.path.as_str())
        .collect();
    let c = &first.context;
    match f {
        VisitField::Country => c.country.clone(),
        VisitField::Browser => Some(c.browser.clone()),
        VisitField::Source => Some(c.source.clone().unwrap_or_else(|| "Direct / None".into())),
        VisitField::EntryPage => pages.first().map(|p| p.to_string()),
        VisitField::ExitPage => pages.last().map(|p| p.to_string()),
        _ => None,
    }
}

/// An event's value of a dimension, by the contract (a visit-level one from its visit).
pub(super) fn value_of(events: &[&Row], r: &Row, d: &Dimension) -> Option<String> {
    let pageview = r.event.name == "pageview";
    match d {
        Dimension::Visit(f) => visit_value(events, *f),
        Dimension::Page => pageview.then(|| r.event.path.clone()),
        Dimension::Name => (!pageview).then(|| r.event.name.clone()),
        // An event completes a set of goals, not one: see `goals_of` and `passes`.
        Dimension::Goal => None,
        Dimension::Prop(k) => {
            r.event
                .props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| match v {
                    PropValue::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                })
        }
        Dimension::Time(_) => None,
    }
}

/// The goals an event completes, by their place in the list, by the goals' own definitions.
pub(super) fn goals_of(goals: &Goals, r: &Row) -> Vec<usize> {
    let touch = if r.event.name == "pageview" {
        TouchKind::Page(&r.event.path)
    } else {
        TouchKind::Event(&r.event.name)
    };
    (0..goals.list().len())
        .filter(|i| goals.list()[*i].completed_by(touch))
        .collect()
}

/// Whether an event passes a filter (on `event:goal`: by the names of the goals it completes).
pub(super) fn passes(goals: &Goals, events: &[&Row], r: &Row, f: &Filter) -> bool {
    if f.dimension == Dimension::Goal {
        let names = goals_of(goals, r)
            .into_iter()
            .map(|i| goals.list()[i].name.as_str());
        return f.admits_any_of(names);
    }
    f.admits(value_of(events, r, &f.dimension).as_deref())
}

/// An event's amount for a goal, in thousandths.
fn amount(goals: &Goals, r: &Row, goal: usize) -> i64 {
    let Some(key) = &goals.list()[goal].revenue_property else {
        return 0;
    };
    r.event
        .props
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            PropValue::Str(s) => amount_thousandths(s),
            _ => None,
        })
        .unwrap_or(0)
}

/// Each visit's rows, oldest first, by (visitor, visit number).
pub(super) fn visits_of(rows: &[Row]) -> BTreeMap<(u64, u64), Vec<&Row>> {
    let mut visits: BTreeMap<(u64, u64), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        visits
            .entry((r.visitor, r.event.visit))
            .or_default()
            .push(r);
    }
    for events in visits.values_mut() {
        events.sort_by_key(|r| r.event.at.0);
    }
    visits
}

/// The reference: the contract's definitions, computed directly from the rows.
fn reference(rows: &[Row], query: &Query) -> Groups {
    let range = query.span.millis();
    let visits = visits_of(rows);
    let value = value_of;
    let goals = &query.goals;
    let reads_goals = query.reads_goals();
    let mut counters: HashMap<Vec<Part>, Counters> = HashMap::new();
    let mut visitors: HashMap<Vec<Part>, HashSet<u64>> = HashMap::new();
    let mut converters: HashMap<Vec<Part>, HashSet<u64>> = HashMap::new();
    let splits = query.dimensions.iter().any(Dimension::is_event_level);
    for events in visits.values() {
        let mut any = false;
        for r in events {
            let at = r.event.at.0;
            if !range.contains(&at) {
                continue;
            }
            if !query.filters.iter().all(|f| passes(goals, events, r, f)) {
                continue;
            }
            any = true;
            let done = if reads_goals {
                goals_of(goals, r)
            } else {
                Vec::new()
            };
            // Without an `event:goal` part one key; with it one per goal completed that every
            // goal filter admits by name.
            let admitted = |g: usize| {
                query
                    .filters
                    .iter()
                    .filter(|f| f.dimension == Dimension::Goal)
                    .all(|f| f.admits(Some(&goals.list()[g].name)))
            };
            let rows: Vec<Option<usize>> = if query.dimensions.contains(&Dimension::Goal) {
                done.iter()
                    .copied()
                    .filter(|g| admitted(*g))
                    .map(Some)
                    .collect()
            } else {
                vec![None]
            };
            for row_goal in rows {
                let key: Option<Vec<Part>> = query
                    .dimensions
                    .iter()
                    .map(|d| match d {
                        Dimension::Time(g) => Some(Part::Period(period_at(*g, at))),
                        Dimension::Goal => {
                            row_goal.map(|g| Part::Text(goals.list()[g].name.clone()))
                        }
                        other => value(events, r, other).map(Part::Text),
                    })
                    .collect();
                let Some(key) = key else { continue };
                let (conversion, revenue) = match row_goal {
                    Some(g) => (true, amount(goals, r, g)),
                    None => {
                        // The first goal with revenue among those every goal filter admits.
                        let first = done.iter().find(|g| {
                            goals.list()[**g].revenue_property.is_some() && admitted(**g)
                        });
                        (!done.is_empty(), first.map_or(0, |g| amount(goals, r, *g)))
                    }
                };
                let custom = r.event.name != "pageview";
                let c = counters.entry(key.clone()).or_default();
                c.pageviews += i64::from(!custom);
                c.events += i64::from(custom);
                c.conversions += i64::from(conversion);
                if query.metrics.contains(&Metric::Revenue) {
                    c.revenue = c.revenue.saturating_add(revenue);
                }
                visitors.entry(key.clone()).or_default().insert(r.visitor);
                if conversion {
                    converters.entry(key).or_default().insert(r.visitor);
                }
            }
        }
        let start = events[0].event.at.0;
        if !any || splits || !range.contains(&start) {
            continue;
        }
        let key: Option<Vec<Part>> = query
            .dimensions
            .iter()
            .map(|d| match d {
                Dimension::Time(g) => Some(Part::Period(period_at(*g, start))),
                Dimension::Visit(f) => visit_value(events, *f).map(Part::Text),
                _ => None,
            })
            .collect();
        let Some(key) = key else { continue };
        let c = counters.entry(key).or_default();
        c.visits += 1;
        c.bounces += i64::from(events.len() == 1);
        c.duration_ms += events[events.len() - 1].event.at.0 - start;
    }
    for (key, c) in counters.iter_mut() {
        c.visitors = visitors.get(key).map_or(0, |s| s.len() as i64);
        c.converters = converters.get(key).map_or(0, |s| s.len() as i64);
    }
    counters
}

/// The rows of each day, as the store hands days to an evaluation.
pub(super) fn by_day(rows: &[Row]) -> BTreeMap<i64, Vec<Row>> {
    let mut days: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for r in rows {
        days.entry(Day::of(r.event.at.0))
            .or_default()
            .push(r.clone());
    }
    days
}

fn engine(rows: &[Row], query: &Query, round_trip: bool, every_event: bool) -> Groups {
    let by_day = by_day(rows);
    let mut evaluation = Evaluation::new(query, query.span);
    if every_event {
        evaluation = evaluation.reading_every_event();
    }
    for (day, rows) in by_day {
        let mut d = Day::build(day, rows);
        if round_trip {
            // Read back with only the columns the question needs, as the store reads it.
            let need = if every_event {
                format::Need::ALL
            } else {
                Evaluation::need(query, query.span)
            };
            d = format::decode_some(&format::encode(&d), need).unwrap_or_else(|e| panic!("{e}"));
        }
        evaluation.add(&d);
    }
    evaluation.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_about_goals_equals_the_reference_computed_from_the_rows(
        visits in prop::collection::vec(gen_visit(), 0..40),
        query in gen_goal_query(),
        round_trip in any::<bool>(),
    ) {
        let rows = rows(&visits);
        prop_assert_eq!(engine(&rows, &query, round_trip, false), reference(&rows, &query));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1200, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_equals_the_reference_computed_from_the_rows(
        visits in prop::collection::vec(gen_visit(), 0..40),
        query in gen_query(),
        round_trip in any::<bool>(),
        every_event in any::<bool>(),
        erased in prop::option::of(1u64..7),
    ) {
        let mut rows = rows(&visits);
        // An erasure: the engine is given the day rebuilt without the visitor, the reference
        // the rows without them.
        if let Some(gone) = erased {
            rows.retain(|r| r.visitor != gone);
        }
        prop_assert_eq!(
            engine(&rows, &query, round_trip, every_event),
            reference(&rows, &query)
        );
    }
}

#[test]
fn a_day_rebuilt_without_a_visitor_answers_as_if_they_never_existed() {
    let visits: Vec<GenVisit> = (0..30)
        .map(|i| GenVisit {
            visitor: 1 + i % 5,
            day: i64::try_from(i % 3).unwrap_or(0),
            start_min: i64::try_from(i * 37 % 1300).unwrap_or(0),
            country: (i % 3) as usize,
            browser: (i % 2) as usize,
            source: (i % 3) as usize,
            events: vec![
                (3, (i % 3) as usize, (i % 4) as usize, (i % 3) as usize);
                1 + (i % 3) as usize
            ],
        })
        .collect();
    let all = rows(&visits);
    let kept: Vec<Row> = all.iter().filter(|r| r.visitor != 2).cloned().collect();
    let query = Query {
        metrics: crate::analytics::query::Metric::ALL.to_vec(),
        dimensions: vec![
            Dimension::Visit(VisitField::Country),
            Dimension::Time(TimeGrain::Day),
        ],
        filters: Vec::new(),
        order: Vec::new(),
        limit: usize::MAX,
        span: Span::Days {
            first: FIRST_DAY,
            last: FIRST_DAY + 4,
        },
        compare: None,
        goals: model_goals(),
    };
    let mut evaluation = Evaluation::new(&query, query.span);
    for (day, rows) in by_day(&all) {
        let d = Day::build(day, rows);
        let rebuilt = d.without(|r| r.visitor == 2).unwrap_or(d);
        evaluation.add(&rebuilt);
    }
    assert_eq!(evaluation.finish(), reference(&kept, &query));
    assert_ne!(
        reference(&kept, &query),
        reference(&all, &query),
        "visitor 2 counted somewhere"
    );
}
