//! `HttpResponse` and the conversion of whatever a handler returns into a Rust response.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use armature_router::{Body, BoxError, Response};
use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE,
};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode};
use http_body::Frame;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMemoryView, PyString};
use tokio::sync::mpsc;

use crate::bridge::{lock, Msg, Queue};
use crate::json::to_json;
use crate::request::HttpRequest;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

/// A response: status, headers and a body of bytes or a stream of chunks.
///
/// Headers are checked when set, so an invalid one is a `ValueError` in the handler that
/// made it, not a broken response later.
#[pyclass(module = "armature._armature")]
pub struct HttpResponse {
    status: StatusCode,
    /// The content type the constructor set, kept apart from `headers` so the common
    /// response (a content type and nothing else) builds and converts with one header map,
    /// not two. It comes first, as if inserted first.
    content_type: Option<HeaderValue>,
    /// Every other header (a content type set by name replaces `content_type`).
    headers: HeaderMap,
    body: Bytes,
    /// An async iterable of `bytes`/`str` chunks (`HttpResponse.stream`).
    stream: Option<Py<PyAny>>,
    /// How many bytes `stream` sends, when it was told (`length=`, a file's size): sent as
    /// `Content-Length`, and a stream that sends more or fewer is cut off.
    length: Option<u64>,
    /// Starlette's `background=`: a `BackgroundTasks` (or `BackgroundTask`) run once the
    /// response is handed to the server.
    #[pyo3(get, set)]
    background: Option<Py<PyAny>>,
    /// A `FileResponse`'s file, which answers a request's `Range` header (`None` for every
    /// other response, which then costs one test).
    file: Option<Box<ServedFile>>,
}

/// What `armature.responses.FileResponse` marks its response with (`_serve_file`).
struct ServedFile {
    /// Its body (`armature.responses._FileBody`, the stream's iterable), told the part of the
    /// file to read by `_ranged` before it is read.
    body: Py<PyAny>,
    /// The headers it was made with: Starlette's `400` and `416` for a `Range` header carry
    /// none of them.
    own: HeaderMap,
}

/// A header value as text, each byte a character (Latin-1), as ASGI servers hand them to
/// Starlette.
fn latin1(value: &HeaderValue) -> String {
    value.as_bytes().iter().copied().map(char::from).collect()
}

impl ServedFile {
    /// Starlette's `FileResponse` (0.39 on) for a `GET` or `HEAD` with a `Range` header, to a
    /// response still `200` (a `status_code` of its own, or one a middleware set, sends the
    /// whole file): the body decides the answer by Starlette's rules (`_FileBody._ranged`: an
    /// `If-Range` that matches neither the `ETag` nor the `Last-Modified`, or too many ranges,
    /// is the whole file) and will read it, and `out` becomes it: `206` with `Content-Range` (or
    /// `multipart/byteranges` for several), `400` for a malformed header, `416` for an
    /// unsatisfiable one; `length` is its body's length, sent as `Content-Length`. A request
    /// without `Range` costs a header lookup, and no call into Python.
    fn answer(
        &self,
        py: Python<'_>,
        request: &Parts,
        out: &mut Response,
        length: &mut Option<u64>,
    ) -> PyResult<()> {
        if out.status() != StatusCode::OK
            || !(request.method == Method::GET || request.method == Method::HEAD)
        {
            return Ok(());
        }
        let Some(range) = request.headers.get(RANGE) else {
            return Ok(());
        };
        let header = |name| out.headers().get(name).map(latin1);
        let answer = self.body.bind(py).call_method1(
            pyo3::intern!(py, "_ranged"),
            (
                latin1(range),
                request.headers.get(IF_RANGE).map(latin1),
                header(ETAG),
                header(LAST_MODIFIED),
                header(CONTENT_TYPE),
            ),
        )?;
        if answer.is_none() {
            return Ok(());
        }
        let (code, len, headers): (u16, u64, Vec<(String, String)>) = answer.extract()?;
        let status = status(code)?;
        if status != StatusCode::PARTIAL_CONTENT {
            // Starlette answers with a `PlainTextResponse` of its own: none of the file's
            // headers (those added since, by HTTP middleware, stay).
            let mut kept = HeaderMap::with_capacity(out.headers().len());
            for (name, value) in out.headers() {
                if !self.own.get_all(name).iter().any(|own| own == value) {
                    kept.append(name.clone(), value.clone());
                }
            }
            *out.headers_mut() = kept;
        }
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| PyValueError::new_err(format!("invalid header value {value:?}")))?;
            out.headers_mut().insert(name, value);
        }
        *out.status_mut() = status;
        *length = Some(len);
        Ok(())
    }
}

