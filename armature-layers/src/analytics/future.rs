//! [`ResponseFuture`] and [`AnalyticsBody`]: a request is recorded once, when its response
//! body ends, fails or is dropped, or when the service fails or is dropped before answering.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use armature_router::{MatchedRoute, Observation};
use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::layer::Shared;
use super::route::Route;
use super::stats::{class_index, Counters, RouteStats, CLASS_5XX, CLASS_ERROR, HEAD};
use crate::frame::{Remaining, Seen};
use crate::rate_limit::RateLimited;
use crate::ticks::Ticks;

/// What is known of a request before its response.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    /// Read from the TSC, as the rate limiter does: a tenth of a system clock read.
    pub(crate) start: Ticks,
    pub(crate) method: u8,
    pub(crate) request_bytes: u64,
    pub(crate) consumer: Option<u64>,
    pub(crate) route: Route,
}

impl Pending {
    /// What records the request once its response (of status class `class`, naming the
    /// route `matched` if it does) is known.
    fn recorder<'a>(
        self,
        class: usize,
        matched: impl FnOnce() -> Option<&'a MatchedRoute>,
    ) -> Recorder {
        let method = usize::from(self.method);
        Recorder {
            counters: self.route.counters(&self.shared, method, matched),
            shared: self.shared,
            start: self.start,
            method: self.method,
            class: class as u8,
            request_bytes: self.request_bytes,
            response_bytes: 0,
        }
    }

    /// Records a request that got no response, and why.
    fn fail(self, aborted: bool) {
        let recorder = self.recorder(CLASS_ERROR, || None);
        let stats = recorder.stats();
        let counter = if aborted {
            &stats.aborted
        } else {
            &stats.service_errors
        };
        counter.fetch_add(1, Relaxed);
        recorder.finish();
    }
}

/// What a response body carries until it ends.
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    counters: Counters,
    start: Ticks,
    method: u8,
    class: u8,
    request_bytes: u64,
    response_bytes: u64,
}

impl Recorder {
    fn stats(&self) -> &RouteStats {
        self.shared
            .routes
            .stats(&self.counters, usize::from(self.method))
    }

