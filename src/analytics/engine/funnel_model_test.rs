//! Funnels against a reference: random datasets and random funnels (steps, window, filters, a
//! visit-level split), each answer compared with one computed here from the rows. How far one
//! visitor's touches reach is `Funnel::reached`, itself held to a brute force in
//! `analytics::funnel`; what this checks is what the engine gathers: which events are touches
//! (in the span, matching a step, passing every filter), in which order, and in which group a
//! visitor counts (the value in the visit of their first touch of step one).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::model_test::{
    FIRST_DAY, GenVisit, by_day, gen_filter, gen_visit, rows, visit_value, visits_of,
};
use super::{Day, FunnelCounts, FunnelEvaluation, FunnelQuery, Row, format};
use crate::analytics::funnel::{Funnel, PagePattern, Step, Touch, TouchKind, Window, tally};
use crate::analytics::query::{Span, VisitField};

fn gen_step() -> impl Strategy<Value = Step> {
    let pages = ["/", "/pricing", "/blog*", "/*"];
    let events = ["signup", "buy"];
    prop_oneof![
        (0..pages.len()).prop_map(move |i| Step::Page(
            PagePattern::parse(pages[i], "steps").unwrap_or_else(|e| panic!("{e:?}"))
        )),
        (0..events.len()).prop_map(move |i| Step::Event(events[i].to_owned())),
    ]
}

fn gen_funnel() -> impl Strategy<Value = FunnelQuery> {
    (
        prop::collection::vec(gen_step(), 2..5),
        0u32..4,
        0usize..5,
        prop::collection::vec(gen_filter(), 0..3),
        0i64..5,
        0i64..5,
    )
        .prop_map(|(steps, window, split, filters, a, b)| FunnelQuery {
            funnel: Funnel::new(
                steps,
                match window {
                    0 => Window::Visit,
                    n => Window::Days(n),
                },
            ),
            filters,
            dimension: [
                None,
                Some(VisitField::Country),
                Some(VisitField::Browser),
                Some(VisitField::Source),
                Some(VisitField::EntryPage),
            ][split],
            span: Span::Days {
                first: FIRST_DAY + a.min(b),
                last: FIRST_DAY + a.max(b),
            },
            goals: super::model_test::model_goals(),
        })
}

fn passes(query: &FunnelQuery, events: &[&Row], r: &Row) -> bool {
    query
        .filters
        .iter()
        .all(|f| super::model_test::passes(&query.goals, events, r, f))
}

/// A touch as the reference gathers it: time, visit, page or not, what, and the visit's value
/// of the split.
type RefTouch = (i64, u64, bool, String, Option<String>);

/// The reference, from the rows.
fn reference(rows: &[Row], q: &FunnelQuery) -> FunnelCounts {
    let range = q.span.millis();
    let steps = q.funnel.steps();
    let mut touches: BTreeMap<u64, Vec<RefTouch>> = BTreeMap::new();
    for ((visitor, visit), events) in visits_of(rows) {
        let group = q.dimension.and_then(|f| visit_value(&events, f));
        for r in &events {
            let page = r.event.name == "pageview";
            let what = if page { &r.event.path } else { &r.event.name };
            let kind = if page {
                TouchKind::Page(what)
            } else {
                TouchKind::Event(what)
            };
            if !range.contains(&r.event.at.0)
                || !steps.iter().any(|s| s.matches(kind))
                || !passes(q, &events, r)
            {
                continue;
            }
            touches.entry(visitor).or_default().push((
                r.event.at.0,
                visit,
                page,
                what.clone(),
                group.clone(),
            ));
        }
    }
    let mut total = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for mut list in touches.into_values() {
        list.sort_by_key(|t| t.0);
        let view: Vec<Touch<'_>> = list
            .iter()
            .map(|(at, visit, page, what, _)| Touch {
                at_ms: *at,
                visit: *visit,
                kind: if *page {
                    TouchKind::Page(what)
                } else {
                    TouchKind::Event(what)
                },
            })
            .collect();
        let reached = q.funnel.reached(&view);
        if reached == 0 {
            continue;
        }
        total.push(reached);
        let first = view.iter().position(|t| steps[0].matches(t.kind));
        if let Some(Some(g)) = first.map(|i| &list[i].4) {
            groups.entry(g.clone()).or_default().push(reached);
        }
    }
    let mut groups: Vec<(String, Vec<u64>)> = groups
        .into_iter()
        .map(|(g, reached)| (g, tally(reached, steps.len())))
        .collect();
    groups.sort_by(|a, b| b.1.first().cmp(&a.1.first()).then(a.0.cmp(&b.0)));
    FunnelCounts {
        total: tally(total, steps.len()),
        groups,
    }
}

fn engine(rows: &[Row], q: &FunnelQuery) -> FunnelCounts {
    let mut evaluation = FunnelEvaluation::new(q);
    for (day, rows) in by_day(rows) {
        let d = Day::build(day, rows);
        // Read back with only the columns the funnel says it needs.
        let d = format::decode_some(&format::encode(&d), FunnelEvaluation::need(q))
            .unwrap_or_else(|e| panic!("{e}"));
        evaluation.add(&d);
    }
    evaluation.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn every_funnel_equals_the_reference_computed_from_the_rows(
        visits in prop::collection::vec(gen_visit(), 0..40),
        query in gen_funnel(),
        erased in prop::option::of(1u64..7),
    ) {
        let visits: Vec<GenVisit> = visits;
        let mut rows = rows(&visits);
        if let Some(gone) = erased {
            rows.retain(|r| r.visitor != gone);
        }
        prop_assert_eq!(engine(&rows, &query), reference(&rows, &query));
    }
}