/// A final status: 200 to 999 (a 1xx cannot end a request).
fn status(code: u16) -> PyResult<StatusCode> {
    StatusCode::from_u16(code)
        .ok()
        .filter(|status| !status.is_informational())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid HTTP status {code}: a response's status is 200 to 999"
            ))
        })
}

fn bytes_of(content: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = content.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = content.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.to_str()?.as_bytes()));
    }
    if let Ok(b) = content.cast::<PyByteArray>() {
        return Ok(Bytes::from(b.to_vec()));
    }
    if let Ok(body) = content.cast::<crate::request::RequestBody>() {
        return Ok(body.get().0.clone());
    }
    if content.is_instance_of::<PyMemoryView>() {
        // A copy of the viewed bytes (C order, whatever the view's shape), as Starlette sends one.
        return bytes_of(&content.call_method0("tobytes")?);
    }
    if let Ok(view) = content.call_method0("__bytes__") {
        return bytes_of(&view);
    }
    Err(PyTypeError::new_err(format!(
        "response content must be bytes, bytearray, memoryview or str, not {}",
        content.get_type().name()?
    )))
}

impl HttpResponse {
    fn build(
        code: u16,
        headers: Option<&Bound<'_, PyAny>>,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) -> PyResult<Self> {
        let mut res = HttpResponse {
            status: status(code)?,
            content_type,
            headers: HeaderMap::new(),
            body,
            stream: None,
            length: None,
            background: None,
            file: None,
        };
        res.set_all(headers)?;
        Ok(res)
    }

    /// Sets each `(name, value)` of a dict or an iterable of pairs.
    fn set_all(&mut self, headers: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        if let Some(headers) = headers.filter(|h| !h.is_none()) {
            let items = match headers.cast::<PyDict>() {
                Ok(dict) => dict.items().into_any(),
                Err(_) => headers.clone(),
            };
            for pair in items.try_iter()? {
                let (name, value): (String, String) = pair?.extract()?;
                self.set(&name, &value)?;
            }
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: &str) -> PyResult<()> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
        let text = value;
        let value = HeaderValue::from_str(value)
            .map_err(|_| PyValueError::new_err(format!("invalid header value {value:?}")))?;
        if name == CONTENT_TYPE {
            // One header: the last value set is the content type.
            self.content_type = Some(value);
        } else if name == CONTENT_LENGTH {
            // The server frames the body. A wrong length, sent, would leave the client waiting
            // for bytes that never come or reading the next response as this one's body.
            if self.stream.is_some() {
                return Err(PyValueError::new_err(
                    "content-length: a streamed body is framed by the server",
                ));
            }
            let length = self.body.len();
            if text.trim().parse::<usize>() != Ok(length) {
                return Err(PyValueError::new_err(format!(
                    "content-length {text:?} is not the body's length, {length} bytes"
                )));
            }
        } else {
            self.headers.append(name, value);
        }
        Ok(())
    }

    /// Every header, in order: the content type, then the others.
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(1 + self.headers.len());
        if let Some(ct) = &self.content_type {
            map.insert(CONTENT_TYPE, ct.clone());
        }
        for (name, value) in &self.headers {
            map.append(name.clone(), value.clone());
        }
        map
    }

    fn to_rust(&self) -> Response {
        let mut res = Response::new(Body::full(self.body.clone()));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.header_map();
        res
    }
}

