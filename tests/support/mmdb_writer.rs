//! A small MaxMind DB writer for test fixtures, depending only on std.
//!
//! It writes an IPv6 search tree (`ip_version` 6) and places IPv4 networks under `::/96`, the
//! IPv4-compatible subtree, as MaxMind's own databases do, so that `Reader::lookup` of an IPv4
//! address finds them. Records are GeoIP2-shaped (`country.iso_code`, `subdivisions[0].iso_code`)
//! or flat (`country_code`), like the ip-location-db databases.
//!
//! A later insert wins over an earlier one wherever the two networks overlap: a more specific
//! network inserted after a wider one carves a hole in it, and a wider network inserted after a
//! more specific one replaces it.
//!
//! The format is described at <https://maxmind.github.io/MaxMind-DB/>.

// Each test binary that includes this file uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The marker that precedes the metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// The zero bytes between the search tree and the data section.
const DATA_SECTION_SEPARATOR: [u8; 16] = [0; 16];

/// Data section type numbers from the specification.
const TYPE_UTF8_STRING: u8 = 2;
const TYPE_UINT16: u8 = 5;
const TYPE_UINT32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_UINT64: u8 = 9;
const TYPE_ARRAY: u8 = 11;

/// A value in the data section, limited to the types the fixtures need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

