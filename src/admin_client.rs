//! A client of the administration API for the command line: `consentry keys …` talks to the
//! running server through it when the server holds the data folder.
//!
//! Plain HTTP/1.1 over one connection per call (`Connection: close`), for the server's own
//! listening address or an `http://` URL on a private network; answers are bounded to 1 MiB and
//! each call to 10 s.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER: u64 = 1 << 20;

/// Where the administration API is, and the token that opens it.
pub struct AdminClient {
    addr: SocketAddr,
    host: String,
    token: String,
    /// How long an answer may take (10 s; a backup gets longer).
    timeout: Duration,
}

/// An answer: its status and its JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error message of a JSON error body, or the status.
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the server answered {}", self.status))
    }
}

impl AdminClient {
    /// For `http://host:port` (a trailing `/` is ignored).
    pub fn new(url: &str, token: String) -> Result<AdminClient, String> {
        let host = url
            .strip_prefix("http://")
            .map(|h| h.trim_end_matches('/'))
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| format!("`{url}` is not a URL like http://127.0.0.1:8080"))?;
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{host}` has no address"))?;
        Ok(AdminClient {
            addr,
            host: host.to_owned(),
            token,
            timeout: TIMEOUT,
        })
    }

    /// The server listening on `listen`: an unspecified address (0.0.0.0, ::) is reached on
    /// loopback.
    pub fn for_listen(listen: SocketAddr, token: String) -> AdminClient {
        let mut addr = listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        AdminClient {
            addr,
            host: addr.to_string(),
            token,
            timeout: TIMEOUT,
        }
    }

    /// The same client, waiting up to `timeout` for an answer.
    pub fn waiting(self, timeout: Duration) -> AdminClient {
        AdminClient { timeout, ..self }
    }

    /// Sends one request to `/api/v1/admin{path}`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let unreachable =
            |e: std::io::Error| format!("cannot reach the server at {}: {e}", self.addr);
        let mut stream = TcpStream::connect_timeout(&self.addr, TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} /api/v1/admin{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.host,
            self.token,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .map_err(unreachable)?;
        let mut raw = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut raw)
            .map_err(unreachable)?;
        parse_answer(&raw)
    }
}

/// Reads a status line, headers and a body (sized, or chunked).
fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let malformed = || "the server's answer cannot be read".to_owned();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(malformed)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| malformed())?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(malformed)?;
    let chunked = lines.any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest).ok_or_else(malformed)?
    } else {
        rest.to_vec()
    };
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|_| malformed())?
    };
    Ok(Answer { status, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = rest.get(line_end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_and_chunked_answers_are_read_and_a_broken_one_is_an_error() {
        let sized = b"HTTP/1.1 201 Created\r\ncontent-length: 8\r\n\r\n{\"a\":1}\n";
        let a = parse_answer(sized).unwrap();
        assert_eq!((a.status, a.body["a"].as_i64()), (201, Some(1)));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n";
        let a = parse_answer(chunked).unwrap();
        assert_eq!(a.body["a"].as_i64(), Some(2));
        let empty = parse_answer(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((empty.status, empty.body), (204, Value::Null));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\nnot json").is_err());
    }

    #[test]
    fn an_unspecified_listening_address_is_reached_on_loopback() {
        let c = AdminClient::for_listen("0.0.0.0:8080".parse().unwrap(), String::new());
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(AdminClient::new("https://x", String::new()).is_err());
        assert!(AdminClient::new("http://127.0.0.1:9/path", String::new()).is_err());
        assert!(AdminClient::new("http://127.0.0.1:9/", String::new()).is_ok());
    }
}