/// A cookie value as Starlette (Python's `http.cookies`) writes it: as it is when every
/// character is one a value may hold bare, else in double quotes, with `"` and `\\` escaped by a
/// backslash and the other characters below 256 that a quoted value may not hold (`;`, `,`,
/// controls, Latin-1) as a backslash and three octal digits. `two words` is `"two words"`, and
/// `{"a": 1}` is `"{\"a\": 1}"`; the request side ([`HttpRequest.cookies`]) reads them back.
fn cookie_value(value: &str) -> Cow<'_, str> {
    const LEGAL: &str = "!#$%&'*+-.^_`|~:";
    const UNESCAPED: &str = " ()/<=>?@[]{}";
    let legal = |c: char| c.is_ascii_alphanumeric() || LEGAL.contains(c);
    if value.chars().all(legal) {
        return Cow::Borrowed(value);
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if legal(c) || UNESCAPED.contains(c) => quoted.push(c),
            c if u32::from(c) < 256 => quoted.push_str(&format!("\\{:03o}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    Cow::Owned(quoted)
}

/// A cookie's `expires`, as Starlette takes it: seconds from now (an `int`), an aware
/// `datetime` (in UTC), or the date as text.
fn cookie_expiry(expires: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = expires.py();
    if let Ok(text) = expires.cast::<PyString>() {
        let text = text.to_str()?;
        if text.contains(';') {
            return Err(PyValueError::new_err(format!(
                "invalid cookie expires {text:?}"
            )));
        }
        return Ok(text.to_owned());
    }
    if expires.is_instance(&py.import("datetime")?.getattr("datetime")?)? {
        let kwargs = PyDict::new(py);
        kwargs.set_item("usegmt", true)?;
        return py
            .import("email.utils")?
            .call_method("format_datetime", (expires,), Some(&kwargs))?
            .extract();
    }
    let seconds: i64 = expires.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "set_cookie(expires=...): seconds (an int), a datetime or a date as text, not {}",
            expires
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    let when = std::time::SystemTime::now()
        .checked_add(std::time::Duration::from_secs(
            seconds.max(0).unsigned_abs(),
        ))
        .unwrap_or(std::time::SystemTime::now());
    Ok(httpdate::fmt_http_date(when))
}

/// The content type of `media_type` (else `default`).
fn media(media_type: Option<&str>, default: HeaderValue) -> PyResult<Option<HeaderValue>> {
    media_type.map_or(Ok(default), content_type).map(Some)
}

/// The content type a response given `media_type` is sent as: a text type that names no
/// charset gets UTF-8's, as Starlette gives it (`text/csv` is sent as `text/csv; charset=utf-8`).
fn content_type(mt: &str) -> PyResult<HeaderValue> {
    let value = if mt.starts_with("text/") && !mt.to_ascii_lowercase().contains("charset=") {
        HeaderValue::try_from(format!("{mt}; charset=utf-8"))
    } else {
        HeaderValue::from_str(mt)
    };
    value.map_err(|_| PyValueError::new_err(format!("invalid media type {mt:?}")))
}

#[pymethods]
impl HttpResponse {
    /// `content` (`bytes`, `bytearray`, `memoryview` or `str`) with `media_type` as its content
    /// type, if given.
    #[new]
    #[pyo3(signature = (content=None, status=200, headers=None, media_type=None))]
    fn new(
        content: Option<&Bound<'_, PyAny>>,
        status: u16,
        headers: Option<&Bound<'_, PyAny>>,
        media_type: Option<&str>,
    ) -> PyResult<Self> {
        let body = match content.filter(|c| !c.is_none()) {
            Some(c) => bytes_of(c)?,
            None => Bytes::new(),
        };
        let ct = match media_type {
            Some(_) => media(media_type, TEXT)?,
            None => None,
        };
        Self::build(status, headers, ct, body)
    }

    /// `content` as JSON (`application/json`), serialized in Rust.
    #[staticmethod]
    #[pyo3(signature = (content, status=200, headers=None))]
    fn json(
        content: &Bound<'_, PyAny>,
        status: u16,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Self::build(status, headers, Some(JSON), Bytes::from(to_json(content)?))
    }

    /// `content` as `text/plain; charset=utf-8`.
    #[staticmethod]
    #[pyo3(signature = (content, status=200, headers=None))]
    fn text(content: &str, status: u16, headers: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Self::build(
            status,
            headers,
            Some(TEXT),
            Bytes::copy_from_slice(content.as_bytes()),
        )
    }

    /// `content` as `text/html; charset=utf-8`.
    #[staticmethod]
    #[pyo3(signature = (content, status=200, headers=None))]
    fn html(content: &str, status: u16, headers: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Self::build(
            status,
            headers,
            Some(HTML),
            Bytes::copy_from_slice(content.as_bytes()),
        )
    }

    /// A streamed body: each `bytes`/`str` chunk of the iterable `chunks` is sent as it is
    /// produced. An async iterable is read on the event loop; a plain one (a generator, a
    /// file) in the default thread pool, a chunk at a time. With `length`, the number of bytes
    /// the chunks add up to (a file's size), the answer carries that `Content-Length` instead
    /// of being chunked, and a stream that sends more or fewer bytes is cut off (the client
    /// sees a broken response, never a wrong one).
    #[staticmethod]
    #[pyo3(signature = (chunks, status=200, headers=None, media_type=None, length=None))]
    fn stream(
        chunks: Bound<'_, PyAny>,
        status: u16,
        headers: Option<&Bound<'_, PyAny>>,
        media_type: Option<&str>,
        length: Option<u64>,
    ) -> PyResult<Self> {
        let whole = chunks.is_instance_of::<PyBytes>()
            || chunks.is_instance_of::<PyString>()
            || chunks.is_instance_of::<PyByteArray>();
        if whole || !(chunks.hasattr("__aiter__")? || chunks.hasattr("__iter__")?) {
            return Err(PyTypeError::new_err(format!(
                "HttpResponse.stream takes an iterable (async or not) of bytes or str chunks, \
                 not {}{}",
                chunks.get_type().name()?,
                if whole {
                    ": use HttpResponse(content) for a whole body"
                } else {
                    ""
                }
            )));
        }
        let ct = media(
            media_type,
            HeaderValue::from_static("application/octet-stream"),
        )?;
        let mut res = Self::build(status, None, ct, Bytes::new())?;
        res.stream = Some(chunks.unbind());
        res.length = length;
        res.set_all(headers)?;
        Ok(res)
    }

    /// The status code.
    #[getter]
    fn status(&self) -> u16 {
        self.status.as_u16()
    }

    #[setter(status)]
    fn set_status(&mut self, code: u16) -> PyResult<()> {
        self.status = status(code)?;
        Ok(())
    }

    /// The headers, read and changed in place (`res.headers["x-time"] = "3"` replaces,
    /// `del res.headers["x-a"]`, `res.headers.append(name, value)` adds): Starlette's
    /// `MutableHeaders` (`armature.datastructures.MutableHeaders`), names in lower case.
    #[getter]
    fn headers<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::engine::datastructure(slf.py(), "MutableHeaders")?.call1((slf,))
    }

    /// Every header as `(name, value)` pairs, in order: the content type, then the others.
    fn _header_items(&self) -> Vec<(String, String)> {
        self.header_map()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect()
    }

    /// Removes every header `name` (the content type too); whether there was one.
    fn _remove_header(&mut self, name: &str) -> PyResult<bool> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
        if name == CONTENT_TYPE {
            return Ok(self.content_type.take().is_some());
        }
        Ok(self.headers.remove(&name).is_some())
    }

    /// Sets header `name` to `value` alone, replacing those of that name.
    fn _replace_header(&mut self, name: &str, value: &str) -> PyResult<()> {
        // Checked before anything is removed: a refused value leaves the headers as they were.
        HeaderValue::from_str(value)
            .map_err(|_| PyValueError::new_err(format!("invalid header value {value:?}")))?;
        self._remove_header(name)?;
        self.set(name, value)
    }

    /// Adds a header (a repeated name adds another line; `content-type` replaces the content
    /// type; `content-length` must be the body's length, and is then the server's to send).
    fn set_header(&mut self, name: &str, value: &str) -> PyResult<()> {
        self.set(name, value)
    }

    /// The status code, under Starlette's name.
    #[getter]
    fn status_code(&self) -> u16 {
        self.status.as_u16()
    }

    #[setter(status_code)]
    fn set_status_code(&mut self, code: u16) -> PyResult<()> {
        self.set_status(code)
    }

    /// Adds a `Set-Cookie` header, as Starlette's `set_cookie`: `max_age` in seconds,
    /// `expires` in seconds from now, an aware `datetime` or a date as text, `path` (default
    /// `/`), `domain`, `secure`, `httponly` and `samesite` (`"lax"`, the default, `"strict"` or
    /// `"none"`). A value a cookie cannot hold bare (spaces, `;`, `,`, quotes: JSON, say) is
    /// quoted and escaped as Starlette does, and `request.cookies` reads it back; a name that
    /// is not a token is a `ValueError`.
    #[pyo3(signature = (key, value="", max_age=None, expires=None, path="/", domain=None, secure=false, httponly=false, samesite="lax"))]
    #[allow(clippy::too_many_arguments)] // Starlette's keyword arguments
    fn set_cookie(
        &mut self,
        key: &str,
        value: &str,
        max_age: Option<i64>,
        expires: Option<&Bound<'_, PyAny>>,
        path: Option<&str>,
        domain: Option<&str>,
        secure: bool,
        httponly: bool,
        samesite: Option<&str>,
    ) -> PyResult<()> {
        // RFC 6265 §4.1.1: a token for the name, cookie-octets for the value.
        let octet = |c: char| c.is_ascii_graphic() && !matches!(c, '"' | ',' | ';' | '\\');
        let token = |c: char| octet(c) && !"()<>@:/[]?={}".contains(c);
        if key.is_empty() || !key.chars().all(token) {
            return Err(PyValueError::new_err(format!(
                "invalid cookie name {key:?}"
            )));
        }
        let mut cookie = format!("{key}={}", cookie_value(value));
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if let Some(expires) = expires.filter(|e| !e.is_none()) {
            cookie.push_str(&format!("; expires={}", cookie_expiry(expires)?));
        }
        if let Some(path) = path {
            cookie.push_str(&format!("; Path={path}"));
        }
        if let Some(domain) = domain {
            cookie.push_str(&format!("; Domain={domain}"));
        }
        if secure {
            cookie.push_str("; Secure");
        }
        if httponly {
            cookie.push_str("; HttpOnly");
        }
        if let Some(samesite) = samesite {
            let canonical = match samesite.to_ascii_lowercase().as_str() {
                "lax" => "lax",
                "strict" => "strict",
                "none" => "none",
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "samesite must be \"lax\", \"strict\" or \"none\", got {samesite:?}"
                    )))
                }
            };
            cookie.push_str(&format!("; SameSite={canonical}"));
        }
        self.set("set-cookie", &cookie)
    }

    /// Asks the client to drop cookie `key` (Starlette's `delete_cookie`).
    #[pyo3(signature = (key, path="/", domain=None, secure=false, httponly=false, samesite="lax"))]
    #[allow(clippy::too_many_arguments)] // Starlette's keyword arguments
    fn delete_cookie(
        &mut self,
        py: Python<'_>,
        key: &str,
        path: Option<&str>,
        domain: Option<&str>,
        secure: bool,
        httponly: bool,
        samesite: Option<&str>,
    ) -> PyResult<()> {
        let now = 0i64.into_pyobject(py)?;
        self.set_cookie(
            key,
            "",
            Some(0),
            Some(now.as_any()),
            path,
            domain,
            secure,
            httponly,
            samesite,
        )
    }

    /// The body (empty for a stream).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.body)
    }

    /// Starlette's `response.body_iterator`: the body as an async iterator of `bytes` (the
    /// stream's chunks for a stream, which it consumes), for HTTP middleware that reads or
    /// rewrites what the handler answered.
    #[getter]
    fn body_iterator<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.as_ref().map(|s| s.clone_ref(py));
        crate::engine::runtime(py)?.call_method1(
            pyo3::intern!(py, "body_iterator"),
            (PyBytes::new(py, &self.body), stream),
        )
    }

    /// For a streamed body: has it run the coroutine function `cleanup` once it ends (sent,
    /// failed, or never read), and says `True`; `False` for a whole body.
    fn _stream_then(&mut self, py: Python<'_>, cleanup: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Some(chunks) = &self.stream else {
            return Ok(false);
        };
        let closing = crate::engine::runtime(py)?.call_method1(
            pyo3::intern!(py, "closing"),
            (chunks.clone_ref(py), cleanup),
        )?;
        self.stream = Some(closing.unbind());
        Ok(true)
    }

    /// Marks this streamed response as `armature.responses.FileResponse`'s, its stream
    /// `body`: a request's `Range` header is answered from the file (see `ServedFile`), and a
    /// `400` or `416` for it drops the headers set so far.
    fn _serve_file(&mut self, body: Py<PyAny>) {
        self.file = Some(Box::new(ServedFile {
            body,
            own: self.header_map(),
        }));
    }

    /// Sends the response as `media_type`, as the constructors' `media_type=` does (a text
    /// type naming no charset gets UTF-8's): the `media_type=` of `armature.responses`' JSON,
    /// HTML and text responses.
    fn _set_media_type(&mut self, media_type: &str) -> PyResult<()> {
        self.content_type = Some(content_type(media_type)?);
        Ok(())
    }

    /// Starlette's `response.media_type`: the content type without its parameters (`None`
    /// when there is none).
    #[getter]
    fn media_type(&self) -> Option<String> {
        let value = self
            .headers
            .get(CONTENT_TYPE)
            .or(self.content_type.as_ref())?;
        let text = value.to_str().ok()?;
        Some(text.split(';').next().unwrap_or(text).trim().to_owned())
    }

    /// Answers `request`'s `Range` header now, as Starlette's `FileResponse` has by the time
    /// an HTTP middleware's `call_next` returns: a `FileResponse` still `200` becomes its `206`
    /// (or `400`, `416`) with their headers here, so the middleware sees them, and the server
    /// sends it as it is. Nothing for any other response, or without a `Range` header.
    fn _answer_range(&mut self, py: Python<'_>, request: PyRef<'_, HttpRequest>) -> PyResult<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut out = self.to_rust();
        let mut length = self.length;
        file.answer(py, request.parts(), &mut out, &mut length)?;
        if out.status() != self.status {
            self.status = out.status();
            let mut headers = std::mem::take(out.headers_mut());
            // Kept apart, as the constructors keep it (see `content_type`).
            self.content_type = headers.remove(CONTENT_TYPE);
            self.headers = headers;
            self.length = length;
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<HttpResponse {}>", self.status)
    }
}

