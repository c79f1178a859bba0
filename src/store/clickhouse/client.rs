//! ClickHouse's HTTP interface, spoken plainly: one HTTP/1.1 request per call with
//! `Connection: close` (the statement in the body, or in the URL with the rows in the body),
//! the answer read to the connection's end and taken only when it is whole (its last chunk, or
//! its `Content-Length`, arrived). Bounded: each call gives up after `TIMEOUT` (an insert after
//! `INSERT_TIMEOUT`), and an answer larger than `MAX_ANSWER` is refused.
//! No query parameters (ClickHouse 18.16 has none): values are put in statements through
//! `quote`, and numbers through their own formatting only.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::settings::ClickHouse;
use crate::store::StoreError;

const TIMEOUT: Duration = Duration::from_secs(60);
/// An insert's limit: the writer holds its visitors' consents while it runs.
const INSERT_TIMEOUT: Duration = Duration::from_secs(15);
/// The limit of each statement that makes sure a query runs no more (`finish`).
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read: a day of a busy site's events, several times over.
const MAX_ANSWER: u64 = 1 << 30;

/// Why a call failed: no connection (nothing was sent), sent but not answered in whole (the
/// statement may have run, or may still run), or answered with an error. The first two are
/// worth trying again.
#[derive(Debug)]
pub enum ChError {
    NotSent(String),
    Unreachable(String),
    Refused(String),
}

impl From<ChError> for StoreError {
    fn from(e: ChError) -> StoreError {
        match e {
            ChError::NotSent(m) | ChError::Unreachable(m) => {
                StoreError::Unreachable(format!("ClickHouse: {m}"))
            }
            ChError::Refused(m) => StoreError::Io(format!("ClickHouse: {m}")),
        }
    }
}

pub struct ChClient {
    address: String,
    /// `user=…&password=…&`, URL-encoded, or empty.
    credentials: String,
    pub database: String,
}

/// A string as a ClickHouse literal: in single quotes, with `\` and `'` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl ChClient {
    pub fn new(settings: &ClickHouse) -> ChClient {
        let mut credentials = String::new();
        if let Some(user) = &settings.user {
            credentials.push_str(&format!("user={}&", encode(user)));
        }
        if let Some(password) = &settings.password {
            credentials.push_str(&format!("password={}&", encode(password)));
        }
        ChClient {
            address: settings.address.clone(),
            credentials,
            database: settings.database.clone(),
        }
    }

    /// Runs a statement in the database; its answer's body.
    pub async fn query(&self, sql: &str) -> Result<Vec<u8>, ChError> {
        let params = format!("database={}&wait_end_of_query=1", encode(&self.database));
        self.post(&params, sql.as_bytes(), TIMEOUT).await
    }

    /// Runs a statement outside any database (creating the database itself).
    pub async fn query_server(&self, sql: &str) -> Result<Vec<u8>, ChError> {
        self.post("wait_end_of_query=1", sql.as_bytes(), TIMEOUT)
            .await
    }

    /// Runs `INSERT … FORMAT …` with `rows` as its data, as the query `query_id`.
    pub async fn insert(
        &self,
        statement: &str,
        rows: &[u8],
        query_id: &str,
    ) -> Result<(), ChError> {
        let params = format!(
            "database={}&query_id={}&query={}",
            encode(&self.database),
            encode(query_id),
            encode(statement)
        );
        self.post(&params, rows, INSERT_TIMEOUT).await.map(|_| ())
    }

    /// Returns once the query `query_id` runs no more, killed if it still ran: from then on,
    /// what it stored (all, some parts, or none) is all it ever stores.
    pub async fn finish(&self, query_id: &str) -> Result<(), ChError> {
        let id = quote(query_id);
        let kill = format!("KILL QUERY WHERE query_id = {id} SYNC");
        self.post("wait_end_of_query=1", kill.as_bytes(), FINISH_TIMEOUT)
            .await?;
        let running = format!("SELECT count() FROM system.processes WHERE query_id = {id}");
        let left = self
            .post("wait_end_of_query=1", running.as_bytes(), FINISH_TIMEOUT)
            .await?;
        match String::from_utf8_lossy(&left).trim() {
            "0" => Ok(()),
            _ => Err(ChError::Unreachable(format!(
                "the query {query_id} still runs after it was killed"
            ))),
        }
    }

    async fn post(&self, params: &str, body: &[u8], limit: Duration) -> Result<Vec<u8>, ChError> {
        tokio::time::timeout(limit, self.exchange(params, body))
            .await
            .map_err(|_| ChError::Unreachable(format!("no answer within {limit:?}")))?
    }

    async fn exchange(&self, params: &str, body: &[u8]) -> Result<Vec<u8>, ChError> {
        let unreachable =
            |e: std::io::Error| ChError::Unreachable(format!("{}: {e}", self.address));
        let mut stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| ChError::NotSent(format!("{}: {e}", self.address)))?;
        let head = format!(
            "POST /?{}{params} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.credentials,
            self.address,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(unreachable)?;
        stream.write_all(body).await.map_err(unreachable)?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER + 1)
            .read_to_end(&mut answer)
            .await
            .map_err(unreachable)?;
        if answer.len() as u64 > MAX_ANSWER {
            return Err(ChError::Refused(format!(
                "an answer was larger than {MAX_ANSWER} bytes"
            )));
        }
        parse_answer(answer)
    }
}

