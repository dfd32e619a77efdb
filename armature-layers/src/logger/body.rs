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
        // Whether dropping the body now loses nothing: it reports its end (servers drop a
        // body that says so without polling it again, and an empty one without polling it), or
        // has sent every byte it declared (`declared_length`).
        complete: bool,
        declared: u64,
    }

    impl<B> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                record.emit(record.outcome_when_dropped(*this.complete));
            }
        }
    }
}

impl<B: Body> LoggedBody<B> {
    pub(crate) fn new(inner: B, record: Option<Box<Record>>, headers: &http::HeaderMap) -> Self {
        let complete = inner.is_end_stream();
        let declared = match record {
            Some(_) if !complete => declared_length(&inner, headers),
            _ => u64::MAX,
        };
        LoggedBody {
            inner,
            record,
            complete,
            declared,
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
                    *this.complete = this.inner.is_end_stream() || record.bytes >= *this.declared;
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