/// Turns a handler's return value into a response: `HttpResponse` as it is; anything else
/// as JSON (dict, list, Pydantic model, str, number, bool, `None`), as FastAPI does.
/// `queue` is the engine's: a streamed body wakes its task on the loop through it.
/// `request` is the request answered, whose `Range` header a `FileResponse` answers (`None`:
/// a WebSocket handshake refused).
pub(crate) fn to_response(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    queue: &Arc<Queue>,
    request: Option<&Parts>,
) -> PyResult<Response> {
    if let Ok(res) = value.cast::<HttpResponse>() {
        let res = res.borrow();
        let mut out = res.to_rust();
        let mut length = res.length;
        if let (Some(file), Some(request)) = (&res.file, request) {
            file.answer(py, request, &mut out, &mut length)?;
        }
        let background = res.background.as_ref().map(|tasks| tasks.clone_ref(py));
        if let Some(chunks) = &res.stream {
            let (tx, rx) = mpsc::unbounded_channel();
            let flow = Arc::new(Flow {
                queue: Arc::clone(queue),
                pending: AtomicUsize::new(0),
                gone: AtomicBool::new(false),
                state: Mutex::new(FlowState::default()),
            });
            let sender = Py::new(
                py,
                ChunkSender {
                    tx: Mutex::new(Some(tx)),
                    flow: Arc::clone(&flow),
                },
            )?;
            // A stream's background runs once its last chunk is sent (a file it removes, say).
            crate::engine::runtime(py)?
                .call_method1("stream", (chunks.clone_ref(py), sender, background))?;
            *out.body_mut() = Body::new(ChannelBody {
                chunks: rx,
                remaining: length,
                flow,
                ended: false,
            });
        } else if let Some(tasks) = background {
            crate::engine::runtime(py)?.call_method1("background", (tasks,))?;
        }
        return Ok(out);
    }
    // The common cases first: no attribute lookups (and no AttributeError) for them.
    if value.is_exact_instance_of::<PyDict>() || value.is_exact_instance_of::<pyo3::types::PyList>()
    {
        let mut res = Response::new(Body::full(Bytes::from(to_json(value)?)));
        res.headers_mut().insert(CONTENT_TYPE, JSON);
        return Ok(res);
    }
    // Pydantic models serialize themselves (pydantic-core, in Rust too), by alias as
    // FastAPI's `jsonable_encoder` does.
    if let Ok(dump) = value.getattr(pyo3::intern!(py, "model_dump_json")) {
        if !value.is_instance_of::<pyo3::types::PyType>() {
            let kwargs = PyDict::new(py);
            kwargs.set_item(pyo3::intern!(py, "by_alias"), true)?;
            let json = dump.call((), Some(&kwargs))?;
            let json = json.cast::<PyString>()?.to_str()?;
            // Pydantic writes NaN and infinities as `null`; a `null` may be one, so such a
            // model goes the way nested ones do, which refuses them (as FastAPI answers 500).
            let body = if json.contains("null") {
                Bytes::from(to_json(value)?)
            } else {
                Bytes::copy_from_slice(json.as_bytes())
            };
            let mut res = Response::new(Body::full(body));
            res.headers_mut().insert(CONTENT_TYPE, JSON);
            return Ok(res);
        }
    }
    let mut res = Response::new(Body::full(Bytes::from(to_json(value)?)));
    res.headers_mut().insert(CONTENT_TYPE, JSON);
    Ok(res)
}

