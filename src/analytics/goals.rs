//! Goals: the events a site counts as conversions. A goal is completed by a custom event of
//! a name, or by a pageview whose path matches a pattern (the same match as a funnel step),
//! and may carry revenue read from one of the event's properties.
//!
//! Counting (the `conversions`, `conversion_rate` and `revenue` metrics and `event:goal`):
//! - an event that completes at least one goal is one conversion; in an `event:goal` split it
//!   is one conversion of each goal it completes;
//! - its revenue is its property's amount for the first goal (in the site's order) that names
//!   a revenue property, among the goals the question's `event:goal` filters admit; in an
//!   `event:goal` split, each goal's own property;
//! - no other event is a conversion: automatic `outbound` and `download` events count only
//!   where a goal names them.
//!
//! Goals are read from the settings when a question is asked, so a changed goal changes every
//! answer, past days included: nothing about goals is stored with the events.
//!
//! Pure logic: no storage, HTTP or JSON.

use std::fmt;
use std::sync::Arc;

use super::funnel::{Step, TouchKind};

/// The most goals a site may define (a goal set is a 64-bit mask inside the engine).
pub const MAX_GOALS: usize = 60;
/// The longest goal name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// A currency, as ISO 4217 writes it: three capital letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Option<Currency> {
        (raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()))
            .then(|| Currency(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One goal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Goal {
    pub name: String,
    /// What completes it.
    pub trigger: Step,
    /// The event property holding the amount of a completion, if the goal has revenue.
    pub revenue_property: Option<String>,
}

impl Goal {
    /// Whether a touch (a pageview's path or a custom event's name) completes the goal.
    pub fn completed_by(&self, touch: TouchKind<'_>) -> bool {
        self.trigger.matches(touch)
    }
}

/// A set of goals of one site, as a bit mask over its goal list (bit i: goal i).
pub type GoalSet = u64;

/// A site's goals, in the order they were defined, and the one currency of their revenue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Goals {
    list: Arc<[Goal]>,
    currency: Option<Currency>,
}

/// Why a site's goals were refused; the settings name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalError(pub String);

impl fmt::Display for GoalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Goals {
    /// Goals from their definitions: at most `MAX_GOALS`, distinct non-empty names of at most
    /// `MAX_NAME_LEN` characters, and a currency exactly when some goal has revenue.
    pub fn new(list: Vec<Goal>, currency: Option<Currency>) -> Result<Goals, GoalError> {
        if list.len() > MAX_GOALS {
            return Err(GoalError(format!(
                "a site may define at most {MAX_GOALS} goals, not {}",
                list.len()
            )));
        }
        for (i, g) in list.iter().enumerate() {
            let len = g.name.chars().count();
            if len == 0 || len > MAX_NAME_LEN || g.name.chars().any(char::is_control) {
                return Err(GoalError(format!(
                    "goal {} needs a name of 1 to {MAX_NAME_LEN} characters, no control \
                     characters",
                    i + 1
                )));
            }
            if list[..i].iter().any(|o| o.name == g.name) {
                return Err(GoalError(format!("two goals are named `{}`", g.name)));
            }
        }
        let with_revenue = list.iter().any(|g| g.revenue_property.is_some());
        if with_revenue != currency.is_some() {
            return Err(GoalError(
                "a goal with `revenue` needs its `currency`, and a currency needs a goal with \
                 revenue"
                    .into(),
            ));
        }
        Ok(Goals {
            list: list.into(),
            currency,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &[Goal] {
        &self.list
    }

    pub fn get(&self, i: usize) -> Option<&Goal> {
        self.list.get(i)
    }

    /// The currency of every revenue amount, when some goal has revenue.
    pub fn currency(&self) -> Option<&Currency> {
        self.currency.as_ref()
    }

    /// Whether some goal is completed by pageviews (so answers need the events' paths).
    pub fn reads_pages(&self) -> bool {
        self.list.iter().any(|g| matches!(g.trigger, Step::Page(_)))
    }

    /// Whether some goal has revenue (so answers need the events' properties).
    pub fn has_revenue(&self) -> bool {
        self.currency.is_some()
    }

    /// The goals a touch completes.
    pub fn completed_by(&self, touch: TouchKind<'_>) -> GoalSet {
        self.set_where(|g| g.completed_by(touch))
    }

    /// The goals whose name passes `admits`.
    pub fn set_where(&self, mut admits: impl FnMut(&Goal) -> bool) -> GoalSet {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, g)| admits(g))
            .fold(0, |set, (i, _)| set | 1 << i)
    }

    /// The goal whose revenue an event completing `set` carries outside an `event:goal`
    /// split: the first of them with a revenue property.
    pub fn revenue_goal(&self, set: GoalSet) -> Option<usize> {
        members(set).find(|i| self.list[*i].revenue_property.is_some())
    }
}

/// The goals of a set, lowest first.
pub fn members(set: GoalSet) -> impl Iterator<Item = usize> {
    (0..MAX_GOALS).filter(move |i| set & (1 << i) != 0)
}

/// An amount as an event property holds it (`"19.99"`, `"-5"`, `"3.5"`), in thousandths of
/// the currency unit; digits past the third decimal are cut. At most 12 whole digits (a
/// trillion), so that sums of them stay far inside `i64` (and are added saturating anyway).
/// `None` for anything else (a completion without a readable amount is a conversion with no
/// revenue).
pub fn amount_thousandths(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if digits.ends_with('.') {
        return None;
    }
    let mut thousandths: i64 = whole.parse::<i64>().ok()? * 1000;
    for (place, b) in fraction.bytes().take(3).enumerate() {
        thousandths += i64::from(b - b'0') * [100, 10, 1][place];
    }
    Some(if negative { -thousandths } else { thousandths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::funnel::PagePattern;

    fn goal(name: &str, trigger: Step, revenue: Option<&str>) -> Goal {
        Goal {
            name: name.into(),
            trigger,
            revenue_property: revenue.map(str::to_owned),
        }
    }

    fn page(p: &str) -> Step {
        Step::Page(PagePattern::parse(p, "goals.page").unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn a_touch_completes_every_goal_that_names_it() {
        let goals = Goals::new(
            vec![
                goal("Signup", Step::Event("signup".into()), None),
                goal("Docs", page("/docs/*"), None),
                goal("Any page", page("*"), None),
            ],
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(goals.completed_by(TouchKind::Event("signup")), 0b001);
        assert_eq!(goals.completed_by(TouchKind::Page("/docs/a")), 0b110);
        assert_eq!(goals.completed_by(TouchKind::Page("/")), 0b100);
        assert_eq!(goals.completed_by(TouchKind::Event("outbound")), 0);
        assert_eq!(members(0b110).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn revenue_needs_a_currency_and_names_are_distinct() {
        let buy = || goal("Buy", Step::Event("buy".into()), Some("amount"));
        assert!(Goals::new(vec![buy()], None).is_err());
        assert!(Goals::new(vec![buy()], Currency::parse("EUR")).is_ok());
        let plain = goal("Buy", Step::Event("x".into()), None);
        assert!(Goals::new(vec![plain.clone()], Currency::parse("EUR")).is_err());
        let twice = Goals::new(vec![plain.clone(), plain], None).unwrap_err();
        assert!(twice.0.contains("two goals are named `Buy`"), "{twice}");
        let many = (0..=MAX_GOALS)
            .map(|i| goal(&format!("g{i}"), Step::Event("e".into()), None))
            .collect();
        assert!(Goals::new(many, None).is_err());
        assert_eq!(Currency::parse("eur"), None);
    }

    #[test]
    fn amounts_are_read_in_thousandths_and_anything_else_is_none() {
        assert_eq!(amount_thousandths("19.99"), Some(19_990));
        assert_eq!(amount_thousandths("3"), Some(3_000));
        assert_eq!(amount_thousandths("-5.5"), Some(-5_500));
        assert_eq!(amount_thousandths("0.12345"), Some(123));
        assert_eq!(
            amount_thousandths("999999999999"),
            Some(999_999_999_999_000)
        );
        assert_eq!(amount_thousandths("9999999999999"), None, "13 whole digits");
        for bad in ["", "abc", "1.", ".5", "1,5", "1e3", "--1", "١٢"] {
            assert_eq!(amount_thousandths(bad), None, "{bad}");
        }
    }
}
