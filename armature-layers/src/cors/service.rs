//! [`Cors`]: the middleware service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::policy::{is_preflight, Policy};
use super::{CorsBuilder, CorsLayer, ResponseFuture};

/// Middleware that answers CORS preflights itself and adds CORS headers to the inner
/// service's responses. Made by [`CorsLayer`]; see the [module docs](super) for the rules.
///
/// `poll_ready` is the inner service's: tower's contract does not know in advance which
/// requests are preflights, so a preflight, answered here, leaves the readiness it was
/// given unused (as in tower-http).
#[derive(Clone)]
pub struct Cors<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl Cors<()> {
    /// Starts configuring a [`CorsLayer`].
    ///
    /// ```
    /// use armature_layers::cors::Cors;
    /// use http::Method;
    ///
    /// let layer = Cors::builder()
    ///     .allow_origins(["https://app.example"])
    ///     .allow_methods([Method::GET, Method::PUT])
    ///     .build()
    ///     .expect("a valid CORS configuration");
    /// # let _ = layer;
    /// ```
    pub fn builder() -> CorsBuilder {
        CorsBuilder::default()
    }

    /// An open configuration for development: any origin (`*`), any method (`*`), any
    /// request header (mirrored, so `authorization` too), every response header exposed
    /// (`*`), no credentials, no `max-age`.
    ///
    /// Pages on any website can then read every response, but never with the user's
    /// cookies. Do not use it for anything that relies on network position (an intranet
    /// or `localhost` service) for its security.
    pub fn permissive() -> CorsLayer {
        Cors::builder()
            .allow_any_origin()
            .allow_any_method()
            .mirror_request_headers()
            .expose_any_header()
            .build()
            .expect("the permissive preset is a valid configuration")
    }
}

impl<S> Cors<S> {
    pub(crate) fn from_parts(inner: S, policy: Arc<Policy>) -> Self {
        Cors { inner, policy }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for Cors<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let preflight = is_preflight(&req);
        // Decided from the headers, the request is not moved; a predicate sees it all.
        let mut req = req;
        let allow_origin = match self.policy.origin.allowed(req.headers()) {
            Ok(allow_origin) => allow_origin,
            Err(ask) => {
                let allow_origin;
                (req, allow_origin) = ask.answer(req);
                allow_origin
            }
        };
        if preflight {
            // Answered here, allowed or not: a preflight never reaches the inner service.
            return ResponseFuture::preflight(self.policy.preflight(allow_origin, req.headers()));
        }
        let headers = self.policy.actual(allow_origin);
        ResponseFuture::actual(self.inner.call(req), headers)
    }
}
