//! The consent audit export: a site's ledger entries over a range of days, as JSON Lines (or
//! CSV for a spreadsheet), with the documents their hashes name; and its verification offline,
//! from the file alone.
//!
//! The JSON Lines file (format `consentry-ledger-export-1`):
//! - one `export` line: the site, the range, the stretch of the chain it covers;
//! - one `entry` line per entry of that stretch, in order: `seq`, `hash`, `prev`, `recorded_at`,
//!   `type`, the raw `header` (hex) and `payload` (text), and the payload's `fields`. An entry of
//!   another site (the embedded store keeps one chain for every site) or an erased one has its
//!   header only, so the links between the site's entries still verify;
//! - one `document` line per policy or banner text the decisions name by hash.
//!
//! Verification checks that each entry names its predecessor's hash, that each payload matches
//! the digest in its header, that `fields` say what the payload says, that each document
//! matches its hash and that every document a decision names is there. The stretch's first
//! entry names an entry outside the file (`prev`); compare the last `hash` with a receipt or a
//! later export to tie the file to the live ledger.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Value, json};

use crate::domain::ledger::{
    ChainFault, EntryHash, EntryHeader, EntryKind, payload_lines, verify_chain_from,
};
use crate::domain::{SiteId, Timestamp};
use crate::http::wire::rfc3339;
use crate::store::LedgerRow;

pub const FORMAT: &str = "consentry-ledger-export-1";

/// Rows read from the store at a time, by the command line and the HTTP endpoint: memory holds
/// one page, never the whole chain.
pub const PAGE_ROWS: usize = 1_000;

const DAY_MS: i64 = 86_400_000;

/// Days `[from, to]`, as milliseconds `[from, to + 1 day)`.
#[derive(Debug, Clone, Copy)]
pub struct Days {
    pub from_ms: i64,
    pub until_ms: i64,
}

/// Why a range of days cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaysError {
    /// `from` or `to` is not a `YYYY-MM-DD` day.
    #[error("`{raw}` is not YYYY-MM-DD")]
    NotADay { param: &'static str, raw: String },
    #[error("`to` is before `from`")]
    ToBeforeFrom,
}

/// Milliseconds at the start of a `YYYY-MM-DD` day, UTC.
fn day_start(param: &'static str, raw: &str) -> Result<i64, DaysError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(raw, &format).map_err(|_| DaysError::NotADay {
        param,
        raw: raw.to_owned(),
    })?;
    Ok(day.midnight().assume_utc().unix_timestamp() * 1000)
}

