//! Responses built from what a JS handler returned, and the binding's own error answers.

use armature_layers::logger::write_json_string;
use armature_layers::request_id::RequestId;
use armature_router::{Body, Response};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, StatusCode};
use napi::bindgen_prelude::{Buffer, Either};

use crate::log::{self, Json, TARGET};

/// Fastify's `Content-Type` for JSON.
const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
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

/// A header value from JS text, as Node's http writes it: each character is one byte,
/// Latin-1 (`é` is 0xE9, not UTF-8's two bytes). `None` for a character above U+00FF or one a
/// header cannot carry (a control character but tab); JS refuses those first (`header()`).
pub(crate) fn latin1_value(text: &str) -> Option<HeaderValue> {
    if text.is_ascii() {
        return HeaderValue::from_str(text).ok();
    }
    let bytes = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()?;
    HeaderValue::from_bytes(&bytes).ok()
}

/// Header bytes as Node's http reads them: each byte one character, Latin-1 (obs-text bytes
/// such as 0xE9 are `é`, not U+FFFD).
pub(crate) fn latin1_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => text.to_owned(),
        _ => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// A content type as JS gives it: one of the common ones by number (no parsing, no string
/// crossing from JS), or any other as text.
pub(crate) enum ContentType {
    /// `0` none, `1` text, `2` JSON, `3` octets.
    Known(u32),
    Other(String),
}

impl From<Option<String>> for ContentType {
    fn from(value: Option<String>) -> Self {
        value.map_or(ContentType::Known(0), ContentType::Other)
    }
}

impl ContentType {
    fn header(&self) -> Result<Option<HeaderValue>, String> {
        match self {
            ContentType::Known(0) => Ok(None),
            ContentType::Known(1) => Ok(Some(TEXT)),
            ContentType::Known(2) => Ok(Some(JSON)),
            ContentType::Known(3) => Ok(Some(OCTETS)),
            ContentType::Known(other) => Err(format!("unknown content-type code {other}")),
            ContentType::Other(value) => match value.as_str() {
                "application/json; charset=utf-8" => Ok(Some(JSON)),
                "text/plain; charset=utf-8" => Ok(Some(TEXT)),
                "application/octet-stream" => Ok(Some(OCTETS)),
                other => latin1_value(other)
                    .map(Some)
                    .ok_or_else(|| format!("invalid content-type {other:?}")),
            },
        }
    }
}

/// Builds a response, or says which part is invalid.
///
/// The server frames the body: a `Content-Length` header is dropped when it is the body's
/// length and refused when it is not (sent as is, it would split or stall the client's
/// reading of the connection). `Content-Type` is one header: a later value replaces the
/// content type. The status must be a final one (200 to 999): a 1xx cannot end a request.
pub(crate) fn build(
    status: u32,
    content: &ContentType,
    headers: Option<&[String]>,
    body: Bytes,
) -> Result<Response, String> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .filter(|code| !code.is_informational())
        .ok_or_else(|| format!("invalid status {status}"))?;
    let length = body.len();
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    if let Some(value) = content.header()? {
        res.headers_mut().insert(CONTENT_TYPE, value);
    }
    if let Some(headers) = headers {
        if headers.len() % 2 != 0 {
            return Err("headers must come as name, value pairs".into());
        }
        for pair in headers.chunks_exact(2) {
            let name = HeaderName::from_bytes(pair[0].as_bytes())
                .map_err(|_| format!("invalid header name {:?}", pair[0]))?;
            let value = latin1_value(&pair[1])
                .ok_or_else(|| format!("invalid value for header {:?}", pair[0]))?;
            if name == CONTENT_LENGTH {
                if pair[1].trim().parse::<usize>() != Ok(length) {
                    return Err(format!(
                        "content-length {:?} is not the body's length, {length} bytes",
                        pair[1]
                    ));
                }
            } else if name == CONTENT_TYPE {
                res.headers_mut().insert(name, value);
            } else {
                res.headers_mut().append(name, value);
            }
        }
    }
    Ok(res)
}

