//! The response body type every route answers with.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;

/// The boxed error type of streaming bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: empty, one buffer, or any boxed stream.
///
/// Empty and single-buffer bodies (the common case) are not boxed, so answering with text or
/// JSON costs no allocation beyond the bytes themselves.
///
/// ```
/// use armature_router::Body;
/// use http_body::Body as _;
///
/// assert_eq!(Body::from("hello").size_hint().exact(), Some(5));
/// assert!(Body::empty().is_end_stream());
/// let streamed = Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
/// assert_eq!(streamed.size_hint().exact(), Some(1));
/// ```
pub struct Body(Kind);

enum Kind {
    Empty,
    Full(Option<Bytes>),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body(Kind::Empty)
    }

    /// A body of one buffer.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            Body::empty()
        } else {
            Body(Kind::Full(Some(bytes)))
        }
    }

    /// Wraps any `http_body::Body` (streams, other frameworks' bodies). It is boxed once; a
    /// `Body` given here is returned as it is.
    ///
    /// ```
    /// use armature_router::Body;
    ///
    /// let streamed = Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
    /// assert_eq!(format!("{streamed:?}"), "Body::Boxed");
    /// let same = Body::new(Body::full("x"));
    /// assert_eq!(format!("{same:?}"), r#"Body::Full(Some(b"x"))"#, "not boxed again");
    /// ```
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut slot = Some(body);
        if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Body>>() {
            if let Some(body) = same.take() {
                return body;
            }
        }
        match slot {
            Some(body) => Body(Kind::Boxed(body.map_err(Into::into).boxed_unsync())),
            None => Body::empty(),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Full(bytes) => f.debug_tuple("Body::Full").field(bytes).finish(),
            Kind::Boxed(_) => f.write_str("Body::Boxed"),
        }
    }
}

macro_rules! from_bytes_like {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Body {
            fn from(value: $ty) -> Self {
                Body::full(Bytes::from(value))
            }
        }
    )*};
}
from_bytes_like!(Bytes, Vec<u8>, String, &'static str, &'static [u8]);

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Empty => true,
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}