/// `YYYY-MM-DD` of the day holding `ms`, UTC.
fn day_of(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

impl Days {
    /// The range an export asks for: `from` (the ledger's first entry when left out) to `to`
    /// included (the day of `now_ms` when left out), both `YYYY-MM-DD`, UTC.
    pub fn parse(from: Option<&str>, to: Option<&str>, now_ms: i64) -> Result<Days, DaysError> {
        let from_ms = from.map(|f| day_start("from", f)).transpose()?.unwrap_or(0);
        let until_ms = match to {
            Some(to) => day_start("to", to)? + DAY_MS,
            None => now_ms - now_ms.rem_euclid(DAY_MS) + DAY_MS,
        };
        if until_ms <= from_ms {
            return Err(DaysError::ToBeforeFrom);
        }
        Ok(Days { from_ms, until_ms })
    }

    /// The first day, `YYYY-MM-DD`.
    pub fn first_day(&self) -> String {
        day_of(self.from_ms)
    }

    /// The last day (included), `YYYY-MM-DD`.
    pub fn last_day(&self) -> String {
        day_of(self.until_ms - DAY_MS)
    }
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines: the verifiable export, with the documents.
    Jsonl,
    /// A table of the site's decisions.
    Csv,
}

impl Format {
    /// `jsonl` or `csv`.
    pub fn parse(raw: &str) -> Option<Format> {
        match raw {
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// The site a payload names, if it has a payload and names one.
fn owner(payload: Option<&[u8]>) -> Option<String> {
    payload_lines(payload?)?
        .into_iter()
        .find_map(|(k, v)| (k == "site").then_some(v))
}

fn header_of(row: &LedgerRow) -> Option<EntryHeader> {
    EntryHeader::from_bytes(&row.1)
}

/// Whether `row` is one of `site`'s entries recorded in `days`.
fn in_range(row: &LedgerRow, site: &SiteId, days: Days) -> bool {
    owner(row.2.as_deref()).as_deref() == Some(site.as_str())
        && header_of(row)
            .is_some_and(|h| (days.from_ms..days.until_ms).contains(&h.recorded_at.millis()))
}

/// The stretch of `chain` from the first to the last of `site`'s entries recorded in `days`.
pub fn stretch<'c>(chain: &'c [LedgerRow], site: &SiteId, days: Days) -> &'c [LedgerRow] {
    let ours = |row: &LedgerRow| in_range(row, site, days);
    match (chain.iter().position(ours), chain.iter().rposition(ours)) {
        (Some(first), Some(last)) => &chain[first..=last],
        _ => &[],
    }
}

/// What the first pass over a chain finds: the stretch's first and last sequence numbers (the
/// `export` line names them before the entries) and the documents its decisions name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stretch {
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The hashes `named_documents` gives for the stretch.
    pub documents: BTreeSet<String>,
}

/// The first pass, fed a chain's rows in order (a page at a time): keeps two sequence numbers
/// and the few document hashes, never the rows.
#[derive(Debug)]
pub struct Scan<'s> {
    site: &'s SiteId,
    days: Days,
    found: Stretch,
    /// Documents named by the site's entries after the last one in range so far: in the
    /// stretch only if another entry in range follows.
    pending: BTreeSet<String>,
}

