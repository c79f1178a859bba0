//! Erasure in sled: the primitives `store::erasure::Eraser` runs an erasure with (the order
//! and the job's steps are there, for every backend).
//!
//! A job record is `site 0x00 subject` in `erasures` → requested_at (i64 BE), the first ledger
//! seq to search for its tombstone (u64 BE), channel.

use super::cache::ConsentCache;
use super::events::{EventWriter, VisitorEvents, visitor_events, visitor_key};
use super::{Trees, keys, map_err, split_entry};
use crate::domain::ledger::is_tombstone_of;
use crate::domain::{ConsentId, EntryHash, EntryHeader, SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::erasure::{ConsentErasure, Eraser, ErasureJob, VisitorErasure};
use crate::store::ledger::Writer;

fn job_value(job: &ErasureJob) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + job.channel.len());
    v.extend_from_slice(&job.requested_at.0.to_be_bytes());
    v.extend_from_slice(&job.from_seq.to_be_bytes());
    v.extend_from_slice(job.channel.as_bytes());
    v
}

fn parse_job(site: SiteId, subject: Subject, v: &[u8]) -> Option<ErasureJob> {
    let at = i64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let from_seq = u64::from_be_bytes(v.get(8..16)?.try_into().ok()?);
    let channel = std::str::from_utf8(v.get(16..)?).ok()?.to_owned();
    Some(ErasureJob {
        site,
        subject,
        requested_at: Timestamp(at),
        from_seq,
        channel,
    })
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

/// The consent side: state, ledger, history, jobs and the rights log in sled.
pub struct SledConsents<'a> {
    pub trees: &'a Trees,
    pub cache: &'a ConsentCache,
}

impl ConsentErasure for SledConsents<'_> {
    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        self.trees.subject(site, id)
    }

    fn holds_anything(&self, site: &SiteId, subject: &Subject) -> Result<bool, StoreError> {
        holds_anything(self.trees, site, subject)
    }

    /// One chain for every site.
    fn next_seq(&self, _site: &SiteId) -> Result<u64, StoreError> {
        Ok(last_seq(self.trees)? + 1)
    }

    fn put_job(&self, job: &ErasureJob) -> Result<(), StoreError> {
        let t = self.trees;
        t.erasures
            .insert(keys::consent(&job.site, &job.subject), job_value(job))
            .map_err(map_err)?;
        t.erasures.flush().map_err(map_err)?;
        Ok(())
    }

    fn jobs(&self) -> Result<Vec<ErasureJob>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.erasures.iter() {
            let (k, v) = item.map_err(map_err)?;
            let Some(zero) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let site = std::str::from_utf8(&k[..zero])
                .ok()
                .and_then(|s| SiteId::parse(s).ok());
            let subject: Option<[u8; 16]> = k.get(zero + 1..).and_then(|s| s.try_into().ok());
            if let Some(job) = site
                .zip(subject)
                .and_then(|(site, subject)| parse_job(site, Subject(subject), &v))
            {
                out.push(job);
            }
        }
        Ok(out)
    }

    fn remove_state(&self, site: &SiteId, subject: &Subject) -> Result<(), StoreError> {
        self.trees
            .consents
            .remove(keys::consent(site, subject))
            .map_err(map_err)?;
        Ok(())
    }

    fn redact_entries(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
        let t = self.trees;
        let mut redacted = 0;
        for item in t.history.scan_prefix(keys::history_prefix(site, subject)) {
            let (k, _) = item.map_err(map_err)?;
            if let Some(seq) = keys::seq_from_history(&k) {
                if let Some(entry) = t.ledger.get(seq.to_be_bytes()).map_err(map_err)? {
                    let (header, payload) = split_entry(&entry);
                    if !payload.is_empty() {
                        t.ledger
                            .insert(seq.to_be_bytes(), header)
                            .map_err(map_err)?;
                    }
                    redacted += 1;
                }
            }
            t.history.remove(k).map_err(map_err)?;
        }
        t.db.flush().map_err(map_err)?;
        Ok(redacted)
    }

    fn find_tombstone(
        &self,
        _site: &SiteId,
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

    fn finish_job(&self, job: &ErasureJob, line: &str, at: Timestamp) -> Result<(), StoreError> {
        let t = self.trees;
        log_request(t, at, line.as_bytes())?;
        t.erasures
            .remove(keys::consent(&job.site, &job.subject))
            .map_err(map_err)?;
        t.db.flush().map_err(map_err)?;
        Ok(())
    }

    fn forget_cached(&self, site: &SiteId, id: &ConsentId) {
        self.cache.forget(site, id);
    }
}

/// The analytics side: the write buffer, the sealed days, the day index and visitor numbers.
pub struct SledVisitors<'a> {
    pub trees: &'a Trees,
    pub events: &'a EventWriter,
}

impl VisitorErasure for SledVisitors<'_> {
    fn settle(&self) {
        let _ = self.events.barrier().blocking_recv();
    }

    /// Deletes the visitor's events (buffered and sealed), then its day index and number: the
    /// index goes last, so a crash part-way leaves the rest findable for the rerun.
    fn delete_visitor(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
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

/// Runs `f` with an eraser over sled's two sides.
pub fn with_eraser<R>(
    trees: &Trees,
    writer: &Writer,
    events: &EventWriter,
    cache: &ConsentCache,
    f: impl FnOnce(&Eraser<'_>) -> R,
) -> R {
    let consents = SledConsents { trees, cache };
    let visitors = SledVisitors { trees, events };
    f(&Eraser {
        consents: &consents,
        analytics: &visitors,
        writer,
    })
}

/// Logs a rights request (never the id), kept 24 months. Keyed by time, then a monotonic id.
pub fn log_request(trees: &Trees, at: Timestamp, line: &[u8]) -> Result<(), StoreError> {
    let mut key = at.0.to_be_bytes().to_vec();
    key.extend_from_slice(&trees.db.generate_id().map_err(map_err)?.to_be_bytes());
    trees.rights_log.insert(key, line).map_err(map_err)?;
    Ok(())
}