type Chunk = Result<Bytes, BoxError>;

/// Where a streamed response's chunks go: the Python task producing them calls `send`.
#[pyclass(frozen, module = "armature._armature")]
pub struct ChunkSender {
    tx: Mutex<Option<mpsc::UnboundedSender<Chunk>>>,
    flow: Arc<Flow>,
}

/// Bytes of a streamed body queued for the connection and not yet taken by it past which
/// the stream's task waits for room (`ChunkSender.wait`): a client that reads slowly, or not
/// at all, slows the generator down, as uvicorn's flow control does, instead of the whole
/// body piling up in memory.
const STREAM_HIGH_WATER: usize = 1 << 20;

/// What a streamed body (on the tokio side) and the task producing it (on the loop) share.
pub(crate) struct Flow {
    queue: Arc<Queue>,
    /// Bytes sent and not yet taken by the connection.
    pending: AtomicUsize,
    /// The connection dropped the body before its end: the client left.
    gone: AtomicBool,
    state: Mutex<FlowState>,
}

#[derive(Default)]
struct FlowState {
    /// The future the task awaits for room.
    waiter: Option<Py<PyAny>>,
    /// Called on the loop if the client leaves before the end (cancels the task).
    on_gone: Option<Py<PyAny>>,
    /// A wake-up is queued for the loop.
    wake_queued: bool,
}

