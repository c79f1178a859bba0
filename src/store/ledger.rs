//! The ledger writer, for every backend: one thread per store that chains what is queued and
//! commits it in groups through a backend's `LedgerSink`.
//!
//! Requests queue here; the thread takes everything queued (at most `MAX_GROUP`), has the sink
//! hold the heads of the group's chains (`lock_heads`), asks it once which decisions may still
//! be written (`admit_all`: none during its subject's erasure, no renewal of an erased id),
//! chains the entries onto the heads, hands the group to the sink to write durably in one go
//! (`append`), then answers every request of the group. Concurrent requests so share one
//! durable write. In one process only this thread appends; writers of several processes sharing
//! one database take turns on the heads the sink holds for them, so no chain forks. A backend
//! supplies only the heads, the checks its data answers, and "write this group durably, all or
//! nothing".

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::domain::ledger::decision_payload;
use crate::domain::{
    ConsentRecord, Decision, EntryHash, EntryHeader, EntryKind, SiteId, Subject, Timestamp,
};
use crate::store::StoreError;
use crate::telemetry::Metrics;

/// Most entries in one group commit.
const MAX_GROUP: usize = 1024;

/// The last entry of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: EntryHash,
}

impl Head {
    /// The head of an empty ledger.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: crate::domain::GENESIS,
    };
}

/// A decision chained onto the ledger, ready to write.
pub struct ChainedDecision {
    pub header: EntryHeader,
    pub payload: Vec<u8>,
    pub subject: Subject,
    /// What the request is answered with once the group is durable.
    pub record: ConsentRecord,
}

/// A tombstone chained onto the ledger.
pub struct ChainedTombstone {
    /// The site whose erasure it records (its chain, where chains are per site).
    pub site: SiteId,
    pub header: EntryHeader,
    pub payload: Vec<u8>,
}

/// Which chain an entry joins: `None` for a backend that keeps one chain for every site (sled),
/// `Some(site)` for one that keeps a chain per site.
pub type ChainKey = Option<SiteId>;

/// The heads of the chains a writer has appended to.
pub type Heads = HashMap<ChainKey, Head>;

/// What one group commit writes: every entry, each chained onto its chain in the order the
/// requests came, and the notices queued with them.
#[derive(Default)]
pub struct Group {
    pub decisions: Vec<ChainedDecision>,
    pub tombstones: Vec<ChainedTombstone>,
    pub notices: Vec<(EntryHash, Vec<u8>)>,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.tombstones.is_empty() && self.notices.is_empty()
    }
}

/// What a backend supplies to the ledger writer. Called on the writer thread only.
pub trait LedgerSink: Send + 'static {
    /// The chain a site's entries join.
    fn chain_of(&self, _site: &SiteId) -> ChainKey {
        None
    }

    /// The last entry of a chain the backend holds.
    fn head(&self, chain: &ChainKey) -> Result<Head, StoreError>;

    /// The subject a consent id is written as.
    fn subject(&self, site: &SiteId, id: &crate::domain::ConsentId) -> Subject;

    /// For each of a group's decisions (site, subject, renews), in order, whether it may still
    /// be written: not while its subject's erasure is under way, and a renewal not once its
    /// consent is gone (`UnknownConsent`). Asked once per group, under the lock.
    fn admit_all(&self, asks: &[(SiteId, Subject, bool)]) -> Vec<Result<(), StoreError>>;

    /// The heads of `chains` (in key order), held still until `append` or `abandon`: a
    /// backend shared by several writers takes each chain's lock here, in a transaction that
    /// `append` commits, so no other writer appends to them in between. On an error nothing is
    /// held.
    fn lock_heads(&mut self, chains: &[ChainKey]) -> Result<Heads, StoreError> {
        chains
            .iter()
            .map(|c| Ok((c.clone(), self.head(c)?)))
            .collect()
    }

    /// Writes the group, chained onto the heads `lock_heads` gave, durably: its ledger
    /// entries, each decision as the subject's current consent and in its history, the consent
    /// statistics, the notices; then lets the heads go. Returns once durable; on an error,
    /// nothing of the group is written and nothing is held.
    fn append(&mut self, group: &Group) -> Result<(), StoreError>;

    /// Lets the heads go without writing (the group could not be chained).
    fn abandon(&mut self) {}

    /// Called after each durable group with the heads it moved (sled keeps and anchors its).
    fn durable(&mut self, _heads: &Heads) {}

    /// Called once when the writer stops.
    fn close(&mut self) {}
}

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
        site: SiteId,
        payload: Vec<u8>,
        recorded_at: Timestamp,
        reply: oneshot::Sender<Result<EntryHash, StoreError>>,
    },
    /// Answered once every job queued before it is committed (an erasure waits on it).
    Barrier(oneshot::Sender<()>),
    /// Once every job queued before it is committed: answers `started`, then writes nothing
    /// until `release` is dropped (a backup copies the ledger meanwhile).
    Hold {
        started: oneshot::Sender<()>,
        release: Receiver<()>,
    },
}

