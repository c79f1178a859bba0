//! `consentry ledger export` and `consentry ledger verify --file`: the audit export of
//! `ledger_export`, read from the store and written to a file or stdout, and checked offline.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::SiteId;
use crate::ledger_export::{self, Days, DaysError, Format};
use crate::ledger_export_stream;
use crate::settings::Settings;

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

/// The range the arguments name (`ledger_export::Days::parse`), or what is wrong with it.
fn days(args: &ExportArgs, now_ms: i64) -> Result<Days, String> {
    Days::parse(args.from.as_deref(), args.to.as_deref(), now_ms).map_err(|e| match e {
        DaysError::NotADay { param, raw } => format!("--{param}: `{raw}` is not YYYY-MM-DD"),
        DaysError::ToBeforeFrom => "--to is before --from".into(),
    })
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

/// Writes the export as `ledger_export_stream` makes it, a page of the chain at a time.
fn write(
    settings: &Settings,
    site: &SiteId,
    days: Days,
    args: &ExportArgs,
) -> Result<String, String> {
    let format = Format::parse(&args.format).ok_or("--format is jsonl or csv")?;
    let (store, runtime) = crate::cli::open_offline(settings).map_err(|e| e.to_string())?;
    let consents = store.consents();
    let mut export = runtime
        .block_on(ledger_export_stream::prepare(
            consents,
            site.clone(),
            days,
            format,
            ledger_export::PAGE_ROWS,
        ))
        .map_err(|e| e.to_string())?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let failed = |e: std::io::Error| format!("cannot write the export: {e}");
    let written = (|| {
        while let Some(chunk) = runtime
            .block_on(export.next_chunk())
            .map_err(|e| e.to_string())?
        {
            out.write_all(&chunk).map_err(failed)?;
        }
        out.flush().map_err(failed)
    })();
    if let Err(e) = written {
        // A file cut short part-way is not left behind looking like an export.
        drop(out);
        if let Some(path) = &args.out {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let stretch = export.stretch();
    let (first, last) = (
        stretch.first_seq.unwrap_or(0),
        stretch.last_seq.unwrap_or(0),
    );
    // The stretch is contiguous: the chain's sequence numbers follow each other.
    let entries = match stretch.first_seq {
        Some(_) => last - first + 1,
        None => 0,
    };
    Ok(format!(
        "ledger export: site `{site}`, {entries} entries (seq {first}–{last})"
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
