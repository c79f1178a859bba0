//! `consentry demo-data`: fills a data folder with realistic consented traffic.

use crate::settings::Settings;

/// The arguments of `consentry demo-data`.
#[derive(Debug, clap::Args)]
pub struct DemoDataArgs {
    /// The site to fill.
    #[arg(long, default_value = "demo")]
    pub site: String,
    /// How many events to generate.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Over how many days, ending now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
}

pub fn run(_settings: Settings, _args: DemoDataArgs) -> i32 {
    eprintln!("consentry: demo-data is being written");
    1
}
