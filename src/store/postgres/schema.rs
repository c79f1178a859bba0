//! The schema, created and migrated at start-up: each migration runs once, in order, in one
//! transaction with its row in `consentry_schema`, under an advisory lock so that nodes
//! starting together do not race.

use tokio_postgres::Client;

use super::pg_err;
use crate::store::StoreError;

/// The migrations, by version. A new one is appended; none is ever edited.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE meta (
        site_id text NOT NULL,
        name text NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (site_id, name)
    );
    CREATE TABLE ledger (
        site_id text NOT NULL,
        seq bigint NOT NULL,
        header bytea NOT NULL,
        payload bytea NOT NULL,
        PRIMARY KEY (site_id, seq)
    );
    CREATE TABLE consents (
        site_id text NOT NULL,
        subject bytea NOT NULL,
        seq bigint NOT NULL,
        receipt bytea NOT NULL,
        payload bytea NOT NULL,
        PRIMARY KEY (site_id, subject)
    );
    CREATE TABLE consent_history (
        site_id text NOT NULL,
        subject bytea NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (site_id, subject, seq)
    );
    CREATE TABLE erasures (
        site_id text NOT NULL,
        subject bytea NOT NULL,
        requested_at bigint NOT NULL,
        from_seq bigint NOT NULL,
        channel text NOT NULL,
        PRIMARY KEY (site_id, subject)
    );
    CREATE TABLE notices (
        site_id text NOT NULL,
        hash bytea NOT NULL,
        document bytea NOT NULL,
        PRIMARY KEY (site_id, hash)
    );
    CREATE TABLE consent_stats (
        site_id text NOT NULL,
        key bytea NOT NULL,
        decisions bigint NOT NULL,
        granted bigint NOT NULL,
        PRIMARY KEY (site_id, key)
    );",
    ),
    (
        2,
        "CREATE TABLE api_keys (
        site_id text NOT NULL,
        id text NOT NULL,
        label text NOT NULL,
        digest bytea NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint,
        revoked_at bigint,
        PRIMARY KEY (site_id, id)
    );
    CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id);
    CREATE TABLE query_log (
        site_id text NOT NULL,
        at bigint NOT NULL,
        id bigserial NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (site_id, at, id)
    );
    CREATE TABLE saved_segments (
        site_id text NOT NULL,
        name text NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (site_id, name)
    );
    CREATE TABLE operator_tokens (
        site_id text NOT NULL,
        digest bytea NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (site_id, digest)
    );",
    ),
    (
        3,
        "CREATE TABLE rights_log (
        site_id text NOT NULL,
        at bigint NOT NULL,
        id bigserial NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (site_id, at, id)
    );",
    ),
    (
        4,
        "CREATE SEQUENCE visitor_seq;
    CREATE TABLE visitor_numbers (
        site_id text NOT NULL,
        subject bytea NOT NULL,
        number bigint NOT NULL,
        PRIMARY KEY (site_id, subject)
    );
    CREATE UNIQUE INDEX visitor_numbers_by_number ON visitor_numbers (site_id, number);
    CREATE TABLE events (
        site_id text NOT NULL,
        day integer NOT NULL,
        id bigserial NOT NULL,
        visitor bigint NOT NULL,
        at bigint NOT NULL,
        category text NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (site_id, day, id)
    );
    CREATE INDEX events_by_visitor ON events (site_id, visitor);
    CREATE TABLE purged (
        site_id text NOT NULL,
        subject bytea NOT NULL,
        decided_at bigint NOT NULL,
        PRIMARY KEY (site_id, subject)
    );",
    ),
    (
        5,
        "CREATE TABLE sightings (
        site_id text NOT NULL,
        day bigint NOT NULL,
        kind smallint NOT NULL,
        name text NOT NULL,
        granted text NOT NULL,
        first_ms bigint NOT NULL,
        last_ms bigint NOT NULL,
        reports bigint NOT NULL,
        pages text[] NOT NULL,
        PRIMARY KEY (site_id, day, kind, name, granted)
    );",
    ),
];

/// The newest schema version this build knows.
pub const CURRENT: i32 = 5;

/// Brings the database to `CURRENT`; refuses one newer than this build.
pub async fn migrate(client: &Client) -> Result<i32, StoreError> {
    client
        .batch_execute(
            // Without the notice that the table exists, at every start of every node.
            "SET client_min_messages = warning;
             CREATE TABLE IF NOT EXISTS consentry_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(pg_err)?;
    super::in_transaction(client, migrate_in_transaction).await
}

async fn migrate_in_transaction(tx: &Client) -> Result<i32, StoreError> {
    // One node migrates at a time; the others wait here, then find nothing left to do.
    super::lock(tx, "migrations").await?;
    let row = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM consentry_schema",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let at: i32 = row.get(0);
    if at > CURRENT {
        return Err(StoreError::Corrupt(format!(
            "the database's schema is version {at}, newer than this build knows ({CURRENT}); run a newer consentry"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > at) {
        tx.batch_execute(sql).await.map_err(pg_err)?;
        tx.execute(
            "INSERT INTO consentry_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg_err)?;
        log::info!("PostgreSQL schema migrated to version {version}");
    }
    Ok(CURRENT)
}

/// A per-database secret in `meta`, made once: the first node to ask makes it, every other
/// node reads the same one.
pub async fn secret(client: &Client, name: &str) -> Result<[u8; 32], StoreError> {
    let made: [u8; 32] = rand::random();
    client
        .execute(
            "INSERT INTO meta (site_id, name, value) VALUES ('', $1, $2) ON CONFLICT DO NOTHING",
            &[&name, &&made[..]],
        )
        .await
        .map_err(pg_err)?;
    let row = client
        .query_one(
            "SELECT value FROM meta WHERE site_id = '' AND name = $1",
            &[&name],
        )
        .await
        .map_err(pg_err)?;
    let value: Vec<u8> = row.get(0);
    value
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("the {name} cannot be read")))
}
