use std::task::{Context, Poll};

use http::header::{self, HeaderName};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{RequestId, RequestIdError, ResponseFuture};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers HTTP itself gives a meaning: an id written there would corrupt the message.
const RESERVED: [HeaderName; 11] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
    header::HOST,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
];

/// Sets a [`RequestId`] on every request and echoes it on the response. See the
/// [module docs](super).
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    header: HeaderName,
    trust_incoming: bool,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        RequestIdLayer::new()
    }
}

impl RequestIdLayer {
    /// Generates an id for every request in `x-request-id`, ignoring incoming ones.
    pub fn new() -> Self {
        RequestIdLayer {
            header: X_REQUEST_ID,
            trust_incoming: false,
        }
    }

    /// Uses another header, like `x-correlation-id`.
    ///
    /// The layer overwrites this header on every request and response, so a header with a
    /// meaning of its own to HTTP is refused: the message framing (`content-length`,
    /// `transfer-encoding`), the connection's hop-by-hop headers (`connection`, `keep-alive`,
    /// `te`, `trailer`, `upgrade`, `proxy-connection`), `host`, and the body's description
    /// (`content-type`, `content-encoding`). An id written there would corrupt the message.
    ///
    /// ```
    /// use armature_layers::request_id::{RequestIdError, RequestIdLayer};
    /// use http::header::{HeaderName, CONTENT_LENGTH};
    ///
    /// let layer = RequestIdLayer::new().header(HeaderName::from_static("x-correlation-id"))?;
    /// let err = RequestIdLayer::new().header(CONTENT_LENGTH).unwrap_err();
    /// assert_eq!(err, RequestIdError::ReservedHeader { name: CONTENT_LENGTH });
    /// assert!(err.to_string().contains("content-length"));
    /// # Ok::<_, RequestIdError>(())
    /// ```
    pub fn header(mut self, header: HeaderName) -> Result<Self, RequestIdError> {
        if RESERVED.contains(&header) {
            return Err(RequestIdError::ReservedHeader { name: header });
        }
        self.header = header;
        Ok(self)
    }

    /// Keeps a valid incoming id instead of generating one. Only turn this on when the client
    /// (a gateway, another service of yours) is trusted: ids end up in logs.
    ///
    /// ```
    /// use armature_layers::request_id::RequestIdLayer;
    /// use http::{Request, Response};
    /// use std::convert::Infallible;
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # tokio_test::block_on(async {
    /// let svc = RequestIdLayer::new()
    ///     .trust_incoming(true)
    ///     .layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
    /// let req = Request::builder().header("x-request-id", "from-gateway-1").body(())?;
    /// let res = svc.oneshot(req).await?;
    /// assert_eq!(res.headers()["x-request-id"], "from-gateway-1");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn trust_incoming(mut self, trust: bool) -> Self {
        self.trust_incoming = trust;
        self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> SetRequestId<S> {
        SetRequestId {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
    layer: RequestIdLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SetRequestId<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let header = &self.layer.header;
        let incoming = self
            .layer
            .trust_incoming
            .then(|| req.headers().get(header).and_then(RequestId::parse))
            .flatten();
        let id = incoming.unwrap_or_else(RequestId::generate);
        req.headers_mut()
            .insert(header.clone(), id.header_value().clone());
        req.extensions_mut().insert(id.clone());
        ResponseFuture::new(self.inner.call(req), id, header.clone())
    }
}
