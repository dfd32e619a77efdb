//! [`ResponseFuture`]: the layer's own preflight answer, or the inner future plus headers.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{HeaderMap, Response, StatusCode};
use pin_project_lite::pin_project;

use super::policy::{Actual, Preflight};

pin_project! {
    /// Response future of [`Cors`](super::Cors).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Preflight { answer: Option<Preflight> },
        Actual {
            #[pin]
            future: F,
            headers: Option<Actual>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn preflight(answer: Preflight) -> Self {
        ResponseFuture {
            kind: Kind::Preflight {
                answer: Some(answer),
            },
        }
    }

    pub(crate) fn actual(future: F, headers: Actual) -> Self {
        ResponseFuture {
            kind: Kind::Actual {
                future,
                headers: Some(headers),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Preflight { answer } => {
                let answer = answer
                    .take()
                    .expect("ResponseFuture polled after completion");
                let mut res = Response::new(B::default());
                *res.status_mut() = StatusCode::NO_CONTENT;
                // Room for all six headers up front: one allocation, no regrowth.
                *res.headers_mut() = HeaderMap::with_capacity(6);
                answer.write(res.headers_mut());
                Poll::Ready(Ok(res))
            }
            KindProj::Actual { future, headers } => {
                let mut res = ready!(future.poll(cx))?;
                headers
                    .take()
                    .expect("ResponseFuture polled after completion")
                    .write(res.headers_mut());
                Poll::Ready(Ok(res))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}
