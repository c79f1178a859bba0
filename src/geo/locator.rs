//! The MaxMind database: loaded at start, watched for changes and swapped atomically.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;

use super::address::{canonical, is_public};
use crate::domain::Location;

/// The reload thread never polls more often than this, whatever it is asked.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_millis(10);

/// Codes that some databases put where a country belongs but that name no country: MaxMind's
/// legacy continent codes and the user-assigned "unknown" codes. They are treated as unknown so
/// that such a visitor gets the strictest regime.
const PSEUDO_COUNTRIES: [&str; 4] = ["EU", "AP", "ZZ", "XX"];

/// What the locator has loaded, for the health and admin pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoStatus {
    /// Whether a database is in use; when false every location is unknown.
    pub loaded: bool,
    /// The configured file, if any.
    pub path: Option<PathBuf>,
    /// The database's build time, in seconds since the Unix epoch.
    pub build_epoch: Option<u64>,
    /// The database's type, e.g. `GeoLite2-City`.
    pub database_type: Option<String>,
    /// How many times a database has been loaded successfully, the first load included.
    pub reloads: u64,
    /// Why the configured file is not in use, when the last attempt to read it failed.
    pub problem: Option<String>,
}

/// Turns an address into a `Location`. Cheap to clone; every clone shares one database.
///
/// It never fails: without a usable database every address is unknown, which the jurisdiction
/// rules treat as opt-in.
#[derive(Clone)]
pub struct GeoLocator {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    current: RwLock<Option<Arc<Database>>>,
    watch: Mutex<Watch>,
    reloads: AtomicU64,
    /// Never sent on: dropping it, with the last locator, wakes the reload thread so it stops.
    _stop: Option<Sender<()>>,
}

/// What the reload thread last saw of the file.
#[derive(Default)]
struct Watch {
    /// The file's fingerprint at the last load attempt, successful or not.
    seen: Option<Fingerprint>,
    /// Whether the last check found no readable file, so that the warning is logged once.
    missing: bool,
    /// Why the last attempt failed (cleared by a good load).
    problem: Option<String>,
}

/// Enough of a file's metadata to notice that it was replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode and change time, which also change when a file is renamed into place.
    #[cfg(unix)]
    identity: (u64, u64, i64, i64),
}

impl Fingerprint {
    fn of(path: &Path) -> std::io::Result<Fingerprint> {
        let meta = fs::metadata(path)?;
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        Ok(Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            identity,
        })
    }
}

/// A loaded and verified database.
struct Database {
    reader: Reader<Vec<u8>>,
    build_epoch: u64,
    database_type: String,
}

/// The fields read from a record. GeoIP2 and GeoLite2 Country and City databases use `country`
/// and `subdivisions`; the ip-location-db databases use the flat `country_code`.
#[derive(Deserialize)]
struct Record {
    country: Option<IsoCode>,
    subdivisions: Option<Vec<IsoCode>>,
    country_code: Option<String>,
}

#[derive(Deserialize)]
struct IsoCode {
    iso_code: Option<String>,
}

impl GeoLocator {
    /// Opens the database at `path`, if any, and watches it for changes every `reload_every`.
    ///
    /// This never fails. A missing, unreadable or corrupt file is logged and every address is
    /// unknown until a valid file appears. A changed file that loads and verifies replaces the
    /// database in use; one that does not is logged and the database in use stays.
    pub fn open(path: Option<PathBuf>, reload_every: Duration) -> GeoLocator {
        GeoLocator::start(path, reload_every).0
    }

    /// A locator without a database: every address is unknown.
    pub fn disabled() -> GeoLocator {
        GeoLocator {
            inner: Arc::new(Inner::new(None, None)),
        }
    }

    /// Opens the database and returns the reload thread's handle, so that tests can see it
    /// stop.
    fn start(
        path: Option<PathBuf>,
        reload_every: Duration,
    ) -> (GeoLocator, Option<JoinHandle<()>>) {
        let Some(path) = path else {
            return (GeoLocator::disabled(), None);
        };
        let (stop, stopped) = mpsc::channel();
        let inner = Arc::new(Inner::new(Some(path), Some(stop)));
        inner.refresh();
        let every = reload_every.max(MIN_RELOAD_INTERVAL);
        let handle = spawn_reloader(Arc::downgrade(&inner), stopped, every);
        (GeoLocator { inner }, handle)
    }

