//! The on-disk form of a `Day`: a segment.
//!
//! Layout: the magic `CSEG`, a format version byte, the day (i64 LE), the number of blocks
//! (u16 LE) and each block's length (u32 LE), then the blocks, then a CRC-32 of everything
//! before it (u32 LE). Each block is one column compressed with LZ4: the dictionary (varint
//! length + UTF-8 bytes per string), or integers as fixed-width little-endian values (1, 2, 4
//! or 8 bytes, the narrowest that holds the column), delta-coded (zig-zag) where the column is
//! sorted. A reader can decompress only the columns it needs.

use super::day::Day;
use crate::analytics::query::VisitField;

const MAGIC: &[u8; 4] = b"CSEG";
/// Version 2 added the visits' pageview counts (the last block); version 1 is still read.
const VERSION: u8 = 2;

/// The blocks' positions.
mod block {
    use crate::analytics::query::VisitField;

    pub const VISIT_NUMBER: usize = 2;
    pub const ATTRS: usize = 6;
    pub const EV_VISIT: usize = ATTRS + VisitField::COUNT;
    pub const EV_PATH: usize = EV_VISIT + 3;
    pub const EV_CATEGORY: usize = EV_VISIT + 4;
    pub const EV_PROPS: usize = EV_VISIT + 5;
    pub const PROP_KIND: usize = EV_VISIT + 8;
    pub const VISIT_PAGEVIEWS: usize = PROP_KIND + 1;
    /// How many blocks version 1 had, and version 2 has.
    pub const V1: usize = VISIT_PAGEVIEWS;
    pub const V2: usize = VISIT_PAGEVIEWS + 1;
}

/// Why bytes are not a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable segment: {0}")]
pub struct FormatError(pub &'static str);

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, FormatError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*at)
            .ok_or(FormatError("a varint runs past its block"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(FormatError("a varint is too long"))
}

/// Integers, delta-coded when `delta`, at the narrowest fixed width.
fn int_block(values: impl Iterator<Item = i64> + Clone, delta: bool) -> Vec<u8> {
    let coded = values.scan(0i64, move |prev, v| {
        let out = if delta {
            zigzag(v.wrapping_sub(*prev))
        } else {
            v as u64
        };
        *prev = v;
        Some(out)
    });
    let max = coded.clone().max().unwrap_or(0);
    let width: u8 = match max {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    let mut raw = vec![width, u8::from(delta)];
    for v in coded {
        raw.extend_from_slice(&v.to_le_bytes()[..usize::from(width)]);
    }
    raw
}

/// A column's header: its width and whether it is delta-coded, and its body.
fn header(raw: &[u8]) -> Result<(usize, bool, &[u8]), FormatError> {
    let (&width, rest) = raw.split_first().ok_or(FormatError("an empty column"))?;
    let (&delta, body) = rest.split_first().ok_or(FormatError("an empty column"))?;
    let width = usize::from(width);
    if !matches!(width, 1 | 2 | 4 | 8) || body.len() % width != 0 || delta > 1 {
        return Err(FormatError("a column of an unknown width"));
    }
    Ok((width, delta == 1, body))
}

/// The raw (still delta-coded) values, widened; a loop per width so each vectorizes.
fn widen(width: usize, body: &[u8]) -> Vec<u64> {
    match width {
        1 => body.iter().map(|b| u64::from(*b)).collect(),
        2 => body
            .chunks_exact(2)
            .map(|c| u64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        4 => body
            .chunks_exact(4)
            .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => body
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    }
}

fn read_ints(raw: &[u8]) -> Result<Vec<i64>, FormatError> {
    let (width, delta, body) = header(raw)?;
    let mut values: Vec<i64> = widen(width, body).into_iter().map(|v| v as i64).collect();
    if delta {
        let mut prev = 0i64;
        for v in values.iter_mut() {
            prev = prev.wrapping_add(unzigzag(*v as u64));
            *v = prev;
        }
    }
    Ok(values)
}

/// A column of codes (u32), read straight into its final form.
fn read_u32s(raw: &[u8]) -> Result<Vec<u32>, FormatError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let (width, delta, body) = header(raw)?;
    let out_of_range = || FormatError("a code out of range");
    if !delta {
        return match width {
            1 => Ok(body.iter().map(|b| u32::from(*b)).collect()),
            2 => Ok(body
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect()),
            4 => Ok(body
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()),
            _ => widen(8, body)
                .into_iter()
                .map(|v| u32::try_from(v).map_err(|_| out_of_range()))
                .collect(),
        };
    }
    read_ints(raw)?
        .into_iter()
        .map(|v| u32::try_from(v).map_err(|_| out_of_range()))
        .collect()
}

fn dict_block(dict: &[String]) -> Vec<u8> {
    let mut raw = Vec::new();
    put_varint(&mut raw, dict.len() as u64);
    for s in dict {
        put_varint(&mut raw, s.len() as u64);
        raw.extend_from_slice(s.as_bytes());
    }
    raw
}

fn read_dict(raw: &[u8]) -> Result<Vec<String>, FormatError> {
    let mut at = 0;
    let n = varint(raw, &mut at)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let len =
            usize::try_from(varint(raw, &mut at)?).map_err(|_| FormatError("a long string"))?;
        let bytes = raw
            .get(at..at + len)
            .ok_or(FormatError("a string runs past its block"))?;
        at += len;
        out.push(
            String::from_utf8(bytes.to_vec()).map_err(|_| FormatError("a string is not UTF-8"))?,
        );
    }
    Ok(out)
}

fn u32s(v: &[u32]) -> impl Iterator<Item = i64> + Clone + '_ {
    v.iter().map(|x| i64::from(*x))
}

