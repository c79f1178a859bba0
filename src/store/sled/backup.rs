//! Backups of the sled data folder while the server runs, and restores of them.
//!
//! Layout of a backup folder:
//! - `trees/<name>`: every row of the tree as stored (values sealed when the folder is
//!   encrypted): records of `key length (u32 LE) key value length (u32 LE) value`;
//! - `events/<site>/<day>-<generation>.seg`: the live segment files, as stored;
//! - `keyring`: the wrapped data key, when the folder is encrypted (the key-encryption key is
//!   never in a backup);
//! - `manifest.json`: the format, when it was taken, and each file with its size and SHA-256,
//!   written last, so a backup without one is incomplete.
//!
//! Consistency: the ledger writer is held still (after writing everything queued before) and no
//! segment changes while the trees and segments are copied, so every acknowledged consent is in
//! the copy and the segments match the tree that names them. Events still in the write buffer
//! are copied as they are at that moment.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{TREES, Trees, map_err};
use crate::store::StoreError;
use crate::store::backup::{BackupError, BackupReport, FORMAT};
use crate::store::ledger::Writer;

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    created_at_ms: i64,
    encrypted: bool,
    files: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    path: String,
    bytes: u64,
    sha256: String,
}

fn io(what: &str, e: std::io::Error) -> BackupError {
    BackupError::Store(StoreError::Io(format!("{what}: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A folder that does not exist, or exists empty.
fn is_empty_or_absent(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io(&format!("cannot read {}", dir.display()), e)),
    }
}

/// A file being written into the backup, hashed as it goes.
struct Out {
    file: BufWriter<std::fs::File>,
    hash: Sha256,
    bytes: u64,
    path: String,
}

impl Out {
    fn create(root: &Path, path: &str) -> Result<Out, BackupError> {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("cannot create a backup folder", e))?;
        }
        let file =
            std::fs::File::create(&full).map_err(|e| io("cannot create a backup file", e))?;
        Ok(Out {
            file: BufWriter::new(file),
            hash: Sha256::new(),
            bytes: 0,
            path: path.to_owned(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(|e| io("cannot write a backup file", e))
    }

    fn finish(self) -> Result<FileEntry, BackupError> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| io("cannot write a backup file", e.into_error()))?;
        file.sync_all()
            .map_err(|e| io("cannot sync a backup file", e))?;
        Ok(FileEntry {
            path: self.path,
            bytes: self.bytes,
            sha256: hex(&self.hash.finalize()),
        })
    }
}

fn copy_file(root: &Path, path: &str, from: &Path) -> Result<FileEntry, BackupError> {
    let mut out = Out::create(root, path)?;
    let mut f = std::fs::File::open(from).map_err(|e| io("cannot open a file to back up", e))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| io("cannot read a file to back up", e))?;
        if n == 0 {
            break;
        }
        out.write(&buf[..n])?;
    }
    out.finish()
}

fn len_prefixed(out: &mut Out, bytes: &[u8]) -> Result<(), BackupError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| BackupError::Store(StoreError::Corrupt("a row over 4 GiB".into())))?;
    out.write(&len.to_le_bytes())?;
    out.write(bytes)
}

/// Takes a backup of the store in `dir` into `to` (a new or empty folder).
pub fn backup(
    dir: &Path,
    trees: &Trees,
    writer: &Writer,
    to: &Path,
) -> Result<BackupReport, BackupError> {
    if !is_empty_or_absent(to)? {
        return Err(BackupError::NotEmpty(to.display().to_string()));
    }
    std::fs::create_dir_all(to).map_err(|e| io("cannot create the backup folder", e))?;
    let created_at_ms = crate::domain::Clock::now(&crate::domain::SystemClock).millis();
    let mut files = Vec::new();
    let (mut entries, mut ledger_entries) = (0u64, 0u64);
    let hold = writer.hold_blocking()?;
    let held = Instant::now();
    trees.sealed.frozen(|segments| {
        for (name, tree) in trees.named() {
            let mut out = Out::create(to, &format!("trees/{name}"))
                .map_err(|e| StoreError::Io(e.to_string()))?;
            for item in tree.sealed_bytes().iter() {
                let (k, v) = item.map_err(map_err)?;
                len_prefixed(&mut out, &k).map_err(|e| StoreError::Io(e.to_string()))?;
                len_prefixed(&mut out, &v).map_err(|e| StoreError::Io(e.to_string()))?;
                entries += 1;
                if name == "ledger" {
                    ledger_entries += 1;
                }
            }
            files.push(out.finish().map_err(|e| StoreError::Io(e.to_string()))?);
        }
        for (rel, path) in segments {
            let rel = format!("events/{}", rel.display());
            files.push(copy_file(to, &rel, &path).map_err(|e| StoreError::Io(e.to_string()))?);
        }
        Ok(())
    })?;
    drop(hold);
    let held_ms = u64::try_from(held.elapsed().as_millis()).unwrap_or(u64::MAX);
    let keyring = dir.join("keyring");
    let encrypted = keyring.exists();
    if encrypted {
        files.push(copy_file(to, "keyring", &keyring)?);
    }
    let bytes = files.iter().map(|f| f.bytes).sum();
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at_ms,
        encrypted,
        files,
    };
    let mut out = Out::create(to, "manifest.json")?;
    out.write(&serde_json::to_vec_pretty(&manifest).unwrap_or_default())?;
    out.finish()?;
    std::fs::File::open(to)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync the backup folder", e))?;
    Ok(BackupReport {
        to: to.display().to_string(),
        entries,
        ledger_entries,
        files: manifest.files.len() as u64 + 1,
        bytes,
        encrypted,
        held_ms,
    })
}

