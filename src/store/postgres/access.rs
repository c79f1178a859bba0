//! Marketer access in PostgreSQL: API keys (`api_keys`, found by id through a unique index),
//! the query log, saved segments (the stored form of `store::records`), operator tokens and the
//! session secret (`meta`). Every node reads the same rows, so a key created or revoked on one
//! node holds on every node from the next request on, and a dashboard session signed on one is
//! accepted by all.
//!
//! The query log and operator tokens belong to the server, not a site: their rows use the site
//! id `''`.

use std::sync::Arc;

use tokio_postgres::Row;

use super::pool::Pool;
use super::{lock, pg_err, schema};
use crate::domain::{ApiKey, ApiKeyId, Segment, SegmentName, SiteId, Timestamp, TokenDigest};
use crate::store::records::{decode_segment, encode_segment};
use crate::store::{AccessStore, SegmentSaved, StoreError, StoreFuture};

pub struct PgAccess {
    pool: Arc<Pool>,
}

impl PgAccess {
    /// Marketer access over a pool of connections to a migrated database.
    pub fn new(pool: Arc<Pool>) -> PgAccess {
        PgAccess { pool }
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} cannot be read"))
}

fn key_of(row: &Row) -> Result<ApiKey, StoreError> {
    let site: String = row.get("site_id");
    let id: String = row.get("id");
    let digest: Vec<u8> = row.get("digest");
    let optional = |name: &str| row.get::<_, Option<i64>>(name).map(Timestamp);
    Ok(ApiKey {
        id: ApiKeyId::parse(&id).ok_or_else(|| corrupt("an API key record"))?,
        site: SiteId::parse(&site).map_err(|_| corrupt("an API key record"))?,
        label: row.get("label"),
        digest: digest
            .try_into()
            .map_err(|_| corrupt("an API key record"))?,
        created_at: Timestamp(row.get("created_at")),
        expires_at: optional("expires_at"),
        revoked_at: optional("revoked_at"),
    })
}

