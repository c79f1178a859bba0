//! The sled side of the ledger writer (`store::ledger`): a group written in sled batches
//! (ledger first, then states and history), the consent statistics merged, the notices, one
//! flush and `fdatasync`; the anchor file rewritten at most once a second after a durable
//! group; and, at open, the states and history brought up to the ledger after a crash.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::anchor::{self, Anchor};
use super::cache::ConsentCache;
use super::{Trees, keys, map_err};
use crate::analytics::consent_stats::{self, StatCounts};
use crate::domain::{ConsentId, EntryHeader, SiteId, Subject};
use crate::store::StoreError;
use crate::store::ledger::{ChainKey, Group, Head, Heads, LedgerSink};

/// `fsync` after sled's flush. sled 0.34 makes its log durable with `sync_file_range`, which
/// writes the pages out but neither flushes the disk's write cache nor the file's metadata, so
/// an acknowledged write could still be lost to a power cut; `fdatasync` on the log closes that.
pub(crate) struct Syncer(std::fs::File);

impl Syncer {
    /// Opens sled's log file in `sled_dir` (its `db` file) for syncing.
    pub fn open(sled_dir: &std::path::Path) -> Result<Syncer, StoreError> {
        std::fs::File::open(sled_dir.join("db"))
            .map(Syncer)
            .map_err(|e| StoreError::Io(format!("cannot open the database log for fsync: {e}")))
    }

