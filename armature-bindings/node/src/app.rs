//! The compiled app: the preset stack around the router, served on a socket or through
//! `inject`, and the calls JS makes to read requests and answer them.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use armature_layers::cors::CorsLayer;
use armature_layers::logger::{AccessLog, Format, Logger};
use armature_layers::rate_limit::{RateLimitLayer, RateLimited};
use armature_layers::request_id::RequestIdLayer;
use armature_router::{Body, Response};
use armature_server::Server;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use napi::bindgen_prelude::{Buffer, ClassInstance, Function, Object, PromiseRaw, Unknown};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use tokio::sync::{oneshot, watch};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::calls;
use crate::cors::{self, CorsOptions};
use crate::dispatch::Dispatcher;
use crate::log::{self, Json, TARGET};
use crate::rate_limit::NativeRateLimit;
use crate::response::{error_with, latin1_text, latin1_value};
use crate::routes::{endpoint, Fallback, NativeRoutes};

/// Request bodies larger than this are refused with `413` before any handler runs, unless the
/// app sets its own limit (`App.new({ bodyLimit })`).
const BODY_LIMIT: usize = 1024 * 1024;

/// A request refused before routing: its body, by [`Collect`] (too large, or cut off), or by a
/// rate limit (which forwards its refusals, see `rate_limit::layer`). It crosses the stack
/// (with an empty body when the body was refused) and [`Refusals`], just outside the router,
/// answers it: in JS when the app asks for it (so its middleware and error handler see the
/// error, as Fastify's do), else in Rust. So a refused body gets the request id, the
/// access-log line, the CORS headers and the rate-limit count every other answer gets (a
/// client cannot send oversized bodies past its limit for free), and a rate limit's `429` is
/// written in one place, whoever answers it.
#[derive(Clone, Copy)]
pub(crate) enum Refused {
    /// The body is over the limit: `413`, `FST_ERR_CTP_BODY_TOO_LARGE`.
    TooLarge,
    /// The body could not be read (cut short): `400`.
    Unreadable,
    /// A rate limit refused the request: `429`, its `Retry-After` and `RateLimit` headers
    /// added by the limit to whatever answers it.
    RateLimited(RateLimited),
}

impl Refused {
    fn status(self) -> StatusCode {
        match self {
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Unreadable => StatusCode::BAD_REQUEST,
            Refused::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Fastify's code for it.
    fn code(self) -> Option<&'static str> {
        match self {
            Refused::TooLarge => Some("FST_ERR_CTP_BODY_TOO_LARGE"),
            _ => None,
        }
    }

    /// The message of its error; a rate limit's as @fastify/rate-limit words it (`Rate limit
    /// exceeded, retry in 30 seconds`).
    pub(crate) fn message(self) -> Cow<'static, str> {
        match self {
            Refused::TooLarge => "Request body is too large".into(),
            Refused::Unreadable => "The request body could not be read".into(),
            Refused::RateLimited(limited) => {
                let seconds = limited.retry_after().as_secs_f64().ceil().max(1.0) as u64;
                let plural = if seconds == 1 { "" } else { "s" };
                format!("Rate limit exceeded, retry in {seconds} second{plural}").into()
            }
        }
    }
}

/// The whole stack: request id → logger → CORS → rate limits → router, over collected request
/// bodies. CORS sits outside the rate limits so that preflights are not counted and a `429`
/// carries the CORS headers a page needs to read it.
type Stack = BoxCloneSyncService<Request<Bytes>, Response, Infallible>;

fn stack(
    router: armature_router::Router<Bytes>,
    logger: Option<Format>,
    cors: Option<CorsLayer>,
    rate_limits: Vec<RateLimitLayer>,
    js_refusals: Option<JsRefusals>,
) -> Stack {
    let router = Refusals {
        inner: router,
        js: js_refusals,
    };
    // The first limit wrapped is the outermost (its headers are the ones clients see). A limit
    // passes its refusals on, marked, for `Refusals` to answer: past the limits inside it,
    // which would count them.
    let mut limits = rate_limits.into_iter().rev();
    let Some(innermost) = limits.next() else {
        // The common case keeps one concrete type up to the final box.
        return around(router, logger, cors);
    };
    let refusals = BoxCloneSyncService::new(router);
    let innermost = limited(innermost, refusals.clone());
    let all = limits.fold(innermost, |inner, limit| {
        let past = PastLimits {
            limits: inner,
            refusals: refusals.clone(),
        };
        limited(limit, BoxCloneSyncService::new(past))
    });
    around(all, logger, cors)
}