impl<'s> Scan<'s> {
    pub fn new(site: &'s SiteId, days: Days) -> Scan<'s> {
        Scan {
            site,
            days,
            found: Stretch::default(),
            pending: BTreeSet::new(),
        }
    }

    pub fn feed(&mut self, row: &LedgerRow) {
        if in_range(row, self.site, self.days) {
            self.found.first_seq.get_or_insert(row.0);
            self.found.last_seq = Some(row.0);
            self.found.documents.append(&mut self.pending);
            self.found
                .documents
                .extend(named_documents(std::slice::from_ref(row), self.site));
        } else if self.found.first_seq.is_some() {
            self.pending
                .extend(named_documents(std::slice::from_ref(row), self.site));
        }
    }

    pub fn finish(self) -> Stretch {
        self.found
    }
}

/// The hashes of the documents `site`'s decisions in `rows` name.
pub fn named_documents(rows: &[LedgerRow], site: &SiteId) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| owner(r.2.as_deref()).as_deref() == Some(site.as_str()))
        .filter_map(|r| payload_lines(r.2.as_deref()?))
        .flat_map(|fields| {
            fields
                .into_iter()
                .filter(|(k, v)| (k == "policy_hash" || k == "banner_hash") && !v.is_empty())
                .map(|(_, v)| v)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(raw: &str) -> Option<Vec<u8>> {
    if raw.len() % 2 != 0 {
        return None;
    }
    (0..raw.len() / 2)
        .map(|i| u8::from_str_radix(raw.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Decision => "decision",
        EntryKind::Tombstone => "tombstone",
    }
}

/// The export's lines: the `export` line, the stretch's entries, then the documents given
/// (hash, bytes).
pub fn lines<'a>(
    site: &'a SiteId,
    days: Days,
    rows: &'a [LedgerRow],
    documents: &'a [(String, Vec<u8>)],
) -> impl Iterator<Item = Value> + 'a {
    let head = export_line(
        site,
        days,
        rows.first().map(|r| r.0),
        rows.last().map(|r| r.0),
    );
    let entries = rows.iter().map(move |row| entry_of(site, row));
    let documents = documents
        .iter()
        .map(|(hash, document)| document_line(hash, document));
    std::iter::once(head).chain(entries).chain(documents)
}

/// The `export` line: the site, the range and the stretch's first and last sequence numbers.
pub fn export_line(
    site: &SiteId,
    days: Days,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
) -> Value {
    json!({
        "kind": "export",
        "format": FORMAT,
        "site": site.as_str(),
        "from": rfc3339(Timestamp(days.from_ms)),
        "until": rfc3339(Timestamp(days.until_ms)),
        "first_seq": first_seq,
        "last_seq": last_seq,
    })
}

/// An entry's line in `site`'s export: another site's entry by its header only.
pub fn entry_of(site: &SiteId, row: &LedgerRow) -> Value {
    let own = owner(row.2.as_deref()).as_deref() == Some(site.as_str());
    entry_line(row.0, &row.1, row.2.as_deref().filter(|_| own))
}

/// A document's line.
pub fn document_line(hash: &str, document: &[u8]) -> Value {
    json!({
        "kind": "document",
        "hash": hash,
        "document": String::from_utf8_lossy(document),
    })
}

/// Lines as the file holds them, each followed by a newline.
pub fn write_lines(out: &mut Vec<u8>, lines: impl IntoIterator<Item = Value>) {
    for line in lines {
        // A `Value` always serializes; writing to a vector cannot fail.
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }
}

/// An entry's line: everything in it follows from its header and payload, which is what the
/// verification rebuilds and compares.
fn entry_line(seq: u64, header_bytes: &[u8], payload: Option<&[u8]>) -> Value {
    let header = EntryHeader::from_bytes(header_bytes);
    json!({
        "kind": "entry",
        "seq": seq,
        "hash": header.map(|h| h.hash().hex()),
        "prev": header.map(|h| h.prev.hex()),
        "recorded_at": header.map(|h| rfc3339(h.recorded_at)),
        "type": header.map(|h| kind_name(h.kind)),
        "header": hex(header_bytes),
        "payload": payload.map(|p| String::from_utf8_lossy(p).into_owned()),
        "fields": payload.and_then(payload_lines).map(fields_object),
    })
}

fn fields_object(fields: Vec<(String, String)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// The CSV columns: one row per decision or tombstone of the site (not verifiable on its
/// own: the JSON Lines file is the proof).
const CSV_COLUMNS: [&str; 14] = [
    "seq",
    "hash",
    "recorded_at",
    "type",
    "subject",
    "action",
    "choices",
    "regime",
    "jurisdiction",
    "gpc",
    "channel",
    "policy_hash",
    "banner_hash",
    "variant",
];

/// The export as CSV.
pub fn csv(site: &SiteId, rows: &[LedgerRow]) -> String {
    let mut out = csv_header();
    for row in rows {
        if let Some(line) = csv_row(site, row) {
            out.push_str(&line);
        }
    }
    out
}

/// The CSV's first line, with its newline.
pub fn csv_header() -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    out
}

/// A row's CSV line, with its newline, if it is a decision or tombstone of `site`.
pub fn csv_row(site: &SiteId, row: &LedgerRow) -> Option<String> {
    let header = header_of(row)?;
    let fields = payload_lines(row.2.as_deref()?)?;
    let field = |name: &str| {
        fields
            .iter()
            .find_map(|(k, v)| (k == name).then_some(v.as_str()))
            .unwrap_or("")
    };
    if field("site") != site.as_str() {
        return None;
    }
    let cells: [String; CSV_COLUMNS.len()] = [
        row.0.to_string(),
        header.hash().hex(),
        rfc3339(header.recorded_at),
        kind_name(header.kind).to_owned(),
        field("subject").to_owned(),
        field("action").to_owned(),
        field("choices").to_owned(),
        field("regime").to_owned(),
        field("jurisdiction").to_owned(),
        field("gpc").to_owned(),
        field("channel").to_owned(),
        field("policy_hash").to_owned(),
        field("banner_hash").to_owned(),
        field("variant").to_owned(),
    ];
    let cells: Vec<String> = cells.iter().map(|c| crate::csv::field(c)).collect();
    let mut line = cells.join(",");
    line.push('\n');
    Some(line)
}

/// What an offline verification found wrong first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFault {
    /// A line that is not what the format says (its number, from 1).
    Unreadable { line: usize, why: String },
    /// The chain does not hold together.
    Chain(ChainFault),
    /// Something an entry's line says (hash, prev, time, type, fields) is not what its header
    /// and payload say.
    Disagrees { seq: u64 },
    /// The `export` line does not describe the entries: their first or last sequence number,
    /// or an entry of another site than the one it names.
    Mismatch { why: String },
    /// A document does not match its hash.
    DocumentChanged { hash: String },
    /// A decision names a document the file does not hold.
    DocumentMissing { hash: String },
}