/// The body of a complete HTTP answer, or the error it carries.
fn parse_answer(answer: Vec<u8>) -> Result<Vec<u8>, ChError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(&answer) {
        Ok(httparse::Status::Complete(len)) => len,
        _ => {
            return Err(ChError::Unreachable(
                "the answer was cut short or is not HTTP".into(),
            ));
        }
    };
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let declared = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    let status = response.code.unwrap_or(0);
    let raw = &answer[len..];
    let body = if chunked {
        dechunk(raw).ok_or_else(|| ChError::Unreachable("a chunked answer was cut short".into()))?
    } else {
        if declared.is_some_and(|n| n != raw.len()) {
            return Err(ChError::Unreachable(
                "an answer was shorter or longer than its Content-Length".into(),
            ));
        }
        raw.to_vec()
    };
    if status != 200 {
        let message = String::from_utf8_lossy(&body);
        let first = message.lines().next().unwrap_or("").trim();
        return Err(ChError::Refused(format!("status {status}: {first}")));
    }
    Ok(body)
}

/// The data of a chunked body; `None` when it ends before its last chunk.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_string_cannot_end_its_literal() {
        assert_eq!(quote("demo"), "'demo'");
        assert_eq!(quote(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(quote(r"\'; DROP"), r"'\\\'; DROP'");
    }

    #[test]
    fn an_answer_gives_its_body_or_its_error() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n1\t2\n".to_vec();
        assert_eq!(parse_answer(ok).unwrap(), b"1\t2\n");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .to_vec();
        assert_eq!(parse_answer(chunked).unwrap(), b"abcde");
        let refused =
            b"HTTP/1.0 500 Internal Server Error\r\n\r\nCode: 60, e.displayText() = DB::Exception: Table x doesn't exist\n"
                .to_vec();
        match parse_answer(refused) {
            Err(ChError::Refused(m)) => assert!(m.contains("Table x doesn't exist"), "{m}"),
            other => panic!("{other:?}"),
        }
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".to_vec();
        assert!(matches!(parse_answer(cut), Err(ChError::Unreachable(_))));
        let no_last_chunk =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n".to_vec();
        assert!(matches!(
            parse_answer(no_last_chunk),
            Err(ChError::Unreachable(_))
        ));
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n1\t2\n".to_vec();
        assert!(matches!(parse_answer(short), Err(ChError::Unreachable(_))));
    }
}
