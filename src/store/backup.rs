//! Backups of the data folder, taken while the server runs, and their restore into an empty
//! folder: what a backup reports and why one can fail, whatever the backend.
//!
//! A backup holds every tree's stored bytes (values as stored: sealed when the folder is
//! encrypted, so the backup is too, and its key is not in it), the live segment files and the
//! keyring, each named with its SHA-256 in `manifest.json`. Every consent acknowledged before
//! the backup began is in it: the ledger writer is held still while the trees are copied, after
//! writing everything queued before the backup.

use serde::Serialize;

use super::StoreError;

/// The manifest's format name.
pub const FORMAT: &str = "consentry-backup-1";

/// What a backup wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// Where it is.
    pub to: String,
    /// Rows copied, over every tree.
    pub entries: u64,
    /// Ledger entries among them.
    pub ledger_entries: u64,
    /// Files written, the manifest included.
    pub files: u64,
    pub bytes: u64,
    pub encrypted: bool,
    /// How long the ledger writer was held still (consent writes waited), in milliseconds.
    pub held_ms: u64,
}

/// Why a backup or a restore did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackupError {
    /// The target of a backup, or the data folder of a restore, already holds files.
    #[error("{0} is not empty: a backup goes to a new folder, a restore into an empty data folder")]
    NotEmpty(String),
    /// The backend keeps its data elsewhere (PostgreSQL: use its own backups).
    #[error("{0}")]
    Unavailable(String),
    /// A backup's file is missing or differs from its manifest.
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
