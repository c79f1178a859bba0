//! The ledger writer, for every backend: one thread that owns the chain's head, chains what is
//! queued and commits it in groups through a backend's `LedgerSink`.
//!
//! Requests queue here; the thread takes everything queued (at most `MAX_GROUP`), checks each
//! decision with the sink (`admissible`: no decision during its subject's erasure, no renewal of
//! an erased id), chains the entries onto the head, hands the group to the sink to write
//! durably in one go, then answers every request of the group. Concurrent writers so share one
//! durable write. Only this thread appends to the ledger, so the chain cannot fork; a backend
//! supplies only "write this group durably, all or nothing" and the checks it needs its data
//! for.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
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
    pub header: EntryHeader,
    pub payload: Vec<u8>,
}

/// What one group commit writes: every entry in chain order, decisions and tombstones
/// interleaved as they were chained, and the notices queued with them.
#[derive(Default)]
pub struct Group {
    pub decisions: Vec<ChainedDecision>,
    pub tombstones: Vec<ChainedTombstone>,
    pub notices: Vec<(EntryHash, Vec<u8>)>,
}

/// What a backend supplies to the ledger writer. Called on the writer thread only.
pub trait LedgerSink: Send + 'static {
    /// The last entry the backend holds.
    fn head(&self) -> Result<Head, StoreError>;

    /// The subject a consent id is written as.
    fn subject(&self, site: &SiteId, id: &crate::domain::ConsentId) -> Subject;

    /// Whether a decision may still be written for `subject`: not while its erasure is under
    /// way, and a renewal not once its consent is gone (`UnknownConsent`).
    fn admissible(&self, site: &SiteId, subject: &Subject, renews: bool) -> Result<(), StoreError>;

    /// Writes the group durably: its ledger entries, each decision as the subject's current
    /// consent and in its history, the consent statistics, the notices. Returns once durable;
    /// on an error, nothing of the group may be treated as written.
    fn append(&mut self, group: &Group) -> Result<(), StoreError>;

    /// Called after each durable group with the new head (sled anchors it).
    fn durable(&mut self, _head: Head) {}

    /// Called once when the writer stops, with the last head.
    fn close(&mut self, _head: Head) {}
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
        payload: Vec<u8>,
        recorded_at: Timestamp,
        reply: oneshot::Sender<Result<EntryHash, StoreError>>,
    },
    /// Answered once every job queued before it is committed (an erasure waits on it).
    Barrier(oneshot::Sender<()>),
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
        let head = sink.head()?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(sink.as_mut(), &metrics, head, rx, &pause_key))
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

fn run(
    sink: &mut dyn LedgerSink,
    metrics: &Metrics,
    mut head: Head,
    rx: Receiver<Job>,
    pause_key: &std::path::Path,
) {
    while let Ok(first) = rx.recv() {
        crate::fault::pause_point(pause_key, "ledger_group");
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        head = commit(sink, metrics, head, jobs);
    }
    sink.close(head);
}

/// The replies of one group, in the order of its entries.
#[derive(Default)]
struct Replies {
    decisions: Vec<(Instant, oneshot::Sender<Result<ConsentRecord, StoreError>>)>,
    notices: Vec<oneshot::Sender<Result<(), StoreError>>>,
    tombstones: Vec<(oneshot::Sender<Result<EntryHash, StoreError>>, EntryHash)>,
    barriers: Vec<oneshot::Sender<()>>,
}

