//! Erasure for every backend: everything held under one consent id removed through a durable,
//! resumable job that orchestrates the consent side and the analytics side.
//!
//! The steps, each safe to run again: (1) a job record is written durably; (2) the ledger
//! writer commits what was queued before it and refuses any later decision for the subject
//! while the job exists, the events accepted so far are written, then the current state goes,
//! so the gate drops new events as `no_consent`; (3) queued events are written out; (4) the visitor's events go, then what
//! finds them (their day index and number); (5) every ledger entry of the id keeps its header
//! and loses its payload, so the chain still verifies; (6) a tombstone is appended, once even
//! when a crash makes this run twice; (7) the request is logged without the id and the job
//! record goes. A job found at start-up (a crash mid-way) is run again from the top.
//!
//! A backend supplies the small primitives below; it never decides the order.

use crate::domain::ledger::{Tombstone, tombstone_payload};
use crate::domain::{ConsentId, EntryHash, SiteId, Subject, Timestamp};
use crate::store::ledger::Writer;
use crate::store::{ErasureReceipt, StoreError};

/// An erasure under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureJob {
    pub site: SiteId,
    pub subject: Subject,
    pub requested_at: Timestamp,
    /// The first ledger sequence number its tombstone can have.
    pub from_seq: u64,
    pub channel: String,
}

/// What the consent side of a backend supplies. Blocking: called on a blocking thread.
pub trait ConsentErasure {
    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject;

    /// Whether any consent state, ledger entry or visitor record is held under the subject.
    fn holds_anything(&self, site: &SiteId, subject: &Subject) -> Result<bool, StoreError>;

    /// The sequence number the next entry of the site's chain will have.
    fn next_seq(&self, site: &SiteId) -> Result<u64, StoreError>;

    /// Writes the job record durably; from then on the ledger writer refuses the subject.
    fn put_job(&self, job: &ErasureJob) -> Result<(), StoreError>;

    /// Every job left by an unclean stop.
    fn jobs(&self) -> Result<Vec<ErasureJob>, StoreError>;

    /// Removes the subject's current consent.
    fn remove_state(&self, site: &SiteId, subject: &Subject) -> Result<(), StoreError>;

    /// Removes the payload of each of the subject's ledger entries (headers stay) and its
    /// history, durably. Returns how many entries it held.
    fn redact_entries(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError>;

    /// The tombstone of the subject appended to the site's chain at or after `from_seq`, if
    /// one was.
    fn find_tombstone(
        &self,
        site: &SiteId,
        subject: &Subject,
        from_seq: u64,
    ) -> Result<Option<EntryHash>, StoreError>;

    /// Logs the request (never the id) and removes the job record, durably.
    fn finish_job(&self, job: &ErasureJob, log_line: &str, at: Timestamp)
    -> Result<(), StoreError>;

    /// Drops anything cached about the id once its state is gone.
    fn forget_cached(&self, _site: &SiteId, _id: &ConsentId) {}
}

/// What the analytics side of a backend supplies. Blocking.
pub trait VisitorErasure {
    /// Returns once every event accepted so far is written (so the deletion finds it).
    fn settle(&self);

    /// Deletes every event of the visitor, then its day index and number: the index last,
    /// so a crash part-way leaves the rest findable for the rerun. Returns how many events.
    fn delete_visitor(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError>;
}

/// Runs erasures over a backend's two sides and the ledger writer.
pub struct Eraser<'a> {
    pub consents: &'a dyn ConsentErasure,
    pub analytics: &'a dyn VisitorErasure,
    pub writer: &'a Writer,
}

impl Eraser<'_> {
    /// Erases a consent id. `None` when nothing is held under it.
    pub fn erase(
        &self,
        site: &SiteId,
        id: &ConsentId,
        now: Timestamp,
        channel: &str,
    ) -> Result<Option<ErasureReceipt>, StoreError> {
        let subject = self.consents.subject(site, id);
        if !self.consents.holds_anything(site, &subject)? {
            return Ok(None);
        }
        let done = self.erase_subject(site, &subject, now, channel);
        // After the state went (and the writer, which updates any cache, stopped writing it).
        self.consents.forget_cached(site, id);
        done.map(Some)
    }

