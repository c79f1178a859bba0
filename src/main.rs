use clap::Parser;

fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,consentry::access=warn"),
    )
    .init();
    let cli = consentry::cli::Cli::parse();
    std::process::exit(consentry::cli::run(cli));
}