/// `inner` behind the rate limit `limit`.
fn limited(limit: RateLimitLayer, inner: Stack) -> Stack {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(limit)
            .service(inner)
            .map_response(|res| res.map(Body::new)),
    )
}

/// Between two rate limits: a request the outer one refused goes straight to [`Refusals`],
/// uncounted by the inner ones. (One lookup per admitted request, only in apps with two
/// limits or more.)
#[derive(Clone)]
struct PastLimits {
    limits: Stack,
    refusals: Stack,
}

impl Service<Request<Bytes>> for PastLimits {
    type Response = Response;
    type Error = Infallible;
    type Future = <Stack as Service<Request<Bytes>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        self.limits.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        if req.extensions().get::<Refused>().is_some() {
            return Box::pin(self.refusals.clone().oneshot(req));
        }
        self.limits.call(req)
    }
}

/// `inner` behind request id → logger → CORS.
fn around<S>(inner: S, logger: Option<Format>, cors: Option<CorsLayer>) -> Stack
where
    S: Service<Request<Bytes>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let request_id = RequestIdLayer::new();
    // Each combination is its own concrete type; box once at the end.
    match (logger, cors) {
        (None, None) => {
            BoxCloneSyncService::new(ServiceBuilder::new().layer(request_id).service(inner))
        }
        (None, Some(cors)) => BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(request_id)
                .layer(cors)
                .service(inner),
        ),
        (Some(format), None) => BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(request_id)
                .layer(access_logger(format))
                .service(inner)
                .map_response(|res| res.map(Body::new)),
        ),
        (Some(format), Some(cors)) => BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(request_id)
                .layer(access_logger(format))
                .layer(cors)
                .service(inner)
                .map_response(|res| res.map(Body::new)),
        ),
    }
}

/// The preset's access logger. Text lines are `tracing` events, on the binding's stderr
/// subscriber beside handler errors. JSON lines are written as they are, one object a line
/// (through the subscriber they would get its time, level and target in front), each at once:
/// Node may exit without running Rust's destructors, so nothing waits in a buffer.
fn access_logger(format: Format) -> Logger {
    static JSON_LINES: std::sync::OnceLock<AccessLog> = std::sync::OnceLock::new();
    let logger = Logger::default().format(format);
    match format {
        Format::Json => logger.write_to(
            JSON_LINES
                .get_or_init(|| AccessLog::stderr().buffer_size(1))
                .clone(),
        ),
        _ => logger,
    }
}

/// What `inject` resolves to.
#[napi(object)]
pub struct InjectedResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, alternating, in order (repeated names repeat).
    pub headers: Vec<String>,
    /// The whole body.
    pub body: Buffer,
}

/// How [`NativeApp::new`] treats requests beyond the routes.
#[napi(object)]
#[derive(Default)]
pub struct AppOptions {
    /// The largest request body, in bytes (default 1 MiB).
    pub body_limit: Option<u32>,
    /// The app has JS middleware.
    pub middleware: Option<bool>,
    /// The JS handlers that throw a refused body's errors (too large, unreadable).
    pub refusals: Option<Vec<u32>>,
    /// The JS handler that throws a rate limit's refusal (`429`), given when the app has an
    /// error handler; else the `429` is answered in Rust.
    pub rate_limited: Option<u32>,
    /// The JS handler that throws the `405` of a path whose routes lack the method, given when
    /// the app has an error handler; else it is answered in Rust.
    pub method_not_allowed: Option<u32>,
}

/// A compiled app: JS constructs one per `listen`/`run`/`inject` after routes change.
#[napi]
pub struct NativeApp {
    dispatcher: Arc<Dispatcher>,
    stack: Stack,
    body_limit: usize,
    /// `Logger.json()`: the app's errors are JSON lines too.
    json_log: bool,
}

