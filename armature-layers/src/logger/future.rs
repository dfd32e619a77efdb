use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::record::{Outcome, Record};
use super::LoggedBody;
use crate::frame::Remaining;

pin_project! {
    /// Response future of [`LoggerService`](super::LoggerService). Logs an `aborted` event if it
    /// is dropped before the inner service answers (the client went away mid-handler).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        record: Option<Box<Record>>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(record) = this.project().record.take() {
                record.emit(Outcome::Aborted);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, record: Option<Box<Record>>) -> Self {
        ResponseFuture { inner, record }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<LoggedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // A router that runs only now (behind a layer that calls it late) reports now.
        let observation = this.record.as_ref().and_then(|r| r.observe());
        let result = this.inner.poll(cx);
        if let Some(record) = this.record.as_mut() {
            record.learn(observation);
        }
        let result = ready!(result);
        let mut record = this.record.take();
        Poll::Ready(match result {
            Ok(res) => {
                if let Some(record) = record.as_mut() {
                    record.response(&res);
                }
                // Read only when something is logged: the header lookup is not free.
                let remaining = match record {
                    Some(_) => Remaining::of(&res),
                    None => Remaining::DONE,
                };
                Ok(res.map(|body| LoggedBody::new(body, record, remaining)))
            }
            Err(err) => {
                if let Some(record) = record {
                    record.emit(Outcome::ServiceError);
                }
                Err(err)
            }
        })
    }
}