fn u64s(v: &[u64]) -> impl Iterator<Item = i64> + Clone + '_ {
    v.iter().map(|x| *x as i64)
}

/// The uncompressed blocks of a day, in the format's order.
fn blocks(d: &Day) -> Vec<Vec<u8>> {
    let mut b = vec![
        dict_block(&d.dict),
        int_block(u64s(&d.visit_visitor), true),
        int_block(u64s(&d.visit_number), true),
        int_block(d.visit_start.iter().copied(), true),
        int_block(
            d.visit_end
                .iter()
                .zip(&d.visit_start)
                .map(|(end, start)| end - start),
            false,
        ),
        int_block(u32s(&d.visit_events), false),
    ];
    for field in VisitField::ALL {
        b.push(int_block(u32s(d.attr(field)), false));
    }
    b.extend([
        int_block(u32s(&d.ev_visit), true),
        int_block(d.ev_at.iter().copied(), true),
        int_block(u32s(&d.ev_name), false),
        int_block(u32s(&d.ev_path), false),
        int_block(u32s(&d.ev_category), false),
        int_block(u32s(&d.ev_props), true),
        int_block(u32s(&d.prop_key), false),
        int_block(u32s(&d.prop_value), false),
        int_block(d.prop_kind.iter().map(|k| i64::from(*k)), false),
        int_block(u32s(&d.visit_pageviews), false),
    ]);
    debug_assert_eq!(b.len(), block::V2);
    b
}

/// Which optional columns a reader wants; the rest stay empty (and are not decompressed).
/// The dictionary and the visits' visitor, start, end, event and pageview counts are always
/// read; the events' visit, time and name too unless `visits_only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Need {
    /// Only the visits table: no column of the events table (and so no paths, categories or
    /// properties).
    pub visits_only: bool,
    pub visit_numbers: bool,
    pub paths: bool,
    pub categories: bool,
    pub props: bool,
    /// The visit attributes wanted, a bit per `VisitField` index.
    pub attrs: u16,
}

impl Need {
    pub const ALL: Need = Need {
        visits_only: false,
        visit_numbers: true,
        paths: true,
        categories: true,
        props: true,
        attrs: u16::MAX,
    };

    /// Wants this visit attribute too.
    pub fn with_attr(mut self, field: VisitField) -> Need {
        self.attrs |= 1 << field.index();
        self
    }

    pub fn has_attr(self, field: VisitField) -> bool {
        self.attrs & (1 << field.index()) != 0
    }

    /// Whether what `self` holds covers `other`.
    pub fn covers(self, other: Need) -> bool {
        (!self.visits_only || other.visits_only)
            && (self.visit_numbers || !other.visit_numbers)
            && (self.paths || !other.paths)
            && (self.categories || !other.categories)
            && (self.props || !other.props)
            && (self.attrs & other.attrs) == other.attrs
    }

    pub fn union(self, other: Need) -> Need {
        Need {
            visits_only: self.visits_only && other.visits_only,
            visit_numbers: self.visit_numbers || other.visit_numbers,
            paths: self.paths || other.paths,
            categories: self.categories || other.categories,
            props: self.props || other.props,
            attrs: self.attrs | other.attrs,
        }
    }

