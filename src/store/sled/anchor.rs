//! The ledger's anchor: a small file beside the database naming the last entry known durable.
//!
//! sled can open a damaged database as if it were empty or older than it was. The anchor
//! catches that: it is written (atomically, by rename) after group commits at most once a
//! second and at shutdown, always naming an entry that was already flushed. At start-up the
//! ledger must still hold that entry with that hash, else the store refuses to open.

use std::path::{Path, PathBuf};

use crate::domain::EntryHash;
use crate::store::StoreError;

/// The last durable entry, as of the anchor's writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: EntryHash,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("ledger.anchor")
}

pub fn read(data_dir: &Path) -> Result<Option<Anchor>, StoreError> {
    let text = match std::fs::read_to_string(path(data_dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Io(format!(
                "cannot read the ledger anchor: {e}"
            )));
        }
    };
    let bad = || StoreError::Corrupt("the ledger anchor file cannot be read".into());
    let (seq, hash) = text.trim().split_once(' ').ok_or_else(bad)?;
    Ok(Some(Anchor {
        seq: seq.parse().map_err(|_| bad())?,
        hash: EntryHash::parse_hex(hash).ok_or_else(bad)?,
    }))
}

pub fn write(data_dir: &Path, anchor: Anchor) -> Result<(), StoreError> {
    let tmp = data_dir.join("ledger.anchor.tmp");
    let body = format!("{} {}\n", anchor.seq, anchor.hash.hex());
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path(data_dir)))
        .map_err(|e| StoreError::Io(format!("cannot write the ledger anchor: {e}")))
}
