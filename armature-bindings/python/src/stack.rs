//! The preset stack the bindings serve: request id → logger → CORS → router, where every
//! route's endpoint hands the request to the Python thread and awaits its answer.

use std::convert::Infallible;
use std::sync::Arc;

use armature_layers::cors::CorsLayer;
use armature_layers::logger::Logger;
use armature_layers::rate_limit::RateLimitLayer;
use armature_layers::request_id::RequestIdLayer;
use armature_router::{on, Body, BoxError, IntoResponse, Response, RouteError, Router};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::oneshot;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use crate::bridge::{Job, Msg, Outbox, Queue, Reply};

/// The whole stack, boxed so the four layer combinations share one type.
pub(crate) type Stack<B> = BoxCloneSyncService<Request<B>, Response, Infallible>;

/// What the Python side configured.
pub(crate) struct Config {
    /// `(method, path)` per route; the index is the route id the Python side dispatches on.
    pub(crate) routes: Vec<(Method, String)>,
    pub(crate) cors: Option<CorsLayer>,
    pub(crate) logger: Option<Logger>,
    pub(crate) max_body_size: usize,
    /// A path that matches only with its trailing slash added or removed is redirected (`308`).
    pub(crate) redirect_slashes: bool,
    /// The `@rate_limit` layer of each route (same index as `routes`), if any.
    pub(crate) limits: Vec<Option<RateLimitLayer>>,
}

/// The stack, queueing requests on `queue`; their responses come back through `outbox`
/// (whose dispatcher runs on the runtime that serves this stack).
pub(crate) fn build<B>(
    config: &Config,
    queue: &Arc<Queue>,
    outbox: &Arc<Outbox>,
) -> Result<Stack<B>, RouteError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut builder = Router::builder().redirect_trailing_slash(config.redirect_slashes);
    for (route, (method, path)) in config.routes.iter().enumerate() {
        let queue = Arc::clone(queue);
        let outbox = Arc::clone(outbox);
        let limit = config.max_body_size;
        let mut endpoint = on(method.clone(), move |req: Request<B>| {
            endpoint(Arc::clone(&queue), Reply::new(&outbox), route, limit, req)
        });
        if let Some(Some(rate_limit)) = config.limits.get(route) {
            // Refused requests (429 + Retry-After) never reach the Python thread.
            endpoint = endpoint.layer(rate_limit.clone());
        }
        builder = builder.route(path, endpoint);
    }
    let router = builder.build()?;
    let base = ServiceBuilder::new().layer(RequestIdLayer::new());
    Ok(match (config.logger.clone(), config.cors.clone()) {
        (Some(logger), Some(cors)) => boxed(base.layer(logger).layer(cors).service(router)),
        (Some(logger), None) => boxed(base.layer(logger).service(router)),
        (None, Some(cors)) => boxed(base.layer(cors).service(router)),
        (None, None) => boxed(base.service(router)),
    })
}

fn boxed<S, B, RB>(service: S) -> Stack<B>
where
    S: tower::Service<Request<B>, Response = http::Response<RB>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(service.map_response(|res| res.map(Body::new)))
}

/// A route's endpoint: reads the body (up to the limit), queues the request for the Python
/// thread and waits for its response. A handler that never answers (its responder dropped)
/// gives `500`.
async fn endpoint<B>(
    queue: Arc<Queue>,
    (reply, rx): (Reply, oneshot::Receiver<Response>),
    route: usize,
    limit: usize,
    req: Request<B>,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    // A declared length over the limit is refused before a byte is read (and before hyper
    // answers `Expect: 100-continue` by inviting the client to send it).
    if body.size_hint().lower() > limit as u64 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
        }
        Err(_) => {
            return (StatusCode::BAD_REQUEST, "failed to read the request body").into_response()
        }
    };
    queue.push(Msg::Request(Job {
        route,
        parts,
        body,
        reply,
    }));
    rx.await.unwrap_or_else(|_| {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    })
}