impl Value {
    fn str(s: &str) -> Value {
        Value::Str(s.to_owned())
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// Appends the value's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Str(s) => {
                control(out, TYPE_UTF8_STRING, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Value::U16(n) => unsigned(out, TYPE_UINT16, u64::from(*n)),
            Value::U32(n) => unsigned(out, TYPE_UINT32, u64::from(*n)),
            Value::U64(n) => unsigned(out, TYPE_UINT64, *n),
            Value::Map(pairs) => {
                control(out, TYPE_MAP, pairs.len());
                for (key, value) in pairs {
                    Value::Str(key.clone()).encode(out);
                    value.encode(out);
                }
            }
            Value::Array(items) => {
                control(out, TYPE_ARRAY, items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// Writes a control byte (and the extended type byte and size bytes when needed).
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) {
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, Vec::new())
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        let rest = size - 65_821;
        assert!(
            rest < 1 << 24,
            "a value of {size} bytes is too large for the format"
        );
        (31, (rest as u32).to_be_bytes()[1..].to_vec())
    };
    if type_num <= 7 {
        out.push((type_num << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
}

/// Writes an unsigned integer in the fewest big-endian bytes (none for zero).
fn unsigned(out: &mut Vec<u8>, type_num: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let max_len = match type_num {
        TYPE_UINT16 => 2,
        TYPE_UINT32 => 4,
        _ => 8,
    };
    let significant = &bytes[first..];
    assert!(
        significant.len() <= max_len,
        "{n} does not fit type {type_num}"
    );
    control(out, type_num, significant.len());
    out.extend_from_slice(significant);
}

/// A node of the binary search tree while it is being built.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    /// An index into the writer's list of distinct records.
    Data(usize),
    Inner(Box<Node>, Box<Node>),
}

/// Where a search tree record points once the tree is numbered.
#[derive(Debug, Clone, Copy)]
enum Record {
    Node(usize),
    Empty,
    Data(usize),
}

/// Builds a MaxMind DB file in memory.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    build_epoch: u64,
    record_size: u16,
    root: Node,
    /// The encoded distinct records, in order of first insertion.
    records: Vec<Vec<u8>>,
    record_index: HashMap<Vec<u8>, usize>,
}

impl MmdbWriter {
    /// Starts an empty database of the given type, e.g. "GeoIP2-City" or "GeoLite2-Country".
    pub fn new(database_type: &str) -> Self {
        MmdbWriter {
            database_type: database_type.to_owned(),
            build_epoch: 1_700_000_000,
            record_size: 28,
            root: Node::Empty,
            records: Vec::new(),
            record_index: HashMap::new(),
        }
    }

    /// Sets the build time, in seconds since the Unix epoch.
    pub fn build_epoch(mut self, epoch: u64) -> Self {
        self.build_epoch = epoch;
        self
    }

    /// Sets the record size in bits: 28 (the default) or 32.
    pub fn record_size(mut self, bits: u16) -> Self {
        assert!(
            bits == 28 || bits == 32,
            "record size {bits} is not supported"
        );
        self.record_size = bits;
        self
    }

    /// Inserts a network with a GeoIP2-shaped record: {"country":{"iso_code":C}, and if
    /// subdivision is Some: "subdivisions":[{"iso_code":S}]}.
    pub fn insert_city(&mut self, network: &str, country: &str, subdivision: Option<&str>) {
        let mut pairs = vec![(
            "country",
            Value::map(vec![("iso_code", Value::str(country))]),
        )];
        if let Some(sub) = subdivision {
            pairs.push((
                "subdivisions",
                Value::Array(vec![Value::map(vec![("iso_code", Value::str(sub))])]),
            ));
        }
        self.insert_value(network, &Value::map(pairs));
    }

    /// Inserts a network with the flat record {"country_code": C}.
    pub fn insert_flat(&mut self, network: &str, country: &str) {
        self.insert_value(
            network,
            &Value::map(vec![("country_code", Value::str(country))]),
        );
    }

    /// Inserts a network with any record.
    pub fn insert_value(&mut self, network: &str, value: &Value) {
        let (bits, prefix) = parse_network(network);
        let mut encoded = Vec::new();
        value.encode(&mut encoded);
        let next = self.records.len();
        let index = *self.record_index.entry(encoded.clone()).or_insert(next);
        if index == next {
            self.records.push(encoded);
        }
        insert(&mut self.root, bits, prefix, 0, index);
    }

    /// Serialises the database: search tree, separator, data section, metadata.
    pub fn to_bytes(&self) -> Vec<u8> {
        // The reader needs at least one node, so a root that is empty or a single network
        // covering everything is split into two records.
        let root = match &self.root {
            Node::Inner(..) => self.root.clone(),
            other => Node::Inner(Box::new(other.clone()), Box::new(other.clone())),
        };
        let mut nodes: Vec<(Record, Record)> = Vec::new();
        number(&root, &mut nodes);
        let node_count = nodes.len();

        let mut data = Vec::new();
        let mut offsets = Vec::with_capacity(self.records.len());
        for record in &self.records {
            offsets.push(data.len());
            data.extend_from_slice(record);
        }

        let resolve = |record: Record| -> u64 {
            let value = match record {
                Record::Node(n) => n,
                Record::Empty => node_count,
                Record::Data(d) => node_count + DATA_SECTION_SEPARATOR.len() + offsets[d],
            } as u64;
            assert!(
                value < 1 << self.record_size,
                "the database is too large for {}-bit records",
                self.record_size
            );
            value
        };

        let mut out = Vec::with_capacity(node_count * 8 + data.len() + 256);
        for (left, right) in nodes {
            let (left, right) = (resolve(left), resolve(right));
            match self.record_size {
                28 => {
                    out.extend_from_slice(&(left as u32).to_be_bytes()[1..]);
                    out.push((((left >> 24) as u8 & 0x0F) << 4) | ((right >> 24) as u8 & 0x0F));
                    out.extend_from_slice(&(right as u32).to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&(left as u32).to_be_bytes());
                    out.extend_from_slice(&(right as u32).to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&DATA_SECTION_SEPARATOR);
        out.extend_from_slice(&data);
        out.extend_from_slice(METADATA_MARKER);

        let node_count = u32::try_from(node_count).expect("node count fits in 32 bits");
        let metadata = Value::map(vec![
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(self.build_epoch)),
            ("database_type", Value::str(&self.database_type)),
            (
                "description",
                Value::map(vec![("en", Value::str("Consentry test fixture"))]),
            ),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![Value::str("en")])),
            ("node_count", Value::U32(node_count)),
            ("record_size", Value::U16(self.record_size)),
        ]);
        metadata.encode(&mut out);
        out
    }

    /// Writes the database to `path`, replacing any file there.
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}

/// Parses "a.b.c.d/n", "x::y/n" or a bare address into 128 bits and a prefix length in the
/// IPv6 tree. IPv4 networks land under `::/96`.
fn parse_network(network: &str) -> (u128, u32) {
    let (addr, prefix) = match network.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (network, None),
    };
    let parse_prefix = |max: u32| -> u32 {
        let prefix = prefix.map_or(max, |p| {
            p.parse::<u32>()
                .unwrap_or_else(|_| panic!("bad prefix length in {network}"))
        });
        assert!(prefix <= max, "prefix length too long in {network}");
        prefix
    };
    let (bits, prefix) = if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 96 + parse_prefix(32))
    } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        (u128::from(v6), parse_prefix(128))
    } else {
        panic!("{network} is not a network");
    };
    // Host bits beyond the prefix are ignored, as in any CIDR notation.
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (bits & mask, prefix)
}

/// Points the network `bits/prefix` at `data`, splitting existing networks where needed.
fn insert(node: &mut Node, bits: u128, prefix: u32, depth: u32, data: usize) {
    if depth == prefix {
        *node = Node::Data(data);
        return;
    }
    if !matches!(node, Node::Inner(..)) {
        let old = std::mem::replace(node, Node::Empty);
        *node = Node::Inner(Box::new(old.clone()), Box::new(old));
    }
    if let Node::Inner(left, right) = node {
        let child = if (bits >> (127 - depth)) & 1 == 0 {
            left
        } else {
            right
        };
        insert(child, bits, prefix, depth + 1, data);
    }
}

/// Numbers the inner nodes depth-first (the root is 0) and returns the node's record.
fn number(node: &Node, nodes: &mut Vec<(Record, Record)>) -> Record {
    match node {
        Node::Empty => Record::Empty,
        Node::Data(d) => Record::Data(*d),
        Node::Inner(left, right) => {
            let index = nodes.len();
            nodes.push((Record::Empty, Record::Empty));
            let left = number(left, nodes);
            let right = number(right, nodes);
            nodes[index] = (left, right);
            Record::Node(index)
        }
    }
}
