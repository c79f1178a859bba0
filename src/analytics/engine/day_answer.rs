//! One day's share of an answer: the groups a day adds to an evaluation, keyed by text, each
//! with the day's distinct visitors. `Evaluation::add` is `answer` then `merge`, so an answer a
//! store keeps for a day that cannot change (a sealed day's generation) is the one the day
//! would give again.

use crate::analytics::query::{Counters, Part};

/// The groups one day adds.
#[derive(Debug, Default, PartialEq)]
pub struct DayAnswer {
    pub(super) groups: Vec<(Vec<Part>, DayTally)>,
}

/// A group's counts in one day.
#[derive(Debug, Default, PartialEq)]
pub(super) struct DayTally {
    pub(super) counters: Counters,
    pub(super) visitors: Visitors,
    pub(super) converters: Visitors,
}

/// A day's distinct visitor numbers in a group, ascending; four bytes each while they fit.
#[derive(Debug, PartialEq)]
pub(super) enum Visitors {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for Visitors {
    fn default() -> Visitors {
        Visitors::Narrow(Vec::new())
    }
}

impl Visitors {
    /// The distinct numbers of a list (in any order, with repeats).
    pub(super) fn of(mut list: Vec<u64>) -> Visitors {
        if !list.is_sorted() {
            list.sort_unstable();
        }
        list.dedup();
        match list.last() {
            Some(max) if u32::try_from(*max).is_err() => Visitors::Wide(list),
            _ => Visitors::Narrow(list.into_iter().map(|v| v as u32).collect()),
        }
    }

    pub(super) fn extend_into(&self, out: &mut Vec<u64>) {
        match self {
            Visitors::Narrow(list) => out.extend(list.iter().map(|v| u64::from(*v))),
            Visitors::Wide(list) => out.extend_from_slice(list),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Visitors::Narrow(list) => list.len() * 4,
            Visitors::Wide(list) => list.len() * 8,
        }
    }
}

impl DayAnswer {
    /// The bytes it holds in memory (for a store's cache of answers).
    pub fn footprint(&self) -> usize {
        self.groups
            .iter()
            .map(|(key, t)| {
                let key: usize = key
                    .iter()
                    .map(|p| match p {
                        Part::Text(s) => s.len() + 32,
                        Part::Period(_) => 32,
                    })
                    .sum();
                key + 24
                    + std::mem::size_of::<DayTally>()
                    + t.visitors.bytes()
                    + t.converters.bytes()
            })
            .sum::<usize>()
            + std::mem::size_of::<DayAnswer>()
    }

    /// How many groups the day adds.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Visitors;

    #[test]
    fn visitors_are_kept_distinct_and_ascending_and_wide_only_when_a_number_needs_it() {
        let narrow = Visitors::of(vec![7, 3, 7, 1]);
        assert_eq!(narrow, Visitors::Narrow(vec![1, 3, 7]));
        let wide = Visitors::of(vec![1 << 40, 2, 2]);
        assert_eq!(wide, Visitors::Wide(vec![2, 1 << 40]));
        let mut out = vec![9];
        narrow.extend_into(&mut out);
        wide.extend_into(&mut out);
        assert_eq!(out, vec![9, 1, 3, 7, 2, 1 << 40]);
    }
}