    /// Which blocks (by position) to decompress.
    fn wants(self, b: usize) -> bool {
        use block::*;
        match b {
            VISIT_NUMBER => self.visit_numbers,
            _ if (ATTRS..EV_VISIT).contains(&b) => self.attrs & (1 << (b - ATTRS)) != 0,
            VISIT_PAGEVIEWS => true,
            _ if (EV_VISIT..=PROP_KIND).contains(&b) && self.visits_only => false,
            EV_PATH => self.paths,
            EV_CATEGORY => self.categories,
            _ if (EV_PROPS..=PROP_KIND).contains(&b) => self.props,
            _ => true,
        }
    }
}

/// A day as a segment's bytes.
pub fn encode(d: &Day) -> Vec<u8> {
    let compressed: Vec<Vec<u8>> = blocks(d)
        .iter()
        .map(|b| lz4_flex::compress_prepend_size(b))
        .collect();
    let mut out = Vec::with_capacity(compressed.iter().map(Vec::len).sum::<usize>() + 128);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&d.day.to_le_bytes());
    out.extend_from_slice(&(compressed.len() as u16).to_le_bytes());
    for c in &compressed {
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    }
    for c in &compressed {
        out.extend_from_slice(c);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Whether bytes are a segment of an older format version (one `upgrade` should rewrite).
pub fn is_older(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&MAGIC[..]) && bytes.get(4).is_some_and(|v| *v < VERSION)
}

/// A segment's bytes as a day, checked: its checksum, its columns' lengths and every code.
pub fn decode(bytes: &[u8]) -> Result<Day, FormatError> {
    decode_some(bytes, Need::ALL)
}

/// Like `decode`, with only the optional columns `need` names (the others empty).
pub fn decode_some(bytes: &[u8], mut need: Need) -> Result<Day, FormatError> {
    let (body, crc) = bytes
        .split_at_checked(bytes.len().saturating_sub(4))
        .ok_or(FormatError("too short"))?;
    let crc: [u8; 4] = crc.try_into().map_err(|_| FormatError("too short"))?;
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err(FormatError("its checksum does not match"));
    }
    if body.get(..4) != Some(&MAGIC[..]) {
        return Err(FormatError("an unknown magic"));
    }
    let expected = match body.get(4) {
        Some(1) => block::V1,
        Some(&VERSION) => block::V2,
        _ => return Err(FormatError("an unknown version")),
    };
    if expected == block::V1 {
        // The pageview counts are derived from the events.
        need.visits_only = false;
    }
    let day = i64::from_le_bytes(
        body.get(5..13)
            .and_then(|b| b.try_into().ok())
            .ok_or(FormatError("too short"))?,
    );
    let count = u16::from_le_bytes(
        body.get(13..15)
            .and_then(|b| b.try_into().ok())
            .ok_or(FormatError("too short"))?,
    ) as usize;
    if count != expected {
        return Err(FormatError("an unexpected number of columns"));
    }
    let mut at = 15 + 4 * count;
    let mut raw = Vec::with_capacity(count);
    for i in 0..count {
        let len = body
            .get(15 + 4 * i..19 + 4 * i)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or(FormatError("too short"))? as usize;
        let block = body
            .get(at..at + len)
            .ok_or(FormatError("a block runs past the end"))?;
        at += len;
        if !need.wants(i) {
            raw.push(Vec::new());
            continue;
        }
        raw.push(
            lz4_flex::decompress_size_prepended(block)
                .map_err(|_| FormatError("a block does not decompress"))?,
        );
    }
    let mut raw = raw.into_iter();
    let mut next = || raw.next().ok_or(FormatError("a missing column"));
    let dict = read_dict(&next()?)?;
    let ints = |b: Vec<u8>| {
        if b.is_empty() {
            Ok(Vec::new())
        } else {
            read_ints(&b)
        }
    };
    let visit_visitor: Vec<u64> = ints(next()?)?.into_iter().map(|v| v as u64).collect();
    let visit_number: Vec<u64> = ints(next()?)?.into_iter().map(|v| v as u64).collect();
    let visit_start = ints(next()?)?;
    let visit_end: Vec<i64> = ints(next()?)?
        .into_iter()
        .zip(&visit_start)
        .map(|(len, start)| start + len)
        .collect();
    let visit_events = read_u32s(&next()?)?;
    let mut visit_attrs = Vec::with_capacity(VisitField::COUNT);
    for _ in VisitField::ALL {
        visit_attrs.push(read_u32s(&next()?)?);
    }
    let mut d = Day {
        day,
        dict,
        visit_visitor,
        visit_number,
        visit_start,
        visit_end,
        visit_events,
        visit_pageviews: Vec::new(),
        visit_attrs,
        ev_visit: read_u32s(&next()?)?,
        ev_at: ints(next()?)?,
        ev_name: read_u32s(&next()?)?,
        ev_path: read_u32s(&next()?)?,
        ev_category: read_u32s(&next()?)?,
        ev_props: read_u32s(&next()?)?,
        prop_key: read_u32s(&next()?)?,
        prop_value: read_u32s(&next()?)?,
        prop_kind: ints(next()?)?
            .into_iter()
            .map(|k| u8::try_from(k).map_err(|_| FormatError("a property kind out of range")))
            .collect::<Result<_, _>>()?,
    };
    d.visit_pageviews = match next() {
        Ok(block) => read_u32s(&block)?,
        Err(_) => Vec::new(),
    };
    if expected == block::V1 {
        d.visit_pageviews = Day::pageviews_per_visit(d.visits(), &d.ev_visit, &d.ev_name);
    }
    check(&d, need)?;
    Ok(d)
}

