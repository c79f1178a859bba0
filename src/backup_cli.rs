//! `consentry backup --to DIR` and `consentry restore --from DIR`: a backup of the data folder
//! taken from the folder itself when no server holds it, else through the running server's
//! administration API (it copies while it serves); a restore into an empty data folder.

use std::path::Path;
use std::time::Duration;

use crate::admin_client::AdminClient;
use crate::settings::Settings;
use crate::store::StoreError;
use crate::store::backup::BackupReport;

/// How long a backup through the server may take before the command stops waiting.
const THROUGH_SERVER: Duration = Duration::from_secs(3600);

fn print(report: &BackupReport, what: &str) {
    println!(
        "{what}: {} rows ({} ledger entries), {} files, {} bytes, {}{}",
        report.entries,
        report.ledger_entries,
        report.files,
        report.bytes,
        if report.encrypted {
            "encrypted (restore it with the same key file)"
        } else {
            "NOT encrypted"
        },
        if report.held_ms > 0 {
            format!("; consent writes waited {} ms", report.held_ms)
        } else {
            String::new()
        }
    );
    println!("in {}", report.to);
}

/// `consentry backup --to DIR`.
pub fn backup(settings: &Settings, to: &Path, server: Option<String>) -> i32 {
    let to = match std::path::absolute(to) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("consentry: {}: {e}", to.display());
            return 2;
        }
    };
    match crate::cli::open_offline(settings) {
        Ok((store, _runtime)) => match store.backup(&to) {
            Ok(report) => {
                print(&report, "backup");
                0
            }
            Err(e) => {
                eprintln!("consentry: {e}");
                1
            }
        },
        Err(StoreError::Locked) => through_server(settings, &to, server),
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

fn through_server(settings: &Settings, to: &Path, server: Option<String>) -> i32 {
    let token = match std::env::var("CONSENTRY_ADMIN_TOKEN") {
        Ok(t) if !t.is_empty() => t,
        _ => {
            eprintln!(
                "consentry: the data folder is held by a running server; set \
                 CONSENTRY_ADMIN_TOKEN to an operator token and the backup is taken by the \
                 server, while it serves"
            );
            return 1;
        }
    };
    let client = match server {
        Some(url) => AdminClient::new(&url, token),
        None => Ok(AdminClient::for_listen(settings.listen, token)),
    };
    let client = match client {
        Ok(c) => c.waiting(THROUGH_SERVER),
        Err(e) => {
            eprintln!("consentry: {e}");
            return 2;
        }
    };
    let body = serde_json::json!({"to": to.display().to_string()});
    match client.call("POST", "/backup", Some(&body)) {
        Ok(answer) if answer.status == 201 => {
            match serde_json::from_value::<BackupJson>(answer.body) {
                Ok(r) => {
                    print(&r.into(), "backup (taken by the running server)");
                    0
                }
                Err(_) => {
                    println!("backup taken by the running server in {}", to.display());
                    0
                }
            }
        }
        Ok(answer) => {
            eprintln!("consentry: {}", answer.message());
            1
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}

/// The administration API's answer.
#[derive(serde::Deserialize)]
struct BackupJson {
    to: String,
    entries: u64,
    ledger_entries: u64,
    files: u64,
    bytes: u64,
    encrypted: bool,
    held_ms: u64,
}

impl From<BackupJson> for BackupReport {
    fn from(j: BackupJson) -> BackupReport {
        BackupReport {
            to: j.to,
            entries: j.entries,
            ledger_entries: j.ledger_entries,
            files: j.files,
            bytes: j.bytes,
            encrypted: j.encrypted,
            held_ms: j.held_ms,
        }
    }
}

/// `consentry restore --from DIR`.
pub fn restore(settings: &Settings, from: &Path) -> i32 {
    match crate::store::restore(from, settings) {
        Ok(report) => {
            print(&report, "restored");
            println!(
                "check it with `consentry ledger verify --data-dir {}`{}",
                settings.data_dir.display(),
                if report.encrypted {
                    " and the key file the backup's folder used"
                } else {
                    ""
                }
            );
            0
        }
        Err(e) => {
            eprintln!("consentry: {e}");
            1
        }
    }
}
