//! `HttpRequest`: a read-only view of the Rust request, converted to Python lazily, and `RequestBody`,
//! the request body exposed through the buffer protocol without a copy.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::os::raw::{c_int, c_void};
use std::sync::Mutex;

use armature_layers::request_id::RequestId;
use armature_router::{MatchedRoute, PathParams};
use bytes::Bytes;
use http::request::Parts;
use percent_encoding::percent_decode_str;
use pyo3::exceptions::{PyStopIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::bridge::{lock, Reply};
use crate::convertors::Convertors;
use crate::engine::datastructure;
use crate::in_order::AnsweringRoute;
use crate::websocket::Socket;

/// The request a handler receives.
#[pyclass(frozen, module = "armature._armature")]
pub struct HttpRequest {
    parts: Parts,
    body: Bytes,
    /// The `RequestBody` object, made on first use of `.body` (most handlers never ask).
    body_object: PyOnceLock<Py<RequestBody>>,
    /// `request.state` (`armature.datastructures.State`), made on first use.
    state: PyOnceLock<Py<PyAny>>,
    /// Where the response goes, until it is sent (the engine's `Responder` takes it from
    /// here); `is_disconnected` asks it whether anybody still waits.
    reply: Mutex<Option<Reply>>,
    /// A WebSocket route's socket (its handshake answered through it, not `reply`).
    socket: Option<Py<Socket>>,
}

impl HttpRequest {
    pub(crate) fn new(parts: Parts, body: Bytes, reply: Reply) -> Self {
        HttpRequest {
            parts,
            body,
            body_object: PyOnceLock::new(),
            state: PyOnceLock::new(),
            reply: Mutex::new(Some(reply)),
            socket: None,
        }
    }

    /// The request of a WebSocket handshake: no body, answered through `socket`.
    pub(crate) fn websocket(parts: Parts, socket: Py<Socket>) -> Self {
        HttpRequest {
            parts,
            body: Bytes::new(),
            body_object: PyOnceLock::new(),
            state: PyOnceLock::new(),
            reply: Mutex::new(None),
            socket: Some(socket),
        }
    }

    /// The reply, the first time only: a request is answered once.
    pub(crate) fn take_reply(&self) -> Option<Reply> {
        lock(&self.reply).take()
    }

    /// The request's method, target and headers.
    pub(crate) fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The path parameters, `(name, value)` in order, by the names of the route that answers
    /// (not those of the pattern the router matched, when they differ: see [`AnsweringRoute`]).
    fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        let names = self.parts.extensions.get::<AnsweringRoute>();
        let params = self.parts.extensions.get::<PathParams>();
        params
            .into_iter()
            .flat_map(PathParams::iter)
            .enumerate()
            .map(move |(at, (name, value))| (names.and_then(|n| n.get(at)).unwrap_or(name), value))
    }

    fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        let query = self.parts.uri.query().unwrap_or("");
        query.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent-decoding
/// (invalid UTF-8 replaced, as browsers and Starlette do).
fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

/// The `name=value` pairs of one `Cookie` header, as RFC 6265 section 5.4 writes them and
/// browsers send them; a pair without `=` or with an empty name is skipped. A value in double
/// quotes is unquoted as Starlette (Python's `http.cookies`) does: `\\ooo` (three octal digits)
/// is that character, `\\` before another character is dropped.
fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) if quoted.contains('\\') => Cow::Owned(unescape_cookie(quoted)),
            Some(quoted) => Cow::Borrowed(quoted),
            None => Cow::Borrowed(value),
        };
        (!name.is_empty()).then_some((name, value))
    })
}