/// Every column has its table's length and every code points into the dictionary, so no
/// reader can index out of bounds.
fn check(d: &Day, need: Need) -> Result<(), FormatError> {
    let (visits, events, props) = (d.visit_start.len(), d.ev_at.len(), d.prop_key.len());
    let numbers = if need.visit_numbers {
        d.visit_number.len()
    } else {
        visits
    };
    let visit_cols = [
        d.visit_visitor.len(),
        numbers,
        d.visit_end.len(),
        d.visit_events.len(),
        d.visit_pageviews.len(),
    ];
    let attrs_sound = VisitField::ALL
        .iter()
        .zip(&d.visit_attrs)
        .all(|(f, a)| a.len() == visits || (!need.has_attr(*f) && a.is_empty()));
    if visit_cols.iter().any(|l| *l != visits) || !attrs_sound {
        return Err(FormatError("visit columns of different lengths"));
    }
    let optional = |wanted: bool, len: usize, full: usize| if wanted { len } else { full };
    let event_cols = [
        d.ev_visit.len(),
        d.ev_name.len(),
        optional(need.paths, d.ev_path.len(), events),
        optional(need.categories, d.ev_category.len(), events),
    ];
    if event_cols.iter().any(|l| *l != events)
        || optional(need.props, d.ev_props.len(), events + 1) != events + 1
    {
        return Err(FormatError("event columns of different lengths"));
    }
    if d.prop_value.len() != props || d.prop_kind.len() != props {
        return Err(FormatError("property columns of different lengths"));
    }
    let words = d.dict.len() as u64;
    let codes = d
        .visit_attrs
        .iter()
        .flatten()
        .chain(&d.ev_name)
        .chain(&d.ev_path)
        .chain(&d.ev_category)
        .chain(&d.prop_key)
        .chain(&d.prop_value);
    if codes.into_iter().any(|c| u64::from(*c) >= words) {
        return Err(FormatError("a code outside the dictionary"));
    }
    if d.ev_visit.iter().any(|v| *v as usize >= visits) {
        return Err(FormatError("an event of no visit"));
    }
    let ordered = d.ev_props.windows(2).all(|w| w[0] <= w[1]);
    let offsets_sound = ordered
        && d.ev_props.first() == Some(&0)
        && d.ev_props.last().map(|l| *l as usize) == Some(props);
    if need.props && !offsets_sound {
        return Err(FormatError("property offsets out of order"));
    }
    Ok(())
}

