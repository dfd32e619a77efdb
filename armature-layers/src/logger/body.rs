use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::record::{Outcome, Record};
use crate::frame::{declared_length, Seen};

pin_project! {
    /// Response body of [`LoggerService`](super::LoggerService): counts the bytes sent and logs
    /// the request when the body ends, fails, or is dropped early (the client went away).
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        record: Option<Box<Record>>,
        // The bytes still to send before dropping the body loses nothing: 0 once it reports
        // its end (servers drop a body that says so without polling it again, and an empty one
        // without polling it) or has sent every byte it declared (`declared_length`;
        // `u64::MAX` when it declared none, which is never reached).
        remaining: u64,
    }

    impl<B> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                record.emit(record.outcome_when_dropped(*this.remaining == 0));
            }
        }
    }
}

impl<B: Body> LoggedBody<B> {
    /// The bytes `body` will send, read before the response is mapped (see
    /// `declared_length`); `u64::MAX` when nothing is logged or the body has ended already.
    pub(crate) fn declared(
        body: &B,
        headers: &http::HeaderMap,
        record: &Option<Box<Record>>,
    ) -> u64 {
        match record {
            Some(_) if !body.is_end_stream() => declared_length(body, headers),
            _ => u64::MAX,
        }
    }

    pub(crate) fn new(inner: B, record: Option<Box<Record>>, declared: u64) -> Self {
        LoggedBody {
            remaining: if inner.is_end_stream() { 0 } else { declared },
            inner,
            record,
        }
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Some(record) = this.record.as_mut() {
            match Seen::of(&polled) {
                Seen::Pending => {}
                Seen::Frame { bytes } => {
                    record.bytes += bytes;
                    *this.remaining = if this.inner.is_end_stream() {
                        0
                    } else {
                        this.remaining.saturating_sub(bytes)
                    };
                }
                Seen::Error => {
                    record.emit(Outcome::BodyError);
                    *this.record = None;
                }
                Seen::End => {
                    record.emit(Outcome::Ok);
                    *this.record = None;
                }
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