/// The inside of a quoted cookie value with its backslash escapes resolved.
fn unescape_cookie(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = chars.as_str();
        let octal = match rest.as_bytes() {
            [a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] => Some(char::from(
                ((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'),
            )),
            _ => None,
        };
        match octal {
            Some(decoded) => {
                out.push(decoded);
                chars = rest[3..].chars();
            }
            None => out.extend(chars.next()),
        }
    }
    out
}

#[pymethods]
impl HttpRequest {
    /// The method, like `"GET"`.
    #[getter]
    fn method(&self) -> &str {
        self.parts.method.as_str()
    }

    /// The path as sent (not percent-decoded), without the query.
    #[getter]
    fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// The raw query string (without `?`), `""` when there is none.
    #[getter]
    fn query_string(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    /// The template of the route that matched, like `"/users/{user_id}"`.
    #[getter]
    fn route(&self) -> Option<&str> {
        match self.parts.extensions.get::<AnsweringRoute>() {
            Some(answering) => Some(answering.path()),
            None => self
                .parts
                .extensions
                .get::<MatchedRoute>()
                .map(MatchedRoute::as_str),
        }
    }

    /// The path parameter `name` (percent-decoded), or `default`. Always text, also with a
    /// convertor (`path_params` has its value).
    #[pyo3(signature = (name, default=None))]
    fn param<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> Bound<'py, PyAny> {
        match self.params().find(|(n, _)| *n == name) {
            Some((_, value)) => PyString::new(py, value).into_any(),
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        }
    }

    /// Every path parameter, by name: text, or the value of its convertor (`{id:int}`: an
    /// `int`) as in Starlette.
    #[getter]
    fn path_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        // A route with convertors (`{id:int}`): their values, as Starlette's.
        let convertors = self.parts.extensions.get::<Convertors>();
        for (at, (name, value)) in self.params().enumerate() {
            match convertors {
                Some(convertors) => dict.set_item(name, convertors.convert(py, at, value)?)?,
                None => dict.set_item(name, value)?,
            }
        }
        Ok(dict)
    }

    /// The last value of the query parameter `name` (as Starlette's `query_params[name]`,
    /// which FastAPI's scalar query parameters read), or `default`.
    #[pyo3(signature = (name, default=None))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> Bound<'py, PyAny> {
        match self.query_pairs().filter(|(k, _)| k == name).last() {
            Some((_, value)) => PyString::new(py, &value).into_any(),
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        }
    }

    /// Every value of the query parameter `name`, in order.
    fn query_list<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (_, value) in self.query_pairs().filter(|(k, _)| k == name) {
            list.append(&*value)?;
        }
        Ok(list)
    }

    /// The query parameters as Starlette's `QueryParams` (`armature.datastructures`): a
    /// `dict` of the last value of each, with `getlist(name)` and `multi_items()`.
    #[getter]
    fn query_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pairs: Vec<(String, String)> = self
            .query_pairs()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        datastructure(py, "QueryParams")?.call1((pairs,))
    }

    /// The URL, as Starlette's `request.url` (`.path`, `.query`, `.hostname`, `.port`,
    /// `.scheme`, `str(url)`); the host is the `Host` header's. As in Starlette (whose
    /// servers put the decoded path in the ASGI scope), `.path` is percent-decoded (invalid
    /// UTF-8 replaced): `/files/a%20b` is `/files/a b`. [`path`](Self::path) is as sent.
    #[getter]
    fn url<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let uri = &self.parts.uri;
        let host = uri.authority().map(|a| a.as_str()).or_else(|| {
            self.parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let scheme = uri.scheme_str().unwrap_or("http");
        datastructure(py, "URL")?.call1((
            scheme,
            host.unwrap_or(""),
            percent_decode_str(uri.path()).decode_utf8_lossy(),
            uri.query().unwrap_or(""),
        ))
    }

    /// The header `name` (case-insensitive); repeated headers joined with `", "`, `Cookie`
    /// fields with `"; "`.
    #[pyo3(signature = (name, default=None))]
    fn header<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> Bound<'py, PyAny> {
        let mut values = self.parts.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return default.unwrap_or_else(|| py.None().into_bound(py));
        };
        // `Cookie` fields join with `; `, the cookie separator (joined with commas they would
        // read as one value). The server already joins those of HTTP/2 and HTTP/3 requests
        // (RFC 9113 section 8.2.3); this covers an HTTP/1.1 client that sends several.
        let separator = if name.eq_ignore_ascii_case("cookie") {
            "; "
        } else {
            ", "
        };
        let mut joined = String::from_utf8_lossy(first.as_bytes()).into_owned();
        for more in values {
            joined.push_str(separator);
            joined.push_str(&String::from_utf8_lossy(more.as_bytes()));
        }
        PyString::new(py, &joined).into_any()
    }

    /// Every value of the header `name` (case-insensitive), one per field, in order.
    fn header_list<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for value in self.parts.headers.get_all(name) {
            list.append(String::from_utf8_lossy(value.as_bytes()))?;
        }
        Ok(list)
    }

    /// The cookies of every `Cookie` header (`a=1; b=2`), by name: the first of a repeated
    /// name wins, surrounding double quotes are removed, nothing is percent-decoded.
    #[getter]
    fn cookies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for value in self.parts.headers.get_all(http::header::COOKIE) {
            for (name, value) in cookie_pairs(&String::from_utf8_lossy(value.as_bytes())) {
                if !dict.contains(name)? {
                    dict.set_item(name, &*value)?;
                }
            }
        }
        Ok(dict)
    }

    /// Every header, names in lower case and read in any case (`armature.datastructures.
    /// Headers`, a `dict`), repeated headers joined as [`header`](Self::header) joins them.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = datastructure(py, "Headers")?
            .call0()?
            .cast_into::<PyDict>()?;
        for name in self.parts.headers.keys() {
            dict.set_item(name.as_str(), self.header(py, name.as_str(), None))?;
        }
        Ok(dict)
    }

    /// The body, without a copy: use `memoryview(req.body)`, `bytes(req.body)` or `len(...)`.
    #[getter]
    fn body(&self, py: Python<'_>) -> PyResult<Py<RequestBody>> {
        self.body_object
            .get_or_try_init(py, || Py::new(py, RequestBody(self.body.clone())))
            .map(|body| body.clone_ref(py))
    }

    /// Per-request state, as Starlette's `request.state`: an `armature.datastructures.State`
    /// made on first use, the same object for the middleware, the dependencies and the
    /// handler of one request (`request.state.user = ...` in one, read in another).
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.state
            .get_or_try_init(py, || {
                datastructure(py, "State")?.call0().map(Bound::unbind)
            })
            .map(|state| state.clone_ref(py))
    }

    /// The body decoded as UTF-8.
    fn text(&self) -> PyResult<String> {
        String::from_utf8(self.body.to_vec()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The body parsed as JSON (with Python's `json`).
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bytes = PyBytes::new(py, &self.body);
        py.import("json")?.call_method1("loads", (bytes,))
    }

    /// Whether the client has gone (closed the connection, or reset the HTTP/2 stream)
    /// before the answer, as FastAPI's `await request.is_disconnected()`: an awaitable that
    /// is ready at once. Poll it in a long-running handler to stop work nobody will read.
    /// `False` once the answer has been handed over.
    fn is_disconnected(&self) -> Ready {
        Ready(lock(&self.reply).as_ref().is_some_and(Reply::is_closed))
    }

    /// The socket of a WebSocket route's request (`None` for others): what
    /// `armature.websockets.WebSocket` sends and receives through.
    #[getter]
    fn _socket(&self, py: Python<'_>) -> Option<Py<Socket>> {
        self.socket.as_ref().map(|socket| socket.clone_ref(py))
    }

    /// The `x-request-id` the request-id layer gave this request.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.parts
            .extensions
            .get::<RequestId>()
            .map(RequestId::as_str)
    }

    /// The client's address, when served over a socket: Starlette's `Address`, a named
    /// tuple (`request.client.host`, `.port`, or `host, port = request.client`). A
    /// `TestClient`'s requests come from `("testclient", 50000)`, as Starlette's do.
    #[getter]
    fn client<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let address = datastructure(py, "Address")?;
        if self.parts.extensions.get::<FromTestClient>().is_some() {
            return address.call1(("testclient", 50000)).map(Some);
        }
        let Some(addr) = self.parts.extensions.get::<SocketAddr>() else {
            return Ok(None);
        };
        address
            .call1((addr.ip().to_string(), addr.port()))
            .map(Some)
    }

    fn __repr__(&self) -> String {
        format!("<HttpRequest {} {}>", self.parts.method, self.parts.uri)
    }
}