    fn sync(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

/// How often, at most, the anchor file is rewritten.
const ANCHOR_EVERY: Duration = Duration::from_secs(1);

/// The ledger in sled.
pub(crate) struct SledLedger {
    pub trees: Trees,
    pub cache: Arc<ConsentCache>,
    pub syncer: Option<Syncer>,
    pub data_dir: PathBuf,
    /// The last anchored head and when it was written.
    anchored: (u64, Instant),
    /// The chain's head as last written; read from the tree when unknown (at start, after a
    /// failed group).
    head: Option<Head>,
}

impl SledLedger {
    pub fn new(
        trees: Trees,
        cache: Arc<ConsentCache>,
        syncer: Option<Syncer>,
        data_dir: PathBuf,
    ) -> SledLedger {
        SledLedger {
            trees,
            cache,
            syncer,
            data_dir,
            anchored: (0, Instant::now()),
            head: None,
        }
    }

    fn write_anchor(&mut self, head: Head) {
        if head.seq == 0 {
            return;
        }
        let anchor = Anchor {
            seq: head.seq,
            hash: head.hash,
        };
        if let Err(e) = anchor::write(&self.data_dir, anchor) {
            log::warn!("{e}");
        }
        self.anchored = (head.seq, Instant::now());
    }

    fn write(&self, group: &Group) -> Result<(), sled::Error> {
        let trees = &self.trees;
        // Ledger first: sled recovers its log in order, so state and history can lag the
        // ledger after a crash but never run ahead of it, and `reconcile` catches them up at
        // open.
        let mut ledger = super::vault_tree::Batch::default();
        let mut consents = super::vault_tree::Batch::default();
        let mut history = super::vault_tree::Batch::default();
        for d in &group.decisions {
            let seq = d.header.seq;
            let mut entry = Vec::with_capacity(EntryHeader::LEN + d.payload.len());
            entry.extend_from_slice(&d.header.to_bytes());
            entry.extend_from_slice(&d.payload);
            ledger.insert(&seq.to_be_bytes(), entry);
            let site = &d.record.decision.site;
            let state = super::state::encode(seq, &d.header.hash(), &d.payload);
            consents.insert(keys::consent(site, &d.subject), state);
            history.insert(keys::history(site, &d.subject, seq), &[][..]);
        }
        for t in &group.tombstones {
            let mut entry = t.header.to_bytes().to_vec();
            entry.extend_from_slice(&t.payload);
            ledger.insert(&t.header.seq.to_be_bytes(), entry);
        }
        trees.ledger.apply_batch(ledger)?;
        trees.consents.apply_batch(consents)?;
        trees.history.apply_batch(history)?;
        // A group's decisions mostly share their day, action and jurisdiction: summed first,
        // they cost one merge per statistics row instead of one per decision and row.
        let mut stats = std::collections::BTreeMap::<Vec<u8>, (&str, u32, StatCounts)>::new();
        for d in &group.decisions {
            let site = d.record.decision.site.as_str();
            for (key, counts) in consent_stats::deltas(&d.record.decision) {
                stats
                    .entry(consent_stats::key(site, &key))
                    .or_insert((site, key.day, StatCounts::default()))
                    .2
                    .add(counts);
            }
        }
        for (key, (site, day, counts)) in stats {
            trees.consent_stats.merge(site, day, key, counts)?;
        }
        for (hash, document) in &group.notices {
            trees.notices.insert(hash.0, document.as_slice())?;
        }
        trees.db.flush()?;
        if let Some(syncer) = &self.syncer {
            syncer.sync()?;
        }
        Ok(())
    }
}

/// Whether a decision may still be written for `subject`: not while its erasure is under way,
/// and a renewal not once its consent is gone.
fn admissible(
    trees: &Trees,
    site: &SiteId,
    subject: &Subject,
    renews: bool,
) -> Result<(), StoreError> {
    let key = keys::consent(site, subject);
    let erasing = trees.erasures.contains_key(&key).map_err(map_err)?;
    let gone = renews && !trees.consents.contains_key(&key).map_err(map_err)?;
    if erasing || gone {
        return Err(StoreError::UnknownConsent);
    }
    Ok(())
}

impl LedgerSink for SledLedger {
    /// One chain for every site.
    fn head(&self, _chain: &ChainKey) -> Result<Head, StoreError> {
        match self.head {
            Some(head) => Ok(head),
            None => read_head(&self.trees),
        }
    }

    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        self.trees.subject(site, id)
    }

    /// The job record of an erasure is written before the erasure waits on the writer, so
    /// every decision committed after that wait sees it.
    fn admit_all(&self, asks: &[(SiteId, Subject, bool)]) -> Vec<Result<(), StoreError>> {
        asks.iter()
            .map(|(site, subject, renews)| admissible(&self.trees, site, subject, *renews))
            .collect()
    }

    fn append(&mut self, group: &Group) -> Result<(), StoreError> {
        if let Err(e) = self.write(group) {
            // What the tree holds decides where the chain goes on.
            self.head = None;
            return Err(map_err(e));
        }
        for d in &group.decisions {
            self.cache.put(&d.record);
        }
        Ok(())
    }

    /// Only a flushed head is anchored, so the anchor never names a volatile entry.
    fn durable(&mut self, heads: &Heads) {
        if let Some(head) = heads.get(&None).copied() {
            self.head = Some(head);
            if head.seq != self.anchored.0 && self.anchored.1.elapsed() >= ANCHOR_EVERY {
                self.write_anchor(head);
            }
        }
    }

    fn close(&mut self) {
        if self.trees.db.flush().is_ok() {
            if let Ok(head) = self.head(&None) {
                self.write_anchor(head);
            }
        }
    }
}

fn read_head(trees: &Trees) -> Result<Head, StoreError> {
    match trees.ledger.last().map_err(map_err)? {
        None => Ok(Head::EMPTY),
        Some((_, entry)) => {
            let header =
                EntryHeader::from_bytes(super::split_entry(&entry).0).ok_or_else(|| {
                    StoreError::Corrupt("the last ledger entry cannot be read".into())
                })?;
            Ok(Head {
                seq: header.seq,
                hash: header.hash(),
            })
        }
    }
}

/// Brings `consents` and `consent_history` up to the ledger from entry `from` on: the ledger is
/// the truth, and a crash between the two writes of a group can leave them behind it.
pub(crate) fn reconcile(trees: &Trees, from: u64) -> Result<u64, StoreError> {
    let mut repaired = 0;
    for item in trees.ledger.range(from.to_be_bytes()..) {
        let (_, entry) = item.map_err(map_err)?;
        let (header, payload) = super::split_entry(&entry);
        let (Some(header), Some((site, subject))) = (
            EntryHeader::from_bytes(header),
            crate::domain::ledger::payload_subject(payload),
        ) else {
            continue;
        };
        let state_key = keys::consent(&site, &subject);
        let behind = match trees.consents.get(&state_key).map_err(map_err)? {
            Some(v) => super::state::seq(&v).is_none_or(|s| s < header.seq),
            None => true,
        };
        if behind {
            let state = super::state::encode(header.seq, &header.hash(), payload);
            trees.consents.insert(state_key, state).map_err(map_err)?;
            repaired += 1;
        }
        let history_key = keys::history(&site, &subject, header.seq);
        trees
            .history
            .insert(history_key, &[][..])
            .map_err(map_err)?;
    }
    if repaired > 0 {
        log::warn!("brought {repaired} consent states up to the ledger after an unclean stop");
        trees.db.flush().map_err(map_err)?;
    }
    Ok(repaired)
}
