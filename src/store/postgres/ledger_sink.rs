//! The ledger in PostgreSQL: a chain per site, written by any number of nodes.
//!
//! A group is one transaction: `lock_heads` begins it and takes, for each chain the group
//! touches (in site order, so two nodes never wait on each other in a cycle), the site's
//! advisory lock, then reads the chain's last entry; the writer chains the group onto those
//! heads while no other node can append to them; `append` writes the entries, the consents' current state (the newest decision of a
//! subject wins), their history, the consent statistics (added to) and the notices, each as one
//! statement over arrays; then `COMMIT`, which with `synchronous_commit` on (the default) returns
//! once the commit is durable on the primary and on a synchronous standby if one is configured.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{BlockingClient, lock, open_blocking, pg_err, rollback};
use crate::analytics::consent_stats;
use crate::domain::{ConsentId, EntryHeader, SiteId, Subject};
use crate::store::StoreError;
use crate::store::ledger::{ChainKey, Group, Head, Heads, LedgerSink};

/// The ledger writer's connection and the subject secret.
pub struct PgLedger {
    conn: BlockingClient,
    secret: [u8; 32],
    /// The connection a group's transaction runs on, from `lock_heads` to its commit or
    /// rollback: every statement of a group goes to it, never to a connection opened anew
    /// meanwhile (which would write outside the transaction and its locks).
    group: Option<Arc<tokio_postgres::Client>>,
}

impl PgLedger {
    /// The sink on a connection to a migrated database, with its subject secret.
    pub fn new(conn: BlockingClient, secret: [u8; 32]) -> PgLedger {
        PgLedger {
            conn,
            secret,
            group: None,
        }
    }

    /// Connects, migrates the schema and reads the subject secret: for a sink on its own (the
    /// ledger benchmark, tests). `PgStore` does those once for all its parts.
    pub fn open(url: &str) -> Result<PgLedger, StoreError> {
        let (conn, secret) = open_blocking(url)?;
        Ok(PgLedger::new(conn, secret))
    }
}

/// The name of the lock a site's chain is appended under.
pub(crate) fn chain_lock(site: &str) -> String {
    format!("ledger {site}")
}

fn site_of(chain: &ChainKey) -> &str {
    chain.as_ref().map_or("", SiteId::as_str)
}

