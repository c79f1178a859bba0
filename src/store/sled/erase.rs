//! Erasure: everything held under one consent id, removed through a durable, resumable job.
//!
//! The steps, each safe to run again: (1) a job record is written and flushed; (2) the ledger
//! writer commits what was queued before it and refuses any later decision for the subject
//! while the job exists, then the current state goes, so the gate drops new events as
//! `no_consent`; (3) queued events are written out;
//! (4) the visitor's events go (buffered rows deleted, sealed days rewritten without them),
//! then their day index and number; (5) every ledger entry of the id keeps its header and loses its payload, so the
//! chain still verifies; (6) a tombstone is appended; (7) the job record goes. A job found at
//! start-up (a crash mid-way) is run again from the top.

use super::cache::ConsentCache;
use super::events::{EventWriter, VisitorEvents, visitor_events, visitor_key};
use super::{Trees, keys, map_err, split_entry};
use crate::domain::ledger::{Tombstone, is_tombstone_of, tombstone_payload};
use crate::domain::{EntryHash, EntryHeader, SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::ledger::Writer;

use crate::store::ErasureReceipt as Erased;

/// A job record: `site 0x00 subject` → requested_at (i64 BE), first ledger seq to search for
/// its tombstone (u64 BE), channel.
fn job_value(requested_at: Timestamp, from_seq: u64, channel: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + channel.len());
    v.extend_from_slice(&requested_at.0.to_be_bytes());
    v.extend_from_slice(&from_seq.to_be_bytes());
    v.extend_from_slice(channel.as_bytes());
    v
}

fn parse_job(v: &[u8]) -> Option<(Timestamp, u64, String)> {
    let at = i64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let from = u64::from_be_bytes(v.get(8..16)?.try_into().ok()?);
    let channel = std::str::from_utf8(v.get(16..)?).ok()?.to_owned();
    Some((Timestamp(at), from, channel))
}

fn last_seq(trees: &Trees) -> Result<u64, StoreError> {
    Ok(trees
        .ledger
        .last()
        .map_err(map_err)?
        .and_then(|(k, _)| keys::seq(&k))
        .unwrap_or(0))
}

/// Whether anything is held under the subject.
pub(crate) fn holds_anything(
    trees: &Trees,
    site: &SiteId,
    subject: &Subject,
) -> Result<bool, StoreError> {
    let key = keys::consent(site, subject);
    Ok(trees.consents.contains_key(&key).map_err(map_err)?
        || trees
            .history
            .scan_prefix(keys::history_prefix(site, subject))
            .next()
            .is_some()
        || trees
            .visitor_numbers
            .contains_key(visitor_key(site.as_str(), subject))
            .map_err(map_err)?)
}

/// The context shared by erasures.
pub struct Eraser<'a> {
    pub trees: &'a Trees,
    pub writer: &'a Writer,
    pub events: &'a EventWriter,
    pub cache: &'a ConsentCache,
}