impl fmt::Display for ExportFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportFault::Unreadable { line, why } => write!(f, "line {line}: {why}"),
            ExportFault::Chain(fault) => write!(f, "{fault}"),
            ExportFault::Disagrees { seq } => write!(
                f,
                "entry {seq}: what its line says does not match its header and payload"
            ),
            ExportFault::Mismatch { why } => write!(f, "the export line {why}"),
            ExportFault::DocumentChanged { hash } => {
                write!(f, "document {hash}: its text does not match its hash")
            }
            ExportFault::DocumentMissing { hash } => {
                write!(
                    f,
                    "document {hash} is named by a decision but not in the file"
                )
            }
        }
    }
}

/// What a verification of a sound export found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub site: String,
    pub entries: u64,
    /// Entries with a payload (the site's decisions and tombstones).
    pub with_payload: u64,
    pub documents: u64,
    /// The last entry's hash, to compare with a receipt or the live ledger's head.
    pub last_hash: Option<String>,
}

/// Checks an export from its text alone.
pub fn verify(text: &str) -> Result<Verified, ExportFault> {
    // One line at a time: what is kept is the rows' bytes, not the parsed lines.
    let mut numbered = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str::<Value>(line)
                .map(|v| (n + 1, v))
                .map_err(|e| ExportFault::Unreadable {
                    line: n + 1,
                    why: format!("not JSON: {e}"),
                })
        });
    let Some(first) = numbered.next() else {
        return Err(ExportFault::Unreadable {
            line: 1,
            why: "the file is empty".into(),
        });
    };
    let (_, head) = first?;
    if head["kind"] != "export" || head["format"] != FORMAT {
        return Err(ExportFault::Unreadable {
            line: 1,
            why: format!("not a {FORMAT} file"),
        });
    }
    let site = head["site"].as_str().unwrap_or_default().to_owned();
    let mut rows: Vec<LedgerRow> = Vec::new();
    // The first entry whose line says something its header and payload do not.
    let mut disagrees: Option<u64> = None;
    let mut documents = Vec::new();
    for item in numbered {
        let (n, line) = item?;
        let bad = |why: &str| ExportFault::Unreadable {
            line: n,
            why: why.to_owned(),
        };
        match line["kind"].as_str() {
            Some("entry") => {
                // Sequence numbers are positive and far from overflowing.
                let seq = line["seq"]
                    .as_u64()
                    .filter(|s| (1..=i64::MAX as u64).contains(s))
                    .ok_or_else(|| bad("no sequence number"))?;
                let header = line["header"]
                    .as_str()
                    .and_then(unhex)
                    .ok_or_else(|| bad("the header is not hex"))?;
                let payload = match &line["payload"] {
                    Value::Null => None,
                    Value::String(p) => Some(p.clone().into_bytes()),
                    _ => return Err(bad("the payload is not text")),
                };
                if disagrees.is_none() && line != entry_line(seq, &header, payload.as_deref()) {
                    disagrees = Some(seq);
                }
                rows.push((seq, header, payload));
            }
            Some("document") => {
                let hash = line["hash"].as_str().ok_or_else(|| bad("no hash"))?;
                let text = line["document"]
                    .as_str()
                    .ok_or_else(|| bad("no document"))?;
                documents.push((hash.to_owned(), text.to_owned()));
            }
            _ => return Err(bad("neither an entry nor a document")),
        }
    }
    // A broken chain is the first thing to say; then a line that misreads its entry.
    check_chain(&rows)?;
    if let Some(seq) = disagrees {
        return Err(ExportFault::Disagrees { seq });
    }
    check_export_line(&head, &site, &rows)?;
    for (hash, text) in &documents {
        if EntryHash::parse_hex(hash) != Some(EntryHash::of(text.as_bytes())) {
            return Err(ExportFault::DocumentChanged { hash: hash.clone() });
        }
    }
    let held: BTreeSet<&str> = documents.iter().map(|(h, _)| h.as_str()).collect();
    let named = SiteId::parse(&site).map_err(|_| ExportFault::Unreadable {
        line: 1,
        why: format!("`{site}` is not a site id"),
    })?;
    if let Some(missing) = named_documents(&rows, &named)
        .into_iter()
        .find(|h| !held.contains(h.as_str()))
    {
        return Err(ExportFault::DocumentMissing { hash: missing });
    }
    Ok(Verified {
        site,
        entries: rows.len() as u64,
        with_payload: rows.iter().filter(|r| r.2.is_some()).count() as u64,
        documents: documents.len() as u64,
        last_hash: rows.last().and_then(header_of).map(|h| h.hash().hex()),
    })
}

