//! Sealed days: one immutable segment file per site and UTC day, in
//! `<data>/events/<site>/<day>-<generation>.seg` (format: `analytics::engine::format`).
//!
//! The event writer keeps a day's events in the `events` tree (the write buffer) until the
//! day has ended and gone quiet; then it seals them: the day's rows (and the old segment's,
//! if the day was sealed before) become a new generation, written and fsynced under a
//! temporary name and renamed; one sled batch then records the generation (key
//! `site 0x01 day`, in the `events` tree) and removes the buffered rows, so a crash leaves
//! either the old state or the new one, never both counted. Files whose generation is not
//! the recorded one are leftovers of an interrupted change and are deleted at start.
//!
//! Erasure and the withdrawal purge rewrite a day without the rows concerned (a new
//! generation, the old file deleted); retention deletes whole days.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::events::{buffered_rows, event_key};
use super::kept::Kept;
use super::vault_tree::Tree;
use super::{Trees, map_err};
use crate::analytics::engine::format::{self, Need};
use crate::analytics::engine::{Day, DayAnswer, Row, Shape};
use crate::store::StoreError;
use crate::store::vault::Vault;

const DAY_MS: i64 = 86_400_000;

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what}: {e}"))
}

/// The key that records a sealed day's generation, in the `events` tree.
pub fn map_key(site: &str, day: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 9);
    k.extend_from_slice(site.as_bytes());
    k.push(1);
    k.extend_from_slice(&u64::try_from(day).unwrap_or(0).to_be_bytes());
    k
}

/// A `map_key`'s site and day.
pub fn parse_map_key(k: &[u8]) -> Option<(String, i64)> {
    let split = k.iter().position(|b| *b <= 1).filter(|i| k[*i] == 1)?;
    let site = std::str::from_utf8(&k[..split]).ok()?.to_owned();
    let day = u64::from_be_bytes(k.get(split + 1..)?.try_into().ok()?);
    Some((site, i64::try_from(day).ok()?))
}

/// The recorded generations, found by skipping from site to site over the buffered events
/// (keys `site 0x00 …` sort before a site's `site 0x01 …` records).
fn load_map(events: &Tree) -> Result<HashMap<(String, i64), u64>, StoreError> {
    let mut live = HashMap::new();
    let mut from: Vec<u8> = Vec::new();
    while let Some(item) = events.range(from.clone()..).next() {
        let (k, v) = item.map_err(map_err)?;
        let Some(split) = k.iter().position(|b| *b <= 1) else {
            break;
        };
        let site = &k[..split];
        if k[split] == 0 {
            from = [site, &[1]].concat();
            continue;
        }
        if let (Some(at), Ok(generation)) = (parse_map_key(&k), v.as_ref().try_into()) {
            live.insert(at, u64::from_be_bytes(generation));
        }
        from = k.to_vec();
        from.push(0);
        if k.len() != split + 9 {
            from = [site, &[2]].concat();
        }
    }
    Ok(live)
}

pub(crate) struct Sealed {
    dir: PathBuf,
    /// Decoded days, with the columns they hold.
    kept: Mutex<Kept<(), (Arc<Day>, Need)>>,
    /// Whole days' answers to questions with no filter, by the questions' shape: what the
    /// dashboard asks on every view, read from these instead of the day's columns.
    answers: Mutex<Kept<Shape, Arc<DayAnswer>>>,
    /// (site, day) → the live generation.
    live: RwLock<HashMap<(String, i64), u64>>,
    /// Held by whatever changes segments (seal, rewrite, drop): one change at a time.
    change: Mutex<()>,
    /// Seals segment files when the data folder is encrypted.
    vault: Option<Arc<Vault>>,
}

/// What a segment file is bound to: its site, day and generation.
fn segment_aad(site: &str, day: i64, generation: u64) -> Vec<u8> {
    format!("segment\0{site}\0{day}\0{generation}").into_bytes()
}

