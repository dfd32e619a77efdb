use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::MESSAGE;
use crate::body::{message_head, ResponseBody};

pin_project! {
    /// The future of [`Timeout`](super::Timeout): the inner service's answer, or the timeout's
    /// once the limit has passed (the inner future is then dropped with this one).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        status: StatusCode,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, sleep: Sleep, status: StatusCode) -> Self {
        ResponseFuture {
            inner,
            sleep,
            status,
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