impl Flow {
    fn full(&self) -> bool {
        self.pending.load(Ordering::Acquire) > STREAM_HIGH_WATER
    }

    /// From the tokio side: queues a wake-up of the task if it waits for room, or if the
    /// client left and the task is to hear of it.
    fn notify(self: &Arc<Self>) {
        let mut state = lock(&self.state);
        let gone = self.gone.load(Ordering::Acquire);
        if state.wake_queued || (state.waiter.is_none() && !(gone && state.on_gone.is_some())) {
            return;
        }
        state.wake_queued = true;
        drop(state);
        self.queue.push(Msg::Stream(Arc::clone(self)));
    }

    /// On the loop: resolves the future the task waits on, and calls its `on_gone` if the
    /// client left.
    pub(crate) fn wake(&self, py: Python<'_>) {
        let (waiter, on_gone) = {
            let mut state = lock(&self.state);
            state.wake_queued = false;
            let on_gone = if self.gone.load(Ordering::Acquire) {
                state.on_gone.take()
            } else {
                None
            };
            (state.waiter.take(), on_gone)
        };
        if let Some(waiter) = waiter {
            let waiter = waiter.bind(py);
            let done = waiter
                .call_method0(pyo3::intern!(py, "done"))
                .and_then(|d| d.is_truthy())
                .unwrap_or(true);
            if !done {
                if let Err(err) = waiter.call_method1(pyo3::intern!(py, "set_result"), (py.None(),))
                {
                    err.print(py);
                }
            }
        }
        if let Some(on_gone) = on_gone {
            if let Err(err) = on_gone.bind(py).call0() {
                err.print(py);
            }
        }
    }
}