/// Marks a request the `TestClient` sent (through the stack, without a socket): its
/// `request.client` is Starlette's `("testclient", 50000)`. The stack's layers still see the
/// loopback address as its peer (a rate limit keys it by 127.0.0.1).
#[derive(Clone, Copy)]
pub(crate) struct FromTestClient;

/// A request body: immutable bytes owned by Rust, shared with Python through the buffer
/// protocol (`memoryview(body)` reads them in place).
#[pyclass(frozen, module = "armature._armature")]
pub struct RequestBody(pub(crate) Bytes);

#[pymethods]
impl RequestBody {
    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(body) = other.cast::<RequestBody>() {
            return body.get().0 == self.0;
        }
        other
            .cast::<PyBytes>()
            .is_ok_and(|b| b.as_bytes() == &self.0[..])
    }

    fn __repr__(&self) -> String {
        format!("<RequestBody {} bytes>", self.0.len())
    }

    // SAFETY: the only unsafe code of the crate. `PyBuffer_FillInfo` points the view at the
    // bytes this frozen object owns (they never move or change while it lives) and takes a
    // reference to the object for as long as the view exists; `readonly = 1` makes it refuse
    // writable requests with `BufferError`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let bytes = &slf.get().0;
        let filled = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                bytes.as_ptr() as *mut c_void,
                bytes.len() as pyo3::ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if filled == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {}
}

/// An awaitable whose value is known already: `await` gives it without suspending.
#[pyclass(frozen, module = "armature._armature")]
pub struct Ready(bool);

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self) -> PyResult<()> {
        Err(PyStopIteration::new_err(self.0))
    }

    fn __repr__(&self) -> String {
        format!("<ready: {}>", if self.0 { "True" } else { "False" })
    }
}
