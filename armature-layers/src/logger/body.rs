use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::record::{Outcome, Record};
use crate::frame::{Remaining, Seen};

pin_project! {
    /// Response body of [`LoggerService`](super::LoggerService): counts the bytes sent and logs
    /// the request when the body ends, fails, or is dropped early (the client went away).
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        record: Option<Box<Record>>,
        // What it has still to send (servers drop a body that reports its end without polling
        // it again, an empty one without polling it, and one that sent its declared length).
        remaining: Remaining,
    }

    impl<B> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                record.emit(record.outcome_when_dropped(this.remaining.is_done()));
            }
        }
    }
}

impl<B: Body> LoggedBody<B> {
    /// `inner`, logged by `record` (if any) when it ends, fails or is dropped, with
    /// `remaining` (`Remaining::of` its response) still to send.
    pub(crate) fn new(inner: B, record: Option<Box<Record>>, remaining: Remaining) -> Self {
        LoggedBody {
            remaining,
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
                    this.remaining.sent(&*this.inner, bytes);
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
