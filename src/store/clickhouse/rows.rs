//! Events as ClickHouse's `RowBinary` rows, in the column order of `schema::COLUMNS`: numbers
//! little-endian, `Date` as its day number (u16), strings and arrays after their LEB128 length.
//! A missing optional value (a country, a referrer, a UTM tag) is the empty string, as in the
//! embedded store's encoding.

use crate::analytics::codec::{put_opt, put_str, put_varint};
use crate::analytics::engine::Row;
use crate::analytics::event::{AcceptedEvent, Context, PropValue, StoredEvent};
use crate::domain::Timestamp;

/// A property's type, kept beside its value so that the value reads back as it was sent.
const PROP_STR: u8 = 0;
const PROP_NUM: u8 = 1;
const PROP_FALSE: u8 = 2;
const PROP_TRUE: u8 = 3;

/// The row of one event: its site, day, visitor number and row id are the store's.
pub fn put_event(out: &mut Vec<u8>, e: &AcceptedEvent, day: u16, visitor: u64, id: u64) {
    put_str(out, e.site.as_str());
    out.extend_from_slice(&day.to_le_bytes());
    out.extend_from_slice(&visitor.to_le_bytes());
    out.extend_from_slice(&e.at.0.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    put_str(out, e.category.as_str());
    put_str(out, &e.name);
    put_str(out, &e.path);
    let c = &e.context;
    put_opt(out, &c.country);
    put_opt(out, &c.region);
    put_str(out, &c.browser);
    put_str(out, &c.os);
    put_str(out, &c.device);
    for s in [
        &c.source,
        &c.referrer,
        &c.utm_source,
        &c.utm_medium,
        &c.utm_campaign,
    ] {
        put_opt(out, s);
    }
    put_varint(out, e.props.len() as u64);
    for (k, _) in &e.props {
        put_str(out, k);
    }
    put_varint(out, e.props.len() as u64);
    for (_, v) in &e.props {
        out.push(match v {
            PropValue::Str(_) => PROP_STR,
            PropValue::Num(_) => PROP_NUM,
            PropValue::Bool(false) => PROP_FALSE,
            PropValue::Bool(true) => PROP_TRUE,
        });
    }
    put_varint(out, e.props.len() as u64);
    for (_, v) in &e.props {
        match v {
            PropValue::Str(s) => put_str(out, s),
            // Rust's shortest form, which parses back to the same number.
            PropValue::Num(n) => put_str(out, &n.to_string()),
            PropValue::Bool(b) => put_str(out, if *b { "true" } else { "false" }),
        }
    }
}

/// Reads `RowBinary` rows.
pub struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    #[cfg(test)]
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.varint()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn opt(&mut self) -> Option<Option<String>> {
        self.string().map(|s| (!s.is_empty()).then_some(s))
    }

    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = usize::try_from(self.varint()?).ok()?;
        // Never more items than bytes left: a bad length cannot make a huge allocation.
        let mut out = Vec::with_capacity(n.min(self.0.len()));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Some(out)
    }

    /// One row of `schema::READ_COLUMNS`: the visitor number, the row id and the event (its
    /// visit left to the reader).
    pub fn event(&mut self) -> Option<(u64, u64, StoredEvent)> {
        let visitor = self.u64()?;
        let at = self.i64()?;
        let id = self.u64()?;
        let category = self.string()?;
        let name = self.string()?;
        let path = self.string()?;
        let country = self.opt()?;
        let region = self.opt()?;
        let browser = self.string()?;
        let os = self.string()?;
        let device = self.string()?;
        let source = self.opt()?;
        let referrer = self.opt()?;
        let utm_source = self.opt()?;
        let utm_medium = self.opt()?;
        let utm_campaign = self.opt()?;
        let keys = self.array(Self::string)?;
        let types = self.array(Self::u8)?;
        let values = self.array(Self::string)?;
        if keys.len() != types.len() || keys.len() != values.len() {
            return None;
        }
        let mut props = Vec::with_capacity(keys.len());
        for ((k, t), v) in keys.into_iter().zip(types).zip(values) {
            let value = match t {
                PROP_STR => PropValue::Str(v),
                PROP_NUM => PropValue::Num(v.parse().ok()?),
                PROP_FALSE => PropValue::Bool(false),
                PROP_TRUE => PropValue::Bool(true),
                _ => return None,
            };
            props.push((k, value));
        }
        let event = StoredEvent {
            at: Timestamp(at),
            visit: 0,
            name,
            category,
            path,
            props,
            context: Context {
                country,
                region,
                browser,
                os,
                device,
                source,
                referrer,
                utm_source,
                utm_medium,
                utm_campaign,
            },
        };
        Some((visitor, id, event))
    }
}

