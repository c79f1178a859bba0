//! Answers a funnel from days: each visitor's touches that match any step (and pass every
//! filter) are gathered over the span, then `Funnel::reached` says how far each got.
//! Step matches are decided once per dictionary word per day.

use std::collections::HashMap;
use std::ops::Range;

use super::day::{Day, Interner};
use super::eval::Compiled;
use super::format::Need;
use crate::analytics::funnel::{Funnel, Touch, TouchKind};
use crate::analytics::goals::Goals;
use crate::analytics::query::{Dimension, Filter, Span, VisitField};

/// A funnel question: the steps and window, the filters, an optional visit-level dimension to
/// split visitors by (its value in the visit of their first step), and the span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelQuery {
    pub funnel: Funnel,
    pub filters: Vec<Filter>,
    pub dimension: Option<VisitField>,
    pub span: Span,
    /// The site's goals, for filters on `event:goal`.
    pub goals: Goals,
}

/// Visitors per step: over everyone, and per value of the dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelCounts {
    pub total: Vec<u64>,
    pub groups: Vec<(String, Vec<u64>)>,
}

/// One gathered touch: when, which visit, what (a word of `words`), a page or not, and the
/// dimension's value in its visit (a word too; 0 for none).
#[derive(Debug, Clone, Copy)]
struct Gathered {
    at: i64,
    visit: u64,
    word: u32,
    page: bool,
    group: u32,
}

pub struct FunnelEvaluation<'q> {
    query: &'q FunnelQuery,
    range: Range<i64>,
    words: Interner,
    /// Every gathered touch with its visitor, in one list (sorted by visitor and time when
    /// the funnel is finished: each day's touches already come sorted by visitor).
    touches: Vec<(u64, Gathered)>,
}

impl<'q> FunnelEvaluation<'q> {
    pub fn new(query: &'q FunnelQuery) -> FunnelEvaluation<'q> {
        FunnelEvaluation {
            query,
            range: query.span.millis(),
            words: Interner::new(),
            touches: Vec::new(),
        }
    }

    /// The optional columns a funnel reads: paths always (page steps), and what its filters read.
    pub fn need(query: &FunnelQuery) -> Need {
        let mut need = Need {
            paths: true,
            ..Need::default()
        };
        if let Some(field) = query.dimension {
            need = need.with_attr(field);
        }
        for f in &query.filters {
            match f.dimension {
                Dimension::Prop(_) => need.props = true,
                Dimension::Visit(field) => need = need.with_attr(field),
                _ => {}
            }
        }
        need
    }

    pub fn add(&mut self, d: &Day) {
        let steps = self.query.funnel.steps();
        // Per word of the day: does it match a step as a page, as an event (0 undecided).
        let mut as_page = vec![0u8; d.dict.len()];
        let mut as_event = vec![0u8; d.dict.len()];
        let decide = |memo: &mut Vec<u8>, code: u32, kind: TouchKind<'_>| {
            let slot = &mut memo[code as usize];
            if *slot == 0 {
                *slot = 1 + u8::from(steps.iter().any(|s| s.matches(kind)));
            }
            *slot == 2
        };
        let mut filters: Vec<Compiled> = self
            .query
            .filters
            .iter()
            .map(|f| Compiled::new(d, f, &self.query.goals))
            .collect();
        // The evaluation's word for each word of the day, + 1 (0: not looked up yet).
        let mut word_of = vec![0u32; d.dict.len()];
        let words = &mut self.words;
        let mut word = |code: u32| {
            let slot = &mut word_of[code as usize];
            if *slot == 0 {
                *slot = words.code(d.text(code)).saturating_add(1);
            }
            *slot - 1
        };
        for i in 0..d.events() {
            let at = d.ev_at[i];
            if !self.range.contains(&at) {
                continue;
            }
            let (name, page) = (d.ev_name[i], d.ev_name[i] == 0);
            let code = if page { d.ev_path[i] } else { name };
            let kind = if page {
                TouchKind::Page(d.text(code))
            } else {
                TouchKind::Event(d.text(code))
            };
            let wanted = if page {
                decide(&mut as_page, code, kind)
            } else {
                decide(&mut as_event, code, kind)
            };
            if !wanted || !filters.iter_mut().all(|c| c.admits_event(d, i)) {
                continue;
            }
            let v = d.ev_visit[i] as usize;
            let group = match self.query.dimension {
                Some(f) => match d.attr(f)[v] {
                    0 => 0,
                    c => word(c),
                },
                None => 0,
            };
            self.touches.push((
                d.visit_visitor[v],
                Gathered {
                    at,
                    // Visits never span days: the day and the visit's row name it.
                    visit: (u64::try_from(d.day).unwrap_or(0) << 32) | v as u64,
                    word: word(code),
                    page,
                    group,
                },
            ));
        }
    }

    pub fn finish(mut self) -> FunnelCounts {
        let steps = self.query.funnel.steps().len();
        let first = &self.query.funnel.steps()[0];
        let words = self.words.words();
        let mut total = Vec::new();
        let mut groups: HashMap<u32, Vec<usize>> = HashMap::new();
        // Stable, so the days' sorted runs are merged rather than sorted again.
        self.touches.sort_by_key(|(visitor, t)| (*visitor, t.at));
        let mut view: Vec<Touch<'_>> = Vec::new();
        for run in self.touches.chunk_by(|a, b| a.0 == b.0) {
            view.clear();
            view.extend(run.iter().map(|(_, t)| Touch {
                at_ms: t.at,
                visit: t.visit,
                kind: if t.page {
                    TouchKind::Page(&words[t.word as usize])
                } else {
                    TouchKind::Event(&words[t.word as usize])
                },
            }));
            let reached = self.query.funnel.reached(&view);
            if reached == 0 {
                continue;
            }
            total.push(reached);
            if self.query.dimension.is_some() {
                let group = run
                    .iter()
                    .zip(&view)
                    .find(|(_, v)| first.matches(v.kind))
                    .map_or(0, |((_, t), _)| t.group);
                if group != 0 {
                    groups.entry(group).or_default().push(reached);
                }
            }
        }
        let mut groups: Vec<(String, Vec<u64>)> = groups
            .into_iter()
            .map(|(g, reached)| {
                (
                    words[g as usize].clone(),
                    crate::analytics::funnel::tally(reached, steps),
                )
            })
            .collect();
        groups.sort_by(|a, b| b.1.first().cmp(&a.1.first()).then(a.0.cmp(&b.0)));
        FunnelCounts {
            total: crate::analytics::funnel::tally(total, steps),
            groups,
        }
    }
}
