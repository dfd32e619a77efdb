//! [`RequestBody`]: the one request body type a service sees, whichever
//! protocol carried the request.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::bounds::BoxError;
use crate::http3::H3Body;

/// The body of every request the server hands to your service, over
/// HTTP/1.1, HTTP/2 and HTTP/3 alike, so one service (and one stack of
/// layers) serves all three.
///
/// It streams: data frames arrive as the client sends them, followed by the
/// request trailers if the client sent any. Read it with
/// [`http_body_util::BodyExt`] (`collect`, `frame`), or wrap it in a limit
/// such as [`http_body_util::Limited`].
///
/// For tests, [`RequestBody::empty`] and `From<Bytes>` (also `String`,
/// `Vec<u8>`, `&'static str`) build one without a connection:
///
/// ```
/// use armature_server::RequestBody;
/// use http_body_util::BodyExt;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let body = RequestBody::from("hello");
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
/// # });
/// ```
pub struct RequestBody {
    kind: Kind,
}

enum Kind {
    Hyper(Incoming),
    /// Boxed: an HTTP/3 stream is ~150 bytes, and every layer moves the request that holds
    /// this body (HTTP/3 allocates per request anyway).
    Http3(Box<H3Body>),
    Full(Full<Bytes>),
}

impl RequestBody {
    /// A body with no data and no trailers.
    pub fn empty() -> Self {
        Self::from(Bytes::new())
    }

    pub(crate) fn http3(body: H3Body) -> Self {
        Self {
            kind: Kind::Http3(Box::new(body)),
        }
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Incoming> for RequestBody {
    /// Wraps a hyper body, for services that also run behind hyper directly.
    fn from(body: Incoming) -> Self {
        Self {
            kind: Kind::Hyper(body),
        }
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full(Full::new(bytes)),
        }
    }
}

impl From<String> for RequestBody {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<&'static str> for RequestBody {
    fn from(text: &'static str) -> Self {
        Self::from(Bytes::from_static(text.as_bytes()))
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Hyper(_) => "http1/http2",
            Kind::Http3(_) => "http3",
            Kind::Full(_) => "full",
        };
        f.debug_tuple("RequestBody").field(&kind).finish()
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().kind {
            Kind::Hyper(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(|e| BodyError(e.into())),
            Kind::Http3(body) => Pin::new(&mut **body)
                .poll_frame(cx)
                .map_err(|e| BodyError(e.into())),
            Kind::Full(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(|never| match never {}),
        }
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Hyper(body) => body.is_end_stream(),
            Kind::Http3(body) => body.is_end_stream(),
            Kind::Full(body) => body.is_end_stream(),
        }
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Hyper(body) => body.size_hint(),
            Kind::Http3(body) => body.size_hint(),
            Kind::Full(body) => body.size_hint(),
        }
    }
}

/// Why a [`RequestBody`] could not be read: the client reset the stream,
/// the connection failed, or the framing was invalid. The protocol's own
/// error is its [`source`](StdError::source).
pub struct BodyError(BoxError);

impl fmt::Debug for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BodyError").field(&self.0).finish()
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error reading the request body: {}", self.0)
    }
}

impl StdError for BodyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// The user's service seen from hyper: hands it `Request<RequestBody>` for
/// hyper's `Request<Incoming>`.
#[derive(Debug, Clone)]
pub(crate) struct FromIncoming<S> {
    inner: S,
}

impl<S> FromIncoming<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S> tower::Service<Request<Incoming>> for FromIncoming<S>
where
    S: tower::Service<Request<RequestBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<Incoming>) -> S::Future {
        self.inner.call(req.map(RequestBody::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layer moves the request, body included: the body stays the size of hyper's own
    /// (the HTTP/3 one is boxed).
    #[test]
    fn the_body_is_no_larger_than_hypers() {
        assert!(
            std::mem::size_of::<RequestBody>() <= std::mem::size_of::<Incoming>() + 8,
            "RequestBody is {} bytes",
            std::mem::size_of::<RequestBody>()
        );
    }
}