impl Sealed {
    /// Loads the sealed days' generations and deletes files no generation names.
    pub fn open(
        dir: &Path,
        events: &Tree,
        keep_mb: u64,
        vault: Option<Arc<Vault>>,
    ) -> Result<Sealed, StoreError> {
        let dir = dir.join("events");
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create the events folder", e))?;
        let live = load_map(events)?;
        let keep_bytes = usize::try_from(keep_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        let segments = Sealed {
            dir,
            kept: Mutex::new(Kept::new(keep_bytes)),
            answers: Mutex::new(Kept::new(keep_bytes / 2)),
            live: RwLock::new(live),
            change: Mutex::new(()),
            vault,
        };
        segments.remove_leftovers()?;
        Ok(segments)
    }

    fn remove_leftovers(&self) -> Result<(), StoreError> {
        let live = self
            .live
            .read()
            .map_err(|_| StoreError::Io("segments lock".into()))?;
        let Ok(sites) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        for site in sites.flatten() {
            let site_name = site.file_name().to_string_lossy().into_owned();
            for file in std::fs::read_dir(site.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = file.file_name().to_string_lossy().into_owned();
                let wanted = name
                    .strip_suffix(".seg")
                    .and_then(|n| n.split_once('-'))
                    .and_then(|(d, g)| Some((d.parse::<i64>().ok()?, g.parse::<u64>().ok()?)))
                    .is_some_and(|(d, g)| live.get(&(site_name.clone(), d)) == Some(&g));
                if !wanted {
                    std::fs::remove_file(file.path())
                        .map_err(|e| io("cannot delete a leftover segment", e))?;
                }
            }
        }
        Ok(())
    }

    /// Runs `f` with no segment changing meanwhile (no seal, rewrite or drop), giving it every
    /// live segment file as (path under `events/`, path on disk): for a backup, which copies
    /// them and the tree that names them as of one moment.
    pub fn frozen<R>(
        &self,
        f: impl FnOnce(Vec<(PathBuf, PathBuf)>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let _change = self
            .change
            .lock()
            .map_err(|_| StoreError::Io("segments lock".into()))?;
        let files = {
            let live = self
                .live
                .read()
                .map_err(|_| StoreError::Io("segments lock".into()))?;
            live.iter()
                .map(|((site, day), generation)| {
                    (
                        PathBuf::from(site).join(format!("{day}-{generation}.seg")),
                        self.path(site, *day, *generation),
                    )
                })
                .collect()
        };
        f(files)
    }

    fn path(&self, site: &str, day: i64, generation: u64) -> PathBuf {
        self.dir.join(site).join(format!("{day}-{generation}.seg"))
    }

    /// The sealed days of a site, oldest first.
    pub fn days(&self, site: &str) -> Vec<i64> {
        let Ok(live) = self.live.read() else {
            return Vec::new();
        };
        let mut days: Vec<i64> = live
            .keys()
            .filter(|(s, _)| s == site)
            .map(|(_, d)| *d)
            .collect();
        days.sort_unstable();
        days
    }

    /// Every sealed (site, day).
    pub fn all(&self) -> Vec<(String, i64)> {
        let mut all: Vec<_> = self
            .live
            .read()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        all.sort();
        all
    }

    /// A sealed day, read whole and checked; `None` when the day is not sealed.
    pub fn read(&self, site: &str, day: i64) -> Result<Option<Day>, StoreError> {
        let Some((_, bytes)) = self.file_bytes(site, day)? else {
            return Ok(None);
        };
        format::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("segment {site}/{day}: {e}")))
    }

    /// A sealed day with at least the columns `need` names, for a query: from the kept days
    /// when there, else read and kept. `None` when the day is not sealed.
    pub fn read_for_query(
        &self,
        site: &str,
        day: i64,
        need: Need,
    ) -> Result<Option<Arc<Day>>, StoreError> {
        Ok(self.read_kept(site, day, need)?.map(|(_, d)| d))
    }