#[napi]
impl NativeApp {
    /// Compiles `routes` behind the preset layers. `logger` is `"text"` or `"json"` (or absent
    /// for none); `dispatch()` is called when requests wait for JS handlers: it takes them with
    /// `calls().take` and runs their handlers. `options`: request bodies over `bodyLimit` bytes
    /// (default 1 MiB) get `413`; with `middleware` (the app has JS middleware), constant
    /// responses are answered by their JS handlers, so the middleware sees every routed
    /// request; `refusals` (two JS handler numbers, given when the app has JS middleware or an
    /// error handler) throw the errors of a refused body, too large (`413`) and unreadable
    /// (`400`), so that the middleware and the error handler see those too; `rateLimited` and
    /// `methodNotAllowed` (given when the app has an error handler) throw a rate limit's `429`
    /// and the router's `405`.
    #[napi(constructor)]
    pub fn new(
        routes: &NativeRoutes,
        logger: Option<String>,
        cors: Option<CorsOptions>,
        rate_limits: Vec<ClassInstance<'_, NativeRateLimit>>,
        dispatch: Function<'_, (), Unknown<'static>>,
        options: Option<AppOptions>,
    ) -> Result<Self> {
        let AppOptions {
            body_limit,
            middleware,
            refusals,
            rate_limited,
            method_not_allowed,
        } = options.unwrap_or_default();
        log::init();
        let logger = match logger.as_deref() {
            None => None,
            Some("text") => Some(Format::Text),
            Some("json") => Some(Format::Json),
            Some(other) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("unknown logger format {other:?}"),
                ))
            }
        };
        let cors = cors.as_ref().map(cors::layer).transpose()?;
        let rate_limits = rate_limits.iter().map(|limit| limit.layer()).collect();
        let json_log = matches!(logger, Some(Format::Json));
        if json_log {
            log::json_lines();
        }
        let dispatcher = Arc::new(Dispatcher::new(dispatch, json_log)?);
        let js_refusals = match refusals.as_deref() {
            None => None,
            Some(&[too_large, unreadable]) => Some(JsRefusals {
                dispatcher: Arc::clone(&dispatcher),
                too_large,
                unreadable,
                rate_limited,
            }),
            Some(other) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("refusals: two handlers (too large, unreadable), got {other:?}"),
                ))
            }
        };
        let router = routes.router(
            &|method: Option<&Method>, handler: u32| {
                let dispatcher = Arc::clone(&dispatcher);
                endpoint(method, move |req: Request<Bytes>| {
                    dispatcher.call(handler, req)
                })
            },
            &|builder, fallback, handler| {
                let dispatcher = Arc::clone(&dispatcher);
                let call = move |req: Request<Bytes>| dispatcher.call(handler, req);
                match fallback {
                    Fallback::NotFound => builder.fallback(call),
                    Fallback::MethodNotAllowed => builder.method_not_allowed_fallback(call),
                }
            },
            middleware.unwrap_or(false),
            method_not_allowed,
        )?;
        Ok(NativeApp {
            dispatcher,
            stack: stack(router, logger, cors, rate_limits, js_refusals),
            body_limit: body_limit.map_or(BODY_LIMIT, |limit| limit as usize),
            json_log,
        })
    }

    /// The per-batch and per-request calls of this app's dispatcher, as plain functions
    /// (see the `calls` module).
    ///
    /// - `take(ids)` fills a `Uint32Array` with waiting `id, handler` pairs and returns how
    ///   many numbers it wrote. A handler of `0xFFFFFFFF` means request `id`, which JS
    ///   `watch`ed, was abandoned: its client went away before the answer.
    /// - `watch(id)` asks to hear when request `id` is abandoned; `false` if it already was
    ///   (or is answered).
    /// - `respond(id, status, contentType, body, headers?)` answers a request
    ///   (`contentType`: 0 none, 1 text, 2 JSON, 3 octets, or a string; `headers` alternate
    ///   names and values); an invalid status or header is answered `500` and logged.
    /// - `fail(id, message, status?, headers?)` answers `status` (a 5xx code; default `500`)
    ///   with a generic message and the error's valid `headers` (alternating names and
    ///   values), and logs `message` with the request's method, path and id. It and
    ///   `respond` return `false` when the request is no longer waiting (its client went away).
    /// - The request's fields, read while it waits (they throw once it is answered):
    ///   `method`, `url` (path and query as sent), `path` (still percent-encoded), `query`
    ///   (without `?`), `param(id, name)` and `params` (decoded), `header(id, name)` and
    ///   `headers` (lower-case names; repeated ones joined with `, `), `ip` (the peer's
    ///   address), `route` (the matched template), `refusal` (the message of the error of a
    ///   request refused before routing: a body, a rate limit), and `body`: a Buffer
    ///   over the bytes Rust received, which can be taken once.
    #[napi(
        ts_return_type = "{ take(ids: Uint32Array): number; respond(id: number, status: number, contentType: number | string | null, body: string | Uint8Array | null, headers?: string[] | null): boolean; fail(id: number, message: string, status?: number, headers?: string[] | null): boolean; watch(id: number): boolean; method(id: number): string; url(id: number): string; path(id: number): string; query(id: number): string | null; param(id: number, name: string): string | null; params(id: number): Record<string, string>; header(id: number, name: string): string | null; headers(id: number): Record<string, string>; ip(id: number): string | null; route(id: number): string | null; refusal(id: number): string | null; body(id: number): Buffer }"
    )]
    pub fn calls<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        calls::object(env, &self.dispatcher)
    }

    /// Runs one request through the whole stack without a socket, as if sent from
    /// `remote_address` (an IP address, default `127.0.0.1`: what the rate limit and the
    /// logger see as the peer).
    #[napi]
    pub fn inject<'env>(
        &self,
        env: &'env Env,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Option<Buffer>,
        remote_address: Option<String>,
    ) -> Result<PromiseRaw<'env, InjectedResponse>> {
        let invalid = |what: String| Error::new(Status::InvalidArg, format!("inject: {what}"));
        let peer = match remote_address.as_deref() {
            None => std::net::IpAddr::from([127, 0, 0, 1]),
            Some(ip) => ip
                .parse()
                .map_err(|_| invalid(format!("remoteAddress must be an IP address, got {ip:?}")))?,
        };
        let mut req = Request::builder().method(method.as_str()).uri(url.as_str());
        if headers.len() % 2 != 0 {
            return Err(invalid("headers must come as name, value pairs".into()));
        }
        for pair in headers.chunks_exact(2) {
            // Latin-1, as a Node client sends it (and as the server reads it back).
            let value = latin1_value(&pair[1])
                .ok_or_else(|| invalid(format!("invalid value for header {:?}", pair[0])))?;
            req = req.header(pair[0].as_str(), value);
        }
        let body = body.map_or_else(Bytes::new, |b| Bytes::copy_from_slice(&b));
        let mut req = req
            .body(http_body_util::Full::new(body))
            .map_err(|err| invalid(err.to_string()))?;
        req.extensions_mut().insert(SocketAddr::new(peer, 0));
        // Through `Collect`, as a socket's requests go: the body limit applies.
        let stack = Collect(self.stack.clone(), self.body_limit);
        env.spawn_future(async move {
            let Ok(res) = stack.oneshot(req).await;
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|err| Error::new(Status::GenericFailure, err.to_string()))?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                // Latin-1, as light-my-request reads what Node's http sends.
                .flat_map(|(k, v)| [k.as_str().to_owned(), latin1_text(v.as_bytes())])
                .collect();
            Ok(InjectedResponse {
                status: parts.status.as_u16(),
                headers,
                body: Buffer::from(Vec::from(body)),
            })
        })
    }

    /// Binds `host:port` now (throws if it cannot) and serves in the background until
    /// `close()`.
    ///
    /// Signals are left to Node (the JS layer turns SIGINT/SIGTERM into `close()`): tokio's
    /// handler (signal-hook-registry) would chain to Node's own SIGINT/SIGTERM handler, which
    /// resets the terminal and re-raises the signal; the re-raised signal runs the chained
    /// handler again, endlessly, and the JS thread never gets to run again, so the process hung
    /// at exit after Ctrl-C.
    ///
    /// `shutdown_timeout_ms`: how long in-flight requests may run once `close()` begins
    /// (default 10 s); past it their connections are closed.
    #[napi]
    pub fn listen(
        &self,
        host: String,
        port: u16,
        shutdown_timeout_ms: Option<u32>,
    ) -> Result<NativeServer> {
        let ip = host
            .parse::<std::net::IpAddr>()
            .or_else(|_| {
                if host == "localhost" {
                    Ok("127.0.0.1".parse().expect("valid"))
                } else {
                    Err(())
                }
            })
            .map_err(|()| {
                Error::new(
                    Status::InvalidArg,
                    format!("invalid host {host:?}: use an IP address"),
                )
            })?;
        let mut server = Server::bind(SocketAddr::new(ip, port))
            .map_err(|err| Error::new(Status::GenericFailure, err.to_string()))?;
        if let Some(ms) = shutdown_timeout_ms {
            server = server.shutdown_timeout(Duration::from_millis(ms.into()));
        }
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let (done_tx, done) = watch::channel(false);
        let server = server
            .shutdown_on_signals(false)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
        let service = Collect(self.stack.clone(), self.body_limit);
        let json_log = self.json_log;
        napi::bindgen_prelude::spawn(async move {
            if let Err(err) = server.serve(service).await {
                if json_log {
                    let error = err.to_string();
                    log::json_error("server failed", &[("error", Json::Text(&error))]);
                } else {
                    tracing::error!(target: TARGET, error = %err, "server failed");
                }
            }
            let _ = done_tx.send(true);
        });
        Ok(NativeServer {
            addr,
            stop: Mutex::new(Some(stop)),
            done,
        })
    }
}

