//! Encryption at rest for the data folder: a data key, wrapped by a key-encryption key that
//! lives outside the folder, and the authenticated cipher every stored value goes through.
//!
//! - The key-encryption key (KEK) is 32 random bytes in the file `encryption_key_file` names
//!   (raw, or 64 hex digits). It is never written to the data folder.
//! - The data key is 32 random bytes made when an encrypted folder is created, kept in the
//!   folder's `keyring` file wrapped (ChaCha20-Poly1305) by the KEK. Rotating the KEK re-wraps
//!   the data key and rewrites nothing else.
//! - A stored value is `0xE1 nonce(12) ciphertext tag(16)`, ChaCha20-Poly1305 under the data key
//!   with a random nonce, bound to where it is stored (its tree and key, or its file) as
//!   associated data: a value moved to another key does not open.
//!
//! Invariants, written as absences: no plaintext of a value reaches the folder when a key is
//! configured; no KEK byte is written anywhere; a value that does not open is an error, never
//! bytes handed on.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use super::StoreError;

/// The first byte of a sealed value.
const SEALED: u8 = 0xE1;
const NONCE: usize = 12;
/// What sealing adds to a value: the marker, the nonce and the tag.
pub const OVERHEAD: usize = 1 + NONCE + 16;
const KEYRING: &str = "keyring";
const KEYRING_FORMAT: &str = "consentry-keyring-1";
const WRAP_AAD: &[u8] = b"consentry data key";

/// The key-encryption key, read from its file.
#[derive(Clone)]
pub struct KeyEncryptionKey {
    bytes: [u8; 32],
    /// Where it was read from, for messages.
    path: PathBuf,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyEncryptionKey({})", self.path.display())
    }
}

impl KeyEncryptionKey {
    /// Reads a key file: exactly 32 bytes, or 64 hex digits (surrounding whitespace allowed).
    pub fn read(path: &Path) -> Result<KeyEncryptionKey, String> {
        let raw = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read the encryption key file {}: {e}",
                path.display()
            )
        })?;
        let bytes = Self::parse(&raw).ok_or_else(|| {
            format!(
                "the encryption key file {} must hold 32 random bytes, raw or as 64 hex digits \
                 (make one with `head -c 32 /dev/urandom > {}`); it holds {} bytes of something else",
                path.display(),
                path.display(),
                raw.len()
            )
        })?;
        Ok(KeyEncryptionKey {
            bytes,
            path: path.to_path_buf(),
        })
    }

    fn parse(raw: &[u8]) -> Option<[u8; 32]> {
        if let Ok(exact) = <[u8; 32]>::try_from(raw) {
            return Some(exact);
        }
        let text = std::str::from_utf8(raw).ok()?.trim();
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(out)
    }

    /// A short public name of the key (not a way to find it): the first 8 bytes of a hash.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"consentry key fingerprint")
            .chain_update(self.bytes)
            .finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.bytes))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The data key: seals and opens stored values.
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

fn seal_with(cipher: &ChaCha20Poly1305, plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE] = rand::random();
    // Encryption fails only for inputs beyond 2^38 bytes, which no stored value is.
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(OVERHEAD + plain.len());
    out.push(SEALED);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open_with(cipher: &ChaCha20Poly1305, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD || sealed[0] != SEALED {
        return None;
    }
    let nonce = Nonce::from_slice(&sealed[1..1 + NONCE]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[1 + NONCE..],
                aad,
            },
        )
        .ok()
}

impl Vault {
    /// Seals a value stored under `aad` (its tree and key, or its file).
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        seal_with(&self.cipher, plain, aad)
    }

    /// Opens a value sealed under `aad`; `Corrupt` when it does not open (changed bytes, another
    /// key, another place).
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        open_with(&self.cipher, sealed, aad).ok_or_else(|| {
            StoreError::Corrupt(
                "a stored value does not open with the data key (changed on disk, or not written \
                 by this folder's key)"
                    .into(),
            )
        })
    }

    #[cfg(test)]
    pub fn for_tests() -> Vault {
        Vault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&[7; 32])),
        }
    }
}

