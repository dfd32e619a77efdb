//! Handlers (`async fn(Request) -> impl IntoResponse`) and the type-erased endpoints routes hold.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;
use tower_service::Service;

use crate::body::BoxError;
use crate::eager::Eager;
use crate::response::{error, IntoResponse, Response};

/// A boxed response future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// An async function from a request to something that [`IntoResponse`].
///
/// Implemented for every `Fn(Request<B>) -> impl Future<Output = impl IntoResponse>` that is
/// `Send + Sync + 'static`, so closures and `async fn`s are handlers.
pub trait Handler<B>: Send + Sync + 'static {
    /// The handler's future.
    type Future: Future<Output = Self::Output> + Send + 'static;
    /// What the handler returns.
    type Output: IntoResponse;
    /// Calls the handler.
    fn call(&self, req: Request<B>) -> Self::Future;
}

impl<F, Fut, B> Handler<B> for F
where
    F: Fn(Request<B>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    type Future = Fut;
    type Output = Fut::Output;

    fn call(&self, req: Request<B>) -> Fut {
        self(req)
    }
}

/// Turns a [`Handler`] into a `tower::Service`, for use outside a router (inside axum, behind
/// any tower layer, or served directly by armature-server).
///
/// The handler is shared behind an `Arc`: cloning the service never clones the handler.
///
/// ```
/// use armature_router::handler_fn;
/// use http::Request;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let svc = handler_fn(|req: Request<()>| async move { format!("hello {}", req.uri().path()) });
/// let res = svc.oneshot(Request::get("/world").body(())?).await?;
/// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
/// assert_eq!(body, "hello /world");
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub fn handler_fn<H>(handler: H) -> HandlerFn<H> {
    HandlerFn(Arc::new(handler))
}

/// The service returned by [`handler_fn`].
pub struct HandlerFn<H>(Arc<H>);

impl<H> Clone for HandlerFn<H> {
    fn clone(&self) -> Self {
        HandlerFn(Arc::clone(&self.0))
    }
}

impl<H> fmt::Debug for HandlerFn<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFn")
    }
}

impl<H: Handler<B>, B> Service<Request<B>> for HandlerFn<H> {
    type Response = Response;
    type Error = Infallible;
    type Future = IntoResponseFuture<H::Future>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        IntoResponseFuture {
            inner: self.0.call(req),
        }
    }
}

pin_project! {
    /// Response future of [`HandlerFn`]: the handler's future, its output turned into a response.
    pub struct IntoResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for IntoResponseFuture<F>
where
    F: Future,
    F::Output: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|out| Ok(out.into_response()))
    }
}

/// A handler with its future boxed, so routes of different handler types live in one table.
pub(crate) trait ErasedHandler<B>: Send + Sync {
    /// Calls the handler; with `eager`, its future is polled once here (see [`Eager`]).
    fn call(&self, req: Request<B>, eager: bool) -> BoxFuture;
}

impl<H: Handler<B>, B> ErasedHandler<B> for H {
    fn call(&self, req: Request<B>, eager: bool) -> BoxFuture {
        let fut = Handler::call(self, req);
        Eager::boxed(async move { Ok(fut.await.into_response()) }, eager)
    }
}

/// What a route calls: a shared handler (called by reference, never cloned) or any
/// boxed tower service (cloned per call, as tower's `&mut self` contract requires).
pub(crate) enum Endpoint<B> {
    Handler(Arc<dyn ErasedHandler<B>>),
    /// Errors are turned into a logged `500` by [`EndpointFuture`].
    Service(BoxCloneSyncService<Request<B>, Response, BoxError>),
}

impl<B> Clone for Endpoint<B> {
    fn clone(&self) -> Self {
        match self {
            Endpoint::Handler(h) => Endpoint::Handler(Arc::clone(h)),
            Endpoint::Service(s) => Endpoint::Service(s.clone()),
        }
    }
}

impl<B: Send + 'static> Endpoint<B> {
    pub(crate) fn from_handler<H: Handler<B>>(handler: H) -> Self {
        Endpoint::Handler(Arc::new(handler))
    }

    /// Boxes any service whose responses convert into [`Response`]. Service errors become a
    /// logged `500`, so a failing layer (a timeout, say) never drops the connection.
    pub(crate) fn from_service<S>(service: S) -> Self
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        // A service that is already an endpoint is not boxed twice.
        let mut slot = Some(service);
        if let Some(endpoint) =
            (&mut slot as &mut dyn Any).downcast_mut::<Option<EndpointService<B>>>()
        {
            if let Some(endpoint) = endpoint.take() {
                return endpoint.0;
            }
        }
        let service = slot.expect("taken only on the downcast path");
        Endpoint::Service(BoxCloneSyncService::new(
            service
                .map_response(IntoResponse::into_response)
                .map_err(Into::into),
        ))
    }

    /// Wraps the endpoint in a tower layer.
    pub(crate) fn layer<L>(self, layer: &L) -> Self
    where
        L: tower_layer::Layer<EndpointService<B>>,
        L::Service: Service<Request<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<B>>>::Response: IntoResponse,
        <L::Service as Service<Request<B>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<B>>>::Future: Send + 'static,
    {
        Endpoint::from_service(layer.layer(EndpointService(self)))
    }

    /// Calls the endpoint; with `eager`, its future is polled once here (see [`Eager`]).
    pub(crate) fn call(&self, req: Request<B>, eager: bool) -> EndpointFuture<B> {
        let kind = match self {
            Endpoint::Handler(h) => CallKind::Boxed {
                fut: h.call(req, eager),
            },
            Endpoint::Service(s) => CallKind::Oneshot {
                fut: Eager::boxed(s.clone().oneshot(req), eager),
            },
        };
        EndpointFuture { kind }
    }
}

/// An endpoint seen as a tower service: what per-route and per-scope layers wrap.
pub struct EndpointService<B>(pub(crate) Endpoint<B>);

impl<B> Clone for EndpointService<B> {
    fn clone(&self) -> Self {
        EndpointService(self.0.clone())
    }
}

impl<B> fmt::Debug for EndpointService<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointService")
    }
}

impl<B: Send + 'static> Service<Request<B>> for EndpointService<B> {
    type Response = Response;
    type Error = Infallible;
    type Future = EndpointFuture<B>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Inside a layer, the router's setting does not reach here: a layered endpoint is
        // called when the layer calls it, and polled as the layer polls it.
        self.0.call(req, false)
    }
}

pin_project! {
    /// The future of one endpoint call.
    pub struct EndpointFuture<B> {
        #[pin]
        kind: CallKind<B>,
    }
}

pin_project! {
    #[project = CallKindProj]
    // Both variants are boxed, so the future every layer above wraps (and moves) stays small.
    enum CallKind<B> {
        Boxed { fut: BoxFuture },
        Oneshot {
            fut: Pin<Box<Eager<tower::util::Oneshot<BoxCloneSyncService<Request<B>, Response, BoxError>, Request<B>>>>>,
        },
    }
}

impl<B> Future for EndpointFuture<B> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            CallKindProj::Boxed { fut } => fut.as_mut().poll(cx),
            CallKindProj::Oneshot { fut } => fut.as_mut().poll(cx).map(|result| {
                Ok(result.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "route service failed");
                    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                }))
            }),
        }
    }
}