/// What a JS handler answered, as it crosses from the JS thread to the connection's task,
/// which turns it into a response (so the response is allocated, and freed, on that thread).
pub(crate) enum Reply {
    /// `respond(...)`: checked when built; an invalid part is logged and answered `500`.
    Handler {
        status: u32,
        content: ContentType,
        headers: Option<Vec<String>>,
        body: Bytes,
    },
    /// The handler threw or rejected with `message`; answered `status` if it is a 5xx code
    /// (an error's own `statusCode`), else `500`, with the error's own `headers` (alternating
    /// names and values; invalid ones, `Content-Type` and `Content-Length` are left out).
    Failed {
        message: String,
        status: Option<u32>,
        headers: Option<Vec<String>>,
        /// The error's own `code`, for the body.
        code: Option<String>,
        /// The status's reason phrase as JS knows it (Node's table has more than `http`'s).
        reason: Option<String>,
    },
}

impl Reply {
    /// The response to `req`; failures are logged with its method, path and request id, as
    /// a JSON line with `json` (the app's `Logger.json()`).
    pub(crate) fn into_response<B>(self, req: &Request<B>, json: bool) -> Response {
        let (failure, status, headers, code, reason) = match self {
            Reply::Handler {
                status,
                content,
                headers,
                body,
            } => match build(status, &content, headers.as_deref(), body) {
                Ok(res) => return res,
                Err(err) => (
                    format!("invalid response from handler: {err}"),
                    None,
                    None,
                    None,
                    None,
                ),
            },
            Reply::Failed {
                message,
                status,
                headers,
                code,
                reason,
            } => (
                format!("handler failed: {message}"),
                status,
                headers,
                code,
                reason,
            ),
        };
        let status_asked = status.and_then(|code| u16::try_from(code).ok());
        let status = status
            .and_then(|code| u16::try_from(code).ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(StatusCode::is_server_error)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let request_id = req.extensions().get::<RequestId>().map(RequestId::as_str);
        if json {
            log::json_error(
                &failure,
                &[
                    ("request_id", request_id.map_or(Json::Null, Json::Text)),
                    ("method", Json::Text(req.method().as_str())),
                    ("path", Json::Text(req.uri().path())),
                    ("status", Json::Number(status.as_u16().into())),
                ],
            );
        } else {
            tracing::error!(
                target: TARGET,
                method = %req.method(),
                path = req.uri().path(),
                status = status.as_u16(),
                request_id,
                "{failure}"
            );
        }
        // The reason JS gave only if it is for the status answered (a bad status became 500).
        let reason = reason
            .filter(|_| Some(status.as_u16()) == status_asked)
            .or_else(|| status.canonical_reason().map(str::to_owned))
            .unwrap_or_else(|| "Server Error".to_owned());
        let mut res = error_with(status, code.as_deref(), Some(&reason), &reason);
        for pair in headers.as_deref().unwrap_or_default().chunks_exact(2) {
            let (Ok(name), Some(value)) = (
                HeaderName::from_bytes(pair[0].as_bytes()),
                latin1_value(&pair[1]),
            ) else {
                continue;
            };
            if name != CONTENT_TYPE && name != CONTENT_LENGTH {
                res.headers_mut().append(name, value);
            }
        }
        res
    }
}

/// How the binding itself answers failures, in Fastify's shape (as the JS side does):
/// `{"statusCode":404,"error":"Not Found","message":"..."}`, `error` the reason phrase.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    error_with(status, None, None, message)
}

/// [`error`] with Fastify's `code` (`FST_ERR_CTP_BODY_TOO_LARGE`, an error's own) and a
/// reason phrase other than `http`'s (which lacks some, such as 509's).
pub(crate) fn error_with(
    status: StatusCode,
    code: Option<&str>,
    reason: Option<&str>,
    message: &str,
) -> Response {
    let mut body = Vec::with_capacity(64 + message.len());
    body.extend_from_slice(b"{\"statusCode\":");
    body.extend_from_slice(status.as_str().as_bytes());
    if let Some(code) = code {
        body.extend_from_slice(b",\"code\":");
        write_json_string(&mut body, code);
    }
    body.extend_from_slice(b",\"error\":");
    let reason = reason.or(status.canonical_reason()).unwrap_or("Error");
    write_json_string(&mut body, reason);
    body.extend_from_slice(b",\"message\":");
    write_json_string(&mut body, message);
    body.push(b'}');
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, JSON);
    res
}

/// `res` with the package's JSON error body (for its status, with `message`) in place of its
/// own: its status and other headers kept (`Allow`, `Retry-After`).
pub(crate) fn with_error_body(res: Response, message: &str) -> Response {
    let (mut parts, _) = res.into_parts();
    let (json, body) = error(parts.status, message).into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, json.headers[CONTENT_TYPE].clone());
    Response::from_parts(parts, body)
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