async fn read_head(
    client: &impl tokio_postgres::GenericClient,
    site: &str,
) -> Result<Head, StoreError> {
    let row = client
        .query_opt(
            "SELECT seq, header FROM ledger WHERE site_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&site],
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = row else {
        return Ok(Head::EMPTY);
    };
    let seq: i64 = row.get(0);
    let header: Vec<u8> = row.get(1);
    let header = EntryHeader::from_bytes(&header).ok_or_else(|| {
        StoreError::Corrupt(format!("the last ledger entry of `{site}` cannot be read"))
    })?;
    Ok(Head {
        seq: u64::try_from(seq).unwrap_or(0),
        hash: header.hash(),
    })
}

/// Ledger entries as the columns of one `unnest` insert.
#[derive(Default)]
struct LedgerRows {
    sites: Vec<String>,
    seqs: Vec<i64>,
    headers: Vec<Vec<u8>>,
    payloads: Vec<Vec<u8>>,
}

impl LedgerRows {
    fn push(&mut self, site: &SiteId, header: &EntryHeader, payload: &[u8]) {
        self.sites.push(site.to_string());
        self.seqs.push(seq_of(header));
        self.headers.push(header.to_bytes().to_vec());
        self.payloads.push(payload.to_vec());
    }
}

/// History rows, and the newest state of each subject, as columns.
#[derive(Default)]
struct SubjectRows {
    sites: Vec<String>,
    subjects: Vec<Vec<u8>>,
    seqs: Vec<i64>,
    receipts: Vec<Vec<u8>>,
    payloads: Vec<Vec<u8>>,
}

/// (site, subject) or (site, statistics key).
type SiteKey = (String, Vec<u8>);

/// The newest decision of a subject in the group.
struct State {
    seq: i64,
    receipt: Vec<u8>,
    payload: Vec<u8>,
}

/// The group's rows, as the arrays its statements take.
#[derive(Default)]
struct Rows {
    ledger: LedgerRows,
    history: SubjectRows,
    states: BTreeMap<SiteKey, State>,
    stats: BTreeMap<SiteKey, consent_stats::StatCounts>,
}

fn seq_of(header: &EntryHeader) -> i64 {
    i64::try_from(header.seq).unwrap_or(i64::MAX)
}

fn rows(group: &Group) -> Rows {
    let mut r = Rows::default();
    for d in &group.decisions {
        let site = &d.record.decision.site;
        let seq = seq_of(&d.header);
        r.ledger.push(site, &d.header, &d.payload);
        r.history.sites.push(site.to_string());
        r.history.subjects.push(d.subject.0.to_vec());
        r.history.seqs.push(seq);
        let state = State {
            seq,
            receipt: d.header.hash().0.to_vec(),
            payload: d.payload.clone(),
        };
        r.states
            .insert((site.to_string(), d.subject.0.to_vec()), state);
        for (key, counts) in consent_stats::deltas(&d.record.decision) {
            r.stats
                .entry((site.to_string(), consent_stats::key("", &key)))
                .or_default()
                .add(counts);
        }
    }
    for t in &group.tombstones {
        r.ledger.push(&t.site, &t.header, &t.payload);
    }
    r
}

/// Begins the group's transaction and locks and reads each chain's head.
async fn lock_chains(
    client: &tokio_postgres::Client,
    chains: &[ChainKey],
) -> Result<Heads, StoreError> {
    client.batch_execute("BEGIN").await.map_err(pg_err)?;
    let mut heads = Heads::new();
    for chain in chains {
        let site = site_of(chain);
        lock(client, &chain_lock(site)).await?;
        heads.insert(chain.clone(), read_head(client, site).await?);
    }
    Ok(heads)
}

/// Writes the group in the transaction `lock_chains` began, and commits it.
async fn write(tx: &tokio_postgres::Client, group: &Group) -> Result<(), StoreError> {
    let r = rows(group);
    let l = &r.ledger;
    tx.execute(
        "INSERT INTO ledger (site_id, seq, header, payload)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bytea[])",
        &[&l.sites, &l.seqs, &l.headers, &l.payloads],
    )
    .await
    .map_err(pg_err)?;
    let h = &r.history;
    tx.execute(
        "INSERT INTO consent_history (site_id, subject, seq)
         SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])",
        &[&h.sites, &h.subjects, &h.seqs],
    )
    .await
    .map_err(pg_err)?;
    let mut states = SubjectRows::default();
    for ((site, subject), state) in r.states {
        states.sites.push(site);
        states.subjects.push(subject);
        states.seqs.push(state.seq);
        states.receipts.push(state.receipt);
        states.payloads.push(state.payload);
    }
    tx.execute(
        "INSERT INTO consents (site_id, subject, seq, receipt, payload)
         SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bytea[], $5::bytea[])
         ON CONFLICT (site_id, subject) DO UPDATE
           SET seq = excluded.seq, receipt = excluded.receipt, payload = excluded.payload
           WHERE consents.seq < excluded.seq",
        &[
            &states.sites,
            &states.subjects,
            &states.seqs,
            &states.receipts,
            &states.payloads,
        ],
    )
    .await
    .map_err(pg_err)?;
    let (mut sites, mut keys, mut decisions, mut granted) = (vec![], vec![], vec![], vec![]);
    for ((site, key), counts) in r.stats {
        sites.push(site);
        keys.push(key);
        decisions.push(counts.decisions);
        granted.push(counts.granted);
    }
    tx.execute(
        "INSERT INTO consent_stats (site_id, key, decisions, granted)
         SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[])
         ON CONFLICT (site_id, key) DO UPDATE
           SET decisions = consent_stats.decisions + excluded.decisions,
               granted = consent_stats.granted + excluded.granted",
        &[&sites, &keys, &decisions, &granted],
    )
    .await
    .map_err(pg_err)?;
    let hashes: Vec<Vec<u8>> = group.notices.iter().map(|(h, _)| h.0.to_vec()).collect();
    let documents: Vec<&[u8]> = group.notices.iter().map(|(_, d)| d.as_slice()).collect();
    tx.execute(
        "INSERT INTO notices (site_id, hash, document)
         SELECT '', * FROM unnest($1::bytea[], $2::bytea[])
         ON CONFLICT DO NOTHING",
        &[&hashes, &documents],
    )
    .await
    .map_err(pg_err)?;
    tx.batch_execute("COMMIT").await.map_err(pg_err)
}

