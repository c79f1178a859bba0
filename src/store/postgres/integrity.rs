//! `consentry store check` on PostgreSQL: what the hash chains do not cover.
//!
//! - A visitor number is held by one visitor only: a unique index (`visitor_numbers_by_number`)
//!   refuses a second holder, so it is not walked here.
//! - Every event's visitor number is held by a visitor, and one of that visitor's decisions
//!   allowed it: recorded at or before the event, granting its category, not expired then.
//! - An erased subject (one a tombstone names) holds no state, history or number.

use std::collections::{HashMap, HashSet};

use super::{BlockingClient, pg_err};
use crate::domain::ledger::{parse_decision_payload, payload_subject, tombstone_subject};
use crate::domain::{
    CategoryId, ConsentId, Decision, EntryHeader, EntryKind, SiteId, Subject, Timestamp,
};
use crate::store::{IntegrityReport, StoreError};

type Who = (String, Vec<u8>);

fn who(site: &SiteId, subject: &Subject) -> Who {
    (site.as_str().to_owned(), subject.0.to_vec())
}

pub(crate) fn check(conn: &BlockingClient) -> Result<IntegrityReport, StoreError> {
    let client = conn.client();
    conn.block_on(async {
        let c = &client;
        let mut report = IntegrityReport::default();
        // The id is not stored; decisions are read back under a placeholder.
        let placeholder = ConsentId::from_random([0; 16]);
        let mut decisions: HashMap<Who, Vec<Decision>> = HashMap::new();
        let mut erased: HashSet<Who> = HashSet::new();
        for row in c
            .query("SELECT header, payload FROM ledger", &[])
            .await
            .map_err(pg_err)?
        {
            let (header, payload): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
            let Some(header) = EntryHeader::from_bytes(&header) else {
                report.fault("a ledger header cannot be read".into());
                continue;
            };
            if header.kind == EntryKind::Tombstone {
                if let Some((site, subject)) = tombstone_subject(&payload) {
                    report.tombstones += 1;
                    erased.insert(who(&site, &subject));
                }
            } else if let (Some((site, subject)), Some(d)) = (
                payload_subject(&payload),
                parse_decision_payload(&payload, &placeholder),
            ) {
                decisions.entry(who(&site, &subject)).or_default().push(d);
            }
        }
        let mut by_number: HashMap<(String, i64), Who> = HashMap::new();
        for row in c
            .query("SELECT site_id, subject, number FROM visitor_numbers", &[])
            .await
            .map_err(pg_err)?
        {
            report.visitors += 1;
            let w: Who = (row.get(0), row.get(1));
            by_number.insert((w.0.clone(), row.get(2)), w);
        }
        for row in c
            .query("SELECT site_id, visitor, at, category FROM events", &[])
            .await
            .map_err(pg_err)?
        {
            report.events += 1;
            let (site, number, at, category): (String, i64, i64, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let Some(w) = by_number.get(&(site.clone(), number)) else {
                report.fault(format!(
                    "an event of site {site} at {at} belongs to visitor number {number}, which no visitor holds"
                ));
                continue;
            };
            let category = CategoryId::parse(&category).ok();
            let allowed = category.as_ref().is_some_and(|c| {
                decisions
                    .get(w)
                    .is_some_and(|ds| ds.iter().any(|d| d.allowed(c, Timestamp(at))))
            });
            if !allowed {
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
                let w: Who = (row.get(0), row.get(1));
                if erased.contains(&w) {
                    report.fault(format!(
                        "an erased subject of site {} still holds {what}",
                        w.0
                    ));
                }
            }
        }
        Ok(report)
    })
}
