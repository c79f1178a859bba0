//! The ledger writer: one thread that owns the chain's head and commits in groups.
//!
//! Requests queue here; the thread takes everything queued, chains it, writes it in one
//! transaction, flushes once, then answers every request of the group. Concurrent writers so
//! share one flush, and sled never sees concurrent flushes (which stall 0.34). Only this thread
//! appends to the ledger, so the chain cannot fork.

use crate::analytics::consent_stats;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::anchor::{self, Anchor};
use super::cache::ConsentCache;
use super::{Trees, keys, map_err};
use crate::domain::ledger::decision_payload;
use crate::domain::{
    ConsentRecord, Decision, EntryHash, EntryHeader, EntryKind, GENESIS, Timestamp,
};
use crate::store::StoreError;
use crate::telemetry::Metrics;

/// Most entries in one group commit.
const MAX_GROUP: usize = 1024;

enum Job {
    Decision {
        decision: Box<Decision>,
        /// It renews an existing consent id: refused if that id is gone by commit time.
        renews: bool,
        queued: Instant,
        reply: oneshot::Sender<Result<ConsentRecord, StoreError>>,
    },
    Notice {
        hash: EntryHash,
        document: Vec<u8>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// An erasure's tombstone: chained like a decision, with no state of its own.
    Tombstone {
        payload: Vec<u8>,
        recorded_at: Timestamp,
        reply: oneshot::Sender<Result<EntryHash, StoreError>>,
    },
    /// Answered once every job queued before it is committed (an erasure waits on it).
    Barrier(oneshot::Sender<()>),
}

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

/// The handle requests use to reach the writer thread.
pub(crate) struct Writer {
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone, Copy)]
struct Head {
    seq: u64,
    hash: EntryHash,
}

fn read_head(trees: &Trees) -> Result<Head, StoreError> {
    match trees.ledger.last().map_err(map_err)? {
        None => Ok(Head {
            seq: 0,
            hash: GENESIS,
        }),
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

impl Writer {
    pub fn start(
        trees: Trees,
        metrics: Arc<Metrics>,
        data_dir: PathBuf,
        cache: Arc<ConsentCache>,
        syncer: Option<Syncer>,
    ) -> Result<Writer, StoreError> {
        let head = read_head(&trees)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                let sink = Sink {
                    trees: &trees,
                    metrics: &metrics,
                    cache: &cache,
                    syncer: syncer.as_ref(),
                };
                run(&sink, head, rx, &data_dir)
            })
            .map_err(|e| StoreError::Io(format!("cannot start the ledger writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    pub fn submit_decision(
        &self,
        decision: Decision,
        renews: bool,
    ) -> impl Future<Output = Result<ConsentRecord, StoreError>> + Send + 'static {
        let (reply, rx) = oneshot::channel();
        let sent = self.send(Job::Decision {
            decision: Box::new(decision),
            renews,
            queued: Instant::now(),
            reply,
        });
        async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        }
    }

    pub fn submit_notice(
        &self,
        hash: EntryHash,
        document: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let (reply, rx) = oneshot::channel();
        let sent = self.send(Job::Notice {
            hash,
            document,
            reply,
        });
        async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        }
    }
}

impl Writer {
    /// Appends a tombstone and waits, on this (blocking) thread, until it is durable.
    pub fn append_tombstone_blocking(
        &self,
        payload: Vec<u8>,
        recorded_at: Timestamp,
    ) -> Result<EntryHash, StoreError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Job::Tombstone {
            payload,
            recorded_at,
            reply,
        }) {
            return Err(StoreError::Closed);
        }
        rx.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Waits, on this (blocking) thread, until every job queued so far is committed.
    pub fn barrier_blocking(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Job::Barrier(reply)) {
            return Err(StoreError::Closed);
        }
        rx.blocking_recv().map_err(|_| StoreError::Closed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has answered what is queued.
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One decision, chained and encoded, ready to write.
struct Prepared {
    key: [u8; 8],
    header: [u8; EntryHeader::LEN],
    payload: Vec<u8>,
    state_key: Vec<u8>,
    state: Vec<u8>,
    history_key: Vec<u8>,
    record: ConsentRecord,
}

/// How often, at most, the anchor file is rewritten.
const ANCHOR_EVERY: Duration = Duration::from_secs(1);

fn write_anchor(data_dir: &std::path::Path, head: Head) {
    if head.seq == 0 {
        return;
    }
    let anchor = Anchor {
        seq: head.seq,
        hash: head.hash,
    };
    if let Err(e) = anchor::write(data_dir, anchor) {
        log::warn!("{e}");
    }
}

/// Where the writer thread commits.
struct Sink<'a> {
    trees: &'a Trees,
    metrics: &'a Metrics,
    cache: &'a ConsentCache,
    syncer: Option<&'a Syncer>,
}

