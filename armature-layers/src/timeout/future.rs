use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::MESSAGE;
use crate::body::{grpc_head, message_head, ResponseBody};

/// gRPC's `DEADLINE_EXCEEDED`: what a client's retry policy reads as "too slow", where the
/// `503` a browser gets would read as `UNAVAILABLE` (retried).
const GRPC_DEADLINE_EXCEEDED: HeaderValue = HeaderValue::from_static("4");

pin_project! {
    /// The future of [`Timeout`](super::Timeout): the inner service's answer, or the timeout's
    /// once the limit has passed (the inner future is then dropped with this one).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        status: StatusCode,
        // A gRPC call: answered with a trailers-only `DEADLINE_EXCEEDED`.
        grpc: bool,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, sleep: Sleep, status: StatusCode, grpc: bool) -> Self {
        ResponseFuture {
            inner,
            sleep,
            status,
            grpc,
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The inner service first: an answer ready at the limit is still sent.
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map(|res| res.map(ResponseBody::new)));
        }
        std::task::ready!(this.sleep.poll(cx));
        tracing::debug!(status = this.status.as_u16(), "request timed out");
        if *this.grpc {
            let res = grpc_head(
                GRPC_DEADLINE_EXCEEDED,
                "deadline exceeded: the call took longer than the server's time limit",
            );
            return Poll::Ready(Ok(res.map(|()| ResponseBody::message(None))));
        }
        let res = message_head(*this.status).map(|()| ResponseBody::message(Some(MESSAGE)));
        Poll::Ready(Ok(res))
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("deadline", &self.sleep.deadline())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
