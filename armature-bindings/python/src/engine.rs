//! The Python end of the bridge: the engine that runs handlers on the loop thread.
//!
//! Tokio tasks push [`Job`]s into a [`Queue`] and wake the Python side through a socket pair
//! its asyncio loop watches (`loop.add_reader`), once per batch (see [`crate::bridge`]). The
//! loop then calls [`Engine::drain`], which takes the whole batch at once and, for each job,
//! calls the route's Python endpoint, steps a returned coroutine with `send(None)`, and
//! converts the result to a Rust response right there; the responses go back to tokio
//! together at the end of the batch. A coroutine that really suspends is handed to
//! `armature._runtime.suspend`, which makes it a Task whose completion calls [`Responder`].

use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use armature_layers::cors::Cors;
use armature_layers::logger::{Format, Logger};
use armature_router::{IntoResponse, Response};
use armature_server::Server;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyModule, PyType};
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::bridge::{lock, Job, Msg, Outbox, Posts, Queue, Reply};
use crate::convertors::{Convertors, Spec};
use crate::listener::Listener;
use crate::request::HttpRequest;
use crate::response::{to_response, HttpResponse};
use crate::stack::Docs;
use crate::stack::{self, Config, Gzip, Mount, Stack};
use crate::step::{send_none, Step};
use crate::websocket::{Pings, Sockets, CLOSING};

/// The Python module `name`, imported into `cell` on first use.
pub(crate) fn module<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyModule>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyModule>> {
    cell.get_or_try_init(py, || py.import(name).map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// `armature._runtime`, the Python half of the bridge.
pub(crate) fn runtime(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    module(py, &MODULE, "armature._runtime")
}

/// A class of `armature.datastructures` (Starlette's `Headers`, `Address`, ... for the
/// objects Rust hands to Python).
pub(crate) fn datastructure<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    module(py, &MODULE, "armature.datastructures")?.getattr(name)
}

fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
}

/// Sends a handler's response back to the tokio task waiting for it: through its request,
/// which holds the reply (so `req.is_disconnected()` can ask it) without another allocation.
#[pyclass(frozen, module = "armature._armature")]
pub struct Responder {
    request: Py<HttpRequest>,
    /// The engine's queue, through which a streamed answer's body wakes its task.
    queue: Arc<Queue>,
}

impl Responder {
    fn new(request: Py<HttpRequest>, queue: &Arc<Queue>) -> Self {
        Responder {
            request,
            queue: Arc::clone(queue),
        }
    }

    /// The reply, the first time only: a request is answered once.
    fn take(&self) -> Option<Reply> {
        self.request.get().take_reply()
    }

    /// The request answered (a `FileResponse` reads its `Range` header).
    fn parts(&self) -> Option<&http::request::Parts> {
        Some(self.request.get().parts())
    }

    /// Queues the response in its outbox; the batch posts it.
    fn send(&self, res: Response) {
        if let Some(reply) = self.take() {
            reply.send(res);
        }
    }

    /// Sends the response outside a batch (a Task finished), see [`send_soon`].
    fn send_soon(&self, py: Python<'_>, res: Response) {
        if let Some(reply) = self.take() {
            send_soon(py, reply, res);
        }
    }
}

/// Sends `res` outside a batch (a Task finished, a WebSocket handler answered its
/// handshake): its outbox is posted once, at the loop's next iteration, for every answer
/// sent in this one.
pub(crate) fn send_soon(py: Python<'_>, reply: Reply, res: Response) {
    let outbox = Arc::clone(reply.outbox());
    reply.send(res);
    if outbox.schedule() {
        let post = Arc::clone(&outbox);
        let scheduled = Py::new(py, Post(post))
            .and_then(|post| runtime(py)?.call_method1(pyo3::intern!(py, "soon"), (post,)));
        if scheduled.is_err() {
            // No running loop (or no memory): send it now.
            outbox.post_scheduled();
        }
    }
}