impl LedgerSink for PgLedger {
    fn chain_of(&self, site: &SiteId) -> ChainKey {
        Some(site.clone())
    }

    fn head(&self, chain: &ChainKey) -> Result<Head, StoreError> {
        self.conn
            .block_on(read_head(&*self.conn.client(), site_of(chain)))
    }

    fn subject(&self, site: &SiteId, id: &ConsentId) -> Subject {
        Subject::derive(&self.secret, site, id)
    }

    /// One round trip for the whole group.
    fn admit_all(&self, asks: &[(SiteId, Subject, bool)]) -> Vec<Result<(), StoreError>> {
        let sites: Vec<&str> = asks.iter().map(|(site, _, _)| site.as_str()).collect();
        let subjects: Vec<&[u8]> = asks.iter().map(|(_, s, _)| &s.0[..]).collect();
        let client = self.group.clone().unwrap_or_else(|| self.conn.client());
        let rows = self.conn.block_on(client.query(
            "SELECT EXISTS (SELECT 1 FROM erasures e WHERE e.site_id = a.site AND e.subject = a.subject),
                    EXISTS (SELECT 1 FROM consents c WHERE c.site_id = a.site AND c.subject = a.subject)
             FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS a(site, subject, i)
             ORDER BY a.i",
            &[&sites, &subjects],
        ));
        match rows {
            Err(e) => {
                let e = pg_err(e);
                asks.iter().map(|_| Err(e.clone())).collect()
            }
            Ok(rows) => rows
                .iter()
                .zip(asks)
                .map(|(row, (_, _, renews))| {
                    let (erasing, held): (bool, bool) = (row.get(0), row.get(1));
                    if erasing || (*renews && !held) {
                        Err(StoreError::UnknownConsent)
                    } else {
                        Ok(())
                    }
                })
                .collect(),
        }
    }

    fn lock_heads(&mut self, chains: &[ChainKey]) -> Result<Heads, StoreError> {
        let client = self.conn.client();
        let locked = self.conn.block_on(async {
            let locked = lock_chains(&client, chains).await;
            if locked.is_err() {
                rollback(&client).await;
            }
            locked
        });
        if locked.is_ok() {
            self.group = Some(client);
        }
        locked
    }

    fn append(&mut self, group: &Group) -> Result<(), StoreError> {
        let Some(client) = self.group.take() else {
            return Err(StoreError::Io(
                "a ledger group was appended without its heads locked".into(),
            ));
        };
        self.conn.block_on(async {
            let written = write(&client, group).await;
            if written.is_err() {
                rollback(&client).await;
            }
            written
        })
    }

    fn abandon(&mut self) {
        if let Some(client) = self.group.take() {
            self.conn.block_on(rollback(&client));
        }
    }
}

/// Each site's chain checked from its first entry: (site, entries, the first fault, the head).
pub fn verify(
    conn: &BlockingClient,
) -> Result<Vec<(String, crate::store::LedgerReport)>, StoreError> {
    let client = conn.client();
    conn.block_on(async {
        let sites = client
            .query("SELECT DISTINCT site_id FROM ledger ORDER BY site_id", &[])
            .await
            .map_err(pg_err)?;
        let mut out = Vec::new();
        for row in sites {
            let site: String = row.get(0);
            let rows = site_chain(&client, &site).await?;
            let head = rows
                .last()
                .and_then(|(_, h, _)| EntryHeader::from_bytes(h))
                .map(|h| h.hash());
            let report = crate::store::LedgerReport {
                entries: rows.len() as u64,
                fault: crate::domain::ledger::verify_chain(rows).err(),
                head,
            };
            out.push((site, report));
        }
        Ok::<_, StoreError>(out)
    })
}