    /// `read_for_query`, with the generation the day is.
    fn read_kept(
        &self,
        site: &str,
        day: i64,
        need: Need,
    ) -> Result<Option<(u64, Arc<Day>)>, StoreError> {
        let Some(generation) = self.generation(site, day) else {
            return Ok(None);
        };
        let key = (site.to_owned(), day, generation, ());
        // Every visit attribute at once: the dashboard's panels each read another one, and a
        // day decoded again per panel costs more than the attributes' memory.
        let need = need.union(Need {
            attrs: u16::MAX,
            ..Need::default()
        });
        let mut want = need;
        if let Some((day, has)) = self.kept.lock().ok().and_then(|mut k| k.get(&key)) {
            if has.covers(need) {
                return Ok(Some((generation, day)));
            }
            want = has.union(need);
        }
        let Some((generation, bytes)) = self.file_bytes(site, day)? else {
            return Ok(None);
        };
        let decoded = format::decode_some(&bytes, want)
            .map_err(|e| StoreError::Corrupt(format!("segment {site}/{day}: {e}")))?;
        let decoded = Arc::new(decoded);
        let size = decoded.footprint();
        if let Ok(mut kept) = self.kept.lock() {
            // Not once a change has replaced the generation: `commit` has let go of it.
            if self.generation(site, day) == Some(generation) {
                let key = (site.to_owned(), day, generation, ());
                kept.put(key, (decoded.clone(), want), size);
            }
        }
        Ok(Some((generation, decoded)))
    }

    /// A sealed day's answer to questions of `shape`: kept from before when the day's
    /// generation is the one it was computed from, else computed by `answer` from the day
    /// (read as `read_for_query` reads it) and kept. `None` when the day is not sealed or
    /// `answer` gives none.
    pub fn answer_for_query(
        &self,
        site: &str,
        day: i64,
        need: Need,
        shape: &Shape,
        answer: impl FnOnce(&Day) -> Option<DayAnswer>,
    ) -> Result<Option<Arc<DayAnswer>>, StoreError> {
        let Some(generation) = self.generation(site, day) else {
            return Ok(None);
        };
        let key = (site.to_owned(), day, generation, shape.clone());
        if let Some(kept) = self.answers.lock().ok().and_then(|mut a| a.get(&key)) {
            return Ok(Some(kept));
        }
        let Some((generation, decoded)) = self.read_kept(site, day, need)? else {
            return Ok(None);
        };
        let Some(computed) = answer(&decoded).map(Arc::new) else {
            return Ok(None);
        };
        if let Ok(mut answers) = self.answers.lock() {
            // Kept under the generation it was computed from, and only while that one is live:
            // once a change has replaced it, `commit` has let go of its answers.
            if self.generation(site, day) == Some(generation) {
                let key = (site.to_owned(), day, generation, shape.clone());
                answers.put(key, computed.clone(), computed.footprint());
            }
        }
        Ok(Some(computed))
    }

    /// The live generation of a day and its file's bytes.
    fn file_bytes(&self, site: &str, day: i64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        // The file is opened under the read lock: a rewrite deletes the old file only after
        // taking the write lock, and an open file stays readable after it is deleted.
        let (generation, file) = {
            let live = self
                .live
                .read()
                .map_err(|_| StoreError::Io("segments lock".into()))?;
            let Some(generation) = live.get(&(site.to_owned(), day)) else {
                return Ok(None);
            };
            let file = std::fs::File::open(self.path(site, day, *generation))
                .map_err(|e| io("cannot open a segment", e))?;
            (*generation, file)
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut bytes)
            .map_err(|e| io("cannot read a segment", e))?;
        let bytes = match &self.vault {
            None => bytes,
            Some(v) => v.open(&bytes, &segment_aad(site, day, generation))?,
        };
        Ok(Some((generation, bytes)))
    }

