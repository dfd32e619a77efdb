//! An HTTP/3 request body: the receiving half of a request stream.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::error::{Code, StreamError};
use h3::server::RequestStream;
use http_body::{Body, Frame, SizeHint};

/// The receiving half of one request stream.
pub(crate) type RecvHalf = RequestStream<super::guard::RecvStream<h3_quinn::RecvStream>, Bytes>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

/// Streams DATA frames, then the trailers if any.
///
/// A request that declared its length with `Content-Length` must carry
/// exactly that many bytes (RFC 9114 §4.1.2): more, or an end before it,
/// fails the body (and stops the stream with `H3_MESSAGE_ERROR`), so a
/// service never takes a body for complete that disagrees with its header.
pub(crate) struct H3Body {
    stream: RecvHalf,
    state: State,
    /// The declared length, if any.
    declared: Option<u64>,
    /// DATA bytes received so far.
    received: u64,
}

impl H3Body {
    pub(crate) fn new(stream: RecvHalf, declared: Option<u64>) -> Self {
        Self {
            stream,
            state: State::Data,
            declared,
            received: 0,
        }
    }

    /// Fails the body: the stream is malformed.
    fn malformed(&mut self, reason: &'static str) -> Poll<Option<Result<Frame<Bytes>, BodyFault>>> {
        self.state = State::Done;
        self.stream.stop_sending(Code::H3_MESSAGE_ERROR);
        Poll::Ready(Some(Err(BodyFault::Length(reason))))
    }
}

/// Why an HTTP/3 request body failed.
#[derive(Debug)]
pub(crate) enum BodyFault {
    /// The stream or connection failed.
    Stream(StreamError),
    /// The DATA frames disagree with `Content-Length`.
    Length(&'static str),
}

impl std::fmt::Display for BodyFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stream(error) => error.fmt(f),
            Self::Length(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for BodyFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Stream(error) => Some(error),
            Self::Length(_) => None,
        }
    }
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = BodyFault;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyFault>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Data => match ready!(this.stream.poll_recv_data(cx)) {
                    Ok(Some(mut data)) => {
                        let bytes = data.copy_to_bytes(data.remaining());
                        this.received = this.received.saturating_add(bytes.len() as u64);
                        if this
                            .declared
                            .is_some_and(|declared| this.received > declared)
                        {
                            return this.malformed("request body longer than its Content-Length");
                        }
                        return Poll::Ready(Some(Ok(Frame::data(bytes))));
                    }
                    Ok(None) => {
                        if this
                            .declared
                            .is_some_and(|declared| this.received < declared)
                        {
                            return this.malformed("request body shorter than its Content-Length");
                        }
                        this.state = State::Trailers;
                    }
                    Err(error) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(BodyFault::Stream(error))));
                    }
                },
                State::Trailers => {
                    let trailers = ready!(this.stream.poll_recv_trailers(cx));
                    this.state = State::Done;
                    return Poll::Ready(match trailers {
                        Ok(Some(trailers)) => Some(Ok(Frame::trailers(trailers))),
                        Ok(None) => None,
                        Err(error) => Some(Err(BodyFault::Stream(error))),
                    });
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(declared) if self.state == State::Data => {
                SizeHint::with_exact(declared.saturating_sub(self.received))
            }
            Some(_) => SizeHint::with_exact(0),
            None => SizeHint::default(),
        }
    }
}
