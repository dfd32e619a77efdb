//! The trait bounds a user's service and body must meet, named once.
//!
//! Public functions spell the bounds out so they show in the docs; the
//! internals use these aliases (blanket-implemented) to stay readable.

use bytes::Bytes;
use http::{Request, Response};

use crate::RequestBody;

/// The error type hyper accepts from services and bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body the server can send.
pub(crate) trait ResBody:
    http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}

impl<B> ResBody for B where B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

/// A service the server can call, once per request, from any thread.
pub(crate) trait UserService<B: ResBody>:
    tower::Service<
        Request<RequestBody>,
        Response = Response<B>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> UserService<B> for S
where
    B: ResBody,
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
}