/// The keyring file: the data key wrapped by a KEK, with that KEK's fingerprint.
#[derive(serde::Serialize, serde::Deserialize)]
struct Keyring {
    format: String,
    kek_fingerprint: String,
    wrapped_data_key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

fn refused(why: String) -> StoreError {
    StoreError::Encryption(why)
}

fn read_keyring(dir: &Path) -> Result<Option<Keyring>, StoreError> {
    let path = dir.join(KEYRING);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Keyring>(&bytes)
            .ok()
            .filter(|k| k.format == KEYRING_FORMAT)
            .map(Some)
            .ok_or_else(|| refused(format!("{} cannot be read as a keyring", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes the keyring atomically and durably (a temporary file, fsync, rename, fsync of the
/// folder): a crash leaves the old keyring or the new one.
fn write_keyring(
    dir: &Path,
    data_key: &[u8; 32],
    kek: &KeyEncryptionKey,
) -> Result<(), StoreError> {
    let ring = Keyring {
        format: KEYRING_FORMAT.into(),
        kek_fingerprint: kek.fingerprint(),
        wrapped_data_key: hex(&seal_with(&kek.cipher(), data_key, WRAP_AAD)),
    };
    let io = |e: std::io::Error| StoreError::Io(format!("cannot write the keyring: {e}"));
    let tmp = dir.join("keyring.tmp");
    let body = serde_json::to_vec_pretty(&ring).unwrap_or_default();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&body).and_then(|()| f.sync_all()).map_err(io)?;
    }
    std::fs::rename(&tmp, dir.join(KEYRING)).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

fn unwrap_data_key(ring: &Keyring, kek: &KeyEncryptionKey) -> Result<[u8; 32], StoreError> {
    let wrong = || {
        refused(format!(
            "the key in {} (fingerprint {}) does not open this data folder: its data key was \
             wrapped by the key with fingerprint {}; give the key file this folder was made or \
             last rotated with",
            kek.path.display(),
            kek.fingerprint(),
            ring.kek_fingerprint
        ))
    };
    let wrapped = unhex(&ring.wrapped_data_key).ok_or_else(wrong)?;
    let key = open_with(&kek.cipher(), &wrapped, WRAP_AAD).ok_or_else(wrong)?;
    <[u8; 32]>::try_from(key.as_slice()).map_err(|_| wrong())
}

/// Whether a folder already holds data (anything but a keyring).
fn holds_data(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| e.file_name() != KEYRING && e.file_name() != "keyring.tmp"))
    })
}

/// Opens the data folder's encryption: `Some(vault)` with a key, `None` without. Refused: a key
/// for a folder written without one, no key for an encrypted folder, a wrong key.
pub fn open(dir: &Path, kek: Option<&KeyEncryptionKey>) -> Result<Option<Vault>, StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Io(format!("cannot create the data folder: {e}")))?;
    if let Some(kek) = kek {
        let inside = |p: &Path| p.canonicalize().ok();
        if let (Some(key), Some(folder)) = (inside(kek.path()), inside(dir)) {
            if key.starts_with(&folder) {
                return Err(refused(format!(
                    "the encryption key file {} is inside the data folder it encrypts: keep it \
                     elsewhere (a copy of the folder would carry its key)",
                    kek.path().display()
                )));
            }
        }
    }
    let ring = read_keyring(dir)?;
    match (ring, kek) {
        (None, None) => Ok(None),
        (Some(ring), None) => Err(refused(format!(
            "this data folder is encrypted (its data key is wrapped by the key with fingerprint \
             {}): set `encryption_key_file` (or CONSENTRY_ENCRYPTION_KEY_FILE) to that key's file",
            ring.kek_fingerprint
        ))),
        (None, Some(_)) if holds_data(dir) => Err(refused(format!(
            "{} holds data written without encryption; an encryption key is used only for a new, \
             empty data folder (move the old one aside, or leave `encryption_key_file` unset)",
            dir.display()
        ))),
        (None, Some(kek)) => {
            let data_key: [u8; 32] = rand::random();
            write_keyring(dir, &data_key, kek)?;
            Ok(Some(Vault {
                cipher: ChaCha20Poly1305::new(Key::from_slice(&data_key)),
            }))
        }
        (Some(ring), Some(kek)) => {
            let data_key = unwrap_data_key(&ring, kek)?;
            Ok(Some(Vault {
                cipher: ChaCha20Poly1305::new(Key::from_slice(&data_key)),
            }))
        }
    }
}

