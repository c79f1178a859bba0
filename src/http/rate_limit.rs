//! Per-client token buckets for state-changing requests.
//!
//! Keys are client addresses (or API key ids, for the marketer endpoints) held in memory only; a bucket that has refilled is forgotten, so
//! the map holds only clients seen in the last few minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

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
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err((wait as u64).max(1))
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
}
