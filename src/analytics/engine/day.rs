//! One site's events of one UTC day, in columns: the unit the engine reads, a segment file
//! holds and erasure rewrites.
//!
//! Two tables share one dictionary of strings (code 0 is "no value"):
//! - visits, sorted by (visitor, start): the visitor, the visit number, when it started and
//!   ended, how many events it had, and the visit-level attributes of its first event (source,
//!   referrer, campaign, country, region, browser, OS, device), its entry page (first pageview)
//!   and its exit page (last pageview);
//! - events, sorted by (visit, time): the visit's row, the time, the name (0 for a pageview),
//!   the path, the category and the properties.
//!
//! A visit never spans two days (a visit ends at midnight UTC), so a day holds whole visits
//! and no question needs a table of visits built at query time.

use std::collections::HashMap;

use crate::analytics::event::{Context, PropValue, StoredEvent};
use crate::analytics::query::VisitField;

/// The source of visits that came with no referrer and no campaign.
pub const DIRECT: &str = "Direct / None";

/// The type of a property value, kept beside its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    Str = 0,
    Num = 1,
    Bool = 2,
}

/// An event as the engine receives it: who, and what was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub visitor: u64,
    pub event: StoredEvent,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    /// Days since the Unix epoch.
    pub day: i64,
    pub dict: Vec<String>,
    pub visit_visitor: Vec<u64>,
    pub visit_number: Vec<u64>,
    pub visit_start: Vec<i64>,
    pub visit_end: Vec<i64>,
    pub visit_events: Vec<u32>,
    /// How many of a visit's events are pageviews: derived from the events table, not stored.
    pub visit_pageviews: Vec<u32>,
    pub visit_attrs: Vec<Vec<u32>>,
    pub ev_visit: Vec<u32>,
    pub ev_at: Vec<i64>,
    /// 0 for a pageview.
    pub ev_name: Vec<u32>,
    pub ev_path: Vec<u32>,
    pub ev_category: Vec<u32>,
    /// The event's properties are `prop_*[ev_props[i]..ev_props[i + 1]]`.
    pub ev_props: Vec<u32>,
    pub prop_key: Vec<u32>,
    pub prop_value: Vec<u32>,
    pub prop_kind: Vec<u8>,
}

/// Builds a dictionary as strings arrive.
#[derive(Default)]
pub(super) struct Interner {
    codes: HashMap<String, u32>,
    dict: Vec<String>,
}

impl Interner {
    pub(super) fn new() -> Interner {
        let mut i = Interner::default();
        i.dict.push(String::new());
        i.codes.insert(String::new(), 0);
        i
    }

    pub(super) fn code(&mut self, s: &str) -> u32 {
        if let Some(c) = self.codes.get(s) {
            return *c;
        }
        let c = u32::try_from(self.dict.len()).unwrap_or(u32::MAX);
        self.dict.push(s.to_owned());
        self.codes.insert(s.to_owned(), c);
        c
    }

    /// The strings by code.
    pub(super) fn words(&self) -> &[String] {
        &self.dict
    }

    fn opt(&mut self, s: &Option<String>) -> u32 {
        s.as_deref().map_or(0, |s| self.code(s))
    }
}

fn prop_text(v: &PropValue) -> (String, PropKind) {
    match v {
        PropValue::Str(s) => (s.clone(), PropKind::Str),
        PropValue::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
            (format!("{}", *n as i64), PropKind::Num)
        }
        PropValue::Num(n) => (n.to_string(), PropKind::Num),
        PropValue::Bool(b) => (b.to_string(), PropKind::Bool),
    }
}

fn prop_value(text: &str, kind: u8) -> PropValue {
    match kind {
        1 => text
            .parse()
            .map_or_else(|_| PropValue::Str(text.to_owned()), PropValue::Num),
        2 => PropValue::Bool(text == "true"),
        _ => PropValue::Str(text.to_owned()),
    }
}

