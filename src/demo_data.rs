//! `consentry demo-data`: fills a data folder with realistic consented traffic for one site.
//!
//! Everything goes through the store calls the HTTP API makes, so the ledger, the consent
//! state, the rollups and anything else derived downstream see it as real traffic: each new
//! visitor's decision is built as the consents endpoint builds it and recorded with
//! `ConsentStore::record` at the visitor's first-visit time; each event passes the real gate
//! against the visitor's stored consent and is appended with `AnalyticsStore::append_events`
//! in global time order. Visitors who refuse analytics send no events, as the page script
//! sends none; events the gate refuses (e.g. a signup, a marketing event, from a visitor who
//! granted only analytics) are counted and left out.
//!
//! The run is deterministic for a seed and an end time (`--seed`, `--end`).

mod catalog;
mod generator;
mod lifecycle;
mod load;
mod people;
mod pick;
mod pilot;
mod rhythm;
#[cfg(test)]
mod tests;
mod visits;
mod world;

use std::path::Path;

use crate::domain::{Action, Clock, DropReason, SystemClock};
use crate::notices::SiteNotices;
use crate::settings::Settings;

/// The longest range: what the query API accepts.
const MAX_DAYS: u32 = 400;

/// The arguments of `consentry demo-data`.
#[derive(Debug, clap::Args)]
pub struct DemoDataArgs {
    /// The site to fill.
    #[arg(long, default_value = "demo")]
    pub site: String,
    /// How many events to append (exactly).
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Over how many days, ending now (UTC).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the generator: the same seed (and end time) gives the same traffic. Random when
    /// left out; the summary prints the one used.
    #[arg(long)]
    pub seed: Option<u64>,
    /// When the range ends, as RFC 3339 (e.g. 2026-11-23T00:00:00Z); now when left out. With
    /// the same seed, the same end gives the same traffic.
    #[arg(long)]
    pub end: Option<String>,
}

/// An RFC 3339 time of milliseconds since the epoch.
fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "?".into())
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn parse_end(raw: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("is not an RFC 3339 time: {e}"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| "is out of range".into())
}

/// The bytes of every file under `dir`.
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Runs `demo-data`; the exit code is 0 on success, 1 on a failure, 2 on bad input.
pub fn run(settings: Settings, args: DemoDataArgs) -> i32 {
    let Some(site) = settings.site(&args.site).cloned() else {
        eprintln!(
            "consentry: there is no site `{}` in the settings",
            args.site
        );
        return 2;
    };
    if args.events == 0 {
        eprintln!("consentry: --events must be at least 1");
        return 2;
    }
    if args.days == 0 || args.days > MAX_DAYS {
        eprintln!("consentry: --days must be between 1 and {MAX_DAYS}");
        return 2;
    }
    let cat = match catalog::Catalog::build(&site) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 2;
        }
    };
    let (store, runtime) = match crate::cli::open_offline(&settings) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    let end = match args.end.as_deref().map(parse_end).transpose() {
        Ok(end) => end.unwrap_or_else(|| SystemClock.now().0),
        Err(e) => {
            eprintln!("consentry: --end {e}");
            return 2;
        }
    };
    let start = end - i64::from(args.days) * rhythm::DAY_MS;
    let seed = args.seed.unwrap_or_else(rand::random);
    let plan = generator::Plan {
        start,
        end,
        target: args.events,
        seed,
    };
    let notices = SiteNotices::build(&site);
    // A geo database built a few days before the range.
    let geo_build = u64::try_from(start / 1000 - 3 * 86_400).ok();
    let shown = people::Shown::new(&notices, geo_build);
    eprintln!(
        "demo-data: {} events for site `{}` ({}) from {} to {}, seed {seed}",
        args.events,
        site.id,
        site.name,
        date(start),
        date(end)
    );
    let outcome = runtime.block_on(load::fill(&*store, &site, &cat, &notices, shown, plan));
    // Closing the store stops its writers, which flush and anchor the ledger.
    drop(store);
    match outcome {
        Ok(report) => {
            print_summary(&report, &settings.data_dir);
            println!("to repeat: --seed {seed} --end {}", date(end));
            0
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

fn print_summary(report: &load::Report, data_dir: &Path) {
    let s = &report.stats;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let share = |n: u64, of: u64| 100.0 * n as f64 / of.max(1) as f64;
    let actions: Vec<String> = Action::ALL
        .iter()
        .zip(s.by_action)
        .filter(|(_, n)| *n > 0)
        .map(|(a, n)| format!("{} {n} ({:.1}%)", a.as_str(), share(n, s.decisions)))
        .collect();
    let gated: Vec<String> = DropReason::ALL
        .iter()
        .zip(s.gated)
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    println!(
        "visitors: {} new in the range, {} from before it returning; {} visits ({} returning)",
        s.new_visitors, s.earlier_visitors, s.visits, s.returning_visits
    );
    println!("decisions: {} — {}", s.decisions, actions.join(", "));
    println!(
        "events appended: {} ({} pageviews, {} custom)",
        s.released,
        s.pageviews,
        s.released - s.pageviews
    );
    println!(
        "gated out: {}{}; not sent by the page script (category not granted): {}",
        s.gated_total(),
        if gated.is_empty() {
            String::new()
        } else {
            format!(" ({})", gated.join(", "))
        },
        s.unsent
    );
    println!(
        "elapsed: {secs:.1} s; {:.0} events/s; {:.0} decisions/s (waited on the ledger {:.1} s)",
        s.released as f64 / secs,
        s.decisions as f64 / secs,
        report.waiting.as_secs_f64()
    );
    if report.retries > 0 {
        println!("event queue full: retried {} batches", report.retries);
    }
    let w = &report.swept;
    println!(
        "retention as of the end: {} events of categories withdrawn over 24 h before it and {} \
         past the site's retention deleted, {} inactive visitors erased",
        w.withdrawn_events_deleted, w.events_deleted, w.visitors_erased
    );
    println!(
        "data folder: {} ({:.1} MB)",
        data_dir.display(),
        folder_size(data_dir) as f64 / 1e6
    );
}
