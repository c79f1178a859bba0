//! The consent side of an erasure (`store::erasure::ConsentErasure`: the job record, the state,
//! the payloads of the subject's ledger entries, the tombstone search, the rights log) and of
//! retention (`store::retention::ConsentRetention`: the current states, the log trims) in
//! PostgreSQL. Blocking, on a connection of its own.
//!
//! Removing the state takes the site's ledger lock (the one a node's ledger writer holds from
//! reading the heads, through admitting the group's decisions, to the commit): after it, no node
//! can commit a decision for the subject, since every writer then sees the job record.

use super::ledger_sink::chain_lock;
#[cfg(test)]
use super::open_blocking;
use super::{
    BlockingClient, in_transaction, lock, lock_session, pg_err, try_lock_session, unlock_session,
};
use crate::domain::ledger::{is_tombstone_of, payload_recorded_at, payload_refused};
use crate::domain::{ConsentId, EntryHash, EntryHeader, SiteId, Subject, Timestamp};
use crate::store::StoreError;
use crate::store::erasure::{ConsentErasure, ErasureJob};
use crate::store::retention::{ConsentRetention, StateSummary};

pub struct PgConsents {
    conn: BlockingClient,
    secret: [u8; 32],
}

impl PgConsents {
    /// The consent side on a connection to a migrated database, with its subject secret.
    pub fn new(conn: BlockingClient, secret: [u8; 32]) -> PgConsents {
        PgConsents { conn, secret }
    }

    /// Connects, migrates the schema and reads the subject secret: for tests.
    #[cfg(test)]
    pub fn open(url: &str) -> Result<PgConsents, StoreError> {
        let (conn, secret) = open_blocking(url)?;
        Ok(PgConsents::new(conn, secret))
    }

    /// Runs `job` unless another node runs one of this `name` (a session advisory lock on this
    /// connection, let go after `job`, or by PostgreSQL when the connection ends); `None` when
    /// another node holds it.
    pub fn exclusively<T>(
        &self,
        name: &str,
        job: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let client = self.conn.client();
        if !self.conn.block_on(try_lock_session(&client, name))? {
            return Ok(None);
        }
        Ok(Some(self.then_unlock(&client, name, job())?))
    }

    /// Runs `job` once no other node runs one of this `name`, waiting for it (the same lock).
    pub fn in_turn<T>(
        &self,
        name: &str,
        job: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let client = self.conn.client();
        self.conn.block_on(lock_session(&client, name))?;
        self.then_unlock(&client, name, job())
    }

    fn then_unlock<T>(
        &self,
        client: &tokio_postgres::Client,
        name: &str,
        done: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(e) = self.conn.block_on(unlock_session(client, name)) {
            log::warn!("PostgreSQL: the `{name}` lock stays until its connection ends: {e}");
        }
        done
    }

    /// Runs `statements` in one transaction.
    fn transaction<T>(
        &self,
        statements: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let client = self.conn.client();
        self.conn.block_on(in_transaction(&client, statements))
    }
}

fn job_of(row: &tokio_postgres::Row) -> Option<ErasureJob> {
    let site: String = row.get("site_id");
    let subject: Vec<u8> = row.get("subject");
    let from: i64 = row.get("from_seq");
    Some(ErasureJob {
        site: SiteId::parse(&site).ok()?,
        subject: Subject(subject.try_into().ok()?),
        requested_at: Timestamp(row.get("requested_at")),
        from_seq: u64::try_from(from).ok()?,
        channel: row.get("channel"),
    })
}