fn damaged(why: String) -> BackupError {
    BackupError::Damaged(why)
}

/// Checks every file of a backup against its manifest.
fn check(from: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    for f in &manifest.files {
        if f.path
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        {
            return Err(damaged(format!("the manifest names `{}`", f.path)));
        }
        let mut file = std::fs::File::open(from.join(&f.path))
            .map_err(|_| damaged(format!("{} is missing", f.path)))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| io("cannot read the backup", e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            bytes += n as u64;
        }
        if bytes != f.bytes || hex(&hash.finalize()) != f.sha256 {
            return Err(damaged(format!(
                "{} differs from the manifest (its size or SHA-256)",
                f.path
            )));
        }
    }
    Ok(())
}

/// The rows of a tree file.
fn rows(bytes: &[u8]) -> impl Iterator<Item = Result<(&[u8], &[u8]), BackupError>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let mut field = || -> Option<&[u8]> {
            let len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
            let out = bytes.get(at + 4..at + 4 + len)?;
            at += 4 + len;
            Some(out)
        };
        let row = field().zip(field());
        if row.is_none() {
            at = bytes.len();
        }
        Some(row.ok_or_else(|| damaged("a tree file ends inside a row".into())))
    })
}

/// Restores the backup in `from` into the empty data folder `data_dir`.
pub fn restore(from: &Path, data_dir: &Path) -> Result<BackupReport, BackupError> {
    let text = std::fs::read(from.join("manifest.json"))
        .map_err(|_| damaged("manifest.json is missing (an incomplete backup)".into()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .ok()
        .filter(|m: &Manifest| m.format == FORMAT)
        .ok_or_else(|| damaged("manifest.json is not a Consentry backup manifest".into()))?;
    if !is_empty_or_absent(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.display().to_string()));
    }
    check(from, &manifest)?;
    std::fs::create_dir_all(data_dir).map_err(|e| io("cannot create the data folder", e))?;
    let db = sled::Config::new()
        .path(data_dir.join("sled"))
        .open()
        .map_err(map_err)?;
    let (mut entries, mut ledger_entries) = (0u64, 0u64);
    for name in TREES {
        let path = format!("trees/{name}");
        if !manifest.files.iter().any(|f| f.path == path) {
            continue;
        }
        let bytes = std::fs::read(from.join(&path)).map_err(|e| io("cannot read the backup", e))?;
        let tree = db.open_tree(name).map_err(map_err)?;
        let mut batch = sled::Batch::default();
        for row in rows(&bytes) {
            let (k, v) = row?;
            batch.insert(k, v);
            entries += 1;
            if name == "ledger" {
                ledger_entries += 1;
            }
        }
        tree.apply_batch(batch).map_err(map_err)?;
    }
    db.flush().map_err(map_err)?;
    drop(db);
    for f in &manifest.files {
        if f.path.starts_with("events/") || f.path == "keyring" {
            let target: PathBuf = data_dir.join(&f.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("cannot create a folder", e))?;
            }
            std::fs::copy(from.join(&f.path), &target).map_err(|e| io("cannot copy a file", e))?;
        }
    }
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync the data folder", e))?;
    Ok(BackupReport {
        to: data_dir.display().to_string(),
        entries,
        ledger_entries,
        files: manifest.files.len() as u64,
        bytes: manifest.files.iter().map(|f| f.bytes).sum(),
        encrypted: manifest.encrypted,
        held_ms: 0,
    })
}