    /// Where `ip` is, as far as the database knows.
    ///
    /// Addresses that cannot be a visitor's public address (private, loopback, link-local,
    /// documentation, unique-local, reserved and so on) are unknown without a lookup, and so is
    /// any address the database lacks or cannot decode.
    pub fn locate(&self, ip: IpAddr) -> Location {
        let ip = canonical(ip);
        if !is_public(ip) {
            return Location::unknown();
        }
        match self.inner.database() {
            Some(database) => database.locate(ip).unwrap_or_default(),
            None => Location::unknown(),
        }
    }

    /// What is loaded now.
    pub fn status(&self) -> GeoStatus {
        let database = self.inner.database();
        GeoStatus {
            loaded: database.is_some(),
            path: self.inner.path.clone(),
            build_epoch: database.as_ref().map(|d| d.build_epoch),
            database_type: database.as_ref().map(|d| d.database_type.clone()),
            reloads: self.inner.reloads.load(Ordering::Relaxed),
            problem: self
                .inner
                .watch
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .problem
                .clone(),
        }
    }
}

impl std::fmt::Debug for GeoLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoLocator")
            .field("status", &self.status())
            .finish()
    }
}

impl Inner {
    fn new(path: Option<PathBuf>, stop: Option<Sender<()>>) -> Inner {
        Inner {
            path,
            current: RwLock::new(None),
            watch: Mutex::new(Watch::default()),
            reloads: AtomicU64::new(0),
            _stop: stop,
        }
    }

    fn database(&self) -> Option<Arc<Database>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the file if it changed since the last attempt, and swaps it in if it is valid.
    fn refresh(&self) {
        let Some(path) = self.path.as_deref() else {
            return;
        };
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        let fingerprint = match Fingerprint::of(path) {
            Ok(fingerprint) => fingerprint,
            Err(err) => {
                if !watch.missing {
                    log::warn!(
                        "geo database {} cannot be read ({err}); {}",
                        path.display(),
                        self.consequence()
                    );
                    watch.missing = true;
                }
                watch.problem = Some(format!("{} cannot be read ({err})", path.display()));
                watch.seen = None;
                return;
            }
        };
        watch.missing = false;
        if watch.seen == Some(fingerprint) {
            return;
        }
        // The fingerprint is taken before reading, so a write that races the read changes it
        // again and the next check reloads.
        watch.seen = Some(fingerprint);
        match Database::load(path) {
            Ok(database) => {
                log::info!(
                    "geo database {} loaded: {}, built at epoch {}",
                    path.display(),
                    database.database_type,
                    database.build_epoch
                );
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::new(database));
                self.reloads.fetch_add(1, Ordering::Relaxed);
                watch.problem = None;
            }
            Err(err) => {
                log::warn!(
                    "geo database {} is not a valid MaxMind database ({err}); {}",
                    path.display(),
                    self.consequence()
                );
                watch.problem = Some(format!(
                    "{} is not a valid MaxMind database ({err})",
                    path.display()
                ));
            }
        }
    }

    /// What a failed load means, for the warning.
    fn consequence(&self) -> &'static str {
        if self.database().is_some() {
            "keeping the database already loaded"
        } else {
            "every location is unknown until a valid file appears"
        }
    }
}

/// Starts the thread that checks the file every `every`. It holds only a weak reference, and
/// stops as soon as the last locator is dropped.
fn spawn_reloader(
    inner: Weak<Inner>,
    stopped: Receiver<()>,
    every: Duration,
) -> Option<JoinHandle<()>> {
    let spawned = thread::Builder::new()
        .name("geo-reload".into())
        .spawn(move || {
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                inner.refresh();
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(err) => {
            log::warn!("the geo database reload thread could not start ({err}); no reloads");
            None
        }
    }
}

impl Database {
    fn load(path: &Path) -> Result<Database, MaxMindDbError> {
        let reader = Reader::open_readfile(path)?;
        reader.verify()?;
        let metadata = reader.metadata();
        Ok(Database {
            build_epoch: metadata.build_epoch,
            database_type: metadata.database_type.clone(),
            reader,
        })
    }

    /// Looks `ip` up; `None` for an absent address or any lookup or decoding error.
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        let found = self.reader.lookup(ip).ok()?;
        let record: Record = found.decode().ok()??;
        let country = record
            .country
            .and_then(|c| c.iso_code)
            .or(record.country_code)
            .and_then(|c| country_code(&c))?;
        let subdivision = record
            .subdivisions
            .and_then(|s| s.into_iter().next())
            .and_then(|s| s.iso_code)
            .and_then(|s| subdivision_code(&country, &s));
        Some(Location {
            country: Some(country),
            subdivision,
        })
    }
}

/// An ISO 3166-1 alpha-2 code, upper-cased, or `None` for anything else.
fn country_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (valid && !PSEUDO_COUNTRIES.contains(&code.as_str())).then_some(code)
}

