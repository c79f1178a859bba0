//! Fault injection for the crash tests, compiled in only with the `fault-injection` feature
//! (the test suite enables it; release builds never have it).
//!
//! A crash point aborts the process at an exact place in a write path when the environment
//! variable `CONSENTRY_FAULT` names it, after making what was written so far durable, so a
//! test can kill the server inside a window that a SIGKILL from outside would hit only by
//! chance. A pause point holds a thread while a test holds it, keyed by the data folder so
//! that tests running side by side in one process do not pause each other.

use std::path::Path;

#[cfg(feature = "fault-injection")]
mod enabled {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Condvar, LazyLock, Mutex};

    pub fn crash_point(name: &str, make_durable: impl FnOnce()) {
        if std::env::var("CONSENTRY_FAULT").is_ok_and(|v| v == name) {
            make_durable();
            eprintln!("consentry: fault injection: aborting at `{name}`");
            std::process::abort();
        }
    }

    /// A held point: the data folder of its store, and its name.
    type Point = (PathBuf, &'static str);

    /// Points held by tests → how many threads wait there; and the signal of any change.
    static HELD: LazyLock<(Mutex<HashMap<Point, usize>>, Condvar)> =
        LazyLock::new(|| (Mutex::new(HashMap::new()), Condvar::new()));

    pub fn pause_point(dir: &Path, name: &'static str) {
        let (lock, signal) = &*HELD;
        let Ok(mut held) = lock.lock() else { return };
        let key = (dir.to_path_buf(), name);
        if !held.contains_key(&key) {
            return;
        }
        if let Some(waiting) = held.get_mut(&key) {
            *waiting += 1;
        }
        signal.notify_all();
        while held.contains_key(&key) {
            match signal.wait(held) {
                Ok(h) => held = h,
                Err(_) => return,
            }
        }
    }

    /// Holds `name` for the store in `dir` until the guard is dropped.
    pub struct Hold {
        key: Point,
    }

    pub fn hold(dir: &Path, name: &'static str) -> Hold {
        let key = (dir.to_path_buf(), name);
        let (lock, _) = &*HELD;
        if let Ok(mut held) = lock.lock() {
            held.insert(key.clone(), 0);
        }
        Hold { key }
    }

    impl Hold {
        /// Blocks until `n` threads wait at the held point.
        pub fn wait_for(&self, n: usize) {
            let (lock, signal) = &*HELD;
            let Ok(mut held) = lock.lock() else { return };
            while held.get(&self.key).is_some_and(|w| *w < n) {
                match signal.wait(held) {
                    Ok(h) => held = h,
                    Err(_) => return,
                }
            }
        }
    }

    impl Drop for Hold {
        fn drop(&mut self) {
            let (lock, signal) = &*HELD;
            if let Ok(mut held) = lock.lock() {
                held.remove(&self.key);
            }
            signal.notify_all();
        }
    }
}

#[cfg(feature = "fault-injection")]
pub use enabled::{Hold, hold};

/// Aborts here when `CONSENTRY_FAULT` names this point, after `make_durable`.
#[inline]
pub fn crash_point(name: &str, make_durable: impl FnOnce()) {
    #[cfg(feature = "fault-injection")]
    enabled::crash_point(name, make_durable);
    #[cfg(not(feature = "fault-injection"))]
    let _ = (name, make_durable);
}

/// Waits here while a test holds this point for the store in `dir`.
#[inline]
pub fn pause_point(dir: &Path, name: &'static str) {
    #[cfg(feature = "fault-injection")]
    enabled::pause_point(dir, name);
    #[cfg(not(feature = "fault-injection"))]
    let _ = (dir, name);
}
