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
//!
//! The same counts carry what graceful shutdown learns of an HTTP/1 connection and tells it
//! ([`Counts::head_begun`], [`Counts::close_after_responses`], [`Counts::look_in_socket`]):
//! see `drive` in `connection.rs`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::timer::Alarm;

/// Requests of one connection given to the service, and those whose response is done with;
/// and what graceful shutdown learns from and tells the connection's transport.
///
/// Everything here is touched by one task only (the connection's); the atomics are for the
/// `Arc` the response bodies and the transport share, and are all `Relaxed`.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    started: AtomicU64,
    finished: AtomicU64,
    /// HTTP/1: bytes were read while no request was in flight, and no request was given to
    /// the service since: the next request head has begun arriving.
    head_begun: AtomicBool,
    /// HTTP/1: the server is shutting down, so every response from now on closes the
    /// connection (`Connection: close`).
    closing: AtomicBool,
    /// See [`look_in_socket`](Self::look_in_socket).
    look: AtomicBool,
}

impl Counts {
    /// Whether any request was given to the service yet.
    pub(crate) fn any_started(&self) -> bool {
        self.started.load(Relaxed) != 0
    }

    /// Whether a request has been given to the service and its response is not done with.
    #[inline]
    pub(crate) fn in_flight(&self) -> bool {
        self.started.load(Relaxed) != self.finished.load(Relaxed)
    }

    /// Counts a request given to the service; the guard counts it finished when dropped.
    pub(crate) fn started(self: &Arc<Self>) -> Finished {
        self.started.fetch_add(1, Relaxed);
        self.head_begun.store(false, Relaxed);
        Finished(Arc::clone(self))
    }

    /// Called by the HTTP/1 transport after each read that returned bytes: read while no
    /// request is in flight, they are the start of the next request head.
    ///
    /// Not exact, as hyper does not tell what its buffer holds. Bytes of a next head read
    /// together with the previous request (pipelining) are not seen. And the rest of a
    /// request body the service did not read, which hyper reads (to discard it) after the
    /// response, is taken for a head: shutdown then waits for a request that does not come,
    /// until the header-read timeout.
    #[inline]
    pub(crate) fn bytes_read(&self) {
        if !self.in_flight() {
            self.head_begun.store(true, Relaxed);
        }
    }

    /// Whether the next request head has begun arriving (see [`bytes_read`](Self::bytes_read)).
    pub(crate) fn head_begun(&self) -> bool {
        self.head_begun.load(Relaxed)
    }

    /// From now on every response of this connection says `Connection: close`.
    pub(crate) fn close_after_responses(&self) {
        self.closing.store(true, Relaxed);
    }

    /// Whether reads that tokio finds nothing for look in the socket itself (see
    /// [`Linger`](crate::linger::Linger)): while shutdown decides what to do with the
    /// connection, what has arrived must be read, whether or not tokio's I/O driver has
    /// seen it yet.
    pub(crate) fn look_in_socket(&self, on: bool) {
        self.look.store(on, Relaxed);
    }

    #[inline]
    pub(crate) fn looks_in_socket(&self) -> bool {
        self.look.load(Relaxed)
    }
}

/// Counts its request finished when dropped (it rides in the response body).
#[derive(Debug)]
pub(crate) struct Finished(Arc<Counts>);

impl Finished {
    /// Whether the response must close the connection: the server is shutting down.
    #[inline]
    pub(crate) fn closing(&self) -> bool {
        self.0.closing.load(Relaxed)
    }
}

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
    /// one `timeout` after the previous response; requests are counted through `counts`.
    /// Must be called inside a tokio runtime.
    pub(crate) fn new(counts: Arc<Counts>, timeout: Duration, first: Duration) -> Self {
        let mut alarm = Alarm::new(first);
        alarm.set_timeout(timeout);
        HeadTimeout {
            counts,
            alarm,
            finished: 0,
        }
    }

    /// [`new`](Self::new) with fresh counts.
    #[cfg(test)]
    fn start(timeout: Duration, first: Duration) -> (Self, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        (Self::new(Arc::clone(&counts), timeout, first), counts)
    }

    /// The connection's request counts.
    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
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
