//! [`ResponseFuture`] and [`AnalyticsBody`]: a request is recorded once, when its response
//! body ends, fails or is dropped, or when the service fails or is dropped before answering.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use armature_router::MatchedRoute;
use bytes::Buf;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::layer::Shared;
use super::stats::{class_index, RouteStats, CLASS_ERROR, HEAD};
use crate::rate_limit::RateLimited;

/// What is known of a request before its response.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    /// Read from the TSC (quanta), as the rate limiter does: a tenth of a system clock read.
    pub(crate) start: quanta::Instant,
    pub(crate) method: u8,
    pub(crate) request_bytes: u64,
    pub(crate) consumer: Option<u64>,
    /// The route the router would match, found before calling it (only with a router).
    pub(crate) resolved: Option<Arc<RouteStats>>,
}

impl Pending {
    /// The counters of this request: the router's `MatchedRoute` if it answered, else the
    /// resolved route, else `unmatched`.
    fn stats(&mut self, matched: Option<&MatchedRoute>) -> Arc<RouteStats> {
        let method = usize::from(self.method);
        match (matched, self.resolved.take()) {
            (Some(m), Some(resolved)) if *resolved.route == *m.as_str() => resolved,
            (Some(m), _) => self.shared.routes.get(method, Some(m.as_str())),
            (None, Some(resolved)) => resolved,
            (None, None) => self.shared.routes.get(method, None),
        }
    }

    /// Records a request that got no response, and why.
    fn fail(mut self, aborted: bool) {
        let stats = self.stats(None);
        let counter = if aborted {
            &stats.aborted
        } else {
            &stats.service_errors
        };
        counter.fetch_add(1, Relaxed);
        Recorder {
            stats,
            class: CLASS_ERROR as u8,
            response_bytes: 0,
            pending: self,
        }
        .finish();
    }
}

/// What a response body carries until it ends.
pub(crate) struct Recorder {
    pending: Pending,
    stats: Arc<RouteStats>,
    class: u8,
    response_bytes: u64,
}

impl Recorder {
    fn finish(self) {
        let p = &self.pending;
        self.stats.record(
            usize::from(self.class),
            quanta::Instant::now().saturating_duration_since(p.start),
            p.request_bytes,
            self.response_bytes,
        );
        p.shared.routes.in_flight(usize::from(p.method), -1);
    }
}

pin_project! {
    /// Response future of [`Analytics`](super::Analytics).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(pending) = this.project().pending.take() {
                pending.fail(true);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, pending: Pending) -> Self {
        ResponseFuture {
            inner,
            pending: Some(pending),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<AnalyticsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut pending = this.pending.take().expect("polled after completion");
        Poll::Ready(match result {
            Ok(res) => {
                let stats = pending.stats(res.extensions().get::<MatchedRoute>());
                if res.extensions().get::<RateLimited>().is_some() {
                    stats.rate_limited.fetch_add(1, Relaxed);
                    if let (Some(consumers), Some(hash)) =
                        (&pending.shared.consumers, pending.consumer)
                    {
                        consumers.rate_limited(hash);
                    }
                }
                // Servers drop a HEAD answer's body unread: that is not the client going away.
                let head = usize::from(pending.method) == HEAD;
                let recorder = Recorder {
                    class: class_index(res.status().as_u16()) as u8,
                    stats,
                    response_bytes: 0,
                    pending,
                };
                Ok(res.map(|inner| AnalyticsBody {
                    complete: head || inner.is_end_stream(),
                    inner,
                    recorder: Some(recorder),
                    head,
                }))
            }
            Err(err) => {
                pending.fail(false);
                Err(err)
            }
        })
    }
}

pin_project! {
    /// Response body of [`Analytics`](super::Analytics): counts the bytes sent and records the
    /// request when the body ends, fails, or is dropped.
    pub struct AnalyticsBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
        head: bool,
        // Whether dropping the body now loses nothing (it has ended, or is a HEAD answer).
        complete: bool,
    }

    impl<B> PinnedDrop for AnalyticsBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(recorder) = this.recorder.take() {
                if !*this.complete {
                    // Dropped before its end: the client went away mid-body.
                    recorder.stats.aborted.fetch_add(1, Relaxed);
                }
                recorder.finish();
            }
        }
    }
}

impl<B> fmt::Debug for AnalyticsBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalyticsBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for AnalyticsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(recorder) = this.recorder.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        recorder.response_bytes += data.remaining() as u64;
                    }
                    *this.complete = *this.head || this.inner.is_end_stream();
                }
                Some(Err(_)) => {
                    recorder.stats.body_errors.fetch_add(1, Relaxed);
                    if let Some(recorder) = this.recorder.take() {
                        recorder.finish();
                    }
                }
                None => {
                    if let Some(recorder) = this.recorder.take() {
                        recorder.finish();
                    }
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
