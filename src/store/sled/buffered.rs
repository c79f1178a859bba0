//! The buffered (not yet sealed) events of a day, built into a day of columns once for every
//! question that reads it until the `events` tree next changes.
//!
//! Without it each question (the dashboard sends nine at once) read today's buffered rows from
//! sled, opened each one (a decryption when the folder is encrypted) and built them into a day
//! again. A kept day is tagged with the tree's write count read before its rows were, and is
//! used only while that count is unchanged, so no question sees a day the tree no longer holds:
//! an event written, erased, purged, dropped by retention or sealed counts as a write once it is
//! visible. Memory only; at most the days of one write count are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Trees;
use super::events::buffered_rows;
use crate::analytics::engine::Day;
use crate::store::StoreError;

/// A day built from the buffer, with the events tree's write count read before its rows were.
type Built = (u64, Arc<Day>);

/// The kept days, by site and day.
#[derive(Default)]
pub(crate) struct BufferedDays(Mutex<HashMap<(String, i64), Built>>);

impl BufferedDays {
    /// The buffered events of a site's day as a day of columns; `None` when there are none.
    pub fn day(&self, t: &Trees, site: &str, day: i64) -> Result<Option<Arc<Day>>, StoreError> {
        let writes = t.events.writes();
        let key = (site.to_owned(), day);
        if let Some((at, kept)) = self.0.lock().ok().and_then(|k| k.get(&key).cloned()) {
            if at == writes {
                return Ok(Some(kept));
            }
        }
        let rows = buffered_rows(t, site, day)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let built = Arc::new(Day::build(
            day,
            rows.into_iter().map(|(_, row)| row).collect(),
        ));
        if let Ok(mut kept) = self.0.lock() {
            kept.retain(|_, (at, _)| *at == writes);
            kept.insert(key, (writes, built.clone()));
        }
        Ok(Some(built))
    }
}
