//! Stored forms shared by every backend: a value written by one can be read by another.
//!
//! A saved segment is a format byte (1), the description, the number of filters (u16 BE), then
//! each filter's operator, dimension, number of values (u16 BE) and values, every string
//! length-prefixed (u16 BE).
//!
//! A rights-log entry is `key=value` lines (type, channel, outcome, times; never an id), read
//! back on one line.

use crate::domain::{Segment, SegmentFilter, SegmentName, Timestamp};

/// The stored form of a rights request made through the API or the command line.
pub(crate) fn rights_request(at: Timestamp, kind: &str, channel: &str, outcome: &str) -> String {
    format!(
        "type={kind}\nchannel={channel}\noutcome={outcome}\nat={}\n",
        at.0
    )
}

/// A stored rights-log entry as the log shows it: on one line.
pub(crate) fn rights_line(stored: &str) -> String {
    stored.replace('\n', " ").trim().to_owned()
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(usize::from(u16::MAX))]);
}

pub(crate) fn take_str<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
    let len = usize::from(u16::from_be_bytes(b.get(..2)?.try_into().ok()?));
    let s = std::str::from_utf8(b.get(2..2 + len)?).ok()?;
    *b = b.get(2 + len..)?;
    Some(s)
}

const SEGMENT_FORMAT: u8 = 1;

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn take_count(b: &mut &[u8]) -> Option<usize> {
    let n = u16::from_be_bytes(b.get(..2)?.try_into().ok()?);
    *b = b.get(2..)?;
    Some(usize::from(n))
}

pub(crate) fn encode_segment(s: &Segment) -> Vec<u8> {
    let mut out = vec![SEGMENT_FORMAT];
    put_str(&mut out, &s.description);
    let filters = &s.filters[..s.filters.len().min(usize::from(u16::MAX))];
    put_count(&mut out, filters.len());
    for f in filters {
        put_str(&mut out, &f.op);
        put_str(&mut out, &f.dimension);
        let values = &f.values[..f.values.len().min(usize::from(u16::MAX))];
        put_count(&mut out, values.len());
        for v in values {
            put_str(&mut out, v);
        }
    }
    out
}

pub(crate) fn decode_segment(name: &[u8], value: &[u8]) -> Option<Segment> {
    let name = SegmentName::parse(std::str::from_utf8(name).ok()?).ok()?;
    let (&format, mut b) = value.split_first()?;
    if format != SEGMENT_FORMAT {
        return None;
    }
    let description = take_str(&mut b)?.to_owned();
    let mut filters = Vec::new();
    for _ in 0..take_count(&mut b)? {
        let op = take_str(&mut b)?.to_owned();
        let dimension = take_str(&mut b)?.to_owned();
        let values = (0..take_count(&mut b)?)
            .map(|_| take_str(&mut b).map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        filters.push(SegmentFilter {
            op,
            dimension,
            values,
        });
    }
    b.is_empty().then_some(Segment {
        name,
        description,
        filters,
    })
}
