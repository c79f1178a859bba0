//! The test MaxMind DB writer checked against the real reader, and the geo locator end to end.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::mmdb_writer::MmdbWriter;
use consentry::domain::{Jurisdiction, Location};
use consentry::geo::GeoLocator;
use maxminddb::{Reader, path};

fn ip(raw: &str) -> IpAddr {
    raw.parse().unwrap()
}

fn reader(writer: &MmdbWriter) -> Reader<Vec<u8>> {
    let reader = Reader::from_source(writer.to_bytes()).unwrap();
    reader.verify().unwrap();
    reader
}

fn country(reader: &Reader<Vec<u8>>, raw: &str) -> Option<String> {
    reader
        .lookup(ip(raw))
        .unwrap()
        .decode_path(&path!["country", "iso_code"])
        .unwrap()
}

fn subdivision(reader: &Reader<Vec<u8>>, raw: &str) -> Option<String> {
    reader
        .lookup(ip(raw))
        .unwrap()
        .decode_path(&path!["subdivisions", 0, "iso_code"])
        .unwrap()
}

fn country_code(reader: &Reader<Vec<u8>>, raw: &str) -> Option<String> {
    reader
        .lookup(ip(raw))
        .unwrap()
        .decode_path(&path!["country_code"])
        .unwrap()
}

#[test]
fn metadata_is_what_the_reader_expects() {
    for bits in [28, 32] {
        let mut writer = MmdbWriter::new("GeoLite2-Country")
            .build_epoch(1_712_345_678)
            .record_size(bits);
        writer.insert_city("81.2.69.0/24", "GB", None);
        let reader = reader(&writer);
        let metadata = reader.metadata();
        assert_eq!(metadata.database_type, "GeoLite2-Country");
        assert_eq!(metadata.build_epoch, 1_712_345_678);
        assert_eq!(metadata.ip_version, 6);
        assert_eq!(metadata.record_size, bits);
        assert_eq!(metadata.binary_format_major_version, 2);
        assert_eq!(metadata.binary_format_minor_version, 0);
        assert_eq!(metadata.languages, vec!["en".to_string()]);
        assert!(metadata.node_count > 96);
        assert_eq!(country(&reader, "81.2.69.160").as_deref(), Some("GB"));
    }
}