/// While it lives, the ledger writer writes nothing; decisions queue and are written once it is
/// dropped.
pub struct Hold {
    _release: Sender<()>,
}

/// The handle requests use to reach the writer thread.
pub struct Writer {
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread over `sink`. `pause_key` names the store for the test suite's
    /// pause points (`fault::pause_point`).
    pub fn start(
        mut sink: Box<dyn LedgerSink>,
        metrics: Arc<Metrics>,
        pause_key: PathBuf,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(sink.as_mut(), &metrics, rx, &pause_key))
            .map_err(|e| StoreError::Io(format!("cannot start the ledger writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    /// Queues a decision; resolves with its record once its group is durable.
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

    /// Queues a notice document; resolves once it is durable.
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

    /// Appends a tombstone to the site's chain and waits, on this (blocking) thread, until it
    /// is durable.
    pub fn append_tombstone_blocking(
        &self,
        site: SiteId,
        payload: Vec<u8>,
        recorded_at: Timestamp,
    ) -> Result<EntryHash, StoreError> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Job::Tombstone {
            site,
            payload,
            recorded_at,
            reply,
        }) {
            return Err(StoreError::Closed);
        }
        rx.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Waits, on this (blocking) thread, until every job queued so far is committed, and holds
    /// the writer still until the returned `Hold` is dropped.
    pub fn hold_blocking(&self) -> Result<Hold, StoreError> {
        let (started, rx) = oneshot::channel();
        let (release_tx, release) = mpsc::channel();
        if !self.send(Job::Hold { started, release }) {
            return Err(StoreError::Closed);
        }
        rx.blocking_recv().map_err(|_| StoreError::Closed)?;
        Ok(Hold {
            _release: release_tx,
        })
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

fn run(
    sink: &mut dyn LedgerSink,
    metrics: &Metrics,
    rx: Receiver<Job>,
    pause_key: &std::path::Path,
) {
    while let Ok(first) = rx.recv() {
        crate::fault::pause_point(pause_key, "ledger_group");
        let mut jobs = Vec::new();
        let mut hold = None;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if matches!(job, Job::Hold { .. }) {
                hold = Some(job);
                break;
            }
            jobs.push(job);
            if jobs.len() < MAX_GROUP {
                next = rx.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            commit(sink, metrics, jobs);
        }
        if let Some(Job::Hold { started, release }) = hold {
            let _ = started.send(());
            // Ends when the `Hold` is dropped (its sender with it).
            let _ = release.recv();
        }
    }
    sink.close();
}

/// The chains the jobs append to, in key order.
fn chains_of(sink: &dyn LedgerSink, jobs: &[Job]) -> Vec<ChainKey> {
    let mut chains: Vec<ChainKey> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Decision { decision, .. } => Some(sink.chain_of(&decision.site)),
            Job::Tombstone { site, .. } => Some(sink.chain_of(site)),
            Job::Notice { .. } | Job::Barrier(_) | Job::Hold { .. } => None,
        })
        .collect();
    chains.sort();
    chains.dedup();
    chains
}

/// Chains the jobs onto `heads`, each admitted decision with its subject (in order): the group
/// and the heads it ends on.
fn chain(
    sink: &dyn LedgerSink,
    heads: &Heads,
    jobs: &[Job],
    subjects: Vec<Subject>,
) -> Result<(Group, Heads), StoreError> {
    let mut group = Group::default();
    let mut next = heads.clone();
    let mut subjects = subjects.into_iter();
    let onto = |site: &SiteId, next: &Heads| {
        let key = sink.chain_of(site);
        let head = *next
            .get(&key)
            .ok_or_else(|| StoreError::Io("a chain's head was not locked".into()))?;
        Ok::<_, StoreError>((key, head))
    };
    for job in jobs {
        match job {
            Job::Decision { decision, .. } => {
                let (key, head) = onto(&decision.site, &next)?;
                let subject = subjects.next().ok_or(StoreError::Closed)?;
                let seq = head.seq + 1;
                let payload = decision_payload(decision, &subject);
                let header = EntryHeader::next(
                    seq,
                    head.hash,
                    &payload,
                    decision.recorded_at,
                    EntryKind::Decision,
                );
                let hash = header.hash();
                group.decisions.push(ChainedDecision {
                    header,
                    payload,
                    subject,
                    record: ConsentRecord {
                        decision: (**decision).clone(),
                        seq,
                        receipt: hash.hex(),
                    },
                });
                next.insert(key, Head { seq, hash });
            }
            Job::Tombstone {
                site,
                payload,
                recorded_at,
                ..
            } => {
                let (key, head) = onto(site, &next)?;
                let seq = head.seq + 1;
                let header =
                    EntryHeader::next(seq, head.hash, payload, *recorded_at, EntryKind::Tombstone);
                let hash = header.hash();
                group.tombstones.push(ChainedTombstone {
                    site: site.clone(),
                    header,
                    payload: payload.clone(),
                });
                next.insert(key, Head { seq, hash });
            }
            Job::Notice { hash, document, .. } => group.notices.push((*hash, document.clone())),
            Job::Barrier(_) | Job::Hold { .. } => {}
        }
    }
    Ok((group, next))
}

/// The jobs that may be written, with the subjects of their decisions in order; the refused
/// decisions are answered at once.
fn admissible(sink: &dyn LedgerSink, jobs: Vec<Job>) -> (Vec<Job>, Vec<Subject>) {
    let asks: Vec<(SiteId, Subject, bool)> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Decision {
                decision, renews, ..
            } => Some((
                decision.site.clone(),
                sink.subject(&decision.site, &decision.consent_id),
                *renews,
            )),
            _ => None,
        })
        .collect();
    let mut answers = sink.admit_all(&asks).into_iter();
    let mut asked = asks.into_iter();
    let mut kept = Vec::with_capacity(jobs.len());
    let mut subjects = Vec::with_capacity(jobs.len());
    for job in jobs {
        if matches!(job, Job::Decision { .. }) {
            let subject = asked.next().map(|(_, subject, _)| subject);
            match (answers.next().unwrap_or(Err(StoreError::Closed)), subject) {
                (Ok(()), Some(subject)) => subjects.push(subject),
                (answer, _) => {
                    if let Job::Decision { reply, .. } = job {
                        let _ = reply.send(answer.and(Err(StoreError::Closed)));
                    }
                    continue;
                }
            }
        }
        kept.push(job);
    }
    (kept, subjects)
}

