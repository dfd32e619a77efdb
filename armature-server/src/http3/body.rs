//! An HTTP/3 request body: the receiving half of a request stream.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::error::StreamError;
use h3::server::RequestStream;
use http_body::{Body, Frame};

/// The receiving half of one request stream.
pub(crate) type RecvHalf = RequestStream<super::guard::RecvStream<h3_quinn::RecvStream>, Bytes>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

/// Streams DATA frames, then the trailers if any.
pub(crate) struct H3Body {
    stream: RecvHalf,
    state: State,
}

impl H3Body {
    pub(crate) fn new(stream: RecvHalf) -> Self {
        Self {
            stream,
            state: State::Data,
        }
    }
}

impl Body for H3Body {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Data => match ready!(this.stream.poll_recv_data(cx)) {
                    Ok(Some(mut data)) => {
                        let bytes = data.copy_to_bytes(data.remaining());
                        return Poll::Ready(Some(Ok(Frame::data(bytes))));
                    }
                    Ok(None) => this.state = State::Trailers,
                    Err(error) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                State::Trailers => {
                    let trailers = ready!(this.stream.poll_recv_trailers(cx));
                    this.state = State::Done;
                    return Poll::Ready(match trailers {
                        Ok(Some(trailers)) => Some(Ok(Frame::trailers(trailers))),
                        Ok(None) => None,
                        Err(error) => Some(Err(error)),
                    });
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done
    }
}