/// `outbox.post_scheduled()`, as a callable for `loop.call_soon`.
#[pyclass(frozen, module = "armature._armature")]
pub struct Post(Arc<Outbox>);

#[pymethods]
impl Post {
    fn __call__(&self) {
        self.0.post_scheduled();
    }
}

#[pymethods]
impl Responder {
    /// Answers with what the handler returned (an `HttpResponse`, or a value sent as JSON).
    /// Raises if it cannot be converted; the caller then answers with `send_error`.
    fn send_value(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let res = to_response(py, value, &self.queue, self.parts())?;
        self.send_soon(py, res);
        Ok(())
    }

    /// Answers `500` (when even the error response could not be built).
    fn send_internal_error(&self, py: Python<'_>) {
        self.send_soon(py, internal_error());
    }
}

/// The Rust side of an `App`: its routes compiled into the preset stack, and the queue the
/// Python thread drains.
#[pyclass(frozen, module = "armature._armature")]
pub struct Engine {
    queue: Arc<Queue>,
    reader: UnixStream,
    endpoints: Vec<Py<PyAny>>,
    config: Arc<Config>,
    coroutine: Py<PyType>,
    client: OnceLock<(tokio::runtime::Runtime, Stack<Full<Bytes>>)>,
}

fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = std::env::var("ARMATURE_LOG")
            .or_else(|_| std::env::var("RUST_LOG"))
            .unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init();
    });
}

fn strings(value: Option<Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match value {
        Some(v) if !v.is_none() => v.extract(),
        _ => Ok(Vec::new()),
    }
}

