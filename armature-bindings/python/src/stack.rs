//! The preset stack the bindings serve: request id → logger → CORS → (docs →) router, where
//! every route's endpoint hands the request to the Python thread and awaits its answer.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use armature_layers::cors::CorsLayer;
use armature_layers::files::StaticFiles;
use armature_layers::logger::Logger;
use armature_layers::rate_limit::RateLimitLayer;
use armature_layers::request_id::RequestIdLayer;
use armature_openapi::DocsLayer;
use armature_router::{
    get, on, Body, BoxError, IntoResponse, MethodRouter, Response, RouteError, Router,
};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use pyo3::exceptions::PyValueError;
use pyo3::PyResult;
use tokio::sync::oneshot;
use tower::util::BoxCloneSyncService;
use tower::Layer;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::bridge::{Job, Msg, Outbox, Queue, Reply};
use crate::convertors::Convertors;
use crate::in_order::{self, Member};
use crate::websocket::Sockets;

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
    /// The path convertors of each route (same index as `routes`, or empty), `None` for a
    /// route without any.
    pub(crate) convertors: Vec<Option<Convertors>>,
    /// `/openapi.json` and `/docs`, unless the app turned them off.
    pub(crate) docs: Option<Docs>,
    /// Unmatched paths and methods go to the Python endpoints after the routes' (route ids
    /// `routes.len()` and `routes.len() + 1`) instead of the router's own JSON answers.
    pub(crate) unmatched: bool,
    /// `app.mount(path, StaticFiles(directory=..., html=...))`: directories served under
    /// their paths.
    pub(crate) mounts: Vec<Mount>,
    /// `GZipMiddleware(minimum_size, compresslevel)`.
    pub(crate) gzip: Option<Gzip>,
}

/// Starlette's `GZipMiddleware`: answers of `minimum` bytes or more gzipped (at `level`,
/// 1 to 9) for clients that accept it, by tower-http's compression layer (not images, gRPC or
/// event streams, which gain nothing).
#[derive(Clone, Copy)]
pub(crate) struct Gzip {
    pub(crate) minimum: u64,
    pub(crate) level: i32,
}

impl Gzip {
    fn layer(self) -> CompressionLayer<impl Predicate> {
        let worth_it = SizeAbove::new(self.minimum)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE)
            // Nor a WebSocket's `101`, whose "body" is the connection itself, nor a `206`
            // (Starlette's leaves them as they are: a `Content-Range` counts the file's bytes;
            // tower-http skips those with one, not a `FileResponse`'s `multipart/byteranges`).
            .and(
                |status: StatusCode,
                 _: http::Version,
                 _: &http::HeaderMap,
                 _: &http::Extensions| {
                    status != StatusCode::SWITCHING_PROTOCOLS
                        && status != StatusCode::PARTIAL_CONTENT
                },
            );
        CompressionLayer::new()
            .no_br()
            .no_deflate()
            .no_zstd()
            .quality(CompressionLevel::Precise(self.level))
            .compress_when(worth_it)
    }
}

/// A directory of static files served under a path, as Starlette's `StaticFiles`.
pub(crate) struct Mount {
    pub(crate) path: String,
    pub(crate) files: StaticFiles,
}

impl Mount {
    /// armature-layers' `StaticFiles` (tower-http's `ServeDir`): ranges, conditional
    /// requests, nothing outside the directory (symbolic links included, unless
    /// `follow_symlink`); `html`: a directory's `index.html` answers for it. A missing file
    /// answers as a path no route matches. A `ValueError` if `directory` is not one.
    pub(crate) fn new(
        path: String,
        directory: &str,
        html: bool,
        follow_symlink: bool,
    ) -> PyResult<Self> {
        let files = StaticFiles::builder(directory)
            .index_html(html)
            .mounted_at(path.trim_end_matches('/'))
            .follow_links_out(follow_symlink)
            .not_found(|| detail(StatusCode::NOT_FOUND, "Not Found"))
            .build()
            .map_err(|err| PyValueError::new_err(format!("app.mount({path:?}): {err}")))?;
        Ok(Mount { path, files })
    }
}