/// The same day as version 1 wrote it: without the last block (the pageview counts).
#[cfg(test)]
pub fn as_version_1(bytes: &[u8]) -> Vec<u8> {
    let count = block::V2;
    let lengths: Vec<usize> = (0..count)
        .map(|i| u32::from_le_bytes(bytes[15 + 4 * i..19 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let blocks_at = 15 + 4 * count;
    let kept: usize = lengths[..count - 1].iter().sum();
    let mut out = bytes[..5].to_vec();
    out[4] = 1;
    out.extend_from_slice(&bytes[5..13]);
    out.extend_from_slice(&((count - 1) as u16).to_le_bytes());
    for l in &lengths[..count - 1] {
        out.extend_from_slice(&(*l as u32).to_le_bytes());
    }
    out.extend_from_slice(&bytes[blocks_at..blocks_at + kept]);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::engine::Row;
    use crate::analytics::event::{Context, PropValue, StoredEvent};
    use crate::domain::Timestamp;

    fn row(visitor: u64, visit: u64, at: i64, name: &str, path: &str) -> Row {
        Row {
            visitor,
            event: StoredEvent {
                at: Timestamp(at),
                visit,
                name: name.into(),
                category: "analytics".into(),
                path: path.into(),
                props: if name == "pageview" {
                    Vec::new()
                } else {
                    vec![
                        ("plan".into(), PropValue::Str("pro".into())),
                        ("seats".into(), PropValue::Num(3.0)),
                        ("trial".into(), PropValue::Bool(true)),
                    ]
                },
                context: Context {
                    country: Some("DE".into()),
                    browser: "Firefox".into(),
                    os: "Linux".into(),
                    device: "desktop".into(),
                    source: Some("Google".into()),
                    ..Context::default()
                },
            },
        }
    }

    fn sample() -> Day {
        let t = 20_000 * 86_400_000;
        Day::build(
            20_000,
            vec![
                row(7, 2, t + 5_000, "signup", "/pricing"),
                row(7, 2, t + 1_000, "pageview", "/"),
                row(3, 1, t + 9_000, "pageview", "/pricing"),
                row(7, 2, t + 3_000, "pageview", "/pricing"),
            ],
        )
    }

    #[test]
    fn a_day_reads_back_as_it_was_written() {
        let day = sample();
        assert_eq!(decode(&encode(&day)), Ok(day.clone()));
        assert_eq!(day.visits(), 2);
        assert_eq!(day.events(), 4);
        let mine: Vec<Row> = day.rows_of(7);
        assert_eq!(mine.len(), 3);
        assert_eq!(mine[0].event.path, "/", "oldest first");
        assert_eq!(mine[2].event.props.len(), 3);
        assert_eq!(mine[2].event.props[1].1, PropValue::Num(3.0));
    }

    #[test]
    fn entry_and_exit_pages_are_a_visits_first_and_last_pageviews() {
        let day = sample();
        let v = day.visit_visitor.iter().position(|v| *v == 7).unwrap();
        assert_eq!(day.text(day.attr(VisitField::EntryPage)[v]), "/");
        assert_eq!(day.text(day.attr(VisitField::ExitPage)[v]), "/pricing");
        assert_eq!(day.visit_events[v], 3);
        assert_eq!(day.visit_end[v] - day.visit_start[v], 4_000);
    }

    #[test]
    fn a_reader_can_leave_out_what_it_does_not_need() {
        let day = sample();
        let bytes = encode(&day);
        let want = Need::default().with_attr(VisitField::Country);
        let some = decode_some(&bytes, want).unwrap();
        assert!(
            some.ev_path.is_empty() && some.prop_key.is_empty() && some.visit_number.is_empty()
        );
        assert_eq!(some.ev_at, day.ev_at);
        assert_eq!(
            some.attr(VisitField::Country),
            day.attr(VisitField::Country)
        );
        assert!(some.attr(VisitField::Browser).is_empty());
        assert!(Need::ALL.covers(want) && !want.covers(Need::ALL));
        assert!(!Need::default().covers(want), "an attribute more is more");
    }

    #[test]
    fn a_visits_only_reader_gets_every_visit_and_no_event() {
        let day = sample();
        let want = Need {
            visits_only: true,
            ..Need::default()
        }
        .with_attr(VisitField::Source);
        let some = decode_some(&encode(&day), want).unwrap();
        assert_eq!(some.events(), 0);
        assert!(some.ev_name.is_empty() && some.ev_props.is_empty());
        assert_eq!(some.visit_visitor, day.visit_visitor);
        assert_eq!(some.visit_events, day.visit_events);
        assert_eq!(some.visit_pageviews, day.visit_pageviews);
        assert_eq!(
            day.visit_pageviews,
            [1, 2],
            "visitor 3: one pageview; 7: two and a signup"
        );
        assert_eq!(some.attr(VisitField::Source), day.attr(VisitField::Source));
        assert!(
            !want.covers(Need::default()),
            "no events table in a visits-only read"
        );
    }

    #[test]
    fn a_version_1_segment_is_still_read_with_its_pageviews_counted_from_its_events() {
        let day = sample();
        let old = as_version_1(&encode(&day));
        assert_eq!(decode(&old).unwrap(), day);
        let visits_only = Need {
            visits_only: true,
            ..Need::default()
        };
        let some = decode_some(&old, visits_only).unwrap();
        assert_eq!(some.visit_pageviews, day.visit_pageviews);
    }

    #[test]
    fn any_damaged_byte_is_refused() {
        let bytes = encode(&sample());
        for i in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x55;
            assert!(decode(&bad).is_err(), "byte {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"").is_err());
    }

    #[test]
    fn dropping_rows_rebuilds_the_dictionary_without_their_strings() {
        let day = sample();
        let without = day.without(|r| r.visitor == 7).unwrap();
        assert_eq!(without.events(), 1);
        assert!(!without.dict.iter().any(|w| w == "signup" || w == "pro"));
        assert_eq!(day.without(|_| false), None);
    }
}