/// An ISO 3166-2 subdivision code without its country prefix, upper-cased, or `None` for
/// anything else. A code given with its prefix (`US-CA`) loses it.
fn subdivision_code(country: &str, raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let code = match code.split_once('-') {
        Some((prefix, rest)) if prefix == country => rest.to_owned(),
        _ => code,
    };
    let valid = (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then_some(code)
}

#[cfg(test)]
#[path = "../../tests/support/mmdb_writer.rs"]
mod mmdb_writer;

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::mmdb_writer::{MmdbWriter, Value};
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn at(country: &str, subdivision: Option<&str>) -> Location {
        Location {
            country: Some(country.into()),
            subdivision: subdivision.map(Into::into),
        }
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn iso(code: &str) -> Value {
        map(vec![("iso_code", Value::Str(code.into()))])
    }

    /// Writes `writer` to a fresh directory and opens it with a long reload interval.
    fn open(writer: &MmdbWriter) -> (tempfile::TempDir, GeoLocator) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        writer.write_to(&path).unwrap();
        let locator = GeoLocator::open(Some(path), Duration::from_secs(3600));
        (dir, locator)
    }

    #[test]
    fn a_disabled_locator_knows_nothing() {
        let locator = GeoLocator::disabled();
        assert_eq!(locator.locate(ip("8.8.8.8")), Location::unknown());
        let status = locator.status();
        assert!(!status.loaded);
        assert_eq!(status.path, None);
        assert_eq!(status.reloads, 0);
        let opened = GeoLocator::open(None, Duration::from_secs(1));
        assert!(!opened.status().loaded);
    }

    #[test]
    fn a_missing_file_makes_every_address_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.mmdb");
        let locator = GeoLocator::open(Some(path.clone()), Duration::from_secs(3600));
        assert_eq!(locator.locate(ip("8.8.8.8")), Location::unknown());
        let status = locator.status();
        assert!(!status.loaded);
        assert_eq!(status.path, Some(path));
        assert_eq!(status.build_epoch, None);
    }

    #[test]
    fn a_corrupt_file_makes_every_address_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corrupt.mmdb");
        let mut bytes = MmdbWriter::new("GeoIP2-City").to_bytes();
        bytes.truncate(bytes.len() / 2);
        fs::write(&path, bytes).unwrap();
        let locator = GeoLocator::open(Some(path), Duration::from_secs(3600));
        assert_eq!(locator.locate(ip("8.8.8.8")), Location::unknown());
        assert!(!locator.status().loaded);
    }

    #[test]
    fn city_country_and_flat_records_are_all_read() {
        let mut writer = MmdbWriter::new("GeoIP2-City").build_epoch(1_750_000_000);
        writer.insert_city("8.8.8.0/24", "US", Some("CA"));
        writer.insert_city("81.2.69.0/24", "GB", None);
        writer.insert_flat("2.16.0.0/13", "de");
        writer.insert_city("2a02:1200::/32", "CH", Some("ZH"));
        let (_dir, locator) = open(&writer);
        assert_eq!(locator.locate(ip("8.8.8.8")), at("US", Some("CA")));
        assert_eq!(locator.locate(ip("81.2.69.160")), at("GB", None));
        assert_eq!(locator.locate(ip("2.17.1.1")), at("DE", None));
        assert_eq!(locator.locate(ip("2a02:1200::5")), at("CH", Some("ZH")));
        assert_eq!(locator.locate(ip("9.9.9.9")), Location::unknown());
        let status = locator.status();
        assert!(status.loaded);
        assert_eq!(status.build_epoch, Some(1_750_000_000));
        assert_eq!(status.database_type.as_deref(), Some("GeoIP2-City"));
        assert_eq!(status.reloads, 1);
    }

    #[test]
    fn an_ipv4_mapped_address_is_located_as_its_ipv4_address() {
        let mut writer = MmdbWriter::new("GeoLite2-Country");
        writer.insert_city("81.2.69.0/24", "GB", None);
        let (_dir, locator) = open(&writer);
        assert_eq!(locator.locate(ip("::ffff:81.2.69.160")), at("GB", None));
    }

    #[test]
    fn addresses_that_are_not_public_are_never_looked_up() {
        let mut writer = MmdbWriter::new("GeoIP2-City");
        for network in [
            "10.0.0.0/8",
            "127.0.0.0/8",
            "192.0.2.0/24",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "169.254.0.0/16",
            "2001:db8::/32",
            "fc00::/7",
            "fe80::/10",
        ] {
            writer.insert_city(network, "DE", None);
        }
        let (_dir, locator) = open(&writer);
        for raw in [
            "10.0.0.1",
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "169.254.1.1",
            "2001:db8::1",
            "fd00::1",
            "fe80::1",
            "::1",
        ] {
            assert_eq!(locator.locate(ip(raw)), Location::unknown(), "{raw}");
        }
    }

    #[test]
    fn pseudo_and_malformed_country_codes_are_unknown() {
        let mut writer = MmdbWriter::new("GeoIP2-Country");
        writer.insert_city("1.0.0.0/24", "EU", None);
        writer.insert_city("1.0.1.0/24", "ZZ", None);
        writer.insert_flat("1.0.2.0/24", "USA");
        writer.insert_flat("1.0.3.0/24", "-");
        writer.insert_flat("1.0.4.0/24", "");
        let (_dir, locator) = open(&writer);
        assert!(locator.status().loaded);
        for raw in ["1.0.0.1", "1.0.1.1", "1.0.2.1", "1.0.3.1", "1.0.4.1"] {
            assert_eq!(locator.locate(ip(raw)), Location::unknown(), "{raw}");
        }
    }

    #[test]
    fn a_subdivision_needs_a_country_and_loses_a_country_prefix() {
        let mut writer = MmdbWriter::new("GeoIP2-City");
        writer.insert_value(
            "1.0.0.0/24",
            &map(vec![("subdivisions", Value::Array(vec![iso("CA")]))]),
        );
        writer.insert_value(
            "1.0.1.0/24",
            &map(vec![
                ("country", iso("us")),
                ("subdivisions", Value::Array(vec![iso("us-va"), iso("XX")])),
            ]),
        );
        writer.insert_value(
            "1.0.2.0/24",
            &map(vec![
                ("country", iso("US")),
                ("subdivisions", Value::Array(vec![iso("not a code")])),
            ]),
        );
        let (_dir, locator) = open(&writer);
        assert_eq!(locator.locate(ip("1.0.0.1")), Location::unknown());
        assert_eq!(locator.locate(ip("1.0.1.1")), at("US", Some("VA")));
        assert_eq!(locator.locate(ip("1.0.2.1")), at("US", None));
    }

    #[test]
    fn a_record_of_an_unexpected_shape_is_unknown() {
        let mut writer = MmdbWriter::new("Odd");
        writer.insert_value(
            "1.0.0.0/24",
            &map(vec![("country", Value::Str("DE".into()))]),
        );
        writer.insert_value("1.0.1.0/24", &Value::Str("DE".into()));
        writer.insert_value("1.0.2.0/24", &map(vec![("country_code", Value::U32(49))]));
        let (_dir, locator) = open(&writer);
        assert!(locator.status().loaded);
        for raw in ["1.0.0.1", "1.0.1.1", "1.0.2.1"] {
            assert_eq!(locator.locate(ip(raw)), Location::unknown(), "{raw}");
        }
    }

    #[test]
    fn a_locator_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<GeoLocator>();
        let locator = GeoLocator::disabled();
        let other = locator.clone();
        let answer = thread::spawn(move || other.locate(ip("8.8.8.8")))
            .join()
            .unwrap();
        assert_eq!(answer, Location::unknown());
    }

    #[test]
    fn clones_share_one_database() {
        let mut writer = MmdbWriter::new("GeoIP2-City");
        writer.insert_city("8.8.8.0/24", "US", Some("CA"));
        let (_dir, locator) = open(&writer);
        let clone = locator.clone();
        drop(locator);
        assert_eq!(clone.locate(ip("8.8.8.8")), at("US", Some("CA")));
        assert!(format!("{clone:?}").contains("GeoIP2-City"));
    }

    #[test]
    fn the_reload_thread_stops_when_the_last_locator_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        let (locator, handle) = GeoLocator::start(Some(path), Duration::from_secs(3600));
        let handle = handle.unwrap();
        let clone = locator.clone();
        drop(locator);
        assert!(!handle.is_finished());
        drop(clone);
        let started = Instant::now();
        while !handle.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the reload thread is still running"
            );
            thread::sleep(Duration::from_millis(5));
        }
        handle.join().unwrap();
    }

    #[test]
    fn country_and_subdivision_codes_are_normalised() {
        assert_eq!(country_code(" de "), Some("DE".into()));
        assert_eq!(country_code("D1"), None);
        assert_eq!(country_code("AP"), None);
        assert_eq!(subdivision_code("US", "ca"), Some("CA".into()));
        assert_eq!(subdivision_code("GB", "GB-ENG"), Some("ENG".into()));
        assert_eq!(subdivision_code("US", "FR-75"), None);
        assert_eq!(subdivision_code("US", ""), None);
    }
}