#[pymethods]
impl ChunkSender {
    /// Queues a chunk; `False` once the client has gone (stop producing then).
    fn send(&self, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = bytes_of(chunk)?;
        let guard = self
            .tx
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?;
        let Some(tx) = guard.as_ref() else {
            return Ok(false);
        };
        self.flow.pending.fetch_add(bytes.len(), Ordering::AcqRel);
        Ok(tx.send(Ok(bytes)).is_ok())
    }

    /// Whether more than the high-water mark is queued and not yet taken by the connection
    /// (then `wait` before sending more).
    fn full(&self) -> bool {
        self.flow.full()
    }

    /// Keeps `future` (of the loop) to resolve once there is room to send again, or the
    /// client left; `False` (and the future is not kept) when there is room already.
    fn wait(&self, future: Py<PyAny>) -> bool {
        let mut state = lock(&self.flow.state);
        if self.flow.gone.load(Ordering::Acquire) || !self.flow.full() {
            return false;
        }
        state.waiter = Some(future);
        true
    }

    /// Has `callback()` called on the loop if the client leaves before the body's end (not
    /// after `close`).
    fn on_gone(&self, callback: Py<PyAny>) {
        lock(&self.flow.state).on_gone = Some(callback);
        self.flow.notify();
    }

    /// Ends the body; with `error`, aborts it (the client sees a cut-off response).
    #[pyo3(signature = (error=None))]
    fn close(&self, error: Option<String>) -> PyResult<()> {
        let mut guard = self
            .tx
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?;
        lock(&self.flow.state).on_gone = None;
        if let (Some(tx), Some(error)) = (guard.take(), error) {
            let _ = tx.send(Err(error.into()));
        }
        Ok(())
    }
}

