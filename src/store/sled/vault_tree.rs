//! A sled tree whose values pass through the data folder's vault: sealed on the way in, opened
//! on the way out, each bound to its tree and key. Without a vault (no encryption key
//! configured) values pass unchanged.
//!
//! Every tree of the sled backend is opened as this type, so no module reads or writes a sled
//! value around it. Keys stay plain (they hold site ids, days, sequence numbers and keyed hashes
//! of consent ids, never a raw id, a path or a choice), so that ranges and prefixes still work.

use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::IVec;

use crate::store::vault::Vault;

/// The message of the sled error a value that does not open becomes (`map_err` turns it into
/// `StoreError::Corrupt`).
pub(crate) const UNREADABLE: &str = "vault: a stored value does not open with the data key";

/// A merge operator over plain values: the key, the old value, the operand; the new value.
pub(crate) type MergeFn = fn(&[u8], Option<&[u8]>, &[u8]) -> Option<Vec<u8>>;

/// A tree of sealed values.
#[derive(Clone)]
pub(crate) struct Tree {
    inner: sled::Tree,
    vault: Option<Arc<Vault>>,
    /// How many writes this tree has taken, counted after each is visible (clones share it).
    writes: Arc<AtomicU64>,
}

fn unreadable() -> sled::Error {
    sled::Error::Unsupported(UNREADABLE.into())
}

/// What a value is bound to: its tree's name and its key.
fn aad(tree: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tree.len() + 1 + key.len());
    out.extend_from_slice(tree);
    out.push(0);
    out.extend_from_slice(key);
    out
}

/// How values of one tree are sealed and opened (cheap to clone into iterators and closures).
#[derive(Clone)]
struct Sealer {
    vault: Option<Arc<Vault>>,
    tree: IVec,
}

impl Sealer {
    fn seal(&self, key: &[u8], value: IVec) -> IVec {
        match &self.vault {
            None => value,
            Some(v) => IVec::from(v.seal(&value, &aad(&self.tree, key))),
        }
    }

    fn open(&self, key: &[u8], value: IVec) -> sled::Result<IVec> {
        match &self.vault {
            None => Ok(value),
            Some(v) => v
                .open(&value, &aad(&self.tree, key))
                .map(IVec::from)
                .map_err(|_| unreadable()),
        }
    }

    fn open_pair(&self, item: sled::Result<(IVec, IVec)>) -> sled::Result<(IVec, IVec)> {
        let (k, v) = item?;
        let v = self.open(&k, v)?;
        Ok((k, v))
    }
}

impl Tree {
    pub fn new(inner: sled::Tree, vault: Option<Arc<Vault>>) -> Tree {
        Tree {
            inner,
            vault,
            writes: Arc::default(),
        }
    }