impl Day {
    /// The bytes the day holds in memory (for the caches of decoded days).
    pub fn footprint(&self) -> usize {
        let d = self;
        let words: usize = d.dict.iter().map(|w| w.len() + 24).sum();
        let wide = d.visit_visitor.len()
            + d.visit_number.len()
            + d.visit_start.len()
            + d.visit_end.len()
            + d.ev_at.len();
        let attrs: usize = d.visit_attrs.iter().map(Vec::len).sum();
        let narrow = d.visit_events.len()
            + d.visit_pageviews.len()
            + attrs
            + d.ev_visit.len()
            + d.ev_name.len()
            + d.ev_path.len()
            + d.ev_category.len()
            + d.ev_props.len()
            + d.prop_key.len()
            + d.prop_value.len();
        words + wide * 8 + narrow * 4 + d.prop_kind.len()
    }

    /// The day of a time (ms).
    pub fn of(at_ms: i64) -> i64 {
        at_ms.div_euclid(86_400_000)
    }

    pub fn events(&self) -> usize {
        self.ev_at.len()
    }

    pub fn visits(&self) -> usize {
        self.visit_start.len()
    }

    pub fn text(&self, code: u32) -> &str {
        self.dict.get(code as usize).map_or("", String::as_str)
    }

    /// The code of a string, if this day holds it.
    pub fn find(&self, s: &str) -> Option<u32> {
        self.dict
            .iter()
            .position(|d| d == s)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Each visit's pageviews, counted from the events (`ev_visit` must be sound).
    pub(super) fn pageviews_per_visit(
        visits: usize,
        ev_visit: &[u32],
        ev_name: &[u32],
    ) -> Vec<u32> {
        let mut counts = vec![0u32; visits];
        for (v, name) in ev_visit.iter().zip(ev_name) {
            if let Some(c) = counts.get_mut(*v as usize) {
                *c += u32::from(*name == 0);
            }
        }
        counts
    }

    pub fn attr(&self, field: VisitField) -> &[u32] {
        self.visit_attrs
            .get(field.index())
            .map_or(&[][..], Vec::as_slice)
    }

    /// Builds a day from its events, in any order. Events of one visit number are one visit.
    pub fn build(day: i64, mut rows: Vec<Row>) -> Day {
        rows.sort_by(|a, b| {
            (a.visitor, a.event.visit, a.event.at.0).cmp(&(b.visitor, b.event.visit, b.event.at.0))
        });
        let mut dict = Interner::new();
        let mut d = Day {
            day,
            visit_attrs: vec![Vec::new(); VisitField::COUNT],
            ev_props: vec![0],
            ..Day::default()
        };
        for row in &rows {
            let e = &row.event;
            let same_visit = d.visit_number.last() == Some(&e.visit)
                && d.visit_visitor.last() == Some(&row.visitor);
            if !same_visit {
                d.open_visit(row, &mut dict);
            }
            let v = d.visit_start.len() - 1;
            d.visit_end[v] = e.at.0;
            d.visit_events[v] += 1;
            let pageview = e.name == "pageview";
            d.visit_pageviews[v] += u32::from(pageview);
            let path = dict.code(&e.path);
            if pageview {
                let entry = VisitField::EntryPage.index();
                if d.visit_attrs[entry][v] == 0 {
                    d.visit_attrs[entry][v] = path;
                }
                d.visit_attrs[VisitField::ExitPage.index()][v] = path;
            }
            d.ev_visit.push(u32::try_from(v).unwrap_or(u32::MAX));
            d.ev_at.push(e.at.0);
            d.ev_name
                .push(if pageview { 0 } else { dict.code(&e.name) });
            d.ev_path.push(path);
            d.ev_category.push(dict.code(&e.category));
            for (k, value) in &e.props {
                let (text, kind) = prop_text(value);
                d.prop_key.push(dict.code(k));
                d.prop_value.push(dict.code(&text));
                d.prop_kind.push(kind as u8);
            }
            d.ev_props
                .push(u32::try_from(d.prop_key.len()).unwrap_or(u32::MAX));
        }
        d.dict = dict.dict;
        d
    }

    fn open_visit(&mut self, row: &Row, dict: &mut Interner) {
        let e = &row.event;
        let c = &e.context;
        self.visit_visitor.push(row.visitor);
        self.visit_number.push(e.visit);
        self.visit_start.push(e.at.0);
        self.visit_end.push(e.at.0);
        self.visit_events.push(0);
        self.visit_pageviews.push(0);
        let source = c.source.as_deref().unwrap_or(DIRECT);
        let values = [
            dict.code(source),
            dict.opt(&c.referrer),
            dict.opt(&c.utm_source),
            dict.opt(&c.utm_medium),
            dict.opt(&c.utm_campaign),
            dict.opt(&c.country),
            dict.opt(&c.region),
            dict.code(&c.browser),
            dict.code(&c.os),
            dict.code(&c.device),
            0,
            0,
        ];
        for (column, value) in self.visit_attrs.iter_mut().zip(values) {
            column.push(value);
        }
    }

    fn opt_text(&self, field: VisitField, v: usize) -> Option<String> {
        let code = *self.attr(field).get(v)?;
        (code != 0).then(|| self.text(code).to_owned())
    }

    /// The stored form of one event: its visit's context (what a visit-level question reads).
    pub fn row(&self, i: usize) -> Row {
        let v = self.ev_visit[i] as usize;
        let field = |f: VisitField| self.opt_text(f, v);
        let source = field(VisitField::Source).filter(|s| s != DIRECT);
        let context = Context {
            country: field(VisitField::Country),
            region: field(VisitField::Region),
            browser: field(VisitField::Browser).unwrap_or_default(),
            os: field(VisitField::Os).unwrap_or_default(),
            device: field(VisitField::Device).unwrap_or_default(),
            source,
            referrer: field(VisitField::Referrer),
            utm_source: field(VisitField::UtmSource),
            utm_medium: field(VisitField::UtmMedium),
            utm_campaign: field(VisitField::UtmCampaign),
        };
        let name = match self.ev_name[i] {
            0 => "pageview".to_owned(),
            code => self.text(code).to_owned(),
        };
        let (from, to) = (self.ev_props[i] as usize, self.ev_props[i + 1] as usize);
        let props = (from..to)
            .map(|p| {
                let key = self.text(self.prop_key[p]).to_owned();
                (
                    key,
                    prop_value(self.text(self.prop_value[p]), self.prop_kind[p]),
                )
            })
            .collect();
        Row {
            visitor: self.visit_visitor[v],
            event: StoredEvent {
                at: crate::domain::Timestamp(self.ev_at[i]),
                visit: self.visit_number[v],
                name,
                category: self.text(self.ev_category[i]).to_owned(),
                path: self.text(self.ev_path[i]).to_owned(),
                props,
                context,
            },
        }
    }

    /// Every event, in the day's order.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        (0..self.events()).map(|i| self.row(i))
    }

    /// The rows of events whose visitor is `visitor`.
    pub fn rows_of(&self, visitor: u64) -> Vec<Row> {
        (0..self.events())
            .filter(|i| self.visit_visitor[self.ev_visit[*i] as usize] == visitor)
            .map(|i| self.row(i))
            .collect()
    }

    /// The same day without the events `drop` picks: rebuilt, so its dictionary holds no
    /// string only they used. `None` when nothing was dropped.
    pub fn without(&self, mut drop: impl FnMut(&Row) -> bool) -> Option<Day> {
        let mut dropped = false;
        let kept: Vec<Row> = self
            .rows()
            .filter(|r| {
                let d = drop(r);
                dropped |= d;
                !d
            })
            .collect();
        dropped.then(|| Day::build(self.day, kept))
    }
}