/// The CORS layer from `CORSMiddleware`'s options; configuration errors come from the Rust
/// builder, as `ValueError`.
fn cors_layer(options: &Bound<'_, PyDict>) -> PyResult<armature_layers::cors::CorsLayer> {
    let origins = strings(options.get_item("allow_origins")?)?;
    let methods = strings(options.get_item("allow_methods")?)?;
    let headers = strings(options.get_item("allow_headers")?)?;
    let expose = strings(options.get_item("expose_headers")?)?;
    let credentials: bool = match options.get_item("allow_credentials")? {
        Some(v) => v.extract()?,
        None => false,
    };
    let max_age: Option<u64> = match options.get_item("max_age")? {
        Some(v) => v.extract()?,
        None => None,
    };
    let star = |list: &[String]| list.iter().any(|s| s == "*");
    if star(&origins) && credentials {
        return Err(PyValueError::new_err(
            "invalid CORS configuration: allow_origins=['*'] with allow_credentials=True: browsers \
             reject `Access-Control-Allow-Origin: *` on credentialed requests; list the origins \
             (Starlette would mirror any origin, letting every site make credentialed requests)",
        ));
    }
    let mut builder = Cors::builder();
    builder = if star(&origins) {
        builder.allow_any_origin()
    } else {
        builder.allow_origins(origins.iter())
    };
    // With credentials a `*` would be read literally by browsers, so `["*"]` is, as in
    // Starlette, every standard method listed, and the headers a preflight asks for mirrored.
    builder = match (star(&methods), credentials) {
        (true, false) => builder.allow_any_method(),
        (true, true) => builder.allow_methods(STARLETTE_METHODS),
        (false, _) => builder.allow_methods(methods.iter()),
    };
    builder = match (star(&headers), credentials) {
        (true, false) => builder.allow_any_header(),
        (true, true) => builder.mirror_request_headers(),
        (false, _) => builder.allow_headers(headers.iter()),
    };
    builder = if star(&expose) {
        builder.expose_any_header()
    } else {
        builder.expose_headers(expose.iter())
    };
    builder = builder.allow_credentials(credentials);
    if let Some(secs) = max_age {
        builder = builder.max_age(Duration::from_secs(secs));
    }
    builder
        .build()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// What Starlette's `allow_methods=["*"]` allows.
const STARLETTE_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

impl Engine {
    fn run_job(&self, py: Python<'_>, job: Job) {
        let Job {
            route,
            parts,
            body,
            reply,
            socket,
        } = job;
        let request = match socket {
            None => Ok(HttpRequest::new(parts, body, reply)),
            Some(socket) => {
                // The handler answers the handshake through its socket.
                *lock(&socket.reply) = Some(reply);
                Py::new(py, socket).map(|socket| HttpRequest::websocket(parts, socket))
            }
        };
        let request = match request.and_then(|request| Py::new(py, request)) {
            Ok(request) => request,
            Err(err) => {
                // No memory for the request object: its reply went with it, and the tokio
                // side answers `500` when the reply is dropped unanswered.
                err.print(py);
                return;
            }
        };
        let responder = Responder::new(request.clone_ref(py), &self.queue);
        let result = self.endpoints[route].bind(py).call1((request,));
        match result {
            Ok(value) if value.get_type().is(self.coroutine.bind(py)) => {
                self.step(py, value, responder)
            }
            Ok(value) => settle(py, &value, responder),
            Err(err) => fail(py, err, &responder),
        }
    }

    /// Runs a coroutine until it first suspends. Most handlers never do (they compute and
    /// return), and then no Task is ever made for them.
    fn step(&self, py: Python<'_>, coro: Bound<'_, PyAny>, responder: Responder) {
        match send_none(&coro) {
            Ok(Step::Yielded(yielded)) => {
                let handed = Py::new(py, responder).and_then(|responder| {
                    runtime(py)?
                        .call_method1(pyo3::intern!(py, "suspend"), (coro, yielded, responder))
                });
                if let Err(err) = handed {
                    err.print(py);
                }
            }
            Ok(Step::Returned(value)) => settle(py, &value, responder),
            Err(err) => fail(py, err, &responder),
        }
    }
}

/// Answers with a handler's value, or with the error response if it cannot be converted.
fn settle(py: Python<'_>, value: &Bound<'_, PyAny>, responder: Responder) {
    let plain = value.is_instance_of::<HttpResponse>()
        || value.is_exact_instance_of::<PyDict>()
        || value.is_exact_instance_of::<pyo3::types::PyList>();
    if !plain
        && value
            .hasattr(pyo3::intern!(py, "__await__"))
            .unwrap_or(false)
    {
        // Some other awaitable (a Future, a custom object): let asyncio drive it.
        let handed = Py::new(py, responder).and_then(|responder| {
            runtime(py)?.call_method1(pyo3::intern!(py, "awaitable"), (value, responder))
        });
        if let Err(err) = handed {
            err.print(py);
        }
        return;
    }
    match to_response(py, value, &responder.queue, responder.parts()) {
        Ok(res) => responder.send(res),
        Err(err) => fail(py, err, &responder),
    }
}

/// An exception from a handler: `armature._runtime.error` picks the response (422 for
/// validation errors, the status of an `HTTPException`, else 500 and a logged traceback).
fn fail(py: Python<'_>, err: PyErr, responder: &Responder) {
    let res = runtime(py)
        .and_then(|rt| rt.call_method1(pyo3::intern!(py, "error"), (err.into_value(py),)))
        .and_then(|value| to_response(py, &value, &responder.queue, responder.parts()));
    match res {
        Ok(res) => responder.send(res),
        Err(err) => {
            err.print(py);
            responder.send(internal_error());
        }
    }
}

#[pymethods]
impl Engine {
    /// Compiles the routes (`(method, path)` pairs; `endpoints[i]` answers route `i`) and
    /// the layers; `redirect_slashes` answers a path that matches only with the trailing
    /// slash added or removed with a redirect to it; `docs` is `(OpenAPI JSON, its path,
    /// Swagger UI's path or None, the prefix a proxy adds: FastAPI's root_path)`;
    /// `unmatched`: two more endpoints follow the routes' own, which answer the requests no
    /// route matches (`404`) and those of a method the path does not serve (`405`, the router
    /// adds `Allow`) instead of the router's JSON answers, so that the app's HTTP middleware
    /// and exception handlers see them. `convertors`: per route (or empty), the path
    /// convertor of each parameter in order (`"int"`, `"float"`, `"uuid"`, `"str"`), or `None`
    /// for a route without any; a request whose parameters do not fit answers `404` as an
    /// unmatched path. Route conflicts, bad CORS settings and a document
    /// that is not JSON are `ValueError`s, from Rust.
    #[new]
    #[pyo3(signature = (routes, endpoints, cors=None, logger=None, max_body_size=16 * 1024 * 1024, limits=None, redirect_slashes=true, docs=None, unmatched=false, mounts=Vec::new(), gzip=None, convertors=None))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, called once by `App`
    fn new(
        py: Python<'_>,
        routes: Vec<(String, String)>,
        endpoints: Vec<Py<PyAny>>,
        cors: Option<Bound<'_, PyDict>>,
        logger: Option<(String, String)>,
        max_body_size: usize,
        limits: Option<Vec<Option<Bound<'_, PyDict>>>>,
        redirect_slashes: bool,
        docs: Option<(String, String, Option<String>, String)>,
        unmatched: bool,
        mounts: Vec<(String, String, bool, bool)>,
        gzip: Option<(u32, i32)>,
        convertors: Option<Vec<Option<Vec<Spec>>>>,
    ) -> PyResult<Self> {
        if routes.len() + if unmatched { 2 } else { 0 } != endpoints.len() {
            return Err(PyValueError::new_err(
                "one endpoint per route, and two more with unmatched=True",
            ));
        }
        let limits = limits
            .unwrap_or_default()
            .iter()
            .map(|options| options.as_ref().map(crate::rate_limit::layer).transpose())
            .collect::<PyResult<Vec<_>>>()?;
        if !limits.is_empty() && limits.len() != routes.len() {
            return Err(PyValueError::new_err("one rate limit (or None) per route"));
        }
        let convertors = convertors
            .unwrap_or_default()
            .into_iter()
            .map(|specs| specs.map(Convertors::parse).transpose())
            .map(|parsed| parsed.map(Option::flatten))
            .collect::<Result<Vec<_>, String>>()
            .map_err(PyValueError::new_err)?;
        if !convertors.is_empty() && convertors.len() != routes.len() {
            return Err(PyValueError::new_err(
                "one list of convertors (or None) per route",
            ));
        }
        let routes = routes
            .into_iter()
            .map(|(method, path)| {
                Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map(|m| (m, path))
                    .map_err(|_| PyValueError::new_err(format!("invalid method {method:?}")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let logger = match logger {
            Some((level, format)) => {
                let level = tracing::Level::from_str(&level)
                    .map_err(|_| PyValueError::new_err(format!("invalid log level {level:?}")))?;
                let format = match format.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "log format must be \"text\" or \"json\", not {other:?}"
                        )))
                    }
                };
                Some(Logger::default().level(level).format(format))
            }
            None => None,
        };
        let cors = cors.as_ref().map(cors_layer).transpose()?;
        let docs = docs
            .map(|(spec, spec_path, ui_path, root_path)| {
                Docs::new(spec, spec_path, ui_path, &root_path)
            })
            .transpose()?;
        init_logging();
        let (reader, waker) = UnixStream::pair()
            .and_then(|(r, w)| {
                r.set_nonblocking(true)?;
                w.set_nonblocking(true)?;
                Ok((r, w))
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let queue = Arc::new(Queue::new(waker));
        let config = Arc::new(Config {
            routes,
            cors,
            logger,
            max_body_size,
            limits,
            convertors,
            redirect_slashes,
            docs,
            unmatched,
            mounts: mounts
                .into_iter()
                .map(|(path, directory, html, follow)| Mount::new(path, &directory, html, follow))
                .collect::<PyResult<_>>()?,
            gzip: gzip
                .map(|(minimum, level)| {
                    if !(1..=9).contains(&level) {
                        return Err(PyValueError::new_err(format!(
                            "GZipMiddleware(compresslevel={level}): 1 to 9"
                        )));
                    }
                    Ok(Gzip {
                        minimum: minimum.into(),
                        level,
                    })
                })
                .transpose()?,
        });
        // Compile once now, so a route conflict is reported where the app is built.
        stack::build::<Full<Bytes>>(&config, &queue, &Outbox::new().0, &Sockets::new(None))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let coroutine = py
            .import("types")?
            .getattr("CoroutineType")?
            .cast_into::<PyType>()?
            .unbind();
        Ok(Engine {
            queue,
            reader,
            endpoints,
            config,
            coroutine,
            client: OnceLock::new(),
        })
    }

    /// The descriptor the asyncio loop watches (`loop.add_reader(engine.fileno(), engine.drain)`).
    fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// Runs every queued request; called by the loop when the wake-up socket is readable.
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        let mut sink = [0u8; 64];
        while matches!((&self.reader).read(&mut sink), Ok(n) if n == sink.len()) {}
        let mut posts = Posts::default();
        for msg in self.queue.take() {
            match msg {
                Msg::Request(job) => {
                    posts.note(job.reply.outbox());
                    self.run_job(py, job);
                }
                Msg::Socket(session) => session.wake(py),
                Msg::Stream(flow) => flow.wake(py),
                Msg::Stopped { callback, error } => {
                    if let Err(err) = callback.bind(py).call1((error,)) {
                        err.print(py);
                    }
                }
            }
        }
        posts.post();
        self.queue.sleep();
        Ok(())
    }

    /// Serves the stack on `listener` from new tokio threads (`threads` of them) until
    /// `ServerHandle.shutdown()`, then calls `on_stopped(error_or_None)` on the loop.
    /// WebSockets are pinged every `ws_ping_interval` seconds and closed (`1011`) after
    /// `ws_ping_timeout` more without a word from the client (uvicorn's; `None`: no pings, or
    /// no closing for silence).
    #[pyo3(signature = (listener, on_stopped, threads=1, shutdown_timeout=10.0, ws_ping_interval=Some(20.0), ws_ping_timeout=Some(20.0)))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, called by `App.run`
    fn serve(
        &self,
        listener: &Listener,
        on_stopped: Py<PyAny>,
        threads: usize,
        shutdown_timeout: f64,
        ws_ping_interval: Option<f64>,
        ws_ping_timeout: Option<f64>,
    ) -> PyResult<ServerHandle> {
        let seconds = |what: &str, value: f64| {
            Duration::try_from_secs_f64(value)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{what} must be a number of seconds above 0 (or None), got {value}"
                    ))
                })
        };
        let pings = match (ws_ping_interval, ws_ping_timeout) {
            (None, _) => None,
            (Some(interval), timeout) => Some(Pings {
                interval: seconds("ws_ping_interval", interval)?,
                timeout: timeout.map(|t| seconds("ws_ping_timeout", t)).transpose()?,
            }),
        };
        let socket = listener.take()?;
        let addr = socket
            .local_addr()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let (outbox, dispatcher) = Outbox::new();
        let sockets = Sockets::new(pings);
        let service = stack::build::<armature_server::RequestBody>(
            &self.config,
            &self.queue,
            &outbox,
            &sockets,
        )
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let queue = Arc::clone(&self.queue);
        // `inf` (or any span past a century) waits as long as in-flight requests run.
        const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        if shutdown_timeout.is_nan() || shutdown_timeout < 0.0 {
            return Err(PyValueError::new_err(format!(
                "shutdown_timeout must be a number of seconds, 0 or more (inf: no limit), got {shutdown_timeout}"
            )));
        }
        let timeout = Duration::try_from_secs_f64(shutdown_timeout)
            .unwrap_or(FOREVER)
            .min(FOREVER);
        let mut builder = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        let parker = Arc::clone(&self.queue);
        let rt = builder
            .enable_all()
            .on_thread_park(move || parker.on_park())
            .build()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        thread::Builder::new()
            .name("armature-io".into())
            .spawn(move || {
                let served = rt.block_on(async move {
                    tokio::spawn(dispatcher);
                    let going = Arc::clone(&sockets);
                    let served = Server::from_listener(socket)?
                        .shutdown_on_signals(false)
                        .shutdown_timeout(timeout)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                            // WebSockets are no longer the server's (hyper handed them over):
                            // told apart, they close with 1012 meanwhile.
                            going.shut_down();
                        })
                        .serve(service)
                        .await;
                    sockets.closed(timeout.min(CLOSING)).await;
                    served
                });
                // What still runs (WebSockets past the deadline) ends now, and their handlers
                // hear of it before `on_stopped`.
                drop(rt);
                let error = served.err().map(|e| e.to_string());
                queue.push(Msg::Stopped {
                    callback: on_stopped,
                    error,
                });
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(ServerHandle {
            stop: Mutex::new(Some(stop)),
            addr: (addr.ip().to_string(), addr.port()),
        })
    }

    /// Sends one request through the whole stack without a socket; returns
    /// `(status, [(name, value)], body)`. Blocks without the GIL while the loop thread (not
    /// this one) runs the handler.
    #[pyo3(signature = (method, target, headers, body))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> PyResult<RawResponse<'py>> {
        let (rt, stack) = match self.client.get() {
            Some(client) => client,
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
                let (outbox, dispatcher) = Outbox::new();
                rt.spawn(dispatcher);
                let stack = stack::build::<Full<Bytes>>(
                    &self.config,
                    &self.queue,
                    &outbox,
                    &Sockets::new(None),
                )
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
                let _ = self.client.set((rt, stack));
                self.client.get().expect("just set")
            }
        };
        let mut req = Request::builder().method(method).uri(target);
        for (name, value) in &headers {
            req = req.header(name, value);
        }
        let mut req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PyValueError::new_err(format!("invalid request: {e}")))?;
        req.extensions_mut()
            .insert(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        req.extensions_mut().insert(crate::request::FromTestClient);
        let stack = stack.clone();
        let (status, headers, body) = py.detach(move || {
            rt.block_on(async move {
                let res = stack
                    .oneshot(req)
                    .await
                    .unwrap_or_else(|never| match never {});
                let (mut parts, body) = res.into_parts();
                // The length a server sends for a body that knows it (hyper writes it from the
                // body's exact size): a whole body, or a stream of declared length.
                let bodiless = armature_router::is_bodiless(parts.status);
                if let Some(length) = http_body::Body::size_hint(&body)
                    .exact()
                    .filter(|_| !bodiless)
                {
                    if !parts.headers.contains_key(http::header::TRANSFER_ENCODING) {
                        parts
                            .headers
                            .entry(http::header::CONTENT_LENGTH)
                            .or_insert_with(|| http::HeaderValue::from(length));
                    }
                }
                let body = match body.collect().await {
                    Ok(collected) => Ok(collected.to_bytes()),
                    Err(err) => Err(err.to_string()),
                };
                (parts.status, parts.headers, body)
            })
        });
        let body =
            body.map_err(|e| PyRuntimeError::new_err(format!("response body failed: {e}")))?;
        let headers = headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok((status.as_u16(), headers, PyBytes::new(py, &body)))
    }
}

/// `(status, [(name, value)], body)`, what `Engine.request` returns to `TestClient`.
type RawResponse<'py> = (u16, Vec<(String, String)>, Bound<'py, PyBytes>);

/// A running server.
#[pyclass(frozen, module = "armature._armature")]
pub struct ServerHandle {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    addr: (String, u16),
}

#[pymethods]
impl ServerHandle {
    /// Begins a graceful shutdown: stop accepting, let in-flight requests finish (within the
    /// shutdown timeout), then `on_stopped` is called on the loop.
    fn shutdown(&self) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
    }

    /// `(host, port)` served.
    #[getter]
    fn address(&self) -> (String, u16) {
        self.addr.clone()
    }
}
