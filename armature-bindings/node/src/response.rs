//! Responses built from what a JS handler returned, and the binding's own error answers.

use armature_router::{Body, Response};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use napi::bindgen_prelude::{Buffer, Either};

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// A JS body: a string (moved, not copied) or a Buffer (copied once).
pub(crate) fn body_bytes(body: Option<Either<String, Buffer>>) -> Bytes {
    match body {
        None => Bytes::new(),
        Some(Either::A(text)) => Bytes::from(text),
        Some(Either::B(buffer)) => Bytes::copy_from_slice(&buffer),
    }
}

/// The common content types are constants, not parsed per response.
fn content_type(value: &str) -> Option<HeaderValue> {
    match value {
        "application/json" => Some(JSON),
        "text/plain; charset=utf-8" => Some(TEXT),
        "application/octet-stream" => Some(OCTETS),
        other => HeaderValue::from_str(other).ok(),
    }
}

/// Builds a response, or says which part is invalid.
pub(crate) fn build(
    status: u16,
    content: Option<&str>,
    headers: Option<&[String]>,
    body: Bytes,
) -> Result<Response, String> {
    let status = StatusCode::from_u16(status).map_err(|_| format!("invalid status {status}"))?;
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    if let Some(value) = content {
        let value = content_type(value).ok_or_else(|| format!("invalid content-type {value:?}"))?;
        res.headers_mut().insert(CONTENT_TYPE, value);
    }
    if let Some(headers) = headers {
        if headers.len() % 2 != 0 {
            return Err("headers must come as name, value pairs".into());
        }
        for pair in headers.chunks_exact(2) {
            let name = HeaderName::from_bytes(pair[0].as_bytes())
                .map_err(|_| format!("invalid header name {:?}", pair[0]))?;
            let value = HeaderValue::from_str(&pair[1])
                .map_err(|_| format!("invalid value for header {:?}", pair[0]))?;
            res.headers_mut().append(name, value);
        }
    }
    Ok(res)
}

/// `{"error": message}` with `status`: how the binding itself answers failures.
pub(crate) fn error(status: StatusCode, message: &'static str) -> Response {
    let body = format!("{{\"error\":\"{message}\"}}");
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, JSON);
    res
}

/// A constant response registered from JS: answered in Rust, never entering JS.
pub(crate) struct Static {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Static {
    pub(crate) fn response(&self) -> Response {
        let mut res = Response::new(Body::full(self.body.clone()));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers.clone();
        res
    }
}
