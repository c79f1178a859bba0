//! What the integrity check of every backend (`consentry store check`) reads from the ledger:
//! each subject's decisions still readable (erased entries have no payload left), and the
//! subjects tombstones name. The backends walk their own rows and ask these facts whether an
//! event was allowed and whether a subject was erased.

use std::collections::{HashMap, HashSet};

use crate::domain::Timestamp;
use crate::domain::ledger::{parse_decision_payload, payload_subject, tombstone_subject};
use crate::domain::{CategoryId, ConsentId, Decision, EntryHeader, EntryKind, SiteId, Subject};

/// A subject of a site.
pub(crate) type Who = (SiteId, Subject);

#[derive(Default)]
pub(crate) struct LedgerFacts {
    decisions: HashMap<Who, Vec<Decision>>,
    /// The subjects tombstones name.
    pub erased: HashSet<Who>,
}

impl LedgerFacts {
    /// Reads one ledger entry: its header and its payload (empty once erased).
    pub fn add(&mut self, header: &EntryHeader, payload: &[u8]) {
        if header.kind == EntryKind::Tombstone {
            if let Some(w) = tombstone_subject(payload) {
                self.erased.insert(w);
            }
            return;
        }
        // The id is not stored; decisions are read back under a placeholder.
        let placeholder = ConsentId::from_random([0; 16]);
        if let (Some(w), Some(d)) = (
            payload_subject(payload),
            parse_decision_payload(payload, &placeholder),
        ) {
            self.decisions.entry(w).or_default().push(d);
        }
    }

    /// Whether one of the subject's decisions allowed an event of `category` at `at`.
    pub fn allowed(&self, who: &Who, category: &str, at: Timestamp) -> bool {
        CategoryId::parse(category).is_ok_and(|c| {
            self.decisions
                .get(who)
                .is_some_and(|ds| ds.iter().any(|d| d.allowed(&c, at)))
        })
    }
}
