//! Durable consent decisions per second through the ledger writer, for `bench/ledger-writes.sh`.
//!
//! `ledger_bench sled DATA_DIR SECONDS IN_FLIGHT`: the data folder's store (`ConsentStore::record`:
//! the ledger writer over sled, fsync on).
//! `ledger_bench postgres URL SECONDS IN_FLIGHT WRITERS`: `WRITERS` ledger writers over one
//! PostgreSQL database, as that many nodes, each with `IN_FLIGHT` decisions waiting at any time,
//! for two sites.
//!
//! Prints decisions acknowledged per second, p50 and p99 of the time to acknowledgement, and a
//! `RESULT` line. Below HTTP: it measures the store, not the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use consentry::domain::{
    Action, CategoryId, Channel, Choices, ConsentId, ConsentRecord, Decision, PolicyVersion,
    Regime, SiteId, Timestamp,
};
use consentry::store::StoreError;

fn decision(n: u64, site: &SiteId) -> Decision {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    Decision {
        site: site.clone(),
        consent_id: ConsentId::from_random(bytes),
        action: Action::AcceptAll,
        choices: Choices::from_map([(CategoryId::parse("analytics").expect("an id"), true)].into()),
        policy_version: PolicyVersion::parse("2026-11-01").expect("a version"),
        policy_hash: "00".repeat(32),
        banner_hash: "00".repeat(32),
        variant: None,
        language: "en".into(),
        regime: Regime::OptIn,
        jurisdiction: "EEA".into(),
        country: Some("DE".into()),
        geo_build: None,
        gpc: false,
        url: Some("https://shop.example/".into()),
        channel: Channel::SiteOrigin,
        recorded_at: Timestamp(1_790_000_000_000),
        expires_at: Timestamp(1_800_000_000_000),
    }
}

type Submit = Arc<
    dyn Fn(Decision) -> std::pin::Pin<Box<dyn Future<Output = Result<ConsentRecord, StoreError>>>>
        + Send
        + Sync,
>;

/// Keeps `in_flight` decisions waiting on `submit` for `seconds`; the latencies.
fn load(submit: Submit, seconds: u64, in_flight: usize, offset: u64) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let sites = [
        SiteId::parse("demo").expect("a site"),
        SiteId::parse("shop").expect("a site"),
    ];
    rt.block_on(async {
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut latencies = Vec::new();
        let mut n = offset;
        let mut pending = futures_util::stream::FuturesUnordered::new();
        use futures_util::StreamExt;
        loop {
            while pending.len() < in_flight && Instant::now() < end {
                let d = decision(n, &sites[(n % 2) as usize]);
                n += 1;
                let started = Instant::now();
                let fut = submit(d);
                pending.push(async move { (fut.await, started.elapsed()) });
            }
            match pending.next().await {
                Some((Ok(_), took)) => latencies.push(took),
                Some((Err(e), _)) => panic!("a decision failed: {e}"),
                None => break,
            }
        }
        latencies
    })
}

fn report(label: &str, seconds: u64, mut latencies: Vec<Duration>) {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rate = latencies.len() as f64 / seconds as f64;
    println!(
        "{label:<32} {rate:>9.0}/s   p50 {:>6.1} ms   p99 {:>6.1} ms",
        pct(0.5),
        pct(0.99)
    );
    println!(
        "RESULT {label} rate={rate:.0} p50_ms={:.1} p99_ms={:.1}",
        pct(0.5),
        pct(0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let seconds: u64 = arg(3).parse().unwrap_or(10);
    let in_flight: usize = arg(4).parse().unwrap_or(256);
    match arg(1).as_str() {
        "sled" => {
            let mut settings =
                consentry::settings::Settings::demo(std::path::PathBuf::from(arg(2)));
            settings.cache_capacity_mb = 64;
            let store = consentry::store::open(
                &settings,
                Arc::new(consentry::telemetry::Metrics::default()),
            )
            .expect("the data folder opens")
            .consents();
            let submit: Submit = Arc::new(move |d| store.record(d, false));
            report("sled", seconds, load(submit, seconds, in_flight, 0));
        }
        "postgres" => {
            let writers: usize = arg(5).parse().unwrap_or(1);
            let url = arg(2);
            let latencies: Vec<Duration> = std::thread::scope(|s| {
                let nodes: Vec<_> = (0..writers)
                    .map(|w| {
                        let url = url.clone();
                        s.spawn(move || {
                            let sink =
                                consentry::store::postgres::ledger_sink::PgLedger::open(&url)
                                    .expect("PostgreSQL answers");
                            let writer = Arc::new(
                                consentry::store::ledger::Writer::start(
                                    Box::new(sink),
                                    Arc::new(consentry::telemetry::Metrics::default()),
                                    std::path::PathBuf::from(format!("bench-{w}")),
                                )
                                .expect("the writer starts"),
                            );
                            let submit: Submit =
                                Arc::new(move |d| Box::pin(writer.submit_decision(d, false)));
                            load(submit, seconds, in_flight, (w as u64) << 40)
                        })
                    })
                    .collect();
                nodes
                    .into_iter()
                    .flat_map(|n| n.join().expect("a node ran"))
                    .collect()
            });
            let acknowledged = latencies.len() as u64;
            report(
                &format!("postgres, {writers} writer(s)"),
                seconds,
                latencies,
            );
            // Every acknowledged decision is in its site's chain once, and each chain verifies.
            let conn = consentry::store::postgres::BlockingClient::connect(&url)
                .expect("PostgreSQL answers");
            let chains = consentry::store::postgres::ledger_sink::verify(&conn)
                .expect("the chains are read");
            let entries: u64 = chains.iter().map(|(_, r)| r.entries).sum();
            let sound = chains.iter().all(|(_, r)| r.fault.is_none());
            println!(
                "  chains: {} ({entries} entries for {acknowledged} acknowledged), {}",
                chains
                    .iter()
                    .map(|(site, r)| format!("{site} {}", r.entries))
                    .collect::<Vec<_>>()
                    .join(", "),
                if sound {
                    "every chain verifies"
                } else {
                    "A CHAIN IS BROKEN"
                }
            );
            if !sound || entries != acknowledged {
                std::process::exit(1);
            }
        }
        other => {
            eprintln!(
                "usage: ledger_bench sled DIR SECONDS IN_FLIGHT | postgres URL SECONDS IN_FLIGHT WRITERS (got `{other}`)"
            );
            std::process::exit(2);
        }
    }
}