/// The stack, queueing requests on `queue`; their responses come back through `outbox`
/// (whose dispatcher runs on the runtime that serves this stack).
pub(crate) fn build<B>(
    config: &Config,
    queue: &Arc<Queue>,
    outbox: &Arc<Outbox>,
    sockets: &Arc<Sockets>,
) -> Result<Stack<B>, RouteError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // Eager: no user layer wraps this router (the preset's observe the route), and a Rust
    // answer then drops its request before hyper reads the socket again.
    // A catch-all matches an empty rest, as Starlette's `{rest:path}` matches `/files/`.
    let builder = Router::builder()
        .redirect_trailing_slash(config.redirect_slashes)
        .eager_handlers(true)
        .catch_all_matches_empty(true);
    // The Python endpoint of route id `route`.
    let python = |route: usize| {
        let queue = Arc::clone(queue);
        let outbox = Arc::clone(outbox);
        let limit = config.max_body_size;
        move |req: Request<B>| endpoint(Arc::clone(&queue), Reply::new(&outbox), route, limit, req)
    };
    // The same for a request no route serves, its body left unread (its answer does not
    // depend on it: a large one is not a `413`).
    let unmatched = |route: usize| {
        let queue = Arc::clone(queue);
        let outbox = Arc::clone(outbox);
        move |req: Request<B>| {
            let req = req.map(|_| Empty::<Bytes>::new());
            endpoint(Arc::clone(&queue), Reply::new(&outbox), route, 0, req)
        }
    };
    // The router's own answers (404, 405, and 400 for a path that is not valid
    // percent-encoding) are FastAPI's JSON `{"detail": ...}`, as every other error of the
    // package; the app's Python answers 404 and 405 instead when it has middleware or handlers
    // for them.
    let mut builder = builder.error_answer(detail);
    // What a route answers a request whose parameters do not fit its convertors: what the
    // router answers a path no route matches (and, in a group of routes of one shape, a
    // method none of them has for it).
    let count = config.routes.len();
    let python_not_found = config.unmatched.then(|| unmatched(count));
    let not_found =
        move |req: Request<B>| refuse(&python_not_found, StatusCode::NOT_FOUND, "Not Found", req);
    let python_not_allowed = config.unmatched.then(|| unmatched(count + 1));
    let not_allowed = move |req: Request<B>| {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        refuse(&python_not_allowed, status, "Method Not Allowed", req)
    };
    if config.unmatched {
        builder = builder
            .fallback(unmatched(count))
            .method_not_allowed_fallback(unmatched(count + 1));
    }
    // The endpoint of a WebSocket route (method `WEBSOCKET`): a `GET` that must be a handshake.
    let websocket = |route: usize| {
        let queue = Arc::clone(queue);
        let outbox = Arc::clone(outbox);
        let sockets = Arc::clone(sockets);
        move |req: Request<B>| {
            let (queue, sockets) = (Arc::clone(&queue), Arc::clone(&sockets));
            crate::websocket::endpoint(queue, sockets, Reply::new(&outbox), route, req)
        }
    };
    // A path with both an HTTP `GET` route and a WebSocket route (FastAPI allows it: the two
    // are told apart by the request's kind): one `GET` endpoint, which hands a request with
    // `Upgrade: websocket` to the WebSocket route. By the `GET` route's id.
    let websockets: HashMap<&str, usize> = config
        .routes
        .iter()
        .enumerate()
        .filter(|(_, (method, _))| method.as_str() == WEBSOCKET)
        .map(|(route, (_, path))| (path.as_str(), route))
        .collect();
    let shared: HashMap<usize, usize> = config
        .routes
        .iter()
        .enumerate()
        .filter(|(_, (method, _))| method == Method::GET)
        .filter_map(|(route, (_, path))| websockets.get(path.as_str()).map(|&ws| (route, ws)))
        .collect();
    // Routes with convertors, and routes of one shape that only their order tells apart
    // (`/items/{id:int}`, then `/items/{name}`): one router path each, tried in order.
    let in_order = in_order::groups(&config.routes, &config.convertors)?;
    let grouped: HashSet<usize> = in_order.iter().flatten().copied().collect();
    for (route, (method, path)) in config.routes.iter().enumerate() {
        if grouped.contains(&route) {
            continue;
        }
        let mut endpoint = if method.as_str() == WEBSOCKET {
            if shared.values().any(|&ws| ws == route) {
                continue; // served by the `GET` route of its path
            }
            get(websocket(route))
        } else if let Some(&ws) = shared.get(&route) {
            let (ws, http) = (websocket(ws), python(route));
            get(move |req: Request<B>| {
                let (ws, http) = (ws.clone(), http.clone());
                async move {
                    if crate::websocket::is_upgrade(&req) {
                        ws(req).await
                    } else {
                        http(req).await
                    }
                }
            })
        } else {
            on(method.clone(), python(route))
        };
        if let Some(Some(rate_limit)) = config.limits.get(route) {
            // Refused requests (429 + Retry-After) never reach the Python thread.
            endpoint = endpoint.layer(rate_limit.clone());
        }
        builder = builder.route(path, endpoint);
    }
    for group in &in_order {
        let pattern = &config.routes[group[0]].1;
        let mut methods: Vec<(Method, Vec<Member<B>>)> = Vec::new();
        for &route in group {
            let (method, path) = &config.routes[route];
            let limit = config.limits.get(route).and_then(Option::as_ref);
            let service = if method.as_str() == WEBSOCKET {
                member_service(websocket(route), limit)
            } else {
                member_service(python(route), limit)
            };
            let convertors = config.convertors.get(route).cloned().flatten();
            let member = Member::new(route, path, pattern, convertors, service);
            match methods.iter_mut().find(|(m, _)| m == method) {
                Some((_, members)) => members.push(member),
                None => methods.push((method.clone(), vec![member])),
            }
        }
        let has = |name: &str| methods.iter().any(|(m, _)| m.as_str() == name);
        let (sockets, pages) = (has(WEBSOCKET), has(Method::GET.as_str()));
        let methods: in_order::Methods<B> = methods.into();
        // The endpoint dispatching to the group's routes the requests of method `kind` (of
        // their own method when `None`).
        let dispatcher = |kind: Option<Method>| {
            let methods = Arc::clone(&methods);
            let (not_found, not_allowed) = (not_found.clone(), not_allowed.clone());
            move |req: Request<B>| {
                let method = kind.clone().unwrap_or_else(|| req.method().clone());
                // A handshake goes to the WebSocket routes, as a path with both kinds of route
                // sends it (and any `GET` when there is no HTTP route of the shape).
                let socket = method == Method::GET
                    && sockets
                    && (!pages || crate::websocket::is_upgrade(&req));
                let kind = if socket {
                    in_order::websocket()
                } else {
                    method
                };
                let methods = Arc::clone(&methods);
                in_order::dispatch(methods, kind, req, not_found.clone(), not_allowed.clone())
            }
        };
        let mut endpoints = MethodRouter::new();
        let http = methods.iter().map(|(m, _)| m.clone());
        // A group with WebSocket routes has a `GET` endpoint (a handshake is a `GET`).
        let get = (sockets && !pages).then_some(Method::GET);
        for method in http.filter(|m| m.as_str() != WEBSOCKET).chain(get) {
            endpoints = endpoints.on(method.clone(), dispatcher(Some(method)));
        }
        // A method no route of the group has: its `405` lists the methods of the routes that
        // take the values (the router's would list every method of the shape), or a `404`.
        endpoints = endpoints.any(dispatcher(None));
        // Values that no route of the group takes are not the group's path: the router goes
        // on to a route of another shape (`/docs/{rest:path}` after `/docs/{page:int}`), as
        // Starlette tries its next route.
        builder = match in_order::guard(&methods) {
            Some(takes) => builder.route_if(pattern, takes, endpoints),
            None => builder.route(pattern, endpoints),
        };
    }
    for mount in &config.mounts {
        // Mounted at `/` (a single-page app's files): what no route matches.
        if mount.path == "/" {
            builder = builder.fallback_service(mount.files.clone());
            continue;
        }
        builder = builder.nest_service(&mount.path, mount.files.clone());
    }
    if let Some(Docs::Spec { path, json }) = &config.docs {
        let json = json.clone();
        builder = builder.route(
            path,
            get(move |_req: Request<B>| {
                let json = json.clone();
                async move { ([(CONTENT_TYPE, "application/json")], json) }
            }),
        );
    }
    let router = builder.build()?;
    Ok(match &config.docs {
        Some(Docs::Ui(docs)) => layered(config, docs.layer(router)),
        _ => layered(config, router),
    })
}