/// A streamed body's chunks as the Python task sends them; with `remaining`, the bytes it
/// declared it still has to send.
struct ChannelBody {
    chunks: mpsc::UnboundedReceiver<Chunk>,
    remaining: Option<u64>,
    flow: Arc<Flow>,
    /// The body was read to its end (or failed): dropping it then is no client leaving.
    ended: bool,
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        if !self.ended && self.remaining != Some(0) {
            self.flow.gone.store(true, Ordering::Release);
            self.flow.notify();
        }
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let chunk = std::task::ready!(self.chunks.poll_recv(cx));
        match &chunk {
            Some(Ok(bytes)) => {
                let len = bytes.len();
                let before = self.flow.pending.fetch_sub(len, Ordering::AcqRel);
                if before > STREAM_HIGH_WATER && before - len <= STREAM_HIGH_WATER {
                    self.flow.notify();
                }
            }
            Some(Err(_)) | None => self.ended = true,
        }
        let Some(remaining) = self.remaining else {
            return Poll::Ready(chunk.map(|c| c.map(Frame::data)));
        };
        Poll::Ready(match chunk {
            Some(Ok(bytes)) => match remaining.checked_sub(bytes.len() as u64) {
                Some(left) => {
                    self.remaining = Some(left);
                    Some(Ok(Frame::data(bytes)))
                }
                None => Some(Err(
                    "the stream sent more bytes than its declared length".into()
                )),
            },
            Some(Err(err)) => Some(Err(err)),
            None if remaining > 0 => Some(Err(format!(
                "the stream ended {remaining} bytes short of its declared length"
            )
            .into())),
            None => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == Some(0)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.remaining.map_or_else(
            http_body::SizeHint::default,
            http_body::SizeHint::with_exact,
        )
    }
}
