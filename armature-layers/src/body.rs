//! [`ResponseBody`]: the inner service's body, or the short message a layer answers with
//! itself.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The head of a layer's own short answer: `status` and `content-type: text/plain`, the body
/// ([`ResponseBody::message`]) to be mapped in.
pub(crate) fn message_head(status: StatusCode) -> Response<()> {
    let mut res = Response::new(());
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Whether `req` is a gRPC call (`content-type: application/grpc`, `application/grpc+proto`,
/// ...): a layer's own answer to one is a gRPC status, not an HTTP error status.
pub(crate) fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.as_bytes().get(..16))
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"application/grpc"))
}

/// A gRPC trailers-only answer (HTTP 200) with `grpc-status` and `grpc-message` (`message`
/// must not need percent-encoding: plain ASCII without `%`).
pub(crate) fn grpc_head(status: HeaderValue, message: &'static str) -> Response<()> {
    let mut res = Response::new(());
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    h.insert(GRPC_STATUS, status);
    h.insert(GRPC_MESSAGE, HeaderValue::from_static(message));
    res
}

pin_project! {
    /// The response body of the layers that can answer by themselves
    /// ([`RateLimit`](crate::rate_limit::RateLimit), [`Timeout`](crate::timeout::Timeout)):
    /// the inner service's body when it answered, else the layer's short `text/plain` message
    /// (none for a rate-limited gRPC call, whose refusal is trailers-only).
    ///
    /// ```
    /// use armature_layers::rate_limit::{Quota, RateLimitLayer, ResponseBody};
    /// use http::{Request, Response, StatusCode};
    /// use http_body_util::{BodyExt, Full};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # tokio_test::block_on(async {
    /// let layer = RateLimitLayer::builder().quota(Quota::per_hour(1)).key_by_header("x-api-key").build()?;
    /// let svc = layer.layer(service_fn(|_: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::from("hi"))))
    /// }));
    /// let req = || Request::get("/").header("x-api-key", "k").body(()).unwrap();
    /// let ok: Response<ResponseBody<Full<bytes::Bytes>>> = svc.clone().oneshot(req()).await?;
    /// assert_eq!(ok.into_body().collect().await?.to_bytes(), "hi");
    /// let refused = svc.oneshot(req()).await?;
    /// assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    /// assert!(refused.into_body().collect().await?.to_bytes().starts_with(b"Too Many Requests"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Message { message: Option<&'static str> },
    }
}

impl<B> ResponseBody<B> {
    /// `body`, as a layer passes the inner service's answer on. For a stack whose rate
    /// limit is optional: the arm without one maps its bodies with this, so that both arms
    /// answer with the same type.
    ///
    /// ```
    /// use armature_layers::rate_limit::{RateLimitLayer, ResponseBody};
    /// use http::Response;
    /// use tower::util::{Either, MapResponseLayer};
    ///
    /// type Unlimited<B> = MapResponseLayer<fn(Response<B>) -> Response<ResponseBody<B>>>;
    ///
    /// fn optional<B>(limit: Option<RateLimitLayer>) -> Either<RateLimitLayer, Unlimited<B>> {
    ///     match limit {
    ///         Some(layer) => Either::Left(layer),
    ///         None => Either::Right(MapResponseLayer::new(|res: Response<B>| res.map(ResponseBody::new))),
    ///     }
    /// }
    /// ```
    pub fn new(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    /// `message`, or no body at all when `None`.
    pub(crate) fn message(message: Option<&'static str>) -> Self {
        ResponseBody {
            kind: Kind::Message { message },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Data: From<&'static [u8]>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Message { message } => Poll::Ready(
                message
                    .take()
                    .map(|m| Ok(Frame::data(B::Data::from(m.as_bytes())))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Message { message } => message.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Message { message } => {
                SizeHint::with_exact(message.map_or(0, |m| m.len() as u64))
            }
        }
    }
}

/// No body at all: what CORS answers a preflight with when it wraps one of these layers.
impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        ResponseBody::message(None)
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ResponseBody::Inner"),
            Kind::Message { message } => f
                .debug_tuple("ResponseBody::Message")
                .field(message)
                .finish(),
        }
    }
}