    fn finish(self) {
        self.stats().record(
            usize::from(self.class),
            self.start.elapsed_nanos(),
            self.request_bytes,
            self.response_bytes,
        );
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
        // A router that runs only now (behind a layer that calls it late) reports now.
        let observation = match this.pending {
            Some(p) if !p.route.reported() => Some(Observation::start()),
            _ => None,
        };
        let result = this.inner.poll(cx);
        if let (Some(observation), Some(p)) = (observation, this.pending.as_mut()) {
            p.route.learn(&p.shared, usize::from(p.method), observation);
        }
        let result = ready!(result);
        let pending = this.pending.take().expect("polled after completion");
        Poll::Ready(match result {
            Ok(res) => {
                let class = class_index(res.status().as_u16());
                let consumer = pending.consumer;
                let recorder = pending.recorder(class, || res.extensions().get::<MatchedRoute>());
                if res.extensions().get::<RateLimited>().is_some() {
                    recorder.stats().rate_limited.fetch_add(1, Relaxed);
                    if let (Some(consumers), Some(hash)) = (&recorder.shared.consumers, consumer) {
                        consumers.rate_limited(hash);
                    }
                }
                // Servers drop a HEAD answer's body unread: that is not the client going away.
                let head = usize::from(recorder.method) == HEAD;
                let remaining = if head {
                    Remaining::DONE
                } else {
                    Remaining::of(&res)
                };
                Ok(res.map(|inner| AnalyticsBody {
                    remaining,
                    inner,
                    recorder: Some(recorder),
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
        // What it has still to send (nothing for a HEAD answer, which servers drop unread).
        remaining: Remaining,
    }

    impl<B> PinnedDrop for AnalyticsBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(recorder) = this.recorder.take() {
                if !this.remaining.is_done() {
                    // Dropped before its end: the client went away mid-body.
                    recorder.stats().aborted.fetch_add(1, Relaxed);
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
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Some(recorder) = this.recorder.as_mut() {
            let ended = match Seen::of(&polled) {
                Seen::Pending => false,
                Seen::Frame { bytes } => {
                    recorder.response_bytes += bytes;
                    this.remaining.sent(&*this.inner, bytes);
                    false
                }
                Seen::Error => {
                    let stats = recorder.stats();
                    stats.body_errors.fetch_add(1, Relaxed);
                    if usize::from(recorder.class) == CLASS_5XX {
                        stats.body_errors_after_5xx.fetch_add(1, Relaxed);
                    }
                    true
                }
                Seen::End => true,
            };
            if let Some(recorder) = this.recorder.take_if(|_| ended) {
                recorder.finish();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::io;

    use bytes::Bytes;
    use http::{Method, Request};
    use http_body_util::BodyExt;
    use tower::{service_fn, Layer, ServiceExt};

    use super::super::stats::{method_index, METHODS};
    use super::super::AnalyticsLayer;
    use super::*;

    /// A body of scripted frames: data, or an error; ended once they are all sent.
    struct Frames(VecDeque<Result<&'static str, &'static str>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
            Poll::Ready(self.0.pop_front().map(|frame| match frame {
                Ok(data) => Ok(Frame::data(Bytes::from_static(data.as_bytes()))),
                Err(msg) => Err(io::Error::other(msg)),
            }))
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }
    }

    /// What a request of `method` answered with `frames` recorded, after `read` did what it
    /// does with the response body (read some of it, or none) and dropped it.
    fn outcome<R>(
        method: Method,
        frames: &[Result<&'static str, &'static str>],
        read: R,
    ) -> (u64, u64, u64, u64)
    where
        R: AsyncFnOnce(&mut Pin<Box<AnalyticsBody<Frames>>>),
    {
        let analytics = AnalyticsLayer::new();
        let frames: VecDeque<_> = frames.iter().copied().collect();
        let svc = analytics.layer(service_fn(move |_req: Request<()>| {
            let frames = Frames(frames.clone());
            async move { Ok::<_, Infallible>(Response::new(frames)) }
        }));
        tokio_test::block_on(async {
            let req = Request::builder().method(method.clone()).body(()).unwrap();
            let res = svc.oneshot(req).await.unwrap();
            let mut body = Box::pin(res.into_body());
            read(&mut body).await;
        });
        let stats = analytics.shared.routes.get(method_index(&method), None);
        assert_eq!(stats.method, METHODS[method_index(&method)]);
        let ok = stats.class(1);
        (
            ok.duration.count(),
            ok.response_size.sum,
            stats.aborted.load(Relaxed),
            stats.body_errors.load(Relaxed),
        )
    }

    const TWO: [Result<&str, &str>; 2] = [Ok("hello, "), Ok("world")];

    #[test]
    fn a_body_read_to_its_end_counts_its_bytes_once() {
        let read_all = async |body: &mut Pin<Box<AnalyticsBody<Frames>>>| {
            while let Some(frame) = body.frame().await {
                frame.unwrap();
            }
            // Polled again after the end: nothing is counted twice.
            assert!(body.frame().await.is_none());
        };
        assert_eq!(outcome(Method::GET, &TWO, read_all), (1, 12, 0, 0));
    }

    #[test]
    fn a_body_dropped_after_its_last_frame_is_complete_not_aborted() {
        // hyper stops polling a body that says it has ended, and drops it.
        let read_frames = async |body: &mut Pin<Box<AnalyticsBody<Frames>>>| {
            body.frame().await.unwrap().unwrap();
            body.frame().await.unwrap().unwrap();
            assert!(body.is_end_stream());
        };
        assert_eq!(outcome(Method::GET, &TWO, read_frames), (1, 12, 0, 0));
    }

    #[test]
    fn a_body_dropped_midway_is_aborted_with_the_bytes_sent() {
        let read_one = async |body: &mut Pin<Box<AnalyticsBody<Frames>>>| {
            body.frame().await.unwrap().unwrap();
        };
        assert_eq!(outcome(Method::GET, &TWO, read_one), (1, 7, 1, 0));
        let read_none = async |_: &mut Pin<Box<AnalyticsBody<Frames>>>| {};
        assert_eq!(outcome(Method::GET, &TWO, read_none), (1, 0, 1, 0));
    }

    #[test]
    fn a_body_that_fails_is_a_body_error_counted_once() {
        let frames = [Ok("part"), Err("disk gone"), Ok("never")];
        let read_all = async |body: &mut Pin<Box<AnalyticsBody<Frames>>>| {
            assert!(body.frame().await.unwrap().is_ok());
            assert!(body.frame().await.unwrap().is_err());
            // Read on past the error, then dropped: recorded once, and not as aborted.
            assert!(body.frame().await.unwrap().is_ok());
        };
        assert_eq!(outcome(Method::GET, &frames, read_all), (1, 4, 0, 1));
    }

    #[test]
    fn a_head_answer_dropped_unread_is_not_aborted() {
        let read_none = async |_: &mut Pin<Box<AnalyticsBody<Frames>>>| {};
        assert_eq!(outcome(Method::HEAD, &TWO, read_none), (1, 0, 0, 0));
    }
}
