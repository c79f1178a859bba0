//! The command line: `serve` (the default), `ledger verify`, `store check`, `visitor`, `keys`,
//! `admin-token` and `demo-data`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::settings::{Overrides, Settings, SettingsError, SettingsSource};
use crate::startup::Application;
use crate::store::StoreError;
use crate::telemetry::Metrics;

#[derive(Debug, Parser)]
#[command(
    name = "consentry",
    version,
    about = "Self-hosted cookie consent and privacy-first analytics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub common: Common,
}

/// Settings every command reads. Each flag overrides its `CONSENTRY_*` variable, which
/// overrides the configuration file.
#[derive(Debug, Args, Clone, Default)]
pub struct Common {
    /// A TOML configuration file.
    #[arg(long, env = "CONSENTRY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, env = "CONSENTRY_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Folder for the database.
    #[arg(long, env = "CONSENTRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A MaxMind DB (Country or City) to locate visitors.
    #[arg(long, env = "CONSENTRY_GEOIP", global = true)]
    pub geoip: Option<PathBuf>,
    /// Comma-separated CIDRs of proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "CONSENTRY_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// The SHA-256 (64 hex digits) of an operator token for the administration API.
    #[arg(long, env = "CONSENTRY_ADMIN_TOKEN_SHA256", global = true)]
    pub admin_token_sha256: Option<String>,
    /// A PostgreSQL database shared by every node, e.g. postgres://consentry@db:5432/consentry
    /// (prefer the variable: a flag's password is visible to other users of the machine).
    #[arg(
        long,
        env = "CONSENTRY_POSTGRES_URL",
        global = true,
        hide_env_values = true
    )]
    pub postgres_url: Option<String>,
    /// ClickHouse's HTTP interface when analytics events live there, e.g.
    /// http://consentry:password@clickhouse:8123 (needs the PostgreSQL database too).
    #[arg(
        long,
        env = "CONSENTRY_CLICKHOUSE_URL",
        global = true,
        hide_env_values = true
    )]
    pub clickhouse_url: Option<String>,
    /// A file holding the data folder's key-encryption key: 32 random bytes, raw or as 64 hex
    /// digits, kept outside the data folder.
    #[arg(long, env = "CONSENTRY_ENCRYPTION_KEY_FILE", global = true)]
    pub encryption_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Work with the consent ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// A visitor's rights, for an operator (the server must be stopped).
    Visitor {
        #[command(subcommand)]
        command: VisitorCommand,
    },
    /// A consistent backup of the data folder into a new folder, taken while the server runs
    /// (through its administration API, with CONSENTRY_ADMIN_TOKEN, when it holds the folder).
    Backup {
        /// The new (or empty) folder to write the backup to.
        #[arg(long)]
        to: PathBuf,
        /// The running server, e.g. http://127.0.0.1:8080 (default: the `listen` setting).
        #[arg(long, env = "CONSENTRY_SERVER")]
        server: Option<String>,
    },
    /// Restore a backup into an empty data folder (no server running on it).
    Restore {
        /// A folder written by `consentry backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// The data folder's encryption at rest.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// Check the stored data (the server must be stopped).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Marketer API keys: through the data folder, or through the running server's
    /// administration API when it holds the folder (set CONSENTRY_ADMIN_TOKEN).
    Keys {
        /// The running server, e.g. http://127.0.0.1:8080 (default: the `listen` setting).
        #[arg(long, env = "CONSENTRY_SERVER")]
        server: Option<String>,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Operator tokens for the administration API (the server must be stopped).
    AdminToken {
        #[command(subcommand)]
        command: AdminTokenCommand,
    },
    /// Fill the data folder with realistic consented traffic (the server must be stopped).
    DemoData(crate::demo_data::DemoDataArgs),
    /// The cookies and third-party hosts the banner saw on a site's pages that the site did
    /// not declare, with suggested categories and the settings lines to declare them (with the
    /// data folder, the server must be stopped).
    Cookies(crate::detect_cli::CookiesArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for one site and print it once; only its hash is stored.
    Create {
        #[arg(long)]
        site: String,
        /// A name to tell keys apart, e.g. who holds it.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until the key stops working (none: until revoked).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a site's keys: id, label, created, expiry, revoked (never the key).
    List {
        #[arg(long)]
        site: String,
    },
    /// Revoke a key by its id; it stops working on the next request.
    Revoke {
        #[arg(long)]
        site: String,
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create an operator token and print it once; only its hash is stored.
    Create,
    /// List the stored operator tokens: id (the token's SHA-256) and creation time.
    List,
    /// Revoke a stored operator token by its id (or its first 8 or more hex digits).
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum VisitorCommand {
    /// Print everything held under a consent id, as JSON.
    Export {
        #[arg(long)]
        site: String,
        consent_id: String,
    },
    /// Erase everything held under a consent id; a tombstone stays in the ledger.
    Erase {
        #[arg(long)]
        site: String,
        consent_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Re-wrap the data folder's data key with a new key-encryption key (the current one is
    /// `encryption_key_file`). Only the folder's keyring changes, so it is quick and safe while
    /// the server runs; give the server the new key file before its next start.
    RotateKey {
        /// The new key file: 32 random bytes, raw or as 64 hex digits.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check what the ledger's chain does not cover: no visitor number shared, every event
    /// allowed by a decision of its visitor, nothing held under an erased id.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check the hash chain of the consent ledger and report the first broken entry; with
    /// `--file`, check an audit export offline instead.
    Verify {
        /// An export written by `ledger export` (JSON Lines).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// The audit export: a site's decisions over a range of days with the documents they name,
    /// verifiable offline (`ledger verify --file`).
    Export(crate::ledger_export_cli::ExportArgs),
}

impl Common {
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        Settings::from_source(SettingsSource {
            file: self.config.clone(),
            overrides: Overrides {
                listen: self.listen.clone(),
                data_dir: self.data_dir.clone(),
                geoip: self.geoip.clone(),
                trusted_proxies: self.trusted_proxies.clone(),
                admin_token_sha256: self.admin_token_sha256.clone(),
                postgres_url: self.postgres_url.clone(),
                clickhouse_url: self.clickhouse_url.clone(),
                encryption_key_file: self.encryption_key_file.clone(),
            },
        })
    }
}

/// Runs the parsed command; the exit code is 0 on success, 1 on a failure, 2 on bad settings.
pub fn run(cli: Cli) -> i32 {
    let settings = match cli.common.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 2;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Ledger {
            command: LedgerCommand::Verify { file: None },
        } => verify(settings),
        Command::Ledger {
            command: LedgerCommand::Verify { file: Some(file) },
        } => crate::ledger_export_cli::verify_file(&file),
        Command::Ledger {
            command: LedgerCommand::Export(args),
        } => crate::ledger_export_cli::export(&settings, &args),
        Command::Visitor { command } => visitor(settings, command),
        Command::Store {
            command: StoreCommand::Check,
        } => check_store(settings),
        Command::Storage {
            command: StorageCommand::RotateKey { new_key_file },
        } => rotate_key(&settings, &new_key_file),
        Command::Backup { to, server } => crate::backup_cli::backup(&settings, &to, server),
        Command::Restore { from } => crate::backup_cli::restore(&settings, &from),
        Command::Keys { server, command } => crate::keys_cli::run(settings, command, server),
        Command::AdminToken { command } => crate::keys_cli::admin_token(&settings, command),
        Command::DemoData(args) => crate::demo_data::run(settings, args),
        Command::Cookies(args) => crate::detect_cli::run(&settings, &args),
    }
}

fn serve(settings: Settings) -> i32 {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app = match Application::build(settings.clone()).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("consentry: {e}");
                return 1;
            }
        };
        let host = settings.listen.ip();
        println!("consentry: listening on http://{host}:{}", app.port());
        println!("consentry: data in {}", settings.data_dir.display());
        match app.run_until_stopped().await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("consentry: the server stopped with an error: {e}");
                1
            }
        }
    })
}