#[test]
fn ipv4_and_ipv6_city_records_round_trip() {
    let mut writer = MmdbWriter::new("GeoIP2-City");
    writer.insert_city("81.2.69.0/24", "GB", Some("ENG"));
    writer.insert_city("2a02:1200::/32", "CH", Some("ZH"));
    writer.insert_city("2.16.0.0/13", "DE", None);
    let reader = reader(&writer);

    assert_eq!(country(&reader, "81.2.69.160").as_deref(), Some("GB"));
    assert_eq!(subdivision(&reader, "81.2.69.160").as_deref(), Some("ENG"));
    assert_eq!(country(&reader, "2a02:1200:ffff::1").as_deref(), Some("CH"));
    assert_eq!(subdivision(&reader, "2a02:1200::1").as_deref(), Some("ZH"));
    assert_eq!(country(&reader, "2.23.255.255").as_deref(), Some("DE"));
    assert_eq!(subdivision(&reader, "2.16.0.0"), None);

    let city: maxminddb::geoip2::City = reader
        .lookup(ip("81.2.69.1"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(city.country.iso_code, Some("GB"));
    assert_eq!(city.subdivisions[0].iso_code, Some("ENG"));

    let found = reader.lookup(ip("81.2.69.1")).unwrap();
    assert_eq!(found.network().unwrap().to_string(), "81.2.69.0/24");
    let found = reader.lookup(ip("2a02:1200::1")).unwrap();
    assert_eq!(found.network().unwrap().to_string(), "2a02:1200::/32");
}

#[test]
fn flat_records_round_trip() {
    let mut writer = MmdbWriter::new("ip-location-db country");
    writer.insert_flat("1.0.0.0/24", "AU");
    writer.insert_flat("2400:cb00::/32", "US");
    let reader = reader(&writer);
    assert_eq!(country_code(&reader, "1.0.0.1").as_deref(), Some("AU"));
    assert_eq!(country_code(&reader, "2400:cb00::1").as_deref(), Some("US"));
    assert_eq!(country(&reader, "1.0.0.1"), None);
}

#[test]
fn nested_and_adjacent_networks_keep_their_own_records() {
    let mut writer = MmdbWriter::new("GeoIP2-City");
    writer.insert_city("8.0.0.0/8", "US", None);
    writer.insert_city("8.8.8.0/24", "US", Some("CA"));
    writer.insert_city("8.8.8.8/32", "US", Some("VA"));
    writer.insert_city("5.0.0.0/24", "DE", None);
    writer.insert_city("5.0.1.0/24", "FR", None);
    writer.insert_city("2001:4860::/32", "US", None);
    writer.insert_city("2001:4860:4860::/48", "US", Some("NY"));
    let reader = reader(&writer);

    assert_eq!(subdivision(&reader, "8.8.8.8").as_deref(), Some("VA"));
    assert_eq!(subdivision(&reader, "8.8.8.9").as_deref(), Some("CA"));
    assert_eq!(subdivision(&reader, "8.8.9.1"), None);
    assert_eq!(country(&reader, "8.255.255.255").as_deref(), Some("US"));
    assert_eq!(country(&reader, "5.0.0.255").as_deref(), Some("DE"));
    assert_eq!(country(&reader, "5.0.1.0").as_deref(), Some("FR"));
    assert_eq!(country(&reader, "5.0.2.0"), None);
    assert_eq!(country(&reader, "4.255.255.255"), None);
    assert_eq!(
        subdivision(&reader, "2001:4860:4860::8888").as_deref(),
        Some("NY")
    );
    assert_eq!(subdivision(&reader, "2001:4860:1::1"), None);
    assert_eq!(country(&reader, "2001:4860:1::1").as_deref(), Some("US"));
}

#[test]
fn an_absent_address_has_no_data() {
    let mut writer = MmdbWriter::new("GeoIP2-City");
    writer.insert_city("81.2.69.0/24", "GB", None);
    let reader = reader(&writer);
    for raw in ["9.9.9.9", "81.2.70.1", "2a00::1", "::ffff:9.9.9.9"] {
        let found = reader.lookup(ip(raw)).unwrap();
        assert!(!found.has_data(), "{raw}");
        assert_eq!(country(&reader, raw), None, "{raw}");
    }
}

#[test]
fn an_empty_database_is_valid_and_knows_nothing() {
    let reader = reader(&MmdbWriter::new("GeoIP2-City"));
    assert_eq!(country(&reader, "8.8.8.8"), None);
    assert_eq!(country(&reader, "2a00::1"), None);
}

#[test]
fn a_pointer_above_sixteen_mebibytes_survives_28_bit_records() {
    // Two large records push the third past 2^24 bytes, so its record needs the shared nibble.
    let mut writer = MmdbWriter::new("GeoIP2-Country");
    writer.insert_flat("1.0.0.0/24", &"X".repeat(9_000_000));
    writer.insert_flat("1.0.1.0/24", &"Y".repeat(9_000_000));
    writer.insert_flat("1.0.2.0/24", "NZ");
    let reader = Reader::from_source(writer.to_bytes()).unwrap();
    assert_eq!(reader.metadata().record_size, 28);
    assert_eq!(country_code(&reader, "1.0.2.1").as_deref(), Some("NZ"));
}

/// The world as the first fixture sees it.
fn first_world() -> MmdbWriter {
    let mut writer = MmdbWriter::new("GeoIP2-City").build_epoch(1_700_000_000);
    writer.insert_city("31.0.0.0/16", "DE", Some("BE"));
    writer.insert_city("81.2.69.0/24", "GB", Some("ENG"));
    writer.insert_city("2a02:1200::/32", "CH", Some("ZH"));
    writer.insert_flat("84.208.0.0/16", "no");
    writer.insert_city("8.8.8.0/24", "US", Some("CA"));
    writer.insert_city("3.0.0.0/16", "US", Some("VA"));
    writer.insert_city("4.0.0.0/16", "US", Some("NY"));
    writer.insert_city("2804::/16", "BR", Some("SP"));
    // These must never be answered: the locator does not look up private or loopback space.
    writer.insert_city("10.0.0.0/8", "DE", None);
    writer.insert_city("127.0.0.0/8", "DE", None);
    writer
}

/// The second fixture moves one network and adds another, so the file also changes size.
fn second_world() -> MmdbWriter {
    let mut writer = first_world().build_epoch(1_800_000_000);
    writer.insert_city("31.0.0.0/16", "FR", None);
    writer.insert_city("9.9.9.0/24", "CH", None);
    writer
}

fn code(locator: &GeoLocator, raw: &str) -> String {
    Jurisdiction::of(&locator.locate(ip(raw))).code()
}

/// Polls `done` until it holds or five seconds pass.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replaces the file's contents in place, as `cp` or a careless deploy would.
fn overwrite(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_locator_answers_from_the_file_and_follows_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("GeoIP2-City.mmdb");
    first_world().write_to(&file).unwrap();
    let locator = GeoLocator::open(Some(file.clone()), Duration::from_millis(50));

    let status = locator.status();
    assert!(status.loaded);
    assert_eq!(status.path.as_deref(), Some(file.as_path()));
    assert_eq!(status.build_epoch, Some(1_700_000_000));
    assert_eq!(status.database_type.as_deref(), Some("GeoIP2-City"));
    assert_eq!(status.reloads, 1);

    let de = Location {
        country: Some("DE".into()),
        subdivision: Some("BE".into()),
    };
    assert_eq!(locator.locate(ip("31.0.1.2")), de);
    assert_eq!(code(&locator, "31.0.1.2"), "EEA");
    assert_eq!(code(&locator, "81.2.69.160"), "UK");
    assert_eq!(code(&locator, "2a02:1200::1"), "CH");
    assert_eq!(
        locator.locate(ip("84.208.1.1")).country.as_deref(),
        Some("NO")
    );
    assert_eq!(code(&locator, "84.208.1.1"), "EEA");
    assert_eq!(code(&locator, "8.8.8.8"), "US-CA");
    assert_eq!(code(&locator, "3.0.0.1"), "US-VA");
    assert_eq!(
        Jurisdiction::of(&locator.locate(ip("4.0.0.1"))),
        Jurisdiction::UsState {
            state: "NY".into(),
            has_law: false
        }
    );
    assert_eq!(code(&locator, "2804:1::1"), "OTHER");
    assert_eq!(locator.locate(ip("9.9.9.9")), Location::unknown());
    assert_eq!(locator.locate(ip("127.0.0.1")), Location::unknown());
    assert_eq!(locator.locate(ip("10.0.0.1")), Location::unknown());

    // A new database written over the old one is picked up after the reload interval.
    overwrite(&file, &second_world().to_bytes());
    eventually("the second database", || locator.status().reloads == 2);
    assert_eq!(locator.status().build_epoch, Some(1_800_000_000));
    assert_eq!(
        locator.locate(ip("31.0.1.2")).country.as_deref(),
        Some("FR")
    );
    assert_eq!(code(&locator, "9.9.9.9"), "CH");
    assert_eq!(code(&locator, "8.8.8.8"), "US-CA");

    // Garbage written over it is refused and the second database stays in use. There is no
    // signal for a refused file, so the answers are checked over several reload intervals.
    overwrite(&file, b"this is not a MaxMind database");
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        assert_eq!(
            locator.locate(ip("31.0.1.2")).country.as_deref(),
            Some("FR")
        );
        assert_eq!(code(&locator, "9.9.9.9"), "CH");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = locator.status();
    assert!(status.loaded);
    assert_eq!(status.reloads, 2);
    assert_eq!(status.build_epoch, Some(1_800_000_000));

    // A valid file after the garbage is picked up again.
    first_world()
        .build_epoch(1_900_000_000)
        .write_to(&file)
        .unwrap();
    eventually("the third database", || locator.status().reloads == 3);
    assert_eq!(locator.status().build_epoch, Some(1_900_000_000));
    assert_eq!(code(&locator, "31.0.1.2"), "EEA");
}

#[test]
fn a_database_that_appears_after_start_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("later.mmdb");
    let locator = GeoLocator::open(Some(file.clone()), Duration::from_millis(50));
    assert!(!locator.status().loaded);
    assert_eq!(locator.locate(ip("8.8.8.8")), Location::unknown());

    // Written elsewhere and renamed into place, as geoipupdate does.
    let staging = dir.path().join("later.mmdb.tmp");
    first_world().write_to(&staging).unwrap();
    std::fs::rename(&staging, &file).unwrap();
    eventually("the database to appear", || locator.status().loaded);
    assert_eq!(code(&locator, "8.8.8.8"), "US-CA");
    assert_eq!(locator.status().reloads, 1);
}