    /// Writes a day as the next generation of its file; returns the generation.
    fn write(&self, site: &str, day: &Day, generation: u64) -> Result<(), StoreError> {
        let folder = self.dir.join(site);
        std::fs::create_dir_all(&folder).map_err(|e| io("cannot create a segment folder", e))?;
        let path = self.path(site, day.day, generation);
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("cannot create a segment", e))?;
        let encoded = format::encode(day);
        let bytes = match &self.vault {
            None => encoded,
            Some(v) => v.seal(&encoded, &segment_aad(site, day.day, generation)),
        };
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| io("cannot write a segment", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("cannot name a segment", e))?;
        std::fs::File::open(&folder)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot sync the segment folder", e))?;
        Ok(())
    }

    /// Points (site, day) at a generation (or at none), removing `buffered` keys from the
    /// write buffer in the same batch, durably; then deletes the file it replaced.
    fn commit(
        &self,
        t: &Trees,
        site: &str,
        day: i64,
        generation: Option<u64>,
        buffered: Vec<sled::IVec>,
    ) -> Result<(), StoreError> {
        let mut batch = super::vault_tree::Batch::default();
        match generation {
            Some(g) => batch.insert(map_key(site, day), &g.to_be_bytes()),
            None => batch.remove(map_key(site, day)),
        }
        for k in buffered {
            batch.remove(k);
        }
        t.events.apply_batch(batch).map_err(map_err)?;
        t.db.flush().map_err(map_err)?;
        let old = {
            let mut live = self
                .live
                .write()
                .map_err(|_| StoreError::Io("segments lock".into()))?;
            let key = (site.to_owned(), day);
            match generation {
                Some(g) => live.insert(key, g),
                None => live.remove(&key),
            }
        };
        if let Ok(mut kept) = self.kept.lock() {
            kept.forget(site, day, generation);
        }
        if let Ok(mut answers) = self.answers.lock() {
            answers.forget(site, day, generation);
        }
        if let Some(old) = old.filter(|o| Some(*o) != generation) {
            std::fs::remove_file(self.path(site, day, old))
                .map_err(|e| io("cannot delete a replaced segment", e))?;
        }
        Ok(())
    }

    fn generation(&self, site: &str, day: i64) -> Option<u64> {
        self.live.read().ok()?.get(&(site.to_owned(), day)).copied()
    }

    /// Seals the buffered rows of a day (with the day's old segment, if any). Returns how
    /// many rows moved out of the buffer.
    pub fn seal(&self, t: &Trees, site: &str, day: i64) -> Result<usize, StoreError> {
        let _change = self
            .change
            .lock()
            .map_err(|_| StoreError::Io("segments lock".into()))?;
        let buffered = buffered_rows(t, site, day)?;
        if buffered.is_empty() {
            return Ok(0);
        }
        let old = self.read(site, day)?;
        let mut rows: Vec<Row> = old.iter().flat_map(|d| d.rows()).collect();
        let moved = buffered.len();
        let keys: Vec<sled::IVec> = buffered
            .into_iter()
            .map(|(k, row)| {
                rows.push(row);
                k
            })
            .collect();
        let generation = self.generation(site, day).map_or(1, |g| g + 1);
        self.write(site, &Day::build(day, rows), generation)?;
        crate::fault::crash_point("after_segment_written", || {});
        self.commit(t, site, day, Some(generation), keys)?;
        Ok(moved)
    }

    /// Rewrites a sealed day without the rows `drop` picks. Returns how many were dropped.
    pub fn rewrite(
        &self,
        t: &Trees,
        site: &str,
        day: i64,
        mut drop: impl FnMut(&Row) -> bool,
    ) -> Result<u64, StoreError> {
        let _change = self
            .change
            .lock()
            .map_err(|_| StoreError::Io("segments lock".into()))?;
        let Some(old) = self.read(site, day)? else {
            return Ok(0);
        };
        let mut dropped = 0u64;
        let Some(new) = old.without(|r| {
            let d = drop(r);
            dropped += u64::from(d);
            d
        }) else {
            return Ok(0);
        };
        if new.events() == 0 {
            self.commit(t, site, day, None, Vec::new())?;
            return Ok(dropped);
        }
        let generation = self.generation(site, day).map_or(1, |g| g + 1);
        self.write(site, &new, generation)?;
        self.commit(t, site, day, Some(generation), Vec::new())?;
        Ok(dropped)
    }

    /// Rewrites every sealed day kept in an older format version in the current one (a new
    /// generation, as a rewrite); returns how many. Readers understand both meanwhile.
    pub fn upgrade(&self, t: &Trees) -> Result<usize, StoreError> {
        let mut upgraded = 0;
        for (site, day) in self.all() {
            let _change = self
                .change
                .lock()
                .map_err(|_| StoreError::Io("segments lock".into()))?;
            let Some((generation, bytes)) = self.file_bytes(&site, day)? else {
                continue;
            };
            if !format::is_older(&bytes) {
                continue;
            }
            let old = format::decode(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("segment {site}/{day}: {e}")))?;
            self.write(&site, &old, generation + 1)?;
            self.commit(t, &site, day, Some(generation + 1), Vec::new())?;
            upgraded += 1;
        }
        Ok(upgraded)
    }

    /// Deletes a site's sealed days before `day`. Returns how many events they held.
    pub fn drop_before(&self, t: &Trees, site: &str, day: i64) -> Result<u64, StoreError> {
        let _change = self
            .change
            .lock()
            .map_err(|_| StoreError::Io("segments lock".into()))?;
        let mut dropped = 0;
        for d in self.days(site).into_iter().filter(|d| *d < day) {
            dropped += self.read(site, d)?.map_or(0, |d| d.events() as u64);
            self.commit(t, site, d, None, Vec::new())?;
        }
        Ok(dropped)
    }
}