fn rotate_key(settings: &Settings, new_key_file: &std::path::Path) -> i32 {
    use crate::store::vault;
    let Some(old) = &settings.encryption_key else {
        eprintln!(
            "consentry: set `encryption_key_file` (or CONSENTRY_ENCRYPTION_KEY_FILE) to the key \
             the data folder is encrypted with now"
        );
        return 2;
    };
    let new = match vault::KeyEncryptionKey::read(new_key_file) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 2;
        }
    };
    match vault::rotate(&settings.data_dir, old, &new) {
        Ok(()) => {
            println!(
                "consentry: the data key of {} is now wrapped by the key in {} (fingerprint {}); \
                 the old key file no longer opens it: set encryption_key_file to the new one",
                settings.data_dir.display(),
                new.path().display(),
                new.fingerprint()
            );
            0
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

fn verify(settings: Settings) -> i32 {
    let store = match crate::store::open(&settings, Arc::new(Metrics::default())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    match store.verify_ledger() {
        Ok(chains) if chains.is_empty() => {
            println!("ledger ok: 0 entries verified; head (empty)");
            0
        }
        Ok(chains) => {
            let mut sound = true;
            for (chain, report) in chains {
                sound &= print_chain(chain.as_ref(), &report);
            }
            if sound { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

/// One chain's line: the embedded store's one chain, or a site's in PostgreSQL. Whether it is
/// sound.
fn print_chain(site: Option<&crate::domain::SiteId>, report: &crate::store::LedgerReport) -> bool {
    let name = match site {
        None => "ledger".to_owned(),
        Some(site) => format!("ledger of site `{site}`"),
    };
    match &report.fault {
        None => {
            let head = report
                .head
                .map(|h| h.hex())
                .unwrap_or_else(|| "(empty)".into());
            println!(
                "{name} ok: {} entries verified; head {head}",
                report.entries
            );
            true
        }
        Some(fault) => {
            println!("{name} BROKEN: {fault}");
            false
        }
    }
}

fn check_store(settings: Settings) -> i32 {
    let report = match open_offline(&settings).map(|(store, _)| store.check_integrity()) {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("consentry: {e}");
            return 1;
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    let counts = format!(
        "{} visitors, {} events, {} erased subjects",
        report.visitors, report.events, report.tombstones
    );
    if report.faults.is_empty() {
        println!("store ok: {counts}; no fault");
        return 0;
    }
    println!("store BROKEN: {counts}; {} faults:", report.faults.len());
    for f in &report.faults {
        println!("- {f}");
    }
    1
}

fn visitor(settings: Settings, command: VisitorCommand) -> i32 {
    let (site, raw_id) = match &command {
        VisitorCommand::Export { site, consent_id }
        | VisitorCommand::Erase { site, consent_id } => (site.clone(), consent_id.clone()),
    };
    let Some(site) = settings.site(&site).map(|s| s.id.clone()) else {
        eprintln!("consentry: there is no site `{site}` in the settings");
        return 2;
    };
    let Ok(id) = crate::domain::ConsentId::parse(&raw_id) else {
        eprintln!("consentry: `{raw_id}` is not a consent id");
        return 2;
    };
    let (store, runtime) = match open_offline(&settings) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("consentry: {e}");
            return 1;
        }
    };
    let now = crate::domain::Clock::now(&crate::domain::SystemClock);
    runtime.block_on(async {
        match command {
            VisitorCommand::Export { .. } => {
                let (consents, analytics) = (store.clone().consents(), store.clone().analytics());
                match crate::http::rights::export_document(&*consents, &*analytics, &site, &id, now)
                    .await
                {
                    Ok(Some(doc)) => {
                        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                        0
                    }
                    Ok(None) => {
                        eprintln!("consentry: nothing is held under this consent id");
                        1
                    }
                    Err(e) => {
                        eprintln!("consentry: {e}");
                        1
                    }
                }
            }
            VisitorCommand::Erase { .. } => match store.erase(site, id, now, "cli").await {
                Ok(Some(r)) => {
                    println!(
                        "erased: {} ledger entries redacted, {} events deleted; tombstone {}",
                        r.entries_redacted,
                        r.events_deleted,
                        r.tombstone.hex()
                    );
                    0
                }
                Ok(None) => {
                    eprintln!("consentry: nothing is held under this consent id");
                    1
                }
                Err(e) => {
                    eprintln!("consentry: {e}");
                    1
                }
            },
        }
    })
}

/// Opens the data folder for a command run while the server is stopped, with a runtime to
/// drive the store's futures.
pub fn open_offline(
    settings: &Settings,
) -> Result<(Arc<dyn crate::store::Store>, tokio::runtime::Runtime), StoreError> {
    let store = crate::store::open(settings, Arc::new(Metrics::default()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Io(format!("cannot start a runtime: {e}")))?;
    Ok((store, runtime))
}