/// Chains the admissible jobs onto `head`: the group to write, its replies and the new head.
fn chain(sink: &dyn LedgerSink, head: Head, jobs: Vec<Job>) -> (Group, Replies, Head) {
    let mut next = head;
    let mut group = Group::default();
    let mut replies = Replies::default();
    for job in jobs {
        match job {
            Job::Decision {
                decision,
                renews,
                queued,
                reply,
            } => {
                let subject = sink.subject(&decision.site, &decision.consent_id);
                if let Err(e) = sink.admissible(&decision.site, &subject, renews) {
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
                group.decisions.push(ChainedDecision {
                    header,
                    payload,
                    subject,
                    record: ConsentRecord {
                        decision: *decision,
                        seq,
                        receipt: hash.hex(),
                    },
                });
                replies.decisions.push((queued, reply));
                next = Head { seq, hash };
            }
            Job::Notice {
                hash,
                document,
                reply,
            } => {
                group.notices.push((hash, document));
                replies.notices.push(reply);
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
                group.tombstones.push(ChainedTombstone { header, payload });
                replies.tombstones.push((reply, hash));
                next = Head { seq, hash };
            }
            Job::Barrier(reply) => replies.barriers.push(reply),
        }
    }
    (group, replies, next)
}

/// Writes one group and answers it; returns the head the chain goes on from: the new one when
/// the group is durable, else the one the backend now holds.
fn commit(sink: &mut dyn LedgerSink, metrics: &Metrics, head: Head, jobs: Vec<Job>) -> Head {
    let (group, replies, next) = chain(sink, head, jobs);
    let result =
        if group.decisions.is_empty() && group.tombstones.is_empty() && group.notices.is_empty() {
            Ok(())
        } else {
            sink.append(&group)
        };
    let head = match result {
        Ok(()) => {
            metrics
                .ledger_batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics.ledger_batch_entries.fetch_add(
                group.decisions.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            for (d, (queued, reply)) in group.decisions.into_iter().zip(replies.decisions) {
                metrics.ledger_commit.observe(queued.elapsed());
                let _ = reply.send(Ok(d.record));
            }
            for reply in replies.notices {
                let _ = reply.send(Ok(()));
            }
            for (reply, hash) in replies.tombstones {
                let _ = reply.send(Ok(hash));
            }
            if next != head {
                sink.durable(next);
            }
            next
        }
        Err(e) => {
            log::error!("a ledger group commit failed: {e}");
            for (_, reply) in replies.decisions {
                let _ = reply.send(Err(e.clone()));
            }
            for reply in replies.notices {
                let _ = reply.send(Err(e.clone()));
            }
            for (reply, _) in replies.tombstones {
                let _ = reply.send(Err(e.clone()));
            }
            // What the backend holds decides where the chain goes on.
            sink.head().unwrap_or(head)
        }
    };
    // Whatever the outcome, nothing queued before a barrier is still to be written.
    for reply in replies.barriers {
        let _ = reply.send(());
    }
    head
}

#[cfg(test)]
pub(crate) mod memory {
    //! A ledger in memory, for tests of what sits above `LedgerSink`.

    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use super::{Group, Head, LedgerSink};
    use crate::domain::{ConsentId, EntryHeader, SiteId, Subject};
    use crate::store::StoreError;

    /// A ledger in memory: what a second backend must supply, and nothing more.
    #[derive(Default)]
    pub(crate) struct Memory {
        pub entries: Vec<(u64, Vec<u8>, Vec<u8>)>,
        pub erasing: HashSet<Subject>,
        pub fail_next: bool,
    }

    pub(crate) struct MemorySink(pub Arc<Mutex<Memory>>);

    impl LedgerSink for MemorySink {
        fn head(&self) -> Result<Head, StoreError> {
            let m = self.0.lock().unwrap();
            Ok(m.entries
                .last()
                .map_or(Head::EMPTY, |(seq, header, _)| Head {
                    seq: *seq,
                    hash: EntryHeader::from_bytes(header).unwrap().hash(),
                }))
        }

        fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
            Subject::derive(&[7; 32], site, id)
        }

        fn admissible(&self, _: &SiteId, subject: &Subject, _: bool) -> Result<(), StoreError> {
            if self.0.lock().unwrap().erasing.contains(subject) {
                return Err(StoreError::UnknownConsent);
            }
            Ok(())
        }

        fn append(&mut self, group: &Group) -> Result<(), StoreError> {
            let mut m = self.0.lock().unwrap();
            if std::mem::take(&mut m.fail_next) {
                return Err(StoreError::Io("the disk is full".into()));
            }
            let mut all: Vec<(u64, Vec<u8>, Vec<u8>)> = group
                .decisions
                .iter()
                .map(|d| {
                    (
                        d.header.seq,
                        d.header.to_bytes().to_vec(),
                        d.payload.clone(),
                    )
                })
                .chain(group.tombstones.iter().map(|t| {
                    (
                        t.header.seq,
                        t.header.to_bytes().to_vec(),
                        t.payload.clone(),
                    )
                }))
                .collect();
            all.sort_by_key(|e| e.0);
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
    use crate::domain::ConsentId;
    use crate::domain::ledger::verify_chain;
    use crate::store::sled::registry_test::decision;

    fn id(n: u8) -> ConsentId {
        ConsentId::from_random([n; 16])
    }

    fn chain_of(memory: &Arc<Mutex<Memory>>) -> Result<u64, crate::domain::ledger::ChainFault> {
        let m = memory.lock().unwrap();
        verify_chain(
            m.entries
                .iter()
                .map(|(seq, h, p)| (*seq, h.clone(), Some(p.clone()))),
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn decisions_and_tombstones_are_chained_in_one_verifiable_order_and_answered_once_written()
     {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let writer = Writer::start(
            Box::new(MemorySink(memory.clone())),
            Arc::new(Metrics::default()),
            PathBuf::from("memory"),
        )
        .unwrap();
        let pending: Vec<_> = (1..=20)
            .map(|n| writer.submit_decision(decision(&id(n)), false))
            .collect();
        let mut receipts = Vec::new();
        for p in pending {
            receipts.push(p.await.unwrap());
        }
        // An erasure appends its tombstone from a blocking thread.
        let tombstone = std::thread::scope(|s| {
            s.spawn(|| writer.append_tombstone_blocking(b"erased".to_vec(), Timestamp(5)))
                .join()
                .unwrap()
        });
        assert!(tombstone.is_ok());
        assert_eq!(chain_of(&memory), Ok(21));
        let m = memory.lock().unwrap();
        for (record, (seq, header, _)) in receipts.iter().zip(&m.entries) {
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
        let sink = MemorySink(memory.clone());
        let erased = sink.subject(&decision(&id(2)).site, &id(2));
        memory.lock().unwrap().erasing.insert(erased);
        let writer = Writer::start(
            Box::new(sink),
            Arc::new(Metrics::default()),
            PathBuf::from("memory"),
        )
        .unwrap();
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
        assert_eq!(chain_of(&memory), Ok(2));
    }
}
