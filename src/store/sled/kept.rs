//! What the sealed days keep in memory between questions, by site, day, generation and what it
//! is (a decoded day; a day's answer to questions of one shape): a generation's file never
//! changes, so nothing kept can disagree with the file it came from. Bounded by bytes; the
//! oldest day goes first, then the least recently used.

use std::collections::HashMap;
use std::hash::Hash;

/// (site, day, generation, what).
pub(super) type Key<X> = (String, i64, u64, X);

pub(super) struct Kept<X, V> {
    entries: HashMap<Key<X>, Entry<V>>,
    bytes: usize,
    tick: u64,
    /// The most bytes the entries may hold.
    limit: usize,
}

struct Entry<V> {
    value: V,
    size: usize,
    used: u64,
}

impl<X: Eq + Hash + Clone, V: Clone> Kept<X, V> {
    pub(super) fn new(limit: usize) -> Kept<X, V> {
        Kept {
            entries: HashMap::new(),
            bytes: 0,
            tick: 0,
            limit,
        }
    }

    /// The value kept under `key`, marked as used now.
    pub(super) fn get(&mut self, key: &Key<X>) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(key)?;
        entry.used = tick;
        Some(entry.value.clone())
    }

    /// Keeps a value of `size` bytes (not when it alone is over the limit), letting go of what
    /// no longer fits.
    pub(super) fn put(&mut self, key: Key<X>, value: V, size: usize) {
        if size > self.limit {
            return;
        }
        let used = self.tick;
        if let Some(old) = self.entries.insert(key, Entry { value, size, used }) {
            self.bytes -= old.size;
        }
        self.bytes += size;
        while self.bytes > self.limit {
            // The oldest day goes first: recent days are asked for most, and a scan of more
            // days than fit must not evict every day it needs next.
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(k, e)| (k.1, e.used))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
    }

    /// Lets go of a day's entries of every generation but `live`.
    pub(super) fn forget(&mut self, site: &str, day: i64, live: Option<u64>) {
        let stale: Vec<Key<X>> = self
            .entries
            .keys()
            .filter(|(s, d, g, _)| s == site && *d == day && Some(*g) != live)
            .cloned()
            .collect();
        for k in stale {
            self.remove(&k);
        }
    }

    fn remove(&mut self, key: &Key<X>) {
        if let Some(gone) = self.entries.remove(key) {
            self.bytes -= gone.size;
        }
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    fn key(day: i64, generation: u64) -> super::Key<()> {
        ("s".to_owned(), day, generation, ())
    }

    #[test]
    fn the_oldest_day_goes_first_when_the_bytes_are_over_the_limit() {
        let mut kept: Kept<(), u32> = Kept::new(10);
        kept.put(key(5, 1), 5, 4);
        kept.put(key(3, 1), 3, 4);
        assert_eq!(kept.get(&key(3, 1)), Some(3));
        kept.put(key(7, 1), 7, 4);
        assert_eq!(kept.get(&key(3, 1)), None, "day 3 is the oldest");
        assert_eq!(kept.get(&key(5, 1)), Some(5));
        assert_eq!(kept.get(&key(7, 1)), Some(7));
        assert_eq!(kept.bytes(), 8);
        kept.put(key(9, 1), 9, 11);
        assert_eq!(kept.get(&key(9, 1)), None, "over the limit alone: not kept");
    }

    #[test]
    fn a_new_generation_lets_go_of_the_older_ones_of_its_day_only() {
        let mut kept: Kept<(), u32> = Kept::new(100);
        kept.put(key(5, 1), 1, 4);
        kept.put(key(5, 2), 2, 4);
        kept.put(key(6, 1), 6, 4);
        kept.forget("s", 5, Some(2));
        assert_eq!(kept.get(&key(5, 1)), None);
        assert_eq!(kept.get(&key(5, 2)), Some(2));
        assert_eq!(kept.get(&key(6, 1)), Some(6));
        kept.forget("s", 5, None);
        assert_eq!(kept.get(&key(5, 2)), None, "a day dropped keeps nothing");
        assert_eq!(kept.bytes(), 4);
    }
}