/// The `export` line against the entries: the stretch it names, and no payload of another
/// site.
fn check_export_line(head: &Value, site: &str, rows: &[LedgerRow]) -> Result<(), ExportFault> {
    let mismatch = |why: String| Err(ExportFault::Mismatch { why });
    let (first, last) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0));
    if head["first_seq"].as_u64() != first || head["last_seq"].as_u64() != last {
        return mismatch(format!(
            "names entries {}–{}, the file holds {}–{}",
            head["first_seq"],
            head["last_seq"],
            first.map_or("none".into(), |s| s.to_string()),
            last.map_or("none".into(), |s| s.to_string())
        ));
    }
    if let Some(row) = rows
        .iter()
        .find(|r| r.2.is_some() && owner(r.2.as_deref()).as_deref() != Some(site))
    {
        return mismatch(format!("names site `{site}`, entry {} is another's", row.0));
    }
    Ok(())
}

/// The links and digests of a stretch, starting from what its first entry names.
fn check_chain(rows: &[LedgerRow]) -> Result<(), ExportFault> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let start =
        header_of(first).ok_or(ExportFault::Chain(ChainFault::Unreadable { seq: first.0 }))?;
    verify_chain_from(first.0, start.prev, rows.iter().cloned())
        .map(|_| ())
        .map_err(ExportFault::Chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::GENESIS;

    const DAY: i64 = 86_400_000;

    fn payload(site: &str, action: &str) -> Vec<u8> {
        format!(
            "format=consentry-decision-1\nsite={site}\nsubject=ab12\naction={action}\npolicy_hash={}\nbanner_hash=\n",
            EntryHash::of(b"the policy").hex()
        )
        .into_bytes()
    }

    /// One chain for every site, as the embedded store keeps it: (site, day, erased).
    fn chain(entries: &[(&str, i64, bool)]) -> Vec<LedgerRow> {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for (i, (site, day, erased)) in entries.iter().enumerate() {
            let seq = i as u64 + 1;
            let body = payload(site, "accept_all");
            let header =
                EntryHeader::next(seq, prev, &body, Timestamp(day * DAY), EntryKind::Decision);
            prev = header.hash();
            out.push((seq, header.to_bytes().to_vec(), (!erased).then_some(body)));
        }
        out
    }

    fn text(
        site: &SiteId,
        days: Days,
        rows: &[LedgerRow],
        documents: &[(String, Vec<u8>)],
    ) -> String {
        lines(site, days, rows, documents)
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn policy() -> Vec<(String, Vec<u8>)> {
        vec![(EntryHash::of(b"the policy").hex(), b"the policy".to_vec())]
    }

    #[test]
    fn another_sites_entries_inside_the_stretch_keep_their_header_only_and_the_links_verify() {
        let rows = chain(&[
            ("shop", 1, false),
            ("blog", 2, false),
            ("shop", 2, false),
            ("shop", 3, true),
            ("shop", 5, false),
        ]);
        let shop = SiteId::parse("shop").unwrap();
        let days = Days {
            from_ms: DAY,
            until_ms: 3 * DAY,
        };
        let stretch = stretch(&rows, &shop, days);
        assert_eq!(stretch.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
        let file = text(&shop, days, stretch, &policy());
        assert!(
            !file.contains("site=blog"),
            "nothing of the other site: {file}"
        );
        let v = verify(&file).expect("verifies");
        assert_eq!((v.entries, v.with_payload, v.documents), (3, 2, 1));
        // Day 5 alone: its entry, whose predecessor (the erased one) is outside the file.
        let later = Days {
            from_ms: 5 * DAY,
            until_ms: 6 * DAY,
        };
        let s = super::stretch(&rows, &shop, later);
        assert_eq!(s.iter().map(|r| r.0).collect::<Vec<_>>(), [5]);
        assert!(verify(&text(&shop, later, s, &policy())).is_ok());
        // No entry of the site in the range: an empty stretch.
        let none = Days {
            from_ms: 10 * DAY,
            until_ms: 11 * DAY,
        };
        assert!(super::stretch(&rows, &shop, none).is_empty());
    }

    #[test]
    fn a_removed_entry_a_changed_field_or_a_missing_document_is_named() {
        let rows = chain(&[("shop", 1, false), ("shop", 1, false), ("shop", 1, false)]);
        let shop = SiteId::parse("shop").unwrap();
        let days = Days {
            from_ms: 0,
            until_ms: 2 * DAY,
        };
        let file = text(&shop, days, &rows, &policy());
        let without_two: String = file
            .lines()
            .filter(|l| !l.contains("\"seq\":2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            verify(&without_two),
            Err(ExportFault::Chain(ChainFault::Gap {
                expected: 2,
                found: 3
            }))
        );
        let changed_field =
            file.replacen("\"action\":\"accept_all\"", "\"action\":\"reject_all\"", 1);
        assert_eq!(
            verify(&changed_field),
            Err(ExportFault::Disagrees { seq: 1 })
        );
        let file_lines: Vec<&str> = file.lines().collect();
        let entry_one: Value = serde_json::from_str(file_lines[1]).unwrap();
        let changed_time = file.replacen(
            entry_one["recorded_at"].as_str().unwrap(),
            "2020-01-01T00:00:00Z",
            1,
        );
        assert_eq!(
            verify(&changed_time),
            Err(ExportFault::Disagrees { seq: 1 })
        );
        let without_last: String = file
            .lines()
            .filter(|l| !l.contains("\"seq\":3"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(matches!(
            verify(&without_last),
            Err(ExportFault::Mismatch { .. })
        ));
        let other = chain(&[("shop", 1, false), ("blog", 1, false)]);
        let with_blog = text(&shop, days, &other, &policy());
        assert!(
            verify(&with_blog).is_ok(),
            "another site's entry by its header only is fine"
        );
        let blogs: Vec<Value> =
            lines(&SiteId::parse("blog").unwrap(), days, &other, &policy()).collect();
        let mut forged: Vec<Value> = lines(&shop, days, &other, &policy()).collect();
        forged[2] = blogs[2].clone();
        let forged: String = forged.iter().map(|l| format!("{l}\n")).collect();
        assert!(
            matches!(verify(&forged), Err(ExportFault::Mismatch { .. })),
            "another site's payload"
        );
        let huge = file.replacen("\"seq\":1,", "\"seq\":18446744073709551615,", 1);
        assert!(matches!(verify(&huge), Err(ExportFault::Unreadable { .. })));
        let no_document = text(&shop, days, &rows, &[]);
        assert!(matches!(
            verify(&no_document),
            Err(ExportFault::DocumentMissing { .. })
        ));
        assert!(matches!(
            verify("{}"),
            Err(ExportFault::Unreadable { line: 1, .. })
        ));
    }

    #[test]
    fn days_name_the_parameter_at_fault_and_default_to_the_first_entry_and_today() {
        let now = 20_000 * DAY + 5;
        let all = Days::parse(None, None, now).unwrap();
        assert_eq!((all.from_ms, all.until_ms), (0, 20_001 * DAY));
        assert_eq!(
            (all.first_day(), all.last_day()),
            ("1970-01-01".into(), "2024-10-04".into())
        );
        let one = Days::parse(Some("2026-11-01"), Some("2026-11-01"), now).unwrap();
        assert_eq!(one.until_ms - one.from_ms, DAY);
        assert_eq!(
            (one.first_day(), one.last_day()),
            ("2026-11-01".into(), "2026-11-01".into())
        );
        assert_eq!(
            Days::parse(Some("2026-13-01"), None, now).err(),
            Some(DaysError::NotADay {
                param: "from",
                raw: "2026-13-01".into()
            })
        );
        assert!(matches!(
            Days::parse(None, Some("yesterday"), now),
            Err(DaysError::NotADay { param: "to", .. })
        ));
        assert_eq!(
            Days::parse(Some("2026-11-02"), Some("2026-11-01"), now).err(),
            Some(DaysError::ToBeforeFrom)
        );
    }

    #[test]
    fn the_scan_fed_row_by_row_finds_the_stretch_and_its_documents() {
        let mut rows = chain(&[
            ("blog", 1, false),
            ("shop", 1, false),
            ("blog", 2, false),
            ("shop", 9, false),
            ("shop", 2, false),
            ("shop", 9, false),
        ]);
        // Entry 4 (out of range, inside the stretch) and entry 6 (after it) name documents of
        // their own.
        for (seq, text) in [(4usize, "four"), (6, "six")] {
            let body = String::from_utf8(rows[seq - 1].2.clone().unwrap())
                .unwrap()
                .replace(
                    &EntryHash::of(b"the policy").hex(),
                    &EntryHash::of(text.as_bytes()).hex(),
                );
            rows[seq - 1].2 = Some(body.into_bytes());
        }
        let shop = SiteId::parse("shop").unwrap();
        let days = Days {
            from_ms: DAY,
            until_ms: 3 * DAY,
        };
        let mut scan = Scan::new(&shop, days);
        for row in &rows {
            scan.feed(row);
        }
        let found = scan.finish();
        let whole = stretch(&rows, &shop, days);
        assert_eq!(
            (found.first_seq, found.last_seq),
            (Some(2), Some(5)),
            "from the first to the last entry of the site in range"
        );
        assert_eq!(whole.first().map(|r| r.0), found.first_seq);
        assert_eq!(whole.last().map(|r| r.0), found.last_seq);
        assert_eq!(found.documents, named_documents(whole, &shop));
        assert!(found.documents.contains(&EntryHash::of(b"four").hex()));
        assert!(!found.documents.contains(&EntryHash::of(b"six").hex()));
        let nothing = Scan::new(
            &shop,
            Days {
                from_ms: 20 * DAY,
                until_ms: 21 * DAY,
            },
        );
        assert_eq!(nothing.finish(), Stretch::default());
    }
}