    /// How many writes the tree has taken. Whatever a reader built from the tree is still what
    /// the tree holds while this count is the one read before building it: every write counts
    /// once it is visible.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Counts a write, after it is visible (or failed).
    fn wrote<T>(&self, result: T) -> T {
        self.writes.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn sealer(&self) -> Sealer {
        Sealer {
            vault: self.vault.clone(),
            tree: self.inner.name(),
        }
    }

    /// The tree's stored bytes, values as sealed: for a backup, which copies them unopened
    /// (so a backup of an encrypted folder is encrypted), and a restore, which puts them back.
    pub fn sealed_bytes(&self) -> &sled::Tree {
        &self.inner
    }

    pub fn get<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<IVec>> {
        let key = key.as_ref();
        self.inner
            .get(key)?
            .map(|v| self.sealer().open(key, v))
            .transpose()
    }

    /// Inserts a value; the old one is not returned (opening it would cost a decryption nobody
    /// asked for).
    pub fn insert<K: AsRef<[u8]>, V: Into<IVec>>(&self, key: K, value: V) -> sled::Result<()> {
        let key = key.as_ref();
        let sealed = self.sealer().seal(key, value.into());
        self.wrote(self.inner.insert(key, sealed).map(|_| ()))
    }

    /// Removes a key; whether it was there.
    pub fn remove<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<bool> {
        self.wrote(self.inner.remove(key).map(|old| old.is_some()))
    }

    pub fn contains_key<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<bool> {
        self.inner.contains_key(key)
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<K, R> {
        let sealer = self.sealer();
        self.inner
            .range(range)
            .map(move |item| sealer.open_pair(item))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<> {
        let sealer = self.sealer();
        self.inner.iter().map(move |item| sealer.open_pair(item))
    }

    /// The values alone, opened.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = sled::Result<IVec>> + use<> {
        self.iter().map(|item| item.map(|(_, v)| v))
    }

    pub fn scan_prefix<P: AsRef<[u8]>>(
        &self,
        prefix: P,
    ) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<P> {
        let sealer = self.sealer();
        self.inner
            .scan_prefix(prefix)
            .map(move |item| sealer.open_pair(item))
    }

    pub fn last(&self) -> sled::Result<Option<(IVec, IVec)>> {
        self.inner
            .last()?
            .map(|pair| self.sealer().open_pair(Ok(pair)))
            .transpose()
    }

    pub fn apply_batch(&self, batch: Batch) -> sled::Result<()> {
        let sealer = self.sealer();
        let mut sealed = sled::Batch::default();
        for (key, value) in batch.ops {
            match value {
                Some(v) => {
                    let v = sealer.seal(&key, v);
                    sealed.insert(key, v);
                }
                None => sealed.remove(key),
            }
        }
        self.wrote(self.inner.apply_batch(sealed))
    }

    /// Like sled's: `f` sees and returns plain values. A stored value that does not open is an
    /// error, and leaves the value as it was.
    pub fn update_and_fetch<K, V, F>(&self, key: K, mut f: F) -> sled::Result<Option<IVec>>
    where
        K: AsRef<[u8]>,
        V: Into<IVec>,
        F: FnMut(Option<&[u8]>) -> Option<V>,
    {
        let key = key.as_ref();
        let sealer = self.sealer();
        let mut failed = false;
        let mut fresh: Option<IVec> = None;
        let updated = self.inner.update_and_fetch(key, |old| {
            let plain = match old.map(|o| sealer.open(key, IVec::from(o))) {
                Some(Err(_)) => {
                    failed = true;
                    return old.map(<[u8]>::to_vec);
                }
                Some(Ok(p)) => Some(p),
                None => None,
            };
            let next: Option<IVec> = f(plain.as_deref()).map(Into::into);
            fresh.clone_from(&next);
            next.map(|v| sealer.seal(key, v).to_vec())
        });
        self.wrote(updated)?;
        if failed {
            return Err(unreadable());
        }
        Ok(fresh)
    }

    /// Merges `delta` into the key's value with the tree's merge operator (sealed, like any
    /// value, until sled merges it).
    pub fn merge<K: AsRef<[u8]>, V: Into<IVec>>(&self, key: K, delta: V) -> sled::Result<()> {
        let key = key.as_ref();
        let sealed = self.sealer().seal(key, delta.into());
        self.wrote(self.inner.merge(key, sealed).map(|_| ()))
    }

    /// Sets the merge operator `merge`, which sees plain values.
    pub fn set_merge_operator(&self, merge: MergeFn) {
        let sealer = self.sealer();
        self.inner
            .set_merge_operator(move |key: &[u8], old: Option<&[u8]>, delta: &[u8]| {
                if sealer.vault.is_none() {
                    return merge(key, old, delta);
                }
                // A value or operand that does not open leaves the stored value as it was
                // (still sealed): a merge never replaces what it cannot read.
                let plain_old = match old.map(|o| sealer.open(key, IVec::from(o))) {
                    None => None,
                    Some(Ok(p)) => Some(p),
                    Some(Err(_)) => {
                        log::error!(
                            "a stored value does not open with the data key; merge skipped"
                        );
                        return old.map(<[u8]>::to_vec);
                    }
                };
                let delta = match sealer.open(key, IVec::from(delta)) {
                    Ok(d) => d,
                    Err(_) => {
                        log::error!("a merge operand does not open with the data key; skipped");
                        return old.map(<[u8]>::to_vec);
                    }
                };
                let old = plain_old;
                let out = merge(key, old.as_deref(), &delta)?;
                Some(sealer.seal(key, IVec::from(out)).to_vec())
            });
    }

    pub fn flush(&self) -> sled::Result<usize> {
        self.inner.flush()
    }
}

/// Writes for one tree, applied at once by `Tree::apply_batch`, which seals them.
#[derive(Default)]
pub(crate) struct Batch {
    ops: Vec<(IVec, Option<IVec>)>,
}

impl Batch {
    pub fn insert<K: Into<IVec>, V: Into<IVec>>(&mut self, key: K, value: V) {
        self.ops.push((key.into(), Some(value.into())));
    }

    pub fn remove<K: Into<IVec>>(&mut self, key: K) {
        self.ops.push((key.into(), None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees() -> (tempfile::TempDir, Tree, Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let vault = Some(Arc::new(Vault::for_tests()));
        let a = Tree::new(db.open_tree("a").unwrap(), vault.clone());
        let b = Tree::new(db.open_tree("b").unwrap(), vault);
        (dir, a, b)
    }

    #[test]
    fn values_read_back_plain_through_every_way_in_and_out() {
        let (_dir, a, _) = trees();
        a.insert(b"k1", &b"/pricing?utm_source=spring"[..]).unwrap();
        let mut batch = Batch::default();
        batch.insert(&b"k2"[..], &b"two"[..]);
        a.apply_batch(batch).unwrap();
        a.update_and_fetch(b"k3", |old| {
            assert!(old.is_none());
            Some(b"three".to_vec())
        })
        .unwrap();
        assert_eq!(
            a.get(b"k1").unwrap().unwrap(),
            &b"/pricing?utm_source=spring"[..]
        );
        let all: Vec<(IVec, IVec)> = a.iter().map(Result::unwrap).collect();
        assert_eq!(all[1], (IVec::from(&b"k2"[..]), IVec::from(&b"two"[..])));
        assert_eq!(a.range(&b"k3"[..]..).count(), 1);
        assert_eq!(a.scan_prefix(b"k").count(), 3);
        assert_eq!(a.last().unwrap().unwrap().1, &b"three"[..]);
        let stored = a.inner.get(b"k1").unwrap().unwrap();
        assert!(
            !stored.windows(7).any(|w| w == b"pricing"),
            "sealed on disk"
        );
    }

    #[test]
    fn a_value_copied_to_another_key_or_tree_does_not_open() {
        let (_dir, a, b) = trees();
        a.insert(b"k1", &b"secret"[..]).unwrap();
        let sealed = a.inner.get(b"k1").unwrap().unwrap();
        a.inner.insert(b"k2", sealed.clone()).unwrap();
        b.inner.insert(b"k1", sealed).unwrap();
        assert!(a.get(b"k2").is_err());
        assert!(b.get(b"k1").is_err());
        assert!(a.iter().any(|r| r.is_err()));
    }

    #[test]
    fn merges_add_plain_values_under_the_seal() {
        let (_dir, a, _) = trees();
        a.set_merge_operator(|_, old, delta| {
            let n = old.map_or(0, |o| o[0]) + delta[0];
            Some(vec![n])
        });
        a.merge(b"n", vec![2]).unwrap();
        a.merge(b"n", vec![3]).unwrap();
        assert_eq!(a.get(b"n").unwrap().unwrap(), &[5][..]);
    }

    #[test]
    fn a_merge_onto_a_value_that_does_not_open_leaves_it_as_stored() {
        let (_dir, a, _) = trees();
        a.set_merge_operator(|_, old, delta| {
            let n = old.map_or(0, |o| o[0]) + delta[0];
            Some(vec![n])
        });
        a.insert(b"other", vec![7]).unwrap();
        let misplaced = a.inner.get(b"other").unwrap().unwrap();
        a.inner.insert(b"n", misplaced.clone()).unwrap();
        a.merge(b"n", vec![2]).unwrap();
        assert_eq!(a.inner.get(b"n").unwrap().unwrap(), misplaced);
    }

    #[test]
    fn every_kind_of_write_is_counted() {
        let (_dir, a, _) = trees();
        a.set_merge_operator(|_, _, delta| Some(delta.to_vec()));
        let before = a.writes();
        a.insert(b"k", &b"v"[..]).unwrap();
        let mut batch = Batch::default();
        batch.remove(&b"k"[..]);
        a.apply_batch(batch).unwrap();
        a.update_and_fetch(b"k", |_| Some(b"w".to_vec())).unwrap();
        a.merge(b"m", vec![1]).unwrap();
        a.remove(b"k").unwrap();
        assert_eq!(a.writes(), before + 5);
        assert_eq!(a.clone().writes(), a.writes(), "clones share the count");
    }
}