/// The endpoint of one route of a group tried in order (`answer`: its Python or WebSocket
/// endpoint), behind its rate limit, if any.
fn member_service<B, F, Fut>(
    answer: F,
    limit: Option<&RateLimitLayer>,
) -> BoxCloneSyncService<Request<B>, Response, Infallible>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    F: Fn(Request<B>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let service = tower::service_fn(move |req: Request<B>| {
        let answer = answer(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    match limit {
        Some(rate_limit) => BoxCloneSyncService::new(
            rate_limit
                .layer(service)
                .map_response(|res: http::Response<_>| res.map(Body::new)),
        ),
        None => BoxCloneSyncService::new(service),
    }
}

/// The app's Python answer to an unmatched request (`python`), when it has one, else the
/// router's own `detail(status, text)`.
fn refuse<B, F, Fut>(
    python: &Option<F>,
    status: StatusCode,
    text: &'static str,
    req: Request<B>,
) -> impl std::future::Future<Output = Response>
where
    F: Fn(Request<B>) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let answer = python.as_ref().map(|python| python(req));
    async move {
        match answer {
            Some(answer) => answer.await,
            None => detail(status, text),
        }
    }
}

/// `{"detail": "<text>"}` with `status`, as FastAPI answers unmatched paths and methods (`text`
/// is one of the router's and the static files' short messages: nothing to escape).
pub(crate) fn detail(status: StatusCode, text: &'static str) -> Response {
    let body = format!(r#"{{"detail":"{text}"}}"#);
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// What the preset layers wrap: the router, or a layer around it.
trait Inner<B>:
    tower::Service<Request<B>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B> Inner<B> for S where
    S: tower::Service<Request<B>, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The preset layers around `inner` (the router, or the docs layer around it), gzip the
/// innermost when asked.
fn layered<S: Inner<B>, B: Send + 'static>(config: &Config, inner: S) -> Stack<B> {
    match config.gzip {
        Some(gzip) => around(
            config,
            ServiceBuilder::new()
                .map_response(|res: http::Response<_>| res.map(Body::new))
                .layer(gzip.layer())
                .service(inner),
        ),
        None => around(config, inner),
    }
}

/// Request id, logger and CORS around `inner`.
fn around<S: Inner<B>, B: Send + 'static>(config: &Config, inner: S) -> Stack<B> {
    let base = ServiceBuilder::new().layer(RequestIdLayer::new());
    match (config.logger.clone(), config.cors.clone()) {
        (Some(logger), Some(cors)) => boxed(base.layer(logger).layer(cors).service(inner)),
        (Some(logger), None) => boxed(base.layer(logger).service(inner)),
        (None, Some(cors)) => boxed(base.layer(cors).service(inner)),
        (None, None) => boxed(base.service(inner)),
    }
}

/// The OpenAPI document, and Swagger UI unless turned off, served beside the routes.
#[derive(Clone)]
pub(crate) enum Docs {
    /// The document and Swagger UI (vendored, offline), by Armature's docs layer.
    Ui(DocsLayer),
    /// The document alone, as a route.
    Spec { path: String, json: Bytes },
}

impl Docs {
    /// `spec` (JSON text) at `spec_path`, and Swagger UI at `ui_path` if given, its links
    /// under `root_path` (the prefix a proxy in front adds; empty for none); a `ValueError`
    /// for a document that is not JSON or a path that does not start with `/`.
    pub(crate) fn new(
        spec: String,
        spec_path: String,
        ui_path: Option<String>,
        root_path: &str,
    ) -> PyResult<Self> {
        let value: sonic_rs::Value = sonic_rs::from_str(&spec).map_err(|err| {
            PyValueError::new_err(format!("the OpenAPI document is not JSON: {err}"))
        })?;
        for path in std::iter::once(&spec_path).chain(&ui_path) {
            if !path.starts_with('/') {
                return Err(PyValueError::new_err(format!(
                    "a docs path must start with '/', got {path:?}"
                )));
            }
        }
        Ok(match ui_path {
            Some(ui_path) => {
                // FastAPI serves `docs_url="/docs/"` at `/docs/`: so does the UI under `/docs`.
                let ui_path = ui_path.trim_end_matches('/');
                if ui_path.is_empty() {
                    return Err(PyValueError::new_err(
                        "the docs UI needs a path of its own, like '/docs', not '/'",
                    ));
                }
                Docs::Ui(DocsLayer::with_paths(&value, &spec_path, ui_path).served_under(root_path))
            }
            None => Docs::Spec {
                path: spec_path,
                json: Bytes::from(spec),
            },
        })
    }
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

/// The method name the Python side gives WebSocket routes.
pub(crate) const WEBSOCKET: &str = "WEBSOCKET";

/// The `413` of a body over `App(max_body_size=...)`.
const TOO_LARGE: &str = "Request body too large";

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
        return detail(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE);
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => {
            return detail(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE)
        }
        Err(_) => return detail(StatusCode::BAD_REQUEST, "Failed to read the request body"),
    };
    queue.push(Msg::Request(Job {
        route,
        parts,
        body,
        reply,
        socket: None,
    }));
    rx.await.unwrap_or_else(|_| {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    })
}