impl ConsentErasure for PgConsents {
    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        Subject::derive(&self.secret, site, id)
    }

    fn holds_anything(&self, site: &SiteId, subject: &Subject) -> Result<bool, StoreError> {
        let row = self
            .conn
            .block_on(self.conn.client().query_one(
                "SELECT EXISTS (SELECT 1 FROM consents WHERE site_id = $1 AND subject = $2)
                     OR EXISTS (SELECT 1 FROM consent_history WHERE site_id = $1 AND subject = $2)",
                &[&site.as_str(), &&subject.0[..]],
            ))
            .map_err(pg_err)?;
        Ok(row.get(0))
    }

    fn next_seq(&self, site: &SiteId) -> Result<u64, StoreError> {
        let row = self
            .conn
            .block_on(self.conn.client().query_one(
                "SELECT coalesce(max(seq), 0) + 1 FROM ledger WHERE site_id = $1",
                &[&site.as_str()],
            ))
            .map_err(pg_err)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(1))
    }

    fn put_job(&self, job: &ErasureJob) -> Result<(), StoreError> {
        let from = i64::try_from(job.from_seq).unwrap_or(i64::MAX);
        self.conn
            .block_on(self.conn.client().execute(
                "INSERT INTO erasures (site_id, subject, requested_at, from_seq, channel)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (site_id, subject) DO UPDATE
                   SET requested_at = excluded.requested_at, from_seq = excluded.from_seq,
                       channel = excluded.channel",
                &[
                    &job.site.as_str(),
                    &&job.subject.0[..],
                    &job.requested_at.0,
                    &from,
                    &job.channel,
                ],
            ))
            .map_err(pg_err)?;
        Ok(())
    }

    fn jobs(&self) -> Result<Vec<ErasureJob>, StoreError> {
        let rows = self
            .conn
            .block_on(self.conn.client().query("SELECT * FROM erasures", &[]))
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                job_of(r).ok_or_else(|| StoreError::Corrupt("an erasure job cannot be read".into()))
            })
            .collect()
    }

    fn remove_state(&self, site: &SiteId, subject: &Subject) -> Result<(), StoreError> {
        let (site, subject) = (site.as_str(), &subject.0[..]);
        self.transaction(async |client| {
            lock(client, &chain_lock(site)).await?;
            client
                .execute(
                    "DELETE FROM consents WHERE site_id = $1 AND subject = $2",
                    &[&site, &subject],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn redact_entries(&self, site: &SiteId, subject: &Subject) -> Result<u64, StoreError> {
        let (site, subject) = (site.as_str(), &subject.0[..]);
        self.transaction(async |client| {
            let held = client
                .execute(
                    "UPDATE ledger SET payload = '' WHERE site_id = $1 AND seq IN
                       (SELECT seq FROM consent_history WHERE site_id = $1 AND subject = $2)",
                    &[&site, &subject],
                )
                .await
                .map_err(pg_err)?;
            client
                .execute(
                    "DELETE FROM consent_history WHERE site_id = $1 AND subject = $2",
                    &[&site, &subject],
                )
                .await
                .map_err(pg_err)?;
            Ok(held)
        })
    }

    fn find_tombstone(
        &self,
        site: &SiteId,
        subject: &Subject,
        from: u64,
    ) -> Result<Option<EntryHash>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let rows = self
            .conn
            .block_on(self.conn.client().query(
                "SELECT header, payload FROM ledger WHERE site_id = $1 AND seq >= $2 ORDER BY seq",
                &[&site.as_str(), &from],
            ))
            .map_err(pg_err)?;
        Ok(rows.iter().find_map(|r| {
            let (header, payload): (Vec<u8>, Vec<u8>) = (r.get(0), r.get(1));
            is_tombstone_of(&payload, subject)
                .then(|| EntryHeader::from_bytes(&header).map(|h| h.hash()))
                .flatten()
        }))
    }

    fn finish_job(&self, job: &ErasureJob, line: &str, at: Timestamp) -> Result<(), StoreError> {
        let (site, subject) = (job.site.as_str(), &job.subject.0[..]);
        self.transaction(async |client| {
            client
                .execute(
                    "INSERT INTO rights_log (site_id, at, line) VALUES ($1, $2, $3)",
                    &[&site, &at.0, &line],
                )
                .await
                .map_err(pg_err)?;
            client
                .execute(
                    "DELETE FROM erasures WHERE site_id = $1 AND subject = $2",
                    &[&site, &subject],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }
}

impl ConsentRetention for PgConsents {
    /// In pages of 1,000 by subject, so a site of millions is never held at once.
    fn each_state(
        &self,
        site: &SiteId,
        visit: &mut dyn FnMut(Subject, StateSummary) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after: Vec<u8> = Vec::new();
        loop {
            let rows = self
                .conn
                .block_on(self.conn.client().query(
                    "SELECT subject, payload FROM consents WHERE site_id = $1 AND subject > $2
                     ORDER BY subject LIMIT 1000",
                    &[&site.as_str(), &after],
                ))
                .map_err(pg_err)?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.get(0);
            for row in &rows {
                let (subject, payload): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
                let Ok(subject) = <[u8; 16]>::try_from(subject) else {
                    continue;
                };
                let summary = StateSummary {
                    decided_at: payload_recorded_at(&payload),
                    refused: payload_refused(&payload).unwrap_or_default(),
                };
                visit(Subject(subject), summary)?;
            }
        }
    }

    fn log_rights(&self, at: Timestamp, line: &str) -> Result<(), StoreError> {
        self.conn
            .block_on(self.conn.client().execute(
                "INSERT INTO rights_log (site_id, at, line) VALUES ('', $1, $2)",
                &[&at.0, &line],
            ))
            .map_err(pg_err)?;
        Ok(())
    }

    fn trim_rights_log(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.conn
            .block_on(
                self.conn
                    .client()
                    .execute("DELETE FROM rights_log WHERE at < $1", &[&before.0]),
            )
            .map_err(pg_err)
    }

    fn trim_query_log(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.conn
            .block_on(
                self.conn
                    .client()
                    .execute("DELETE FROM query_log WHERE at < $1", &[&before.0]),
            )
            .map_err(pg_err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::erasure::{Eraser, VisitorErasure};
    use crate::store::ledger::Writer;
    use crate::store::postgres::ledger_sink::{PgLedger, verify};
    use crate::store::postgres::test_cluster;
    use crate::store::sled::registry_test::{decision, numbered_id, submit_all};
    use crate::telemetry::Metrics;

    /// An analytics side holding nothing.
    struct NoEvents;

    impl VisitorErasure for NoEvents {
        fn settle(&self) {}
        fn delete_visitor(&self, _: &SiteId, _: &Subject) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn count(conn: &BlockingClient, sql: &str) -> i64 {
        conn.block_on(conn.client().query_one(sql, &[]))
            .unwrap()
            .get(0)
    }

    #[test]
    fn an_erasure_over_postgres_leaves_headers_one_tombstone_a_verifying_chain_and_no_state() {
        let url = test_cluster::database();
        let writer = Writer::start(
            Box::new(PgLedger::open(&url).unwrap()),
            Arc::new(Metrics::default()),
            std::path::PathBuf::from(&url),
        )
        .unwrap();
        let id = ConsentId::from_random([9; 16]);
        let other = ConsentId::from_random([8; 16]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for d in [decision(&id), decision(&other), decision(&id)] {
            rt.block_on(writer.submit_decision(d, false)).unwrap();
        }
        let consents = PgConsents::open(&url).unwrap();
        let site = decision(&id).site;
        let receipt = std::thread::scope(|s| {
            s.spawn(|| {
                let eraser = Eraser {
                    consents: &consents,
                    analytics: &NoEvents,
                    writer: &writer,
                };
                eraser.erase(&site, &id, Timestamp(1_790_000_500_000), "api")
            })
            .join()
            .unwrap()
        })
        .unwrap()
        .expect("something was held");
        assert_eq!(receipt.entries_redacted, 2);

        let conn = BlockingClient::connect(&url).unwrap();
        let chains = verify(&conn).unwrap();
        assert_eq!(chains.len(), 1);
        let (_, report) = &chains[0];
        assert_eq!((report.entries, report.fault.clone()), (4, None));
        assert_eq!(report.head, Some(receipt.tombstone));
        assert_eq!(
            count(&conn, "SELECT count(*) FROM ledger WHERE payload = ''"),
            2
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM consents"),
            1,
            "the other id's stays"
        );
        assert_eq!(count(&conn, "SELECT count(*) FROM consent_history"), 1);
        assert_eq!(count(&conn, "SELECT count(*) FROM erasures"), 0);
        assert_eq!(count(&conn, "SELECT count(*) FROM rights_log"), 1);
        let subject = consents.subject(&site, &id);
        assert!(!consents.holds_anything(&site, &subject).unwrap());

        // Run again as after a crash: the job finds its tombstone and appends no second one.
        let job = ErasureJob {
            site: site.clone(),
            subject,
            requested_at: Timestamp(1),
            from_seq: 1,
            channel: "api".into(),
        };
        consents.put_job(&job).unwrap();
        let resumed = std::thread::scope(|s| {
            s.spawn(|| {
                Eraser {
                    consents: &consents,
                    analytics: &NoEvents,
                    writer: &writer,
                }
                .resume(Timestamp(2))
            })
            .join()
            .unwrap()
        });
        assert_eq!(resumed.unwrap(), 1);
        assert_eq!(
            verify(&conn).unwrap()[0].1.entries,
            4,
            "no second tombstone"
        );
    }

    #[test]
    fn retention_reads_every_state_in_pages_and_trims_the_logs_by_time() {
        let url = test_cluster::database();
        let writer = Writer::start(
            Box::new(PgLedger::open(&url).unwrap()),
            Arc::new(Metrics::default()),
            std::path::PathBuf::from(&url),
        )
        .unwrap();
        submit_all(
            &writer,
            (0..2_500).map(|n| decision(&numbered_id(n))).collect(),
        );
        let consents = PgConsents::open(&url).unwrap();
        let site = decision(&ConsentId::from_random([0; 16])).site;
        let mut seen = std::collections::HashSet::new();
        consents
            .each_state(&site, &mut |subject, state| {
                assert_eq!(state.decided_at, Some(Timestamp(1_790_000_000_000)));
                assert!(seen.insert(subject), "each state once");
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 2_500);

        consents.log_rights(Timestamp(10), "old").unwrap();
        consents.log_rights(Timestamp(30), "new").unwrap();
        assert_eq!(consents.trim_rights_log(Timestamp(20)).unwrap(), 1);
        let conn = BlockingClient::connect(&url).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM rights_log"), 1);
        assert_eq!(consents.trim_query_log(Timestamp(20)).unwrap(), 0);
    }
}
