//! Which goals each event of a day completes, and the amount it carries for a goal: decided
//! once per dictionary word (an event name, a path, a property value), then read per event.

use super::day::Day;
use super::eval::{Target, code_of};
use crate::analytics::funnel::TouchKind;
use crate::analytics::goals::{GoalSet, Goals, amount_thousandths};

/// A memo slot not decided yet (no goal set has bit 63: there are at most 60 goals).
const UNDECIDED: GoalSet = 1 << 63;

/// A day's goal completions, worked out as they are asked for.
pub(super) struct DayGoals<'g> {
    goals: &'g Goals,
    /// Whether some goal is completed by pageviews.
    pages: bool,
    /// Per word: the goals it completes as a custom event's name, as a pageview's path.
    as_name: Vec<GoalSet>,
    as_path: Vec<GoalSet>,
    /// Per goal: the day's code of its revenue property's key (`None`: no revenue read).
    revenue_key: Vec<Option<u32>>,
    /// Per word: its amount as a revenue value (`None` inside: not an amount).
    amounts: Vec<Option<Option<i64>>>,
}

impl<'g> DayGoals<'g> {
    /// `with_revenue`: whether amounts are read (the `revenue` metric was asked for).
    pub(super) fn new(d: &Day, goals: &'g Goals, with_revenue: bool) -> DayGoals<'g> {
        let revenue_key = goals
            .list()
            .iter()
            .map(|g| {
                let key = g.revenue_property.as_deref().filter(|_| with_revenue)?;
                d.find(key)
            })
            .collect();
        DayGoals {
            goals,
            pages: goals.reads_pages(),
            as_name: vec![UNDECIDED; d.dict.len()],
            as_path: vec![UNDECIDED; d.dict.len()],
            revenue_key,
            amounts: if with_revenue {
                vec![None; d.dict.len()]
            } else {
                Vec::new()
            },
        }
    }

    /// The goals event `i` completes. Reads the event's path only when a goal is completed by
    /// pageviews (`Evaluation::need` asks for paths then).
    pub(super) fn completed(&mut self, d: &Day, i: usize) -> GoalSet {
        let name = d.ev_name[i];
        if name == 0 && !self.pages {
            return 0;
        }
        let (memo, code) = if name != 0 {
            (&mut self.as_name, name)
        } else {
            (&mut self.as_path, d.ev_path[i])
        };
        let slot = &mut memo[code as usize];
        if *slot == UNDECIDED {
            let text = d.text(code);
            let touch = if name != 0 {
                TouchKind::Event(text)
            } else {
                TouchKind::Page(text)
            };
            *slot = self.goals.completed_by(touch);
        }
        *slot
    }

    /// The amount event `i` carries for `goal`, in thousandths (0 when the goal has no
    /// revenue or the event no readable amount).
    pub(super) fn amount(&mut self, d: &Day, i: usize, goal: usize) -> i64 {
        let Some(key) = self.revenue_key.get(goal).copied().flatten() else {
            return 0;
        };
        let code = code_of(d, Target::Prop(Some(key)), i);
        if code == 0 {
            return 0;
        }
        let slot = &mut self.amounts[code as usize];
        slot.get_or_insert_with(|| amount_thousandths(d.text(code)))
            .unwrap_or(0)
    }

    /// The amount of an event completing `set`, counted outside an `event:goal` split.
    pub(super) fn amount_of_set(&mut self, d: &Day, i: usize, set: GoalSet) -> i64 {
        match self.goals.revenue_goal(set) {
            Some(goal) => self.amount(d, i, goal),
            None => 0,
        }
    }
}