fn run(sink: &Sink, mut head: Head, rx: Receiver<Job>, data_dir: &std::path::Path) {
    let mut anchored = (head.seq, Instant::now());
    while let Ok(first) = rx.recv() {
        crate::fault::pause_point(data_dir, "ledger_group");
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let flushed = match commit(sink, head, jobs) {
            Ok(h) => {
                head = h;
                true
            }
            Err(h) => {
                head = h;
                false
            }
        };
        // Only a flushed head is anchored, so the anchor never names a volatile entry.
        if flushed && head.seq != anchored.0 && anchored.1.elapsed() >= ANCHOR_EVERY {
            write_anchor(data_dir, head);
            anchored = (head.seq, Instant::now());
        }
    }
    if sink.trees.db.flush().is_ok() {
        write_anchor(data_dir, head);
    }
}

/// Writes one group and answers it. `Ok` holds the new, flushed head; `Err` the head the
/// database now has after a failure, which may not be durable.
fn commit(sink: &Sink, head: Head, jobs: Vec<Job>) -> Result<Head, Head> {
    let Sink {
        trees,
        metrics,
        cache,
        syncer,
    } = *sink;
    let mut next = head;
    let mut prepared = Vec::new();
    let mut notices = Vec::new();
    let mut decision_replies = Vec::new();
    let mut notice_replies = Vec::new();
    let mut tombstones = Vec::new();
    let mut tombstone_replies = Vec::new();
    let mut barriers = Vec::new();
    for job in jobs {
        match job {
            Job::Decision {
                decision,
                renews,
                queued,
                reply,
            } => {
                let subject = trees.subject(&decision.site, &decision.consent_id);
                if let Err(e) = admissible(trees, &decision.site, &subject, renews) {
                    let _ = reply.send(Err(e));
                    continue;
                }
                let seq = next.seq + 1;
                let payload = decision_payload(&decision, &subject);
                let header = EntryHeader::next(
                    seq,
                    next.hash,
                    &payload,
                    decision.recorded_at,
                    EntryKind::Decision,
                );
                let hash = header.hash();
                let mut state = Vec::with_capacity(40 + payload.len());
                state.extend_from_slice(&seq.to_be_bytes());
                state.extend_from_slice(&hash.0);
                state.extend_from_slice(&payload);
                prepared.push(Prepared {
                    key: seq.to_be_bytes(),
                    header: header.to_bytes(),
                    state_key: keys::consent(&decision.site, &subject),
                    history_key: keys::history(&decision.site, &subject, seq),
                    payload,
                    state,
                    record: ConsentRecord {
                        decision: *decision,
                        seq,
                        receipt: hash.hex(),
                    },
                });
                decision_replies.push((queued, reply));
                next = Head { seq, hash };
            }
            Job::Notice {
                hash,
                document,
                reply,
            } => {
                notices.push((hash, document));
                notice_replies.push(reply);
            }
            Job::Tombstone {
                payload,
                recorded_at,
                reply,
            } => {
                let seq = next.seq + 1;
                let header =
                    EntryHeader::next(seq, next.hash, &payload, recorded_at, EntryKind::Tombstone);
                let hash = header.hash();
                let mut entry = header.to_bytes().to_vec();
                entry.extend_from_slice(&payload);
                tombstones.push((seq.to_be_bytes(), entry));
                tombstone_replies.push((reply, hash));
                next = Head { seq, hash };
            }
            Job::Barrier(reply) => barriers.push(reply),
        }
    }

    // Ledger first: sled recovers its log in order, so state and history can lag the ledger
    // after a crash but never run ahead of it, and `reconcile` catches them up at open.
    let mut ledger = sled::Batch::default();
    let mut consents = sled::Batch::default();
    let mut history = sled::Batch::default();
    for p in &prepared {
        let mut entry = Vec::with_capacity(EntryHeader::LEN + p.payload.len());
        entry.extend_from_slice(&p.header);
        entry.extend_from_slice(&p.payload);
        ledger.insert(&p.key, entry);
        consents.insert(p.state_key.as_slice(), p.state.as_slice());
        history.insert(p.history_key.as_slice(), &[][..]);
    }
    for (key, entry) in tombstones {
        ledger.insert(&key, entry);
    }
    let result = (|| -> Result<(), sled::Error> {
        trees.ledger.apply_batch(ledger)?;
        trees.consents.apply_batch(consents)?;
        trees.history.apply_batch(history)?;
        // A group's decisions mostly share their day, action and jurisdiction: summed first,
        // they cost one merge per statistics row instead of one per decision and row.
        let mut stats = std::collections::BTreeMap::<Vec<u8>, consent_stats::StatCounts>::new();
        for p in &prepared {
            let site = p.record.decision.site.as_str();
            for (key, counts) in consent_stats::deltas(&p.record.decision) {
                stats
                    .entry(consent_stats::key(site, &key))
                    .or_default()
                    .add(counts);
            }
        }
        for (key, counts) in stats {
            trees.consent_stats.merge(key, counts.to_bytes())?;
        }
        for (hash, document) in &notices {
            trees.notices.insert(hash.0, document.as_slice())?;
        }
        trees.db.flush()?;
        if let Some(syncer) = syncer {
            syncer.sync()?;
        }
        Ok(())
    })()
    .map_err(map_err);
    // Whatever the outcome, nothing queued before a barrier is still to be written.
    let answer_barriers = move || {
        for reply in barriers {
            let _ = reply.send(());
        }
    };

    let outcome = match result {
        Ok(()) => {
            metrics
                .ledger_batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics
                .ledger_batch_entries
                .fetch_add(prepared.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for (p, (queued, reply)) in prepared.into_iter().zip(decision_replies) {
                metrics.ledger_commit.observe(queued.elapsed());
                cache.put(&p.record);
                let _ = reply.send(Ok(p.record));
            }
            for reply in notice_replies {
                let _ = reply.send(Ok(()));
            }
            for (reply, hash) in tombstone_replies {
                let _ = reply.send(Ok(hash));
            }
            Ok(next)
        }
        Err(e) => {
            log::error!("a ledger group commit failed: {e}");
            for (_, reply) in decision_replies {
                let _ = reply.send(Err(e.clone()));
            }
            for reply in notice_replies {
                let _ = reply.send(Err(e.clone()));
            }
            for (reply, _) in tombstone_replies {
                let _ = reply.send(Err(e.clone()));
            }
            // What is on disk decides where the chain goes on.
            Err(read_head(trees).unwrap_or(head))
        }
    };
    answer_barriers();
    outcome
}

/// Whether a decision may still be written for `subject`: not while its erasure is under way
/// (the job record is written before the erasure waits on this thread, so every decision
/// committed after that wait sees it), and a renewal not once its consent is gone.
fn admissible(
    trees: &Trees,
    site: &crate::domain::SiteId,
    subject: &crate::domain::Subject,
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

/// Brings `consents` and `consent_history` up to the ledger from entry `from` on: the ledger is
/// the truth, and a crash between the two writes of a group can leave them behind it.
pub(crate) fn reconcile(trees: &Trees, from: u64) -> Result<u64, StoreError> {
    let mut repaired = 0;
    for item in trees.ledger.range(from.to_be_bytes()..) {
        let (k, entry) = item.map_err(map_err)?;
        let (header, payload) = super::split_entry(&entry);
        let (Some(header), Some((site, subject))) = (
            EntryHeader::from_bytes(header),
            crate::domain::ledger::payload_subject(payload),
        ) else {
            continue;
        };
        let state_key = keys::consent(&site, &subject);
        let behind = match trees.consents.get(&state_key).map_err(map_err)? {
            Some(v) => keys::seq(v.get(..8).unwrap_or_default()).is_none_or(|s| s < header.seq),
            None => true,
        };
        if behind {
            let mut state = Vec::with_capacity(40 + payload.len());
            state.extend_from_slice(&k);
            state.extend_from_slice(&header.hash().0);
            state.extend_from_slice(payload);
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
