use std::task::{Context, Poll};

use http::header::{self, HeaderName};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{RequestId, RequestIdError, ResponseFuture};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers HTTP itself gives a meaning: an id written there would corrupt the message, or
/// replace what the client or the handler said (credentials, cookies, a redirect).
const RESERVED: [HeaderName; 38] = [
    // Framing and the connection.
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
    header::HOST,
    header::EXPECT,
    // The body's description and ranges.
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_RANGE,
    header::RANGE,
    // Credentials and cookies.
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::WWW_AUTHENTICATE,
    header::PROXY_AUTHENTICATE,
    header::COOKIE,
    header::SET_COOKIE,
    // Redirects, caching and validators.
    header::LOCATION,
    header::CACHE_CONTROL,
    header::EXPIRES,
    header::PRAGMA,
    header::ETAG,
    header::LAST_MODIFIED,
    header::VARY,
    header::DATE,
    header::RETRY_AFTER,
    // Origins, CORS and security policy.
    header::ORIGIN,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::STRICT_TRANSPORT_SECURITY,
    header::CONTENT_SECURITY_POLICY,
    // Proxies' view of the client.
    header::FORWARDED,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
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
    /// `te`, `trailer`, `upgrade`, `proxy-connection`), `host`, `expect`, the body's
    /// description and ranges (`content-type`, `content-encoding`, `range`, `content-range`),
    /// credentials and cookies (`authorization`, `www-authenticate`, `cookie`, `set-cookie`,
    /// their proxy twins), redirects, caching and validators (`location`, `cache-control`,
    /// `expires`, `pragma`, `etag`, `last-modified`, `vary`, `date`, `retry-after`), origins
    /// and security policy (`origin`, the CORS answer's `access-control-allow-origin` and
    /// `-credentials`, `strict-transport-security`, `content-security-policy`) and what
    /// proxies say of the client (`forwarded`, `x-forwarded-for`, `-proto`, `-host`). An id
    /// written there would corrupt the message or replace what the client or handler said.
    /// Use a header of your own; `x-request-id` is the default.
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