/// A running server.
#[napi]
pub struct NativeServer {
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    done: watch::Receiver<bool>,
}

#[napi]
impl NativeServer {
    /// The bound port (the real one when 0 was asked for).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.addr.port().into()
    }

    /// The bound IP address.
    #[napi(getter)]
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// Begins a graceful shutdown: the listener closes, in-flight requests finish.
    #[napi]
    pub fn close(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
    }

    /// Resolves once the server has stopped (after `close()` or a signal) and every
    /// in-flight request has finished. While pending it keeps Node's event loop alive, as a
    /// listening `node:http` server does.
    #[napi]
    pub fn closed<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let mut done = self.done.clone();
        env.spawn_future(async move {
            let _ = done.wait_for(|done| *done).await;
            Ok(())
        })
    }
}

/// Collects the request body (bounded) so that the stack, `inject` and JS all see `Bytes`.
#[derive(Clone)]
struct Collect(Stack, usize);

type CollectFuture =
    Pin<Box<dyn Future<Output = std::result::Result<Response, Infallible>> + Send>>;

// Generic over the server's request body type, so it follows armature-server's choice.
impl<B> Service<Request<B>> for Collect
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<armature_router::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CollectFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> CollectFuture {
        let mut stack = self.0.clone();
        let limit = self.1;
        let (parts, body) = req.into_parts();
        if body.is_end_stream() {
            // No body (every GET): no extra future, no collection.
            return stack.call(Request::from_parts(parts, Bytes::new()));
        }
        // A declared length over the limit is refused before a byte of the body is read.
        let declared_too_large = body.size_hint().lower() > limit as u64;
        Box::pin(async move {
            let refused = if declared_too_large {
                Refused::TooLarge
            } else {
                match Limited::new(body, limit).collect().await {
                    Ok(collected) => {
                        return stack
                            .oneshot(Request::from_parts(parts, collected.to_bytes()))
                            .await
                    }
                    Err(err) if err.is::<http_body_util::LengthLimitError>() => Refused::TooLarge,
                    Err(_) => Refused::Unreadable,
                }
            };
            let mut req = Request::from_parts(parts, Bytes::new());
            req.extensions_mut().insert(refused);
            stack.oneshot(req).await
        })
    }
}

