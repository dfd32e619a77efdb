//! Turning handler return values into responses.

use std::borrow::Cow;
use std::convert::Infallible;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use crate::Body;

/// The response type of every route: `http::Response` with Armature's [`Body`].
pub type Response = http::Response<Body>;

/// Whether a response of `status` never has content on the wire (RFC 9110 §6.4.1): `1xx`,
/// `204 No Content` and `304 Not Modified`. A server sends no body and, but for a `304`, no
/// `Content-Length` for one, whatever body the service gave; the router's `HEAD` answers,
/// the logger and analytics read it so.
///
/// ```
/// use armature_router::is_bodiless;
/// use http::StatusCode;
///
/// assert!(is_bodiless(StatusCode::NO_CONTENT) && is_bodiless(StatusCode::NOT_MODIFIED));
/// assert!(is_bodiless(StatusCode::CONTINUE));
/// assert!(!is_bodiless(StatusCode::OK) && !is_bodiless(StatusCode::NOT_FOUND));
/// ```
pub fn is_bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// Something a handler can return.
///
/// Text gets `text/plain; charset=utf-8`, bytes `application/octet-stream`, [`Json`](crate::Json)
/// `application/json`. Tuples add a status and headers:
///
/// ```
/// use armature_router::IntoResponse;
/// use http::{header, StatusCode};
///
/// let res = (StatusCode::CREATED, [(header::LOCATION, "/users/7")], "created").into_response();
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.headers()[header::LOCATION], "/users/7");
/// assert_eq!(res.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
/// ```
pub trait IntoResponse {
    /// Builds the response.
    fn into_response(self) -> Response;
}

/// A response with any body, such as what a layer wrapped around a route answers
/// (its body is boxed once, unless it is already a [`Body`]).
impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    fn into_response(self) -> Response {
        self.map(Body::new)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

fn with_type(body: Body, content_type: HeaderValue) -> Response {
    let mut res = Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, content_type);
    res
}

macro_rules! text_like {
    ($($ty:ty),*) => {$(
        impl IntoResponse for $ty {
            fn into_response(self) -> Response {
                with_type(Body::from(self), TEXT)
            }
        }
    )*};
}
text_like!(&'static str, String);

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => s.into_response(),
            Cow::Owned(s) => s.into_response(),
        }
    }
}

macro_rules! bytes_like {
    ($($ty:ty),*) => {$(
        impl IntoResponse for $ty {
            fn into_response(self) -> Response {
                with_type(Body::from(self), OCTETS)
            }
        }
    )*};
}
bytes_like!(Bytes, Vec<u8>, &'static [u8]);

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

impl<R: IntoResponse> IntoResponse for (StatusCode, R) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<R: IntoResponse> IntoResponse for (HeaderMap, R) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        res.headers_mut().extend(self.0);
        res
    }
}

/// Headers alone (an empty body), as `(StatusCode::SWITCHING_PROTOCOLS, headers)` or a
/// redirect answers:
///
/// ```
/// use armature_router::IntoResponse;
/// use http::{header, StatusCode};
///
/// let res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
/// assert_eq!(res.status(), StatusCode::SEE_OTHER);
/// assert_eq!(res.headers()[header::LOCATION], "/login");
/// assert!(res.headers().get(header::CONTENT_TYPE).is_none());
/// ```
impl<K, V, const N: usize> IntoResponse for [(K, V); N]
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
{
    fn into_response(self) -> Response {
        with_headers(self, ().into_response())
    }
}

/// A header map alone (an empty body).
impl IntoResponse for HeaderMap {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}

/// Header pairs given as `[(name, value); N]`. A pair that is not a valid header is answered
/// with `500 Internal Server Error` rather than sent malformed.
impl<K, V, R, const N: usize> IntoResponse for ([(K, V); N], R)
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
    R: IntoResponse,
{
    fn into_response(self) -> Response {
        with_headers(self.0, self.1.into_response())
    }
}

impl<K, V, R, const N: usize> IntoResponse for (StatusCode, [(K, V); N], R)
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
    R: IntoResponse,
{
    fn into_response(self) -> Response {
        with_headers(self.1, (self.0, self.2).into_response())
    }
}

fn with_headers<K, V, const N: usize>(headers: [(K, V); N], mut res: Response) -> Response
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
{
    for (name, value) in headers {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                res.headers_mut().insert(name, value);
            }
            _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "invalid response header"),
        }
    }
    res
}

/// How a router writes the error answers it makes itself, from their status and a short
/// message (see [`RouterBuilder::error_answer`](crate::RouterBuilder::error_answer)).
pub type ErrorAnswer = fn(StatusCode, &'static str) -> Response;

/// A short plain-text error response: the router's own 400/404/405 answers by default.
pub(crate) fn error(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}