/// One site's chain, in order.
pub async fn site_chain(
    client: &tokio_postgres::Client,
    site: &str,
) -> Result<Vec<crate::store::LedgerRow>, StoreError> {
    let entries = client
        .query(
            "SELECT seq, header, payload FROM ledger WHERE site_id = $1 ORDER BY seq",
            &[&site],
        )
        .await
        .map_err(pg_err)?;
    Ok(entries.iter().map(ledger_row).collect())
}

/// At most `limit` entries of one site's chain after sequence number `after`, in order.
pub async fn site_page(
    client: &tokio_postgres::Client,
    site: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<crate::store::LedgerRow>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let entries = client
        .query(
            "SELECT seq, header, payload FROM ledger WHERE site_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
            &[&site, &after, &limit],
        )
        .await
        .map_err(pg_err)?;
    Ok(entries.iter().map(ledger_row).collect())
}

fn ledger_row(r: &tokio_postgres::Row) -> crate::store::LedgerRow {
    let payload: Vec<u8> = r.get(2);
    let seq: i64 = r.get(0);
    // An erased entry keeps its header and loses its payload.
    let payload = (!payload.is_empty()).then_some(payload);
    (u64::try_from(seq).unwrap_or(0), r.get(1), payload)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::EntryHash;
    use crate::domain::{ConsentRecord, Timestamp};
    use crate::store::ledger::Writer;
    use crate::store::postgres::{schema, test_cluster};
    use crate::store::sled::registry_test::{decision, numbered_id as id, submit_all};
    use crate::telemetry::Metrics;

    /// A notice document by its hash.
    fn notice(conn: &BlockingClient, hash: &EntryHash) -> Result<Option<Vec<u8>>, StoreError> {
        conn.block_on(conn.client().query_opt(
            "SELECT document FROM notices WHERE site_id = '' AND hash = $1",
            &[&&hash.0[..]],
        ))
        .map_err(pg_err)
        .map(|row| row.map(|r| r.get(0)))
    }

    fn writer(url: &str) -> Writer {
        Writer::start(
            Box::new(PgLedger::open(url).unwrap()),
            Arc::new(Metrics::default()),
            std::path::PathBuf::from(url),
        )
        .unwrap()
    }

    fn count(conn: &BlockingClient, sql: &str) -> i64 {
        conn.block_on(conn.client().query_one(sql, &[]))
            .unwrap()
            .get(0)
    }

    #[test]
    fn the_schema_is_made_once_and_a_second_start_finds_it_current() {
        let url = test_cluster::database();
        let first = PgLedger::open(&url).unwrap();
        let second = PgLedger::open(&url).unwrap();
        assert_eq!(
            first.secret, second.secret,
            "every node reads one subject secret"
        );
        let conn = BlockingClient::connect(&url).unwrap();
        assert_eq!(
            count(&conn, "SELECT count(*) FROM consentry_schema"),
            i64::from(schema::CURRENT),
            "each migration ran once"
        );
        assert_eq!(
            count(&conn, "SELECT max(version)::bigint FROM consentry_schema"),
            i64::from(schema::CURRENT)
        );
    }

    #[test]
    fn decisions_tombstones_and_notices_land_in_each_sites_chain_with_state_history_and_stats() {
        let url = test_cluster::database();
        let writer = writer(&url);
        let shop = SiteId::parse("shop").unwrap();
        let mut decisions: Vec<_> = (0..10).map(|n| decision(&id(n))).collect();
        for d in decisions.iter_mut().skip(6) {
            d.site = shop.clone();
        }
        // The same id twice in one group: its state is the newer decision.
        let mut again = decision(&id(0));
        again.recorded_at = Timestamp(again.recorded_at.0 + 1);
        decisions.push(again);
        let records = submit_all(&writer, decisions);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(writer.submit_notice(EntryHash([3; 32]), b"<p>policy</p>".to_vec()))
            .unwrap();
        let tombstone = std::thread::scope(|s| {
            s.spawn(|| {
                writer.append_tombstone_blocking(shop.clone(), b"erased".to_vec(), Timestamp(9))
            })
            .join()
            .unwrap()
        })
        .unwrap();
        drop(writer);

        let conn = BlockingClient::connect(&url).unwrap();
        let reports = verify(&conn).unwrap();
        let by_site: BTreeMap<_, _> = reports.into_iter().collect();
        assert_eq!(by_site["demo"].entries, 7);
        assert_eq!(by_site["shop"].entries, 5);
        assert!(by_site.values().all(|r| r.fault.is_none()), "{by_site:?}");
        assert_eq!(by_site["shop"].head, Some(tombstone));
        for r in &records {
            assert!(r.seq >= 1);
        }
        assert_eq!(count(&conn, "SELECT count(*) FROM consents"), 10);
        assert_eq!(count(&conn, "SELECT count(*) FROM consent_history"), 11);
        assert_eq!(
            count(
                &conn,
                "SELECT max(seq) FROM consents WHERE site_id = 'demo'"
            ),
            7,
            "the newer decision of the id is its state"
        );
        let expected: i64 = records
            .iter()
            .flat_map(|r| consent_stats::deltas(&r.decision))
            .map(|(_, c)| c.decisions)
            .sum();
        assert_eq!(
            count(&conn, "SELECT sum(decisions)::bigint FROM consent_stats"),
            expected,
            "the statistics count every decision once"
        );
        assert_eq!(
            notice(&conn, &EntryHash([3; 32])).unwrap().as_deref(),
            Some(&b"<p>policy</p>"[..])
        );
    }

    #[test]
    fn a_decision_for_a_subject_being_erased_is_refused_and_takes_no_place() {
        let url = test_cluster::database();
        let sink = PgLedger::open(&url).unwrap();
        let d = decision(&id(1));
        let subject = sink.subject(&d.site, &d.consent_id);
        let conn = BlockingClient::connect(&url).unwrap();
        conn.block_on(conn.client().execute(
            "INSERT INTO erasures VALUES ($1, $2, 0, 1, 'api')",
            &[&d.site.as_str(), &&subject.0[..]],
        ))
        .unwrap();
        drop(sink);
        let writer = writer(&url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(matches!(
            rt.block_on(writer.submit_decision(d, false)),
            Err(StoreError::UnknownConsent)
        ));
        let ok = submit_all(&writer, vec![decision(&id(2))]);
        assert_eq!(ok[0].seq, 1);
    }

    /// Two nodes on one database, writing for the same two sites at once.
    #[test]
    fn two_nodes_on_one_database_keep_one_verifiable_chain_per_site_with_every_decision_once() {
        let url = test_cluster::database();
        let (a, b) = (writer(&url), writer(&url));
        let per_node = 400u32;
        let shop = SiteId::parse("shop").unwrap();
        let acknowledged: Vec<ConsentRecord> = std::thread::scope(|s| {
            let nodes: Vec<_> = [(&a, 0u32), (&b, per_node)]
                .into_iter()
                .map(|(w, offset)| {
                    let shop = shop.clone();
                    s.spawn(move || {
                        let decisions = (0..per_node)
                            .map(|n| {
                                let mut d = decision(&id(offset + n));
                                if n % 2 == 1 {
                                    d.site = shop.clone();
                                }
                                d
                            })
                            .collect();
                        submit_all(w, decisions)
                    })
                })
                .collect();
            nodes.into_iter().flat_map(|n| n.join().unwrap()).collect()
        });
        assert_eq!(acknowledged.len(), 2 * per_node as usize);
        let conn = BlockingClient::connect(&url).unwrap();
        for (site, report) in verify(&conn).unwrap() {
            assert_eq!(report.entries, u64::from(per_node), "{site}");
            assert_eq!(report.fault, None, "{site}");
        }
        let receipts: std::collections::HashSet<&str> =
            acknowledged.iter().map(|r| r.receipt.as_str()).collect();
        assert_eq!(
            receipts.len(),
            acknowledged.len(),
            "no entry acknowledged twice"
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM consents"),
            2 * i64::from(per_node)
        );
    }
}
