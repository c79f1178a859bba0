//! The connection layer in front of actix-http: every request head is read and checked here
//! before actix-http's HTTP/1 codec sees it, so a malformed head gets the JSON error shape too.
//!
//! actix-http answers a head it cannot parse itself, before any service runs, with a bare
//! `400` or `431` and an empty body (`h1::dispatcher`, `ParseError`), and a head that does not
//! arrive in time with a bare `408`; it has no hook to change those answers. So each connection
//! is wrapped in [`Guarded`], which holds back the bytes of a request head until the whole head
//! has arrived and passed [`check_head`] (httparse, the same parser actix-http uses, plus the
//! framing rules actix-http enforces), and only then releases it, with its body, to actix-http.
//! A head that fails is never released: actix-http reads an end of stream, finishes any
//! response it owes for earlier requests on the connection, and shuts the connection down;
//! [`Guarded`] writes the JSON error just before that shutdown, so the answers stay in order.
//!
//! Bounded: a head is at most [`HEAD_LIMIT`] bytes (else 431), its target at most
//! [`TARGET_LIMIT`] (else 414), at most [`MAX_HEADERS`] fields (else 431), and it must be
//! complete within [`HEAD_TIMEOUT`] of its first byte (of the connection's start, for the first
//! one; else 408). Bodies pass through uncounted except for their length: `Content-Length`
//! bodies are skipped by length so the next head is found; after a chunked body, an upgrade or a
//! `CONNECT`, the rest of the connection passes through unchecked, and a chunked request gets
//! `Connection: close` added, so the connection ends with it.

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_service::{IntoServiceFactory, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, Service, ServiceFactory};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpResponse};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// The largest request head accepted, in bytes.
pub const HEAD_LIMIT: usize = 32 * 1024;
/// The longest request target accepted, in bytes.
pub const TARGET_LIMIT: usize = 8 * 1024;
/// The most header fields a head may have (actix-http takes at most 96).
pub const MAX_HEADERS: usize = 64;
/// How long a request head may take to arrive.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A request head refused here, answered with the error shape and the connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// The whole response, as bytes on the wire.
    pub fn to_bytes(&self) -> Bytes {
        let body = crate::errors::error_body(self.code, &self.message);
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        );
        let mut out = BytesMut::with_capacity(head.len() + body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body.as_bytes());
        out.freeze()
    }
}

/// What follows a head that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: the next bytes are the next head.
    None,
    /// A body of this many bytes, then the next head.
    Length(u64),
    /// Chunked, an upgrade or a tunnel: the rest of the connection is not read here.
    Rest,
}

/// The outcome of reading a buffer as a request head.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// More bytes are needed.
    Partial,
    /// A complete, acceptable head of `len` bytes.
    Complete {
        len: usize,
        framing: Framing,
        /// `Connection: close` must be added (a chunked body: the next head cannot be found).
        close: bool,
    },
    Refused(Refusal),
}

fn header_str<'a>(h: &'a httparse::Header<'_>) -> Option<&'a str> {
    std::str::from_utf8(h.value).ok().map(str::trim)
}

