//! `consentry store check` on PostgreSQL: what the hash chains do not cover.
//!
//! - A visitor number is held by one visitor only: a unique index (`visitor_numbers_by_number`)
//!   refuses a second holder, so it is not walked here.
//! - Every event's visitor number is held by a visitor, and one of that visitor's decisions
//!   allowed it: recorded at or before the event, granting its category, not expired then.
//! - An erased subject (one a tombstone names) holds no state, history or number.

use std::collections::HashMap;

use super::event_table::EventTable;
use super::{BlockingClient, pg_err};
use crate::domain::{EntryHeader, SiteId, Subject, Timestamp};
use crate::store::integrity::{LedgerFacts, Who};
use crate::store::{IntegrityReport, StoreError};

/// The subject a row names, from its site and subject columns.
fn who(site: &str, subject: &[u8]) -> Option<Who> {
    Some((SiteId::parse(site).ok()?, Subject(subject.try_into().ok()?)))
}

pub(crate) fn check(
    conn: &BlockingClient,
    table: &dyn EventTable,
) -> Result<IntegrityReport, StoreError> {
    let client = conn.client();
    conn.block_on(async {
        let c = &client;
        let mut report = IntegrityReport::default();
        let mut facts = LedgerFacts::default();
        for row in c
            .query("SELECT header, payload FROM ledger", &[])
            .await
            .map_err(pg_err)?
        {
            match EntryHeader::from_bytes(row.get(0)) {
                Some(header) => facts.add(&header, row.get(1)),
                None => report.fault("a ledger header cannot be read".into()),
            }
        }
        report.tombstones = facts.erased.len() as u64;
        let mut by_number: HashMap<(String, i64), Who> = HashMap::new();
        for row in c
            .query("SELECT site_id, subject, number FROM visitor_numbers", &[])
            .await
            .map_err(pg_err)?
        {
            report.visitors += 1;
            let site: String = row.get(0);
            match who(&site, row.get(1)) {
                Some(w) => {
                    by_number.insert((site, row.get(2)), w);
                }
                None => report.fault(format!("a visitor-number row of site {site} cannot be read")),
            }
        }
        for fact in table.facts(c).await? {
            report.events += 1;
            let (site, number, at) = (fact.site, fact.visitor, fact.at);
            let Some(w) = by_number.get(&(site.clone(), number)) else {
                report.fault(format!(
                    "an event of site {site} at {at} belongs to visitor number {number}, which no visitor holds"
                ));
                continue;
            };
            if !facts.allowed(w, &fact.category, Timestamp(at)) {
                report.fault(format!(
                    "an event of site {site} at {at} was allowed by no decision of its visitor"
                ));
            }
        }
        for (table, what) in [
            ("consents", "a consent state"),
            ("consent_history", "history"),
            ("visitor_numbers", "a visitor number"),
        ] {
            for row in c
                .query(&format!("SELECT DISTINCT site_id, subject FROM {table}"), &[])
                .await
                .map_err(pg_err)?
            {
                let site: &str = row.get(0);
                if who(site, row.get(1)).is_some_and(|w| facts.erased.contains(&w)) {
                    report.fault(format!("an erased subject of site {site} still holds {what}"));
                }
            }
        }
        Ok(report)
    })
}
