//! The configured sites as they are now, each with its notices archived. A reload builds the
//! whole new set first (archiving every new notice durably) and then swaps it in at once, so a
//! request sees either the old sites or the new ones, never a mix.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::domain::{Site, Timestamp};
use crate::notices::SiteNotices;
use crate::store::{ConsentStore, Retention, StoreError};

/// A configured site and its archived notices.
pub struct SiteEntry {
    pub site: Site,
    pub notices: SiteNotices,
    /// The site once its upcoming policy version takes effect, and when that is.
    pub next: Option<(Timestamp, Arc<SiteEntry>)>,
}

/// The sites by id.
pub type SiteMap = BTreeMap<String, Arc<SiteEntry>>;

/// The sites in force, replaced whole by a reload.
pub struct LiveSites {
    current: RwLock<Arc<SiteMap>>,
}

impl LiveSites {
    pub fn new(sites: SiteMap) -> LiveSites {
        LiveSites {
            current: RwLock::new(Arc::new(sites)),
        }
    }

    /// The sites now: a snapshot that a reload does not change under the caller.
    pub fn current(&self) -> Arc<SiteMap> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `sites` in force from the next request on.
    pub fn replace(&self, sites: SiteMap) {
        let sites = Arc::new(sites);
        match self.current.write() {
            Ok(mut guard) => *guard = sites,
            Err(poisoned) => *poisoned.into_inner() = sites,
        }
    }
}

/// A site with its notices built and archived (durably) under their hashes.
async fn entry(store: &dyn ConsentStore, site: Site) -> Result<SiteEntry, StoreError> {
    let notices = SiteNotices::build(&site);
    for (hash, document) in notices.documents() {
        store.archive_notice(hash, document).await?;
    }
    Ok(SiteEntry {
        site,
        notices,
        next: None,
    })
}

/// Every site's entry, and its scheduled next version's, with every notice archived.
pub async fn build(store: &dyn ConsentStore, sites: &[Site]) -> Result<SiteMap, StoreError> {
    let mut out = BTreeMap::new();
    for site in sites {
        let mut current = entry(store, site.clone()).await?;
        if let (Some(next), Some(up)) = (site.after_upcoming_change(), &site.policy.upcoming) {
            let next = entry(store, next).await?;
            current.next = Some((up.effective_at, Arc::new(next)));
        }
        out.insert(site.id.to_string(), Arc::new(current));
    }
    Ok(out)
}

/// What a reload changed, by site id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// How `new` differs from `old`.
pub fn changes(old: &SiteMap, new: &SiteMap) -> SiteChanges {
    let mut out = SiteChanges::default();
    for (id, entry) in new {
        match old.get(id) {
            None => out.added.push(id.clone()),
            Some(before) if before.site != entry.site => out.changed.push(id.clone()),
            Some(_) => out.unchanged.push(id.clone()),
        }
    }
    out.removed = old
        .keys()
        .filter(|id| !new.contains_key(*id))
        .cloned()
        .collect();
    out
}

/// Each site's retention, from its policy: what the policy page promises is what is swept.
pub fn retention_plan(sites: &[Site]) -> Vec<Retention> {
    sites
        .iter()
        .map(|s| Retention {
            site: s.id.clone(),
            event_days: s.policy.event_retention_days,
            inactivity_days: (s.policy.inactivity_deletion_months * 365).div_ceil(12),
            withdrawal_purge_hours: 24,
        })
        .collect()
}

/// The retention of the sites in force.
pub fn current_plan(sites: &SiteMap) -> Vec<Retention> {
    let sites: Vec<Site> = sites.values().map(|e| e.site.clone()).collect();
    retention_plan(&sites)
}
