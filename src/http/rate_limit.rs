//! Per-client token buckets for state-changing requests.
//!
//! Keys are client addresses (or API key ids, for the marketer endpoints) held in memory only; a bucket that has refilled is forgotten, so
//! the map holds only clients seen in the last few minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::domain::ApiKeyId;
use crate::settings::RateLimit;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets, one per client address (or other key).
pub struct RateLimiter<K = IpAddr> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Past this many tracked clients, full buckets are swept out.
const SWEEP_AT: usize = 50_000;

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    pub fn new(limit: RateLimit) -> RateLimiter<K> {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.limit.per_minute) / 60.0
    }

    /// Takes a token for `client`. `Err(seconds)` says how long until one is free.
    pub fn check(&self, client: K) -> Result<(), u64> {
        self.with_bucket(client, true)
    }

    /// Whether `client` has a token left, without taking it: for budgets spent only on
    /// failures (a wrong API key), checked before the attempt. `Err(seconds)` as for `check`.
    pub fn peek(&self, client: K) -> Result<(), u64> {
        self.with_bucket(client, false)
    }

    fn with_bucket(&self, client: K, take: bool) -> Result<(), u64> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst);
        let rate = self.per_second();
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; do not turn it into an outage.
            return Ok(());
        };
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err((wait as u64).max(1))
        }
    }
}

/// Every budget the server keeps, each per its own kind of client.
pub struct Limiters {
    /// State changes on the browser-facing API, per client address.
    pub api: RateLimiter,
    /// Export and erasure, per client address.
    pub rights: RateLimiter,
    /// Every request naming a consent id, per id (a keyed hash of it, never the id).
    pub consent_id: RateLimiter<[u8; 16]>,
    /// Failed API-key attempts (API and dashboard sign-in), per client address.
    pub auth_failures: RateLimiter,
    /// Marketer requests, per API key.
    pub keys: RateLimiter<ApiKeyId>,
}

impl Limiters {
    pub fn new(settings: &crate::settings::Settings) -> Limiters {
        Limiters {
            api: RateLimiter::new(settings.rate_limit),
            rights: RateLimiter::new(settings.rights_rate_limit),
            consent_id: RateLimiter::new(settings.consent_id_rate_limit),
            auth_failures: RateLimiter::new(settings.auth_failure_limit),
            keys: RateLimiter::new(settings.query_rate_limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_is_told_when_to_come_back() {
        let limiter: RateLimiter = RateLimiter::new(RateLimit {
            burst: 3,
            per_minute: 60,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
        assert_eq!(limiter.check(a), Err(1));
        assert_eq!(
            limiter.check(b),
            Ok(()),
            "another client has its own bucket"
        );
    }

    #[test]
    fn a_peek_tells_whether_a_token_is_left_without_taking_it() {
        let limiter: RateLimiter = RateLimiter::new(RateLimit {
            burst: 1,
            per_minute: 60,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limiter.peek(a), Ok(()));
        assert_eq!(limiter.peek(a), Ok(()));
        assert_eq!(limiter.check(a), Ok(()));
        assert_eq!(limiter.peek(a), Err(1));
    }
}