impl Eraser<'_> {
    /// Erases a consent id. `None` when nothing is held under it.
    pub fn erase(
        &self,
        site: &SiteId,
        id: &crate::domain::ConsentId,
        now: Timestamp,
        channel: &str,
    ) -> Result<Option<Erased>, StoreError> {
        let subject = self.trees.subject(site, id);
        if !holds_anything(self.trees, site, &subject)? {
            return Ok(None);
        }
        let job_key = keys::consent(site, &subject);
        let job = job_value(now, last_seq(self.trees)? + 1, channel);
        self.trees.erasures.insert(&job_key, job).map_err(map_err)?;
        self.trees.erasures.flush().map_err(map_err)?;
        let done = self.run(site, &subject, now, now);
        // After the state went (and the writer, which updates the cache, stopped writing it).
        self.cache.forget(site, id);
        done.map(Some)
    }

    /// Erases by subject (no raw id at hand: the retention sweep).
    pub fn erase_subject(
        &self,
        site: &SiteId,
        subject: &Subject,
        now: Timestamp,
        channel: &str,
    ) -> Result<Erased, StoreError> {
        let job_key = keys::consent(site, subject);
        let job = job_value(now, last_seq(self.trees)? + 1, channel);
        self.trees.erasures.insert(&job_key, job).map_err(map_err)?;
        self.trees.erasures.flush().map_err(map_err)?;
        self.run(site, subject, now, now)
    }

    /// Runs every job left by an unclean stop. Returns how many were finished.
    pub fn resume(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut done = 0;
        for item in self.trees.erasures.iter() {
            let (k, v) = item.map_err(map_err)?;
            let zero = k.iter().position(|b| *b == 0);
            let (Some(zero), Some((requested_at, _, _))) = (zero, parse_job(&v)) else {
                continue;
            };
            let site = std::str::from_utf8(&k[..zero])
                .ok()
                .and_then(|s| SiteId::parse(s).ok());
            let subject: Option<[u8; 16]> = k.get(zero + 1..).and_then(|s| s.try_into().ok());
            if let (Some(site), Some(subject)) = (site, subject) {
                self.run(&site, &Subject(subject), requested_at, now)?;
                done += 1;
            }
        }
        Ok(done)
    }

    fn run(
        &self,
        site: &SiteId,
        subject: &Subject,
        requested_at: Timestamp,
        now: Timestamp,
    ) -> Result<Erased, StoreError> {
        let t = self.trees;
        let job_key = keys::consent(site, subject);
        let (_, from_seq, channel) = t
            .erasures
            .get(&job_key)
            .map_err(map_err)?
            .and_then(|v| parse_job(&v))
            .ok_or_else(|| StoreError::Corrupt("an erasure job cannot be read".into()))?;

        // (2) The ledger writer commits what was queued before the job record; from here on it
        // refuses decisions for the subject. Then the state goes, and the gate stops accepting
        // events for the id.
        self.writer.barrier_blocking()?;
        t.consents.remove(&job_key).map_err(map_err)?;
        // (3) Events accepted before that are written out, so (4) finds them.
        let _ = self.events.barrier().blocking_recv();
        let events_deleted = self.delete_events(site, subject)?;
        // (5) Ledger entries keep their header only.
        let mut entries_redacted = 0;
        let prefix = keys::history_prefix(site, subject);
        for item in t.history.scan_prefix(&prefix) {
            let (k, _) = item.map_err(map_err)?;
            if let Some(seq) = keys::seq_from_history(&k) {
                if let Some(entry) = t.ledger.get(seq.to_be_bytes()).map_err(map_err)? {
                    let (header, payload) = split_entry(&entry);
                    if !payload.is_empty() {
                        t.ledger
                            .insert(seq.to_be_bytes(), header)
                            .map_err(map_err)?;
                    }
                    entries_redacted += 1;
                }
            }
            t.history.remove(k).map_err(map_err)?;
        }
        t.db.flush().map_err(map_err)?;
        // (6) One tombstone, even when a crash makes this run twice.
        let tombstone = match self.find_tombstone(subject, from_seq)? {
            Some(hash) => hash,
            None => self.writer.append_tombstone_blocking(
                tombstone_payload(&Tombstone {
                    site: site.clone(),
                    subject: *subject,
                    requested_at,
                    completed_at: now,
                    channel: channel.clone(),
                    entries_redacted,
                    events_deleted,
                }),
                now,
            )?,
        };
        // (7) Done: the request is logged without the id, and the job goes.
        let line = format!(
            "type=erasure\nsite={site}\nchannel={channel}\noutcome=erased\nrequested_at={}\ncompleted_at={}\n",
            requested_at.0, now.0
        );
        log_request(t, now, line.as_bytes())?;
        t.erasures.remove(&job_key).map_err(map_err)?;
        t.db.flush().map_err(map_err)?;
        Ok(Erased {
            tombstone,
            entries_redacted,
            events_deleted,
        })
    }

    fn find_tombstone(
        &self,
        subject: &Subject,
        from: u64,
    ) -> Result<Option<EntryHash>, StoreError> {
        for item in self.trees.ledger.range(from.to_be_bytes()..) {
            let (_, entry) = item.map_err(map_err)?;
            let (header, payload) = split_entry(&entry);
            if is_tombstone_of(payload, subject) {
                return Ok(EntryHeader::from_bytes(header).map(|h| h.hash()));
            }
        }
        Ok(None)
    }

    /// Deletes the visitor's events (buffered and sealed), then its day index and number: the
    /// index goes last, so a crash part-way leaves the rest findable for the rerun.
    fn delete_events(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
        let t = self.trees;
        let vkey = visitor_key(site.as_str(), subject);
        let Some(number) = t.visitor_numbers.get(&vkey).map_err(map_err)? else {
            return Ok(0);
        };
        let number = u64::from_be_bytes(
            number
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("a visitor number cannot be read".into()))?,
        );
        let VisitorEvents {
            events: buffered,
            sealed,
            days,
        } = visitor_events(t, site.as_str(), &vkey, number)?;
        let mut deleted = buffered.len() as u64;
        for (k, _) in buffered {
            t.events.remove(k).map_err(map_err)?;
        }
        for (day, _) in sealed {
            deleted += t
                .sealed
                .rewrite(t, site.as_str(), day, |row| row.visitor == number)?;
        }
        for dk in days {
            t.visitor_days.remove(dk).map_err(map_err)?;
        }
        t.purged.remove(&vkey).map_err(map_err)?;
        t.visitor_numbers.remove(&vkey).map_err(map_err)?;
        Ok(deleted)
    }
}

/// Logs a rights request (never the id), kept 24 months. Keyed by time, then a monotonic id.
pub fn log_request(trees: &Trees, at: Timestamp, line: &[u8]) -> Result<(), StoreError> {
    let mut key = at.0.to_be_bytes().to_vec();
    key.extend_from_slice(&trees.db.generate_id().map_err(map_err)?.to_be_bytes());
    trees.rights_log.insert(key, line).map_err(map_err)?;
    Ok(())
}