/// The instants of a day, as buffer keys.
pub fn day_keys(site: &str, day: i64) -> std::ops::Range<Vec<u8>> {
    event_key(site, day * DAY_MS, 0)..event_key(site, (day + 1) * DAY_MS, 0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::SledStore;
    use super::super::registry_test::decision;
    use crate::analytics::engine::Day;
    use crate::analytics::event::{AcceptedEvent, Context};
    use crate::analytics::query::{self, Cancel};
    use crate::domain::{CategoryId, ConsentId, SiteId, Timestamp};
    use crate::store::{AnalyticsStore, ConsentStore, Durability, StoreOptions};
    use crate::telemetry::Metrics;

    const AT: i64 = 1_790_000_100_000;

    fn open(dir: &std::path::Path) -> SledStore {
        let options = StoreOptions {
            encryption_key: None,
            cache_capacity_mb: 16,
            analytics_cache_mb: 8,
            durability: Durability::Flush,
        };
        SledStore::open(dir, options, Arc::new(Metrics::default())).unwrap()
    }

    async fn events_stored(store: &SledStore) -> i64 {
        let raw = query::RawQuery {
            metrics: vec!["events".into()],
            date_range: Some(query::RawRange::Dates(
                "2026-09-21".into(),
                "2026-09-23".into(),
            )),
            ..query::RawQuery::default()
        };
        let q = query::parse(&raw, Timestamp(AT), &Default::default()).unwrap();
        let groups = store
            .groups(
                SiteId::parse("demo").unwrap(),
                q.clone(),
                q.span,
                Cancel::default(),
            )
            .await
            .unwrap();
        groups.values().map(|c| c.pageviews + c.events).sum()
    }

    /// An analytics event of `id` at `at` on page `/<i>`.
    fn event(id: &ConsentId, at: i64, name: &str, i: i64) -> AcceptedEvent {
        AcceptedEvent {
            site: SiteId::parse("demo").unwrap(),
            consent_id: id.clone(),
            at: Timestamp(at),
            name: name.into(),
            category: CategoryId::parse("analytics").unwrap(),
            path: format!("/{i}"),
            props: vec![],
            context: Context::default(),
        }
    }

    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("events/demo"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// What a crash between writing a day's new segment and recording it leaves: the file of
    /// an unrecorded generation, and the day's rows still buffered.
    #[tokio::test(flavor = "current_thread")]
    async fn a_seal_cut_short_before_it_is_recorded_is_undone_at_start_and_counts_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let id = ConsentId::from_random([7; 16]);
        store.record(decision(&id), false).await.unwrap();
        let events: Vec<AcceptedEvent> = (0..5)
            .map(|i| event(&id, AT + i * 1000, "pageview", i))
            .collect();
        store.append_events(events).unwrap();
        store.sync_events().await.unwrap();
        assert_eq!(events_stored(&store).await, 5);

        let day = Day::of(AT);
        let rows: Vec<_> = super::super::events::buffered_rows(&store.trees, "demo", day)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(rows.len(), 5);
        store
            .trees
            .sealed
            .write("demo", &Day::build(day, rows), 1)
            .unwrap();
        assert_eq!(
            files(dir.path()).len(),
            1,
            "the half-done seal left its file"
        );
        assert_eq!(
            events_stored(&store).await,
            5,
            "an unrecorded file is not read"
        );
        drop(store);

        let store = open(dir.path());
        assert_eq!(
            files(dir.path()),
            Vec::<String>::new(),
            "the leftover is deleted at start"
        );
        assert_eq!(events_stored(&store).await, 5);
        store.settle_events().await.unwrap();
        assert_eq!(files(dir.path()), vec![format!("{day}-1.seg")]);
        assert!(
            super::super::events::buffered_rows(&store.trees, "demo", day)
                .unwrap()
                .is_empty(),
            "the sealed rows left the buffer in the same batch"
        );
        assert_eq!(events_stored(&store).await, 5, "sealed once, counted once");
        drop(store);
        let store = open(dir.path());
        assert_eq!(events_stored(&store).await, 5, "and after a restart");
    }

    /// A loader that pauses lets a past day be sealed while its events still come: the next
    /// seal merges the day's segment with the new rows.
    #[tokio::test(flavor = "current_thread")]
    async fn a_day_sealed_again_with_later_events_keeps_every_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let ids: Vec<ConsentId> = (0..3u8)
            .map(|i| ConsentId::from_random([i + 20; 16]))
            .collect();
        for id in &ids {
            store.record(decision(id), false).await.unwrap();
        }
        let batch = |from: i64, n: i64| -> Vec<AcceptedEvent> {
            (from..from + n)
                .map(|i| event(&ids[(i % 3) as usize], AT + i * 60_000, "pageview", i))
                .collect()
        };
        let mut sent = 0;
        for round in 0..4 {
            store.append_events(batch(round * 10, 10)).unwrap();
            sent += 10;
            store.settle_events().await.unwrap();
            assert_eq!(events_stored(&store).await, sent, "after seal {round}");
        }
        let day = Day::of(AT);
        assert_eq!(
            files(dir.path()),
            vec![format!("{day}-4.seg")],
            "one live generation"
        );
        drop(store);
        assert_eq!(events_stored(&open(dir.path())).await, sent);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_day_sealed_in_format_1_is_rewritten_in_the_current_format_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let id = ConsentId::from_random([9; 16]);
        store.record(decision(&id), false).await.unwrap();
        let events: Vec<AcceptedEvent> = (0..4)
            .map(|i| {
                event(
                    &id,
                    AT + i * 1000,
                    if i == 3 { "signup" } else { "pageview" },
                    i,
                )
            })
            .collect();
        store.append_events(events).unwrap();
        store.settle_events().await.unwrap();
        let day = Day::of(AT);
        let path = dir.path().join(format!("events/demo/{day}-1.seg"));
        let current = std::fs::read(&path).unwrap();
        drop(store);
        std::fs::write(
            &path,
            crate::analytics::engine::format::as_version_1(&current),
        )
        .unwrap();

        let store = open(dir.path());
        assert_eq!(files(dir.path()), vec![format!("{day}-2.seg")]);
        let upgraded = std::fs::read(dir.path().join(format!("events/demo/{day}-2.seg"))).unwrap();
        assert!(!crate::analytics::engine::format::is_older(&upgraded));
        assert_eq!(upgraded, current, "the same day, in the same bytes");
        assert_eq!(events_stored(&store).await, 4);
    }
}
