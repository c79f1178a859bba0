//! The compact binary form of a stored event: varints and length-prefixed strings.
//!
//! Layout: visitor number, visit number, category, name (empty for `pageview`), path, country,
//! region, browser, os, device, source, referrer, utm source, medium and campaign, then the
//! property count and each property (key, tag, value).

use super::event::{Context, PropValue, StoredEvent};
use crate::domain::Timestamp;

/// A number as LEB128: seven bits a byte, low bits first.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A string after its length.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A missing string as the empty one.
pub(crate) fn put_opt(out: &mut Vec<u8>, s: &Option<String>) {
    put_str(out, s.as_deref().unwrap_or(""));
}

/// What the codec needs to write an event.
pub struct EncodeInput<'a> {
    pub visitor: u64,
    pub visit: u64,
    pub category: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    pub props: &'a [(String, PropValue)],
    pub context: &'a Context,
}

pub fn encode(e: &EncodeInput<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_varint(&mut out, e.visitor);
    put_varint(&mut out, e.visit);
    put_str(&mut out, e.category);
    put_str(&mut out, if e.name == "pageview" { "" } else { e.name });
    put_str(&mut out, e.path);
    let c = e.context;
    for s in [&c.country, &c.region] {
        put_opt(&mut out, s);
    }
    for s in [&c.browser, &c.os, &c.device] {
        put_str(&mut out, s);
    }
    for s in [
        &c.source,
        &c.referrer,
        &c.utm_source,
        &c.utm_medium,
        &c.utm_campaign,
    ] {
        put_opt(&mut out, s);
    }
    put_varint(&mut out, e.props.len() as u64);
    for (k, v) in e.props {
        put_str(&mut out, k);
        match v {
            PropValue::Str(s) => {
                out.push(0);
                put_str(&mut out, s);
            }
            PropValue::Num(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            PropValue::Bool(b) => out.push(if *b { 3 } else { 2 }),
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.varint()?).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }

    fn opt(&mut self) -> Option<Option<String>> {
        self.string().map(|s| (!s.is_empty()).then_some(s))
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

/// Reads an event back: its visitor number and the event. `None` if the bytes are not one.
pub fn decode(at: Timestamp, bytes: &[u8]) -> Option<(u64, StoredEvent)> {
    let mut r = Reader(bytes);
    let visitor = r.varint()?;
    let visit = r.varint()?;
    let category = r.string()?;
    let name = r.string()?;
    let path = r.string()?;
    let country = r.opt()?;
    let region = r.opt()?;
    let browser = r.string()?;
    let os = r.string()?;
    let device = r.string()?;
    let source = r.opt()?;
    let referrer = r.opt()?;
    let utm_source = r.opt()?;
    let utm_medium = r.opt()?;
    let utm_campaign = r.opt()?;
    let n = r.varint()?;
    let mut props = Vec::new();
    for _ in 0..n.min(64) {
        let k = r.string()?;
        let v = match r.byte()? {
            0 => PropValue::Str(r.string()?),
            1 => {
                if r.0.len() < 8 {
                    return None;
                }
                let (num, rest) = r.0.split_at(8);
                r.0 = rest;
                PropValue::Num(f64::from_le_bytes(num.try_into().ok()?))
            }
            2 => PropValue::Bool(false),
            3 => PropValue::Bool(true),
            _ => return None,
        };
        props.push((k, v));
    }
    Some((
        visitor,
        StoredEvent {
            at,
            visit,
            name: if name.is_empty() {
                "pageview".into()
            } else {
                name
            },
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
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_back_as_it_was_written() {
        let context = Context {
            country: Some("DE".into()),
            region: Some("BE".into()),
            browser: "Firefox".into(),
            os: "Linux".into(),
            device: "desktop".into(),
            source: Some("Google".into()),
            referrer: Some("google.com".into()),
            utm_source: None,
            utm_medium: Some("cpc".into()),
            utm_campaign: None,
        };
        let props = vec![
            ("plan".to_owned(), PropValue::Str("pro".into())),
            ("amount".to_owned(), PropValue::Num(49.5)),
            ("trial".to_owned(), PropValue::Bool(true)),
        ];
        let bytes = encode(&EncodeInput {
            visitor: 300,
            visit: 7,
            category: "marketing",
            name: "purchase",
            path: "/checkout",
            props: &props,
            context: &context,
        });
        let (visitor, e) = decode(Timestamp(5), &bytes).unwrap();
        assert_eq!(visitor, 300);
        assert_eq!(e.visit, 7);
        assert_eq!(e.name, "purchase");
        assert_eq!(e.props, props);
        assert_eq!(e.context, context);
    }

    #[test]
    fn truncated_bytes_are_refused_not_misread() {
        let bytes = encode(&EncodeInput {
            visitor: 1,
            visit: 1,
            category: "analytics",
            name: "pageview",
            path: "/",
            props: &[],
            context: &Context::default(),
        });
        for cut in 0..bytes.len() {
            assert!(decode(Timestamp(0), &bytes[..cut]).is_none(), "{cut}");
        }
    }
}