/// Answers the requests [`Collect`] marked [`Refused`]; passes the others to the router.
#[derive(Clone)]
struct Refusals<S> {
    inner: S,
    /// Set when the app has JS middleware or an error handler: a refused request goes to the
    /// JS handler that throws its error, so they see it (as Fastify's hooks and error handler
    /// see `FST_ERR_CTP_BODY_TOO_LARGE`). Else it is answered here.
    js: Option<JsRefusals>,
}

/// The JS handlers that throw the refusals' errors.
#[derive(Clone)]
struct JsRefusals {
    dispatcher: Arc<Dispatcher>,
    /// Throws the `413` (`FST_ERR_CTP_BODY_TOO_LARGE`).
    too_large: u32,
    /// Throws the `400` of a body that could not be read.
    unreadable: u32,
    /// Throws a rate limit's `429` (when the app has an error handler).
    rate_limited: Option<u32>,
}

impl<S> Service<Request<Bytes>> for Refusals<S>
where
    S: Service<Request<Bytes>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RefusalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let Some(&refused) = req.extensions().get::<Refused>() else {
            return RefusalFuture::Inner {
                future: self.inner.call(req),
            };
        };
        let js = self.js.as_ref().and_then(|js| {
            let handler = match refused {
                Refused::TooLarge => Some(js.too_large),
                Refused::Unreadable => Some(js.unreadable),
                Refused::RateLimited(_) => js.rate_limited,
            };
            handler.map(|handler| (js, handler))
        });
        match js {
            Some((js, handler)) => RefusalFuture::Js {
                future: Box::pin(js.dispatcher.call(handler, req)),
            },
            None => RefusalFuture::Refused {
                response: Some(error_with(
                    refused.status(),
                    refused.code(),
                    None,
                    &refused.message(),
                )),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Refusals`].
    #[project = RefusalProj]
    enum RefusalFuture<F> {
        Refused { response: Option<Response> },
        Js { future: Pin<Box<dyn Future<Output = Response> + Send>> },
        Inner { #[pin] future: F },
    }
}

impl<F> Future for RefusalFuture<F>
where
    F: Future<Output = std::result::Result<Response, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RefusalProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("RefusalFuture polled after completion"))),
            RefusalProj::Js { future } => future.as_mut().poll(cx).map(Ok),
            RefusalProj::Inner { future } => future.poll(cx),
        }
    }
}
