//! [`Seen`]: what a polled response-body frame means to a layer that watches the body (the
//! logger and analytics count its bytes and record the request at its end).

use std::task::Poll;

use bytes::Buf;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Response};
use http_body::{Body, Frame};

/// How many bytes a response body will send, when it is known: its exact size hint or, for a
/// body that does not say (a file streamed by tower-http's `ServeFile`), the response's
/// `Content-Length`; `u64::MAX` when neither tells. A server stops polling a body once that
/// many bytes are out (hyper's HTTP/1 drops it without asking for its end), so a body dropped
/// with all of them sent was delivered whole, not aborted. The header is read only for bodies
/// without an exact hint.
#[inline]
fn declared_length<B: Body>(body: &B, headers: &HeaderMap) -> u64 {
    body.size_hint().exact().unwrap_or_else(|| {
        headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    })
}

/// The bytes a watched response body still has to send before dropping it loses nothing:
/// 0 once it has ended, or once every byte it declared is out (`declared_length`; `u64::MAX`
/// when it declared none, which is never reached). The logger and analytics count a body
/// dropped with 0 left as delivered, any other as aborted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Remaining(u64);

impl Remaining {
    /// Nothing left: a body whose drop loses nothing (a `HEAD` answer's).
    pub(crate) const DONE: Remaining = Remaining(0);

    /// What the body of `res` has to send at the start: nothing when it has ended, or when
    /// the status has no body (1xx, `204`, `304`: servers never send one, and hyper drops
    /// such a body unpolled, which is not the client going away).
    #[inline]
    pub(crate) fn of<B: Body>(res: &Response<B>) -> Remaining {
        if armature_router::is_bodiless(res.status()) || res.body().is_end_stream() {
            Remaining::DONE
        } else {
            Remaining(declared_length(res.body(), res.headers()))
        }
    }

    /// After `body` gave a frame of `bytes`.
    #[inline]
    pub(crate) fn sent<B: Body>(&mut self, body: &B, bytes: u64) {
        self.0 = if body.is_end_stream() {
            0
        } else {
            self.0.saturating_sub(bytes)
        };
    }

    #[inline]
    pub(crate) fn is_done(self) -> bool {
        self.0 == 0
    }
}

/// What a body's `poll_frame` returned, as a watching layer sees it. It is read from the poll
/// by reference, so the wrapper returns the frame as polled rather than moving it out and
/// back in (in the logger: ~47 instructions a request fewer, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not ready.
    Pending,
    /// A frame: `bytes` of data (0 for trailers).
    Frame { bytes: u64 },
    /// The body failed.
    Error,
    /// The body ended.
    End,
}

impl Seen {
    #[inline]
    pub(crate) fn of<D: Buf, E>(polled: &Poll<Option<Result<Frame<D>, E>>>) -> Seen {
        match polled {
            Poll::Pending => Seen::Pending,
            Poll::Ready(Some(Ok(frame))) => Seen::Frame {
                bytes: frame.data_ref().map_or(0, |data| data.remaining() as u64),
            },
            Poll::Ready(Some(Err(_))) => Seen::Error,
            Poll::Ready(None) => Seen::End,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

    type Polled = Poll<Option<Result<Frame<Bytes>, ()>>>;

    #[test]
    fn each_poll_is_seen_for_what_it_is() {
        let cases: [(Polled, Seen); 5] = [
            (Poll::Pending, Seen::Pending),
            (
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"hello"))))),
                Seen::Frame { bytes: 5 },
            ),
            (
                Poll::Ready(Some(Ok(Frame::trailers(HeaderMap::new())))),
                Seen::Frame { bytes: 0 },
            ),
            (Poll::Ready(Some(Err(()))), Seen::Error),
            (Poll::Ready(None), Seen::End),
        ];
        for (polled, seen) in cases {
            assert_eq!(Seen::of(&polled), seen);
        }
    }
}
