//! `consentry cookies --site S`: the cookie and tracker report of `GET /detections`, read from
//! the store, as a table and the settings lines that would declare what is undeclared.

use crate::detect::findings::{Finding, declaration, findings};
use crate::domain::SiteId;
use crate::settings::Settings;

const DAY_MS: i64 = 86_400_000;

/// The arguments of `consentry cookies`.
#[derive(Debug, clap::Args)]
pub struct CookiesArgs {
    /// The site whose pages were seen.
    #[arg(long)]
    pub site: String,
    /// How many days back from today (UTC), today included.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub days: u32,
    /// List every cookie and host seen, declared ones included.
    #[arg(long)]
    pub all: bool,
}

fn line(f: &Finding) -> String {
    let category = match (&f.declared, f.suggestion) {
        (Some(d), _) => format!("declared {} ({})", d.category, d.service),
        (None, Some(e)) => format!("suggested {} ({})", e.suggested_category(), e.platform),
        (None, None) => "unknown".into(),
    };
    let flag = if f.violation {
        format!("  FLAGGED: {} page views without consent", f.unconsented)
    } else {
        String::new()
    };
    format!(
        "{:<6} {:<32} {:<44} {:>6} page views  {}{}",
        f.kind.name(),
        f.name,
        category,
        f.reports,
        f.pages.join(" "),
        flag
    )
}

pub fn run(settings: &Settings, args: &CookiesArgs) -> i32 {
    let Some(site) = SiteId::parse(&args.site)
        .ok()
        .and_then(|id| settings.site(id.as_str()).cloned())
    else {
        eprintln!(
            "consentry: there is no site `{}` in the settings",
            args.site
        );
        return 2;
    };
    let today = crate::domain::Clock::now(&crate::domain::SystemClock)
        .millis()
        .div_euclid(DAY_MS);
    let days = today - i64::from(args.days) + 1..today + 1;
    let rows = match crate::cli::open_offline(settings).and_then(|(store, runtime)| {
        runtime.block_on(store.clone().sightings().sightings(site.id.clone(), days))
    }) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    let shown: Vec<Finding> = findings(&site, &rows)
        .into_iter()
        .filter(|f| f.listed(args.all))
        .collect();
    println!(
        "cookies and trackers of site `{}` over the last {} days: {} shown{}",
        site.id,
        args.days,
        shown.len(),
        if site.detect_cookies {
            ""
        } else {
            " (detection is off for this site)"
        }
    );
    for f in &shown {
        println!("{}", line(f));
    }
    let undeclared: Vec<&Finding> = shown.iter().filter(|f| f.declared.is_none()).collect();
    if !undeclared.is_empty() {
        println!("\nTo declare them, add to the settings file (check each suggestion first):\n");
        for f in undeclared {
            println!("{}\n", declaration(&site, f));
        }
    }
    0
}
