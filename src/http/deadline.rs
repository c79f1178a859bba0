//! A deadline on reading a request body: a client that trickles its body is answered 408
//! `request_timeout` when `body_timeout_seconds` have passed since the headers arrived, instead
//! of holding a connection (and a worker's attention) for as long as it likes. Headers have
//! their own deadline (`HttpServer::client_request_timeout`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use futures_util::Stream;
use tokio::time::{Sleep, sleep};

use super::state::AppState;

/// A body stream that fails with `TimedOut` once its deadline passes.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(timed_out()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the request body did not arrive in time",
    ))
}

/// Whether a body read failed because its deadline passed.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// Middleware: puts the deadline on every request's body.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limit = req
        .app_data::<Data<AppState>>()
        .map_or(Duration::from_secs(10), |s| s.body_timeout);
    let inner = req.take_payload();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner,
        timer: Box::pin(sleep(limit)),
    });
    req.set_payload(Payload::from(stream));
    next.call(req).await
}
