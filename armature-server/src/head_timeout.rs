//! The HTTP/1 header-read timeout (`Limits::header_read_timeout`), kept per connection; the
//! same clock is the idle timeout of HTTP/2 connections (no stream being served).
//!
//! A connection that is not working on a request must deliver the next request head within
//! the timeout, counted from the connection's start or from the end of the previous response.
//! Otherwise it is closed: a slowloris client that trickles its head, or withholds it, and an
//! idle keep-alive connection, are cut off; a request whose handler, request body or response
//! body takes longer is not (no head is being read then).
//!
//! hyper has the same rule built in (its `header_read_timeout`), but it arms a new boxed timer
//! for every request and reads the socket once more after each response to start it: about
//! 1,000 instructions of a 10,000-instruction HTTP/1.1 request (measured in BENCHMARKS.md).
//! Here the connection keeps one [`Alarm`] for its life. The server's `Host` check counts each
//! request it is given ([`Counts::started`]), and a guard in the response body counts it
//! finished when hyper drops that body, written or not. Between the two no head is being read;
//! after a request finishes the alarm moves to the end of the previous response plus the
//! timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::timer::Alarm;

/// Requests of one connection given to the service, and those whose response is done with.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Counts {
    /// Whether any request was given to the service yet.
    pub(crate) fn any_started(&self) -> bool {
        self.started.load(Relaxed) != 0
    }

    /// Counts a request given to the service; the guard counts it finished when dropped.
    pub(crate) fn started(self: &Arc<Self>) -> Finished {
        self.started.fetch_add(1, Relaxed);
        Finished(Arc::clone(self))
    }
}

/// Counts its request finished when dropped (it rides in the response body).
#[derive(Debug)]
pub(crate) struct Finished(Arc<Counts>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Relaxed);
    }
}

/// The timeout of one HTTP/1 connection.
#[derive(Debug)]
pub(crate) struct HeadTimeout {
    counts: Arc<Counts>,
    alarm: Alarm,
    /// `counts.finished` when the alarm was last set.
    finished: u64,
}

impl HeadTimeout {
    /// Starts the timeout of a connection whose first request head is due `first` from now
    /// (what is left of `timeout` after the TLS handshake and protocol detection), each next
    /// one `timeout` after the previous response; requests are counted through the returned
    /// [`Counts`]. Must be called inside a tokio runtime.
    pub(crate) fn start(timeout: Duration, first: Duration) -> (Self, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        let mut alarm = Alarm::new(first);
        alarm.set_timeout(timeout);
        let this = HeadTimeout {
            counts: Arc::clone(&counts),
            alarm,
            finished: 0,
        };
        (this, counts)
    }

    /// Whether the connection has given the service any request yet.
    pub(crate) fn any_started(&self) -> bool {
        self.counts.any_started()
    }

    /// Starts the timeout again from now.
    pub(crate) fn restart(&mut self) {
        self.alarm.restart();
    }

    /// Called after each poll of the connection: `Ready` when it has gone longer than the
    /// timeout without a request head while no request was in flight.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let started = self.counts.started.load(Relaxed);
        let finished = self.counts.finished.load(Relaxed);
        if started != finished {
            // A request is being served: no head is being read. The alarm may still wake the
            // task at its old deadline; that poll finds the same and waits on.
            return Poll::Pending;
        }
        if finished != self.finished {
            self.finished = finished;
            self.alarm.restart();
        }
        self.alarm.poll_expired(cx)
    }
}

pin_project! {
    /// A response body carrying its request's [`Finished`] guard.
    #[derive(Debug)]
    pub(crate) struct Tracked<B> {
        #[pin]
        inner: B,
        finished: Option<Finished>,
    }
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B, finished: Option<Finished>) -> Self {
        Tracked { inner, finished }
    }
}

impl<B: Body<Data = Bytes>> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::ticks_pass;
    use std::task::Waker;

    fn pending(timeout: &mut HeadTimeout) -> bool {
        timeout
            .poll_expired(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    }

    async fn expired(timeout: &mut HeadTimeout) {
        std::future::poll_fn(|cx| timeout.poll_expired(cx)).await
    }

    #[tokio::test]
    async fn expires_without_a_request_and_not_during_one() {
        let (mut idle, _counts) = HeadTimeout::start(Duration::ZERO, Duration::ZERO);
        // Nothing arrives within a zero timeout: it fires at the next tick.
        expired(&mut idle).await;

        let (mut busy, counts) = HeadTimeout::start(Duration::ZERO, Duration::ZERO);
        let guard = counts.started();
        ticks_pass(3).await;
        assert!(pending(&mut busy), "a request in flight is never timed out");
        drop(guard);
        // Idle again after its response.
        expired(&mut busy).await;
    }

    #[tokio::test]
    async fn the_first_head_has_only_what_is_left_of_the_timeout() {
        // The opening (TLS, protocol detection) used it all: the first deadline is now...
        let (mut first, counts) = HeadTimeout::start(Duration::from_secs(3600), Duration::ZERO);
        expired(&mut first).await;
        // ...and each later one the whole timeout after the previous response.
        let (mut later, counts_later) =
            HeadTimeout::start(Duration::from_secs(3600), Duration::ZERO);
        drop(counts_later.started());
        ticks_pass(3).await;
        assert!(pending(&mut later));
        drop(counts);
    }

    #[tokio::test]
    async fn a_finished_request_moves_the_deadline() {
        let (mut timeout, counts) =
            HeadTimeout::start(Duration::from_secs(3600), Duration::from_secs(3600));
        assert!(pending(&mut timeout));
        timeout.alarm.set_timeout(Duration::ZERO);
        // Still the first deadline, an hour away...
        ticks_pass(3).await;
        assert!(pending(&mut timeout));
        // ...until a request finishes and the alarm is set from its end.
        drop(counts.started());
        expired(&mut timeout).await;
    }
}