/// Chains the group onto the locked heads and has the backend write it: the group written and
/// the heads it ends on. A group with nothing to write lets the heads go.
fn write(
    sink: &mut dyn LedgerSink,
    heads: &Heads,
    jobs: &[Job],
    subjects: Vec<Subject>,
) -> Result<Group, StoreError> {
    let (group, next) = match chain(sink, heads, jobs, subjects) {
        Ok(chained) => chained,
        Err(e) => {
            sink.abandon();
            return Err(e);
        }
    };
    if group.is_empty() {
        sink.abandon();
        return Ok(group);
    }
    sink.append(&group)?;
    sink.durable(&next);
    Ok(group)
}

fn commit(sink: &mut dyn LedgerSink, metrics: &Metrics, jobs: Vec<Job>) {
    let idle = jobs.iter().all(|j| matches!(j, Job::Barrier(_)));
    let (jobs, written) = if idle {
        (jobs, Ok(Group::default()))
    } else {
        match sink.lock_heads(&chains_of(sink, &jobs)) {
            // Admitted under the lock: an erasure on any node that takes the site's lock to
            // remove a state has either finished (its job is seen) or not begun.
            Ok(locked) => {
                let (jobs, subjects) = admissible(sink, jobs);
                let written = write(sink, &locked, &jobs, subjects);
                (jobs, written)
            }
            Err(e) => (jobs, Err(e)),
        }
    };
    if let Some(group) = written.as_ref().ok().filter(|g| !g.is_empty()) {
        metrics
            .ledger_batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics.ledger_batch_entries.fetch_add(
            group.decisions.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    if let Err(e) = &written {
        log::error!("a ledger group commit failed: {e}");
    }
    let (mut decisions, mut tombstones) = match written {
        Ok(group) => (
            Ok(group.decisions.into_iter()),
            Ok(group.tombstones.into_iter()),
        ),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    // Whatever the outcome, nothing queued before a barrier is still to be written: barriers
    // are answered after everything else.
    let mut barriers = Vec::new();
    for job in jobs {
        match job {
            Job::Decision { queued, reply, .. } => {
                let answer = match &mut decisions {
                    Ok(chained) => chained.next().map(|d| d.record).ok_or(StoreError::Closed),
                    Err(e) => Err(e.clone()),
                };
                if answer.is_ok() {
                    metrics.ledger_commit.observe(queued.elapsed());
                }
                let _ = reply.send(answer);
            }
            Job::Tombstone { reply, .. } => {
                let answer = match &mut tombstones {
                    Ok(chained) => chained
                        .next()
                        .map(|t| t.header.hash())
                        .ok_or(StoreError::Closed),
                    Err(e) => Err(e.clone()),
                };
                let _ = reply.send(answer);
            }
            Job::Notice { reply, .. } => {
                let answer = match &decisions {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.clone()),
                };
                let _ = reply.send(answer);
            }
            Job::Barrier(reply) => barriers.push(reply),
            // `run` never groups a hold with other jobs.
            Job::Hold { .. } => {}
        }
    }
    for reply in barriers {
        let _ = reply.send(());
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! A ledger in memory, for tests of what sits above `LedgerSink`; several sinks may share
    //! one, as several nodes share one database.

    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use super::{ChainKey, Group, Head, LedgerSink};
    use crate::domain::{ConsentId, EntryHeader, SiteId, Subject};
    use crate::store::StoreError;

    /// The entries of every chain: (chain, seq, header, payload).
    #[derive(Default)]
    pub(crate) struct Memory {
        pub entries: Vec<(ChainKey, u64, Vec<u8>, Vec<u8>)>,
        pub erasing: HashSet<Subject>,
        pub fail_next: bool,
        /// A writer holds the heads (as a database's lock would).
        pub held: bool,
    }

    impl Memory {
        fn head(&self, chain: &ChainKey) -> Head {
            self.entries.iter().rfind(|e| e.0 == *chain).map_or(
                Head::EMPTY,
                |(_, seq, header, _)| Head {
                    seq: *seq,
                    hash: EntryHeader::from_bytes(header).unwrap().hash(),
                },
            )
        }

        /// One chain's entries, for `verify_chain`.
        pub fn chain(&self, chain: &ChainKey) -> Vec<(u64, Vec<u8>, Option<Vec<u8>>)> {
            self.entries
                .iter()
                .filter(|e| e.0 == *chain)
                .map(|(_, seq, h, p)| (*seq, h.clone(), Some(p.clone())))
                .collect()
        }
    }

    /// `per_site`: a chain per site (as a shared database keeps them), else one for all.
    pub(crate) struct MemorySink {
        pub memory: Arc<Mutex<Memory>>,
        pub per_site: bool,
    }

    impl MemorySink {
        pub fn global(memory: &Arc<Mutex<Memory>>) -> MemorySink {
            MemorySink {
                memory: memory.clone(),
                per_site: false,
            }
        }
    }

    impl LedgerSink for MemorySink {
        fn chain_of(&self, site: &SiteId) -> ChainKey {
            self.per_site.then(|| site.clone())
        }

        fn head(&self, chain: &ChainKey) -> Result<Head, StoreError> {
            Ok(self.memory.lock().unwrap().head(chain))
        }

        fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
            Subject::derive(&[7; 32], site, id)
        }

        fn admit_all(&self, asks: &[(SiteId, Subject, bool)]) -> Vec<Result<(), StoreError>> {
            let m = self.memory.lock().unwrap();
            asks.iter()
                .map(|(_, subject, _)| match m.erasing.contains(subject) {
                    true => Err(StoreError::UnknownConsent),
                    false => Ok(()),
                })
                .collect()
        }

        /// Waits until no other writer holds the heads, then holds them.
        fn lock_heads(&mut self, chains: &[ChainKey]) -> Result<super::Heads, StoreError> {
            loop {
                let mut m = self.memory.lock().unwrap();
                if !m.held {
                    m.held = true;
                    return Ok(chains.iter().map(|c| (c.clone(), m.head(c))).collect());
                }
                drop(m);
                std::thread::yield_now();
            }
        }

        fn abandon(&mut self) {
            self.memory.lock().unwrap().held = false;
        }

        /// All or nothing; a group chained onto a stale head is a broken lock protocol.
        fn append(&mut self, group: &Group) -> Result<(), StoreError> {
            let mut m = self.memory.lock().unwrap();
            m.held = false;
            if std::mem::take(&mut m.fail_next) {
                return Err(StoreError::Io("the disk is full".into()));
            }
            let chain_of = |site: &SiteId| self.per_site.then(|| site.clone());
            let mut all: Vec<(ChainKey, u64, Vec<u8>, Vec<u8>)> = group
                .decisions
                .iter()
                .map(|d| {
                    (
                        chain_of(&d.record.decision.site),
                        d.header.seq,
                        d.header.to_bytes().to_vec(),
                        d.payload.clone(),
                    )
                })
                .collect();
            for t in &group.tombstones {
                all.push((
                    chain_of(&t.site),
                    t.header.seq,
                    t.header.to_bytes().to_vec(),
                    t.payload.clone(),
                ));
            }
            all.sort_by_key(|e| e.1);
            // Each chain goes on from the head it holds now: anything else means the group was
            // chained onto a head another writer moved, a broken lock protocol.
            let mut heads = super::Heads::new();
            for (chain, seq, header, _) in &all {
                let expected = *heads.entry(chain.clone()).or_insert_with(|| m.head(chain));
                let header = EntryHeader::from_bytes(header).unwrap();
                if header.prev != expected.hash || *seq != expected.seq + 1 {
                    return Err(StoreError::Io(
                        "a group was chained onto a stale head".into(),
                    ));
                }
                heads.insert(
                    chain.clone(),
                    Head {
                        seq: *seq,
                        hash: header.hash(),
                    },
                );
            }
            m.entries.extend(all);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::memory::{Memory, MemorySink};
    use super::*;
    use crate::domain::ledger::verify_chain;
    use crate::store::sled::registry_test::{decision, numbered_id as id, submit_all};

    fn start(sink: MemorySink) -> Writer {
        Writer::start(
            Box::new(sink),
            Arc::new(Metrics::default()),
            PathBuf::from("memory"),
        )
        .unwrap()
    }

    fn site(name: &str) -> SiteId {
        SiteId::parse(name).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn decisions_and_tombstones_are_chained_in_one_verifiable_order_and_answered_once_written()
     {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let writer = start(MemorySink::global(&memory));
        let pending: Vec<_> = (1..=20)
            .map(|n| writer.submit_decision(decision(&id(n)), false))
            .collect();
        let mut receipts = Vec::new();
        for p in pending {
            receipts.push(p.await.unwrap());
        }
        // An erasure appends its tombstone from a blocking thread.
        let tombstone = std::thread::scope(|s| {
            s.spawn(|| {
                writer.append_tombstone_blocking(site("demo"), b"erased".to_vec(), Timestamp(5))
            })
            .join()
            .unwrap()
        });
        assert!(tombstone.is_ok());
        let m = memory.lock().unwrap();
        assert_eq!(verify_chain(m.chain(&None)), Ok(21));
        for (record, (_, seq, header, _)) in receipts.iter().zip(&m.entries) {
            assert_eq!(record.seq, *seq);
            assert_eq!(
                record.receipt,
                EntryHeader::from_bytes(header).unwrap().hash().hex()
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_decision_takes_no_place_in_the_chain_and_a_failed_group_leaves_no_gap() {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let sink = MemorySink::global(&memory);
        let erased = sink.subject(&decision(&id(2)).site, &id(2));
        memory.lock().unwrap().erasing.insert(erased);
        let writer = start(sink);
        assert!(
            writer
                .submit_decision(decision(&id(1)), false)
                .await
                .is_ok()
        );
        assert!(matches!(
            writer.submit_decision(decision(&id(2)), false).await,
            Err(StoreError::UnknownConsent)
        ));
        memory.lock().unwrap().fail_next = true;
        assert!(matches!(
            writer.submit_decision(decision(&id(3)), false).await,
            Err(StoreError::Io(_))
        ));
        let after = writer
            .submit_decision(decision(&id(4)), false)
            .await
            .unwrap();
        assert_eq!(after.seq, 2, "the chain goes on from what was written");
        assert_eq!(verify_chain(memory.lock().unwrap().chain(&None)), Ok(2));
    }

    /// Two writers on one store, as two nodes on one database: each site's chain stays one
    /// verifiable chain and every acknowledged decision is in it once.
    #[test]
    fn two_writers_sharing_a_store_keep_one_chain_per_site_with_every_decision_once() {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let sink = || MemorySink {
            memory: memory.clone(),
            per_site: true,
        };
        let (a, b) = (start(sink()), start(sink()));
        let sites = [site("demo"), site("shop")];
        let per_node = 300u32;
        let acknowledged: Vec<ConsentRecord> = std::thread::scope(|s| {
            let nodes: Vec<_> = [(&a, 0u32), (&b, per_node)]
                .into_iter()
                .map(|(writer, offset)| {
                    let sites = &sites;
                    s.spawn(move || {
                        let decisions = (0..per_node)
                            .map(|n| {
                                let mut d = decision(&id(offset + n));
                                d.site = sites[(n % 2) as usize].clone();
                                d
                            })
                            .collect();
                        submit_all(writer, decisions)
                    })
                })
                .collect();
            nodes.into_iter().flat_map(|n| n.join().unwrap()).collect()
        });
        assert_eq!(acknowledged.len(), 2 * per_node as usize);
        let m = memory.lock().unwrap();
        for site in &sites {
            let chain = m.chain(&Some(site.clone()));
            assert_eq!(verify_chain(chain.clone()), Ok(per_node as u64), "{site}");
            for record in acknowledged.iter().filter(|r| r.decision.site == *site) {
                let (_, header, _) = &chain[record.seq as usize - 1];
                assert_eq!(
                    record.receipt,
                    EntryHeader::from_bytes(header).unwrap().hash().hex(),
                    "the receipt names the entry as written"
                );
            }
        }
    }
}
