//! Counters and histograms for `/metrics`, kept in atomics so recording never blocks.
//!
//! Labels are fixed, low-cardinality values (route patterns, status codes, actions, reasons):
//! never an address, a User-Agent, a consent id or a URL.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A latency histogram with fixed buckets, in seconds.
#[derive(Debug)]
pub struct Histogram {
    counts: [AtomicU64; Histogram::BOUNDS.len()],
    total: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            total: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    const BOUNDS: [f64; 12] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];

    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (i, bound) in Self::BOUNDS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, bound) in Self::BOUNDS.iter().enumerate() {
            let n = self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let total = self.total.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {total}");
    }
}

/// A counter family keyed by a small set of label values.
#[derive(Debug, Default)]
pub struct LabeledCounter(Mutex<BTreeMap<String, u64>>);

impl LabeledCounter {
    pub fn inc(&self, labels: String) {
        if let Ok(mut map) = self.0.lock() {
            *map.entry(labels).or_insert(0) += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        if let Ok(map) = self.0.lock() {
            for (labels, n) in map.iter() {
                let _ = writeln!(out, "{name}{{{labels}}} {n}");
            }
        }
    }
}

/// Everything `/metrics` reports.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: LabeledCounter,
    pub consents: LabeledCounter,
    pub events_accepted: AtomicU64,
    pub events_dropped: LabeledCounter,
    pub rate_limited: AtomicU64,
    /// Refused API keys and sign-ins.
    pub auth_failures: AtomicU64,
    /// Time from a consent write being queued to its group commit being durable.
    pub ledger_commit: Histogram,
    /// Entries per group commit.
    pub ledger_batch_entries: AtomicU64,
    pub ledger_batches: AtomicU64,
    pub storage_read: Histogram,
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.requests.render(
            &mut out,
            "consentry_http_requests_total",
            "HTTP requests by route pattern, method and status.",
        );
        self.consents.render(
            &mut out,
            "consentry_consents_total",
            "Consent decisions recorded, by action and regime.",
        );
        let _ = writeln!(
            out,
            "# HELP consentry_events_accepted_total Analytics events stored.\n# TYPE consentry_events_accepted_total counter\nconsentry_events_accepted_total {}",
            self.events_accepted.load(Ordering::Relaxed)
        );
        self.events_dropped.render(
            &mut out,
            "consentry_events_dropped_total",
            "Analytics events refused, by reason.",
        );
        let _ = writeln!(
            out,
            "# HELP consentry_rate_limited_total Requests refused with 429.\n# TYPE consentry_rate_limited_total counter\nconsentry_rate_limited_total {}",
            self.rate_limited.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP consentry_auth_failures_total API keys and dashboard sign-ins refused.\n# TYPE consentry_auth_failures_total counter\nconsentry_auth_failures_total {}",
            self.auth_failures.load(Ordering::Relaxed)
        );
        self.ledger_commit.render(
            &mut out,
            "consentry_ledger_commit_seconds",
            "Time from a consent write being queued until it is durable on disk.",
        );
        let _ = writeln!(
            out,
            "# HELP consentry_ledger_group_commits_total Group commits (one flush each).\n# TYPE consentry_ledger_group_commits_total counter\nconsentry_ledger_group_commits_total {}",
            self.ledger_batches.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP consentry_ledger_entries_total Ledger entries written.\n# TYPE consentry_ledger_entries_total counter\nconsentry_ledger_entries_total {}",
            self.ledger_batch_entries.load(Ordering::Relaxed)
        );
        self.storage_read.render(
            &mut out,
            "consentry_storage_read_seconds",
            "Latency of storage reads.",
        );
        out
    }
}