    /// Erases by subject (no raw id at hand: the retention sweep).
    pub fn erase_subject(
        &self,
        site: &SiteId,
        subject: &Subject,
        now: Timestamp,
        channel: &str,
    ) -> Result<ErasureReceipt, StoreError> {
        let job = ErasureJob {
            site: site.clone(),
            subject: *subject,
            requested_at: now,
            from_seq: self.consents.next_seq(site)?,
            channel: channel.to_owned(),
        };
        self.consents.put_job(&job)?;
        self.run(&job, now)
    }

    /// At start-up: runs every job an unclean stop left (of this process, or of any node
    /// sharing the store), and says how many it finished.
    pub fn resume_at_start(&self) -> Result<(), StoreError> {
        let finished = self.resume(crate::domain::Clock::now(&crate::domain::SystemClock))?;
        if finished > 0 {
            log::warn!("finished {finished} erasures that an unclean stop left unfinished");
        }
        Ok(())
    }

    /// Runs every job left by an unclean stop. Returns how many were finished.
    pub fn resume(&self, now: Timestamp) -> Result<usize, StoreError> {
        let jobs = self.consents.jobs()?;
        for job in &jobs {
            self.run(job, now)?;
        }
        Ok(jobs.len())
    }

    fn run(&self, job: &ErasureJob, now: Timestamp) -> Result<ErasureReceipt, StoreError> {
        let (site, subject) = (&job.site, &job.subject);
        // (2) The ledger writer commits what was queued before the job record; from here on it
        // refuses decisions for the subject. Events accepted so far are written while the
        // state still allows them (a backend that checks the consent when it writes, such as
        // PostgreSQL, would otherwise drop them uncounted). Then the state goes, and the gate
        // stops accepting events for the id.
        self.writer.barrier_blocking()?;
        self.analytics.settle();
        self.consents.remove_state(site, subject)?;
        // (3) Events accepted in between are written out (or dropped), so (4) finds them all.
        self.analytics.settle();
        let events_deleted = self.analytics.delete_visitor(site, subject)?;
        // (5) Ledger entries keep their header only.
        let entries_redacted = self.consents.redact_entries(site, subject)?;
        // (6) One tombstone, even when a crash makes this run twice.
        let tombstone = match self.consents.find_tombstone(site, subject, job.from_seq)? {
            Some(hash) => hash,
            None => self.writer.append_tombstone_blocking(
                site.clone(),
                tombstone_payload(&Tombstone {
                    site: site.clone(),
                    subject: *subject,
                    requested_at: job.requested_at,
                    completed_at: now,
                    channel: job.channel.clone(),
                    entries_redacted,
                    events_deleted,
                }),
                now,
            )?,
        };
        // (7) Done: the request is logged without the id, and the job goes.
        let line = format!(
            "type=erasure\nsite={site}\nchannel={}\noutcome=erased\nrequested_at={}\ncompleted_at={}\n",
            job.channel, job.requested_at.0, now.0
        );
        self.consents.finish_job(job, &line, now)?;
        Ok(ErasureReceipt {
            tombstone,
            entries_redacted,
            events_deleted,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::ledger::memory::{Memory, MemorySink};
    use crate::telemetry::Metrics;

    /// Both sides in memory, recording each call in order.
    #[derive(Default)]
    struct Fake {
        calls: RefCell<Vec<&'static str>>,
        jobs: RefCell<Vec<ErasureJob>>,
        tombstone: RefCell<Option<EntryHash>>,
        ledger: Option<Arc<Mutex<Memory>>>,
    }

    impl Fake {
        fn call(&self, name: &'static str) {
            self.calls.borrow_mut().push(name);
        }
    }

    impl ConsentErasure for Fake {
        fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
            Subject::derive(&[1; 32], site, id)
        }
        fn holds_anything(&self, _: &SiteId, _: &Subject) -> Result<bool, StoreError> {
            Ok(true)
        }
        fn next_seq(&self, _: &SiteId) -> Result<u64, StoreError> {
            let entries = self
                .ledger
                .as_ref()
                .map_or(0, |l| l.lock().unwrap().entries.len());
            Ok(entries as u64 + 1)
        }
        fn put_job(&self, job: &ErasureJob) -> Result<(), StoreError> {
            self.call("put_job");
            self.jobs.borrow_mut().push(job.clone());
            Ok(())
        }
        fn jobs(&self) -> Result<Vec<ErasureJob>, StoreError> {
            Ok(self.jobs.borrow().clone())
        }
        fn remove_state(&self, _: &SiteId, _: &Subject) -> Result<(), StoreError> {
            self.call("remove_state");
            Ok(())
        }
        fn redact_entries(&self, _: &SiteId, _: &Subject) -> Result<u64, StoreError> {
            self.call("redact_entries");
            Ok(3)
        }
        fn find_tombstone(
            &self,
            _: &SiteId,
            _: &Subject,
            _: u64,
        ) -> Result<Option<EntryHash>, StoreError> {
            Ok(*self.tombstone.borrow())
        }
        fn finish_job(&self, job: &ErasureJob, line: &str, _: Timestamp) -> Result<(), StoreError> {
            self.call("finish_job");
            assert!(!line.contains(&format!("{:?}", job.subject)), "{line}");
            self.jobs.borrow_mut().retain(|j| j != job);
            Ok(())
        }
    }

    impl VisitorErasure for Fake {
        fn settle(&self) {
            self.call("settle");
        }
        fn delete_visitor(&self, _: &SiteId, _: &Subject) -> Result<u64, StoreError> {
            self.call("delete_visitor");
            Ok(7)
        }
    }

    fn writer(memory: &Arc<Mutex<Memory>>) -> Writer {
        Writer::start(
            Box::new(MemorySink::global(memory)),
            Arc::new(Metrics::default()),
            std::path::PathBuf::from("memory"),
        )
        .unwrap()
    }

    #[test]
    fn the_state_goes_before_the_events_and_the_job_record_goes_last_with_one_tombstone() {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let writer = writer(&memory);
        let fake = Fake {
            ledger: Some(memory.clone()),
            ..Fake::default()
        };
        let eraser = Eraser {
            consents: &fake,
            analytics: &fake,
            writer: &writer,
        };
        let site = SiteId::parse("demo").unwrap();
        let id = ConsentId::from_random([4; 16]);
        let receipt = eraser
            .erase(&site, &id, Timestamp(9), "api")
            .unwrap()
            .unwrap();
        assert_eq!(
            *fake.calls.borrow(),
            [
                "put_job",
                "settle",
                "remove_state",
                "settle",
                "delete_visitor",
                "redact_entries",
                "finish_job"
            ]
        );
        assert_eq!((receipt.entries_redacted, receipt.events_deleted), (3, 7));
        assert_eq!(memory.lock().unwrap().entries.len(), 1, "one tombstone");
        assert!(fake.jobs.borrow().is_empty());
    }

    #[test]
    fn a_job_resumed_after_a_crash_that_already_left_its_tombstone_appends_no_second() {
        let memory = Arc::new(Mutex::new(Memory::default()));
        let writer = writer(&memory);
        let site = SiteId::parse("demo").unwrap();
        let fake = Fake {
            ledger: Some(memory.clone()),
            ..Fake::default()
        };
        fake.jobs.borrow_mut().push(ErasureJob {
            site: site.clone(),
            subject: Subject([2; 16]),
            requested_at: Timestamp(1),
            from_seq: 1,
            channel: "api".into(),
        });
        *fake.tombstone.borrow_mut() = Some(EntryHash([5; 32]));
        let eraser = Eraser {
            consents: &fake,
            analytics: &fake,
            writer: &writer,
        };
        assert_eq!(eraser.resume(Timestamp(2)).unwrap(), 1);
        assert!(memory.lock().unwrap().entries.is_empty());
        assert!(fake.jobs.borrow().is_empty());
        assert!(fake.calls.borrow().contains(&"delete_visitor"));
    }
}