impl AccessStore for PgAccess {
    fn put_key(&self, key: ApiKey) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            client
                .execute(
                    "INSERT INTO api_keys (site_id, id, label, digest, created_at, expires_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (site_id, id) DO UPDATE
                       SET label = excluded.label, expires_at = excluded.expires_at,
                           revoked_at = excluded.revoked_at",
                    &[
                        &key.site.as_str(),
                        &key.id.as_str(),
                        &key.label,
                        &&key.digest[..],
                        &key.created_at.0,
                        &key.expires_at.map(|t| t.0),
                        &key.revoked_at.map(|t| t.0),
                    ],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn key(&self, id: ApiKeyId) -> StoreFuture<Option<ApiKey>> {
        let client = self.pool.client();
        Box::pin(async move {
            let row = client
                .query_opt("SELECT * FROM api_keys WHERE id = $1", &[&id.as_str()])
                .await
                .map_err(pg_err)?;
            row.as_ref().map(key_of).transpose()
        })
    }

    fn keys(&self, site: SiteId) -> StoreFuture<Vec<ApiKey>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query(
                    "SELECT * FROM api_keys WHERE site_id = $1 ORDER BY created_at, id",
                    &[&site.as_str()],
                )
                .await
                .map_err(pg_err)?;
            rows.iter().map(key_of).collect()
        })
    }

    fn log_query(&self, at: Timestamp, line: String) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            client
                .execute(
                    "INSERT INTO query_log (site_id, at, line) VALUES ('', $1, $2)",
                    &[&at.0, &line],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn query_log(&self) -> StoreFuture<Vec<String>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query("SELECT line FROM query_log ORDER BY at, id", &[])
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn put_segment(&self, site: SiteId, segment: Segment) -> StoreFuture<SegmentSaved> {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut client = pool.transaction_client().await?;
            let tx = client.transaction().await.map_err(pg_err)?;
            // Segment writes of a site take turns, so the per-site limit holds across nodes.
            lock(&tx, &format!("segments {site}")).await?;
            let row = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM saved_segments WHERE site_id = $1 AND name = $2),
                            (SELECT count(*) FROM saved_segments WHERE site_id = $1)",
                    &[&site.as_str(), &segment.name.as_str()],
                )
                .await
                .map_err(pg_err)?;
            let (exists, count): (bool, i64) = (row.get(0), row.get(1));
            let saved = if exists {
                SegmentSaved::Replaced
            } else if count >= Segment::MAX_PER_SITE as i64 {
                return Ok(SegmentSaved::LimitReached);
            } else {
                SegmentSaved::Created
            };
            tx.execute(
                "INSERT INTO saved_segments (site_id, name, body) VALUES ($1, $2, $3)
                 ON CONFLICT (site_id, name) DO UPDATE SET body = excluded.body",
                &[
                    &site.as_str(),
                    &segment.name.as_str(),
                    &encode_segment(&segment),
                ],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(saved)
        })
    }

    fn segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<Option<Segment>> {
        let client = self.pool.client();
        Box::pin(async move {
            let row = client
                .query_opt(
                    "SELECT body FROM saved_segments WHERE site_id = $1 AND name = $2",
                    &[&site.as_str(), &name.as_str()],
                )
                .await
                .map_err(pg_err)?;
            row.map(|r| {
                let body: Vec<u8> = r.get(0);
                decode_segment(name.as_str().as_bytes(), &body)
                    .ok_or_else(|| corrupt("a saved segment"))
            })
            .transpose()
        })
    }

    fn segments(&self, site: SiteId) -> StoreFuture<Vec<Segment>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query(
                    "SELECT name, body FROM saved_segments WHERE site_id = $1 ORDER BY name COLLATE \"C\"",
                    &[&site.as_str()],
                )
                .await
                .map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    let (name, body): (String, Vec<u8>) = (r.get(0), r.get(1));
                    decode_segment(name.as_bytes(), &body).ok_or_else(|| corrupt("a saved segment"))
                })
                .collect()
        })
    }

    fn delete_segment(&self, site: SiteId, name: SegmentName) -> StoreFuture<bool> {
        let client = self.pool.client();
        Box::pin(async move {
            let n = client
                .execute(
                    "DELETE FROM saved_segments WHERE site_id = $1 AND name = $2",
                    &[&site.as_str(), &name.as_str()],
                )
                .await
                .map_err(pg_err)?;
            Ok(n > 0)
        })
    }

    fn add_operator_token(&self, digest: TokenDigest, at: Timestamp) -> StoreFuture<()> {
        let client = self.pool.client();
        Box::pin(async move {
            client
                .execute(
                    "INSERT INTO operator_tokens (site_id, digest, created_at) VALUES ('', $1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&&digest.0[..], &at.0],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    fn operator_tokens(&self) -> StoreFuture<Vec<(TokenDigest, Timestamp)>> {
        let client = self.pool.client();
        Box::pin(async move {
            let rows = client
                .query(
                    "SELECT digest, created_at FROM operator_tokens WHERE site_id = '' ORDER BY created_at",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    let digest: Vec<u8> = r.get(0);
                    let digest: [u8; 32] = digest
                        .try_into()
                        .map_err(|_| corrupt("an operator token record"))?;
                    Ok((TokenDigest(digest), Timestamp(r.get(1))))
                })
                .collect()
        })
    }

    fn remove_operator_token(&self, digest: TokenDigest) -> StoreFuture<bool> {
        let client = self.pool.client();
        Box::pin(async move {
            let n = client
                .execute(
                    "DELETE FROM operator_tokens WHERE site_id = '' AND digest = $1",
                    &[&&digest.0[..]],
                )
                .await
                .map_err(pg_err)?;
            Ok(n > 0)
        })
    }

    fn session_secret(&self) -> StoreFuture<[u8; 32]> {
        let client = self.pool.client();
        Box::pin(async move { schema::secret(&client, "session_secret").await })
    }
}