/// The rows of a `RowBinary` answer of `schema::READ_COLUMNS` read in row-id order, one per
/// row id (a group tried again after its insert was stored can leave a row twice); `None`
/// when the answer does not read as such rows.
pub fn events(answer: &[u8]) -> Option<Vec<Row>> {
    let mut reader = Reader(answer);
    let mut rows = Vec::new();
    let mut newest = None;
    while !reader.is_empty() {
        let (visitor, id, event) = reader.event()?;
        if newest == Some(id) {
            continue;
        }
        newest = Some(id);
        rows.push(Row { visitor, event });
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CategoryId, ConsentId, SiteId};

    fn event() -> AcceptedEvent {
        AcceptedEvent {
            site: SiteId::parse("demo").unwrap(),
            consent_id: ConsentId::from_random([7; 16]),
            at: Timestamp(1_764_547_200_123),
            name: "signup".into(),
            category: CategoryId::parse("analytics").unwrap(),
            path: "/pricing".into(),
            props: vec![
                ("plan".into(), PropValue::Str("pro".into())),
                ("seats".into(), PropValue::Num(0.1 + 0.2)),
                ("trial".into(), PropValue::Bool(true)),
                ("annual".into(), PropValue::Bool(false)),
            ],
            context: Context {
                country: Some("DE".into()),
                region: None,
                browser: "Firefox".into(),
                os: "Linux".into(),
                device: "desktop".into(),
                source: Some("Newsletter".into()),
                referrer: None,
                utm_source: Some("news".into()),
                utm_medium: None,
                utm_campaign: Some("black-friday".into()),
            },
        }
    }

    /// The inserted row without its site and day: the columns a day is read with.
    fn as_read(inserted: &[u8]) -> Vec<u8> {
        let mut r = Reader(inserted);
        r.string().unwrap();
        r.u16().unwrap();
        r.0.to_vec()
    }

    #[test]
    fn an_event_reads_back_as_it_was_written() {
        let e = event();
        let mut bytes = Vec::new();
        put_event(&mut bytes, &e, 20_423, 42, 7);
        let one = bytes.len();
        put_event(&mut bytes, &e, 20_423, 43, 9);
        let mut read = as_read(&bytes[..one]);
        read.extend(as_read(&bytes[one..]));
        let rows = events(&read).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].visitor, 42);
        let back = &rows[0].event;
        assert_eq!(back.at, e.at);
        assert_eq!((&back.name, &back.path), (&e.name, &e.path));
        assert_eq!(back.category, "analytics");
        assert_eq!(back.props, e.props, "0.1 + 0.2 keeps every bit");
        assert_eq!(back.context, e.context);
    }

    #[test]
    fn a_row_id_read_twice_is_one_event() {
        let mut bytes = Vec::new();
        put_event(&mut bytes, &event(), 1, 42, 7);
        let once = as_read(&bytes);
        let twice = [once.clone(), once].concat();
        let rows = events(&twice).unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn a_cut_or_inconsistent_answer_does_not_read() {
        let mut bytes = Vec::new();
        put_event(&mut bytes, &event(), 1, 1, 1);
        let read = as_read(&bytes);
        assert!(events(&read[..read.len() - 1]).is_none());
        assert!(events(&read[..10]).is_none());
    }
}
