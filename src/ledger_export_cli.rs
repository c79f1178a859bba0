//! `consentry ledger export` and `consentry ledger verify --file`: the audit export of
//! `ledger_export`, read from the store and written to a file or stdout, and checked offline.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::{EntryHash, SiteId};
use crate::ledger_export::{self, Days};
use crate::settings::Settings;

const DAY_MS: i64 = 86_400_000;

/// The arguments of `consentry ledger export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The site whose decisions are exported.
    #[arg(long)]
    pub site: String,
    /// The first day (YYYY-MM-DD, UTC); the ledger's first entry when left out.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day (YYYY-MM-DD, UTC), included; today when left out.
    #[arg(long)]
    pub to: Option<String>,
    /// `jsonl` (the verifiable export, with the documents) or `csv` (a table of the decisions).
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
    pub format: String,
    /// Where to write it; standard output when left out.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Milliseconds at the start of a `YYYY-MM-DD` day, UTC.
fn day_start(raw: &str) -> Result<i64, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(raw, &format).map_err(|_| format!("`{raw}` is not YYYY-MM-DD"))?;
    Ok(day.midnight().assume_utc().unix_timestamp() * 1000)
}

fn days(args: &ExportArgs, now_ms: i64) -> Result<Days, String> {
    let from_ms = args
        .from
        .as_deref()
        .map(day_start)
        .transpose()?
        .unwrap_or(0);
    let until_ms = match args.to.as_deref() {
        Some(to) => day_start(to)? + DAY_MS,
        None => now_ms - now_ms.rem_euclid(DAY_MS) + DAY_MS,
    };
    if until_ms <= from_ms {
        return Err("--to is before --from".into());
    }
    Ok(Days { from_ms, until_ms })
}

pub fn export(settings: &Settings, args: &ExportArgs) -> i32 {
    let Ok(site) = SiteId::parse(&args.site) else {
        eprintln!("consentry: `{}` is not a site id", args.site);
        return 2;
    };
    if settings.site(site.as_str()).is_none() {
        eprintln!("consentry: there is no site `{site}` in the settings");
        return 2;
    }
    let now = crate::domain::Clock::now(&crate::domain::SystemClock).millis();
    let days = match days(args, now) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 2;
        }
    };
    match write(settings, &site, days, args) {
        Ok(summary) => {
            eprintln!("{summary}");
            0
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

fn write(
    settings: &Settings,
    site: &SiteId,
    days: Days,
    args: &ExportArgs,
) -> Result<String, String> {
    let (store, runtime) = crate::cli::open_offline(settings).map_err(|e| e.to_string())?;
    let chain = store.ledger_chain(site).map_err(|e| e.to_string())?;
    let rows = ledger_export::stretch(&chain, site, days);
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let failed = |e: std::io::Error| format!("cannot write the export: {e}");
    if args.format == "csv" {
        out.write_all(ledger_export::csv(site, rows).as_bytes())
            .map_err(failed)?;
    } else {
        let mut documents = Vec::new();
        for hash in ledger_export::named_documents(rows, site) {
            let Some(parsed) = EntryHash::parse_hex(&hash) else {
                continue;
            };
            let found = runtime
                .block_on(store.notice(parsed))
                .map_err(|e| e.to_string())?;
            match found {
                Some(document) => documents.push((hash, document)),
                None => return Err(format!("document {hash} is not archived")),
            }
        }
        for line in ledger_export::lines(site, days, rows, &documents) {
            serde_json::to_writer(&mut out, &line).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(failed)?;
        }
    }
    out.flush().map_err(failed)?;
    Ok(format!(
        "ledger export: site `{site}`, {} entries (seq {}–{})",
        rows.len(),
        rows.first().map(|r| r.0).unwrap_or(0),
        rows.last().map(|r| r.0).unwrap_or(0)
    ))
}

/// `consentry ledger verify --file F`: 0 when the export holds together, 1 when not.
pub fn verify_file(path: &Path) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("consentry: cannot read {}: {e}", path.display());
            return 1;
        }
    };
    match ledger_export::verify(&text) {
        Ok(v) => {
            println!(
                "export ok: site `{}`, {} entries verified ({} with their payload), {} documents match their hashes; last entry {}",
                v.site,
                v.entries,
                v.with_payload,
                v.documents,
                v.last_hash.as_deref().unwrap_or("(none)")
            );
            0
        }
        Err(fault) => {
            println!("export BROKEN: {fault}");
            1
        }
    }
}