/// Reads `buf` as an HTTP/1 request head and checks it as actix-http will, and more strictly
/// where that is cheaper (sizes).
pub fn check_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if request_line_too_long(buf) {
                Head::Refused(uri_too_long())
            } else if buf.len() > HEAD_LIMIT {
                Head::Refused(head_too_large())
            } else {
                Head::Partial
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Head::Refused(Refusal::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request_header_fields_too_large",
                format!("the request has more than {MAX_HEADERS} header fields"),
            ));
        }
        Err(e) => return Head::Refused(parse_refusal(e, buf)),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Head::Refused(Refusal::bad("the request line is incomplete"));
    };
    if target.len() > TARGET_LIMIT {
        return Head::Refused(uri_too_long());
    }
    if len > HEAD_LIMIT {
        return Head::Refused(head_too_large());
    }
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Head::Refused(Refusal::bad("the request method is not a valid token"));
    };
    if Uri::try_from(target).is_err() {
        return Head::Refused(Refusal::bad("the request target is not a valid URI"));
    }
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut hosts = 0;
    let mut upgrade = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = header_str(h).unwrap_or("");
            if content_length.is_some() {
                return Head::Refused(Refusal::bad("`Content-Length` is given more than once"));
            }
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Head::Refused(Refusal::bad("`Content-Length` is not a number of bytes"));
            }
            match value.parse::<u64>() {
                Ok(n) => content_length = Some(n),
                Err(_) => {
                    return Head::Refused(Refusal::bad("`Content-Length` is too large"));
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding {
                return Head::Refused(Refusal::bad("`Transfer-Encoding` is given more than once"));
            }
            transfer_encoding = true;
            match header_str(h) {
                Some(v) if v.eq_ignore_ascii_case("chunked") => chunked = true,
                Some(v) if v.eq_ignore_ascii_case("identity") => {}
                _ => {
                    return Head::Refused(Refusal::bad("`Transfer-Encoding` must be `chunked`"));
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade = true;
        }
        if header_str(h).is_none() {
            return Head::Refused(Refusal::bad(format!(
                "the `{}` header is not text",
                name.chars().take(64).collect::<String>()
            )));
        }
    }
    if hosts > 1 {
        return Head::Refused(Refusal::bad("`Host` is given more than once"));
    }
    if version == 1 && hosts == 0 {
        return Head::Refused(Refusal::bad("an HTTP/1.1 request needs a `Host` header"));
    }
    if transfer_encoding && version == 0 {
        return Head::Refused(Refusal::bad(
            "`Transfer-Encoding` is not allowed in HTTP/1.0",
        ));
    }
    if transfer_encoding && content_length.is_some() {
        return Head::Refused(Refusal::bad(
            "`Content-Length` and `Transfer-Encoding` are both given",
        ));
    }
    if version == 0 && method == Method::POST && content_length.is_none() {
        return Head::Refused(Refusal::bad(
            "an HTTP/1.0 POST needs a `Content-Length` header",
        ));
    }
    let framing = if chunked || upgrade || method == Method::CONNECT {
        Framing::Rest
    } else {
        match content_length {
            None | Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    Head::Complete {
        len,
        framing,
        close: chunked,
    }
}

/// Whether the request line alone (no line end seen yet) is already longer than any target.
fn request_line_too_long(buf: &[u8]) -> bool {
    let line = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
    line > TARGET_LIMIT + 64
}

fn uri_too_long() -> Refusal {
    Refusal::new(
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
        format!("the request target is longer than {TARGET_LIMIT} bytes"),
    )
}

fn head_too_large() -> Refusal {
    Refusal::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request_header_fields_too_large",
        format!("the request head is larger than {HEAD_LIMIT} bytes"),
    )
}

fn parse_refusal(e: httparse::Error, buf: &[u8]) -> Refusal {
    use httparse::Error as E;
    match e {
        E::Token if request_line_too_long(buf) => uri_too_long(),
        E::Token => Refusal::bad(
            "the request line holds a character that is not allowed in a method or a target",
        ),
        E::Version => Refusal::bad("the request line does not end in HTTP/1.0 or HTTP/1.1"),
        E::HeaderName => Refusal::bad("a header name holds a character that is not allowed"),
        E::HeaderValue => {
            Refusal::bad("a header value holds a control character that is not allowed")
        }
        E::NewLine | E::Status | E::TooManyHeaders => Refusal::bad("the request head is malformed"),
    }
}

fn timed_out() -> Refusal {
    Refusal::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request head did not arrive within {} seconds",
            HEAD_TIMEOUT.as_secs()
        ),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body(u64),
    Through,
    Refused,
}

/// A connection whose request heads are checked before they are released (see the module).
pub struct Guarded<T> {
    io: T,
    /// Read from `io`, not yet released.
    pending: BytesMut,
    /// Checked, to be released to the reader.
    ready: BytesMut,
    phase: Phase,
    /// The error to write before the connection is shut down.
    refusal: Option<Bytes>,
    /// When the head being read must be complete.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> Guarded<T> {
    pub fn new(io: T) -> Guarded<T> {
        Guarded {
            io,
            pending: BytesMut::new(),
            ready: BytesMut::new(),
            phase: Phase::Head,
            refusal: None,
            deadline: Some(Box::pin(tokio::time::sleep(HEAD_TIMEOUT))),
        }
    }

    fn refuse(&mut self, refusal: &Refusal) {
        self.phase = Phase::Refused;
        self.pending.clear();
        self.deadline = None;
        self.refusal = Some(refusal.to_bytes());
    }

    /// Moves what `pending` allows into `ready`; false when more bytes must be read first.
    fn advance(&mut self) -> bool {
        match self.phase {
            Phase::Refused => true,
            Phase::Through => {
                let all = self.pending.split();
                self.ready.extend_from_slice(&all);
                !self.ready.is_empty()
            }
            Phase::Body(left) => {
                if self.pending.is_empty() {
                    return false;
                }
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(self.pending.len());
                let body = self.pending.split_to(take);
                self.ready.extend_from_slice(&body);
                let left = left - take as u64;
                self.phase = if left == 0 {
                    Phase::Head
                } else {
                    Phase::Body(left)
                };
                true
            }
            Phase::Head => {
                if self.pending.is_empty() {
                    return false;
                }
                match check_head(&self.pending) {
                    Head::Partial => false,
                    Head::Refused(r) => {
                        self.refuse(&r);
                        true
                    }
                    Head::Complete {
                        len,
                        framing,
                        close,
                    } => {
                        let head = self.pending.split_to(len);
                        if close {
                            // Before the blank line that ends the head.
                            self.ready.extend_from_slice(&head[..len - 2]);
                            self.ready.extend_from_slice(b"connection: close\r\n\r\n");
                        } else {
                            self.ready.extend_from_slice(&head);
                        }
                        self.deadline = None;
                        self.phase = match framing {
                            Framing::None => Phase::Head,
                            Framing::Length(n) => Phase::Body(n),
                            Framing::Rest => Phase::Through,
                        };
                        true
                    }
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.phase == Phase::Refused {
                // An end of stream: actix-http finishes what it owes, then shuts down.
                return Poll::Ready(Ok(()));
            }
            if this.advance() {
                continue;
            }
            if this.phase == Phase::Head {
                if this.deadline.is_none() && !this.pending.is_empty() {
                    this.deadline = Some(Box::pin(tokio::time::sleep(HEAD_TIMEOUT)));
                }
                if let Some(deadline) = this.deadline.as_mut() {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.refuse(&timed_out());
                        continue;
                    }
                }
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The client closed its side: it is gone, and so is whatever it asked for. An
                // error (not an end of stream, which actix-http would let a request in flight
                // run on after) makes actix-http drop the connection with its request, so a
                // long analytics scan stops instead of running on for no one.
                this.pending.clear();
                this.phase = Phase::Refused;
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the client closed the connection",
                )));
            }
            this.pending.extend_from_slice(read.filled());
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while let Some(refusal) = this.refusal.as_mut() {
            if refusal.is_empty() {
                this.refusal = None;
                break;
            }
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, refusal))?;
            if n == 0 {
                this.refusal = None;
                break;
            }
            let _ = refusal.split_to(n);
        }
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Serves `factory`'s application on `listener`, every connection through [`Guarded`]: what
/// `actix_web::HttpServer` does, with the head checks in front (and the head timeout here,
/// so actix-http's own, which would answer a bare 408, is off).
///
/// The server stops when `stop` resolves (the caller's signal handling; the OS signals are not
/// hooked here), giving connections `shutdown_timeout` seconds before they are dropped. A client
/// that closes its side of the connection is gone: its request is dropped with it (see
/// `Guarded::poll_read`).
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    factory: F,
    disconnect_timeout: Duration,
    shutdown_timeout: u64,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let server = actix_server::Server::build()
        .shutdown_timeout(shutdown_timeout)
        .shutdown_signal(stop)
        .listen("consentry", listener, move || {
            let app = factory()
                .into_factory()
                .map_err(|e| HttpResponse::from_error(e.into()));
            let h1 = actix_http::HttpService::build()
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(disconnect_timeout)
                .local_addr(local)
                .h1(actix_service::map_config(app, |()| AppConfig::default()));
            actix_service::fn_factory(move || {
                let made = h1.new_service(());
                async move {
                    let h1 = Rc::new(made.await.map_err(|_| ())?);
                    Ok::<_, ()>(actix_service::fn_service(move |stream: TcpStream| {
                        let h1 = h1.clone();
                        async move {
                            let peer = stream.peer_addr().ok();
                            let _ = stream.set_nodelay(true);
                            h1.call((Guarded::new(stream), peer))
                                .await
                                .map_err(|e| log::debug!("connection ended: {e}"))
                        }
                    }))
                }
            })
        })?
        .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(head: &[u8]) -> Refusal {
        match check_head(head) {
            Head::Refused(r) => r,
            other => panic!("{other:?} for {}", String::from_utf8_lossy(head)),
        }
    }

    #[test]
    fn a_good_head_passes_with_its_framing() {
        assert_eq!(
            check_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Head::Complete {
                len: 27,
                framing: Framing::None,
                close: false
            }
        );
        assert!(matches!(
            check_head(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
            Head::Complete {
                framing: Framing::Length(5),
                ..
            }
        ));
        assert!(matches!(
            check_head(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Head::Complete {
                framing: Framing::Rest,
                close: true,
                ..
            }
        ));
        assert_eq!(check_head(b"GET / HTTP/1.1\r\nHost: a\r\n"), Head::Partial);
    }

    #[test]
    fn malformed_heads_are_refused_with_a_status_and_a_code() {
        for head in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
            b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.0\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        ] {
            let r = refused(head);
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
            assert_eq!(r.code, "malformed_request");
        }
    }

    #[test]
    fn oversized_heads_are_431_and_long_targets_414() {
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..200 {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            refused(&many).status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );

        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100_000));
        assert_eq!(refused(long.as_bytes()).status, StatusCode::URI_TOO_LONG);
        let unfinished = format!("GET /{}", "a".repeat(100_000));
        assert_eq!(
            refused(unfinished.as_bytes()).status,
            StatusCode::URI_TOO_LONG
        );

        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n",
            "v".repeat(HEAD_LIMIT)
        );
        assert_eq!(
            refused(big.as_bytes()).status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn a_refusal_is_a_complete_response_with_the_error_shape() {
        let bytes = timed_out().to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "request_timeout");
    }
}
