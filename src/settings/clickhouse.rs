//! Where analytics events go when they live in ClickHouse: `clickhouse_url` (an
//! `http://[user[:password]@]host[:port]` of ClickHouse's HTTP interface, port 8123 by default)
//! and `clickhouse_database` (default `consentry`). The URL may hold a password, so it is never
//! printed: its `Debug` and `summary` name the host and the database only.

/// ClickHouse's HTTP interface and the database the events table is in.
#[derive(Clone, PartialEq, Eq)]
pub struct ClickHouse {
    /// `host:port`.
    pub address: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
}

impl ClickHouse {
    /// Parses the URL and the database name; an error says what is expected.
    pub fn parse(url: &str, database: Option<&str>) -> Result<ClickHouse, String> {
        let parsed = url::Url::parse(url).map_err(|e| {
            format!("not a URL like http://clickhouse:8123 (ClickHouse's HTTP interface): {e}")
        })?;
        if parsed.scheme() != "http" {
            return Err(format!(
                "`{}://` is not supported: ClickHouse is reached over plain http:// on a private \
                 network (put a TLS proxy in front of it when the network is not)",
                parsed.scheme()
            ));
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err("the URL names the server only: give the database as \
                 `clickhouse_database`, nothing after the port"
                .into());
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?;
        let port = parsed.port().unwrap_or(8123);
        let user = Some(percent_decode(parsed.username())?).filter(|u| !u.is_empty());
        let password = parsed.password().map(percent_decode).transpose()?;
        let database = database.unwrap_or("consentry");
        ClickHouse::check_database(database)?;
        Ok(ClickHouse {
            address: format!("{host}:{port}"),
            user,
            password,
            database: database.to_owned(),
        })
    }

    /// Whether `name` can be a database name as it is (it goes into statements unquoted).
    pub fn check_database(name: &str) -> Result<(), String> {
        if is_identifier(name) {
            Ok(())
        } else {
            Err(format!(
                "`{name}` is not a plain name (letters, digits and `_`, not starting with a \
                 digit, at most 64)"
            ))
        }
    }

    /// Where it points, without the user or password: for logs.
    pub fn summary(&self) -> String {
        format!("{} database {}", self.address, self.database)
    }
}

/// A URL's user or password as written before it was percent-encoded (`+` stays `+`).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("the URL's user or password has a `%` not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8".into())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClickHouse({})", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_host_port_user_and_password_and_the_database_defaults() {
        let ch = ClickHouse::parse("http://reader:s%40c+ret@10.0.0.5:9000/", None).unwrap();
        assert_eq!(ch.address, "10.0.0.5:9000");
        assert_eq!(ch.user.as_deref(), Some("reader"));
        assert_eq!(ch.password.as_deref(), Some("s@c+ret"));
        assert_eq!(ch.database, "consentry");
        let plain = ClickHouse::parse("http://ch", Some("analytics")).unwrap();
        assert_eq!(plain.address, "ch:8123");
        assert_eq!((plain.user, plain.password), (None, None));
        assert_eq!(plain.database, "analytics");
    }

    #[test]
    fn the_password_is_never_printed() {
        let ch = ClickHouse::parse("http://u:hunter2@ch:8123", None).unwrap();
        assert!(!format!("{ch:?}").contains("hunter2"));
        assert!(!ch.summary().contains("hunter2"));
    }

    #[test]
    fn what_is_not_a_server_url_or_a_plain_database_name_is_refused() {
        for (url, db) in [
            ("https://ch:8443", None),
            ("http://ch:8123/consentry", None),
            ("http://ch:8123/?database=x", None),
            ("ch:8123", None),
            ("http://ch", Some("a-b")),
            ("http://ch", Some("1st")),
            ("http://ch", Some("x; DROP TABLE events")),
        ] {
            assert!(ClickHouse::parse(url, db).is_err(), "{url} {db:?}");
        }
    }
}
