//! The current consents most recently read or written, in memory, so the event gate does not
//! go to sled (and its blocking pool) for every request.
//!
//! The ledger writer updates an entry after its group commit is durable and before it answers,
//! so once a withdrawal is acknowledged no reader sees the consent it replaced. Memory only:
//! nothing here is written anywhere.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::{ConsentId, ConsentRecord, SiteId};

/// Past this many entries the cache starts again from empty.
const CAPACITY: usize = 50_000;

#[derive(Default)]
pub struct ConsentCache(RwLock<HashMap<(SiteId, ConsentId), ConsentRecord>>);

impl ConsentCache {
    pub fn get(&self, site: &SiteId, id: &ConsentId) -> Option<ConsentRecord> {
        let map = self.0.read().ok()?;
        map.get(&(site.clone(), id.clone())).cloned()
    }

    pub fn put(&self, record: &ConsentRecord) {
        if let Ok(mut map) = self.0.write() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            let key = (
                record.decision.site.clone(),
                record.decision.consent_id.clone(),
            );
            map.insert(key, record.clone());
        }
    }

    pub fn forget(&self, site: &SiteId, id: &ConsentId) {
        if let Ok(mut map) = self.0.write() {
            map.remove(&(site.clone(), id.clone()));
        }
    }

    /// Forgets everything: after a sweep erased visitors whose ids it cannot name.
    pub fn clear(&self) {
        if let Ok(mut map) = self.0.write() {
            map.clear();
        }
    }
}