/// Re-wraps the folder's data key from `old` to `new`: only the keyring changes. Safe while
/// the server runs (it holds the data key already); give it the new key file at its next start.
pub fn rotate(
    dir: &Path,
    old: &KeyEncryptionKey,
    new: &KeyEncryptionKey,
) -> Result<(), StoreError> {
    let ring = read_keyring(dir)?.ok_or_else(|| {
        refused(format!(
            "{} is not encrypted: there is no key to rotate",
            dir.display()
        ))
    })?;
    let data_key = unwrap_data_key(&ring, old)?;
    write_keyring(dir, &data_key, new)
}

/// Whether a data folder is encrypted (holds a keyring).
pub fn is_encrypted(dir: &Path) -> bool {
    dir.join(KEYRING).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(dir: &Path, name: &str, bytes: &[u8]) -> KeyEncryptionKey {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        KeyEncryptionKey::read(&path).unwrap()
    }

    #[test]
    fn a_key_file_is_32_raw_bytes_or_64_hex_digits_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let raw = key_file(dir.path(), "raw", &[3; 32]);
        let hexed = key_file(
            dir.path(),
            "hex",
            format!("{}\n", "03".repeat(32)).as_bytes(),
        );
        assert_eq!(raw.fingerprint(), hexed.fingerprint());
        for bad in [&b"short"[..], &[3; 33][..], "zz".repeat(32).as_bytes()] {
            let path = dir.path().join("bad");
            std::fs::write(&path, bad).unwrap();
            let e = KeyEncryptionKey::read(&path).unwrap_err();
            assert!(e.contains("32 random bytes"), "{e}");
        }
    }

    #[test]
    fn a_value_opens_only_where_it_was_sealed_and_unchanged() {
        let v = Vault::for_tests();
        let sealed = v.seal(b"/checkout?utm_campaign=spring", b"events\0k1");
        assert!(!sealed.windows(8).any(|w| w == b"checkout"));
        assert_eq!(
            v.open(&sealed, b"events\0k1").unwrap(),
            b"/checkout?utm_campaign=spring"
        );
        assert!(
            v.open(&sealed, b"events\0k2").is_err(),
            "moved to another key"
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(v.open(&flipped, b"events\0k1").is_err(), "a changed byte");
        assert!(v.open(b"plain", b"events\0k1").is_err());
    }

    #[test]
    fn a_folder_opens_with_its_key_refuses_another_and_survives_rotation() {
        let keys = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = key_file(keys.path(), "first", &[1; 32]);
        let second = key_file(keys.path(), "second", &[2; 32]);
        let sealed = open(&data, Some(&first)).unwrap().unwrap().seal(b"x", b"a");
        let again = open(&data, Some(&first)).unwrap().unwrap();
        assert_eq!(
            again.open(&sealed, b"a").unwrap(),
            b"x",
            "the same data key"
        );

        let wrong = open(&data, Some(&second)).unwrap_err().to_string();
        assert!(wrong.contains("does not open this data folder"), "{wrong}");
        assert!(
            wrong.contains(&first.fingerprint()),
            "names the key it needs: {wrong}"
        );
        let none = open(&data, None).unwrap_err().to_string();
        assert!(none.contains("encryption_key_file"), "{none}");

        rotate(&data, &first, &second).unwrap();
        let rotated = open(&data, Some(&second)).unwrap().unwrap();
        assert_eq!(
            rotated.open(&sealed, b"a").unwrap(),
            b"x",
            "nothing rewritten"
        );
        assert!(open(&data, Some(&first)).is_err(), "the old key is gone");
        assert!(rotate(&data, &first, &second).is_err());
        assert!(
            !std::fs::read(data.join(KEYRING))
                .unwrap()
                .windows(32)
                .any(|w| w == [2; 32])
        );
    }

    #[test]
    fn a_key_is_refused_for_a_folder_written_without_one() {
        let keys = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("anchor"), b"plain").unwrap();
        let key = key_file(keys.path(), "k", &[1; 32]);
        let e = open(dir.path(), Some(&key)).unwrap_err().to_string();
        assert!(e.contains("written without encryption"), "{e}");
        assert!(open(dir.path(), None).unwrap().is_none());
    }
}
