//! JSON bodies in and out, with [sonic-rs](https://docs.rs/sonic-rs).

use std::fmt;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::body::BoxError;
use crate::response::{IntoResponse, Response};
use crate::Body;

/// The largest JSON request body [`Json::from_request`] reads: 2 MiB.
pub const DEFAULT_JSON_LIMIT: usize = 2 * 1024 * 1024;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON body: serialize a response, or read and validate a request.
///
/// Returning `Json(value)` answers `200` with `content-type: application/json`.
/// Reading a request with [`Json::from_request`] answers bad input with a short message:
/// `415` for a missing or non-JSON content type, `413` past the size limit, `400` for
/// malformed JSON and `422` for JSON of the wrong shape.
///
/// ```
/// use armature_router::{post, Json, Router};
/// use http::{Request, StatusCode};
/// use serde::{Deserialize, Serialize};
/// use tower::ServiceExt;
///
/// #[derive(Deserialize, Serialize)]
/// struct User { name: String, age: u8 }
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/users", post(|req: Request<String>| async move {
///         match Json::<User>::from_request(req).await {
///             Ok(Json(user)) => Ok((StatusCode::CREATED, Json(user))),
///             Err(rejection) => Err(rejection),
///         }
///     }))
///     .build()?;
///
/// let send = |body: &str| Request::post("/users")
///     .header("content-type", "application/json")
///     .body(body.to_owned())
///     .unwrap();
/// let ok = router.clone().oneshot(send(r#"{"name":"Ann","age":30}"#)).await?;
/// assert_eq!(ok.status(), StatusCode::CREATED);
/// let malformed = router.clone().oneshot(send(r#"{"name":"#)).await?;
/// assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
/// let wrong_shape = router.clone().oneshot(send(r#"{"name":"Ann","age":"old"}"#)).await?;
/// assert_eq!(wrong_shape.status(), StatusCode::UNPROCESSABLE_ENTITY);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> Json<T> {
    /// Reads the request body (at most [`DEFAULT_JSON_LIMIT`] bytes) and deserializes it.
    pub async fn from_request<B>(req: Request<B>) -> Result<Self, JsonRejection>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        Self::from_request_with_limit(req, DEFAULT_JSON_LIMIT).await
    }

    /// Like [`Json::from_request`] with a body limit of `limit` bytes.
    pub async fn from_request_with_limit<B>(
        req: Request<B>,
        limit: usize,
    ) -> Result<Self, JsonRejection>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        check_content_type(req.headers())?;
        // The body's own errors are told apart from this limit's: one of them may be another
        // limit, set before the handler (tower-http's `RequestBodyLimitLayer`).
        let body = req.into_body().map_err(ReadError::boxed::<B::Error>);
        let bytes = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                return Err(JsonRejection::TooLarge { limit })
            }
            Err(err) => {
                let err = match err.downcast::<ReadError>() {
                    Ok(read) => read.0,
                    Err(other) => other,
                };
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(JsonRejection::BodyTooLarge);
                }
                return Err(JsonRejection::BodyRead(err.to_string()));
            }
        };
        Self::from_bytes(&bytes)
    }

    /// Deserializes `bytes`, classifying errors as malformed (`400`) or wrong shape (`422`).
    ///
    /// Arrays and objects nested more than [`MAX_JSON_DEPTH`] levels deep are refused
    /// (`400`) before parsing: deserializing recurses once a level, and a few hundred bytes
    /// of `[[[[…` would otherwise overflow a thread's stack (in a debug build, about 100
    /// levels do on tokio's 2 MiB worker threads), which aborts the whole process.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, JsonRejection> {
        if bytes.len() > MAX_JSON_DEPTH && nested_deeper_than(bytes, MAX_JSON_DEPTH) {
            return Err(JsonRejection::TooDeep {
                limit: MAX_JSON_DEPTH,
            });
        }
        sonic_rs::from_slice(bytes).map(Json).map_err(|err| {
            let message = err.to_string();
            match err.classify() {
                sonic_rs::error::Category::Syntax | sonic_rs::error::Category::Eof => {
                    JsonRejection::Malformed(message)
                }
                _ => JsonRejection::WrongShape(message),
            }
        })
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), JsonRejection> {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(JsonRejection::UnsupportedContentType)?;
    let essence = value.split(';').next().unwrap_or("").trim();
    let (kind, subtype) = essence
        .split_once('/')
        .ok_or(JsonRejection::UnsupportedContentType)?;
    let subtype = subtype.to_ascii_lowercase();
    if kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(JsonRejection::UnsupportedContentType)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match sonic_rs::to_vec(&self.0) {
            Ok(bytes) => {
                let mut res = Response::new(Body::full(Bytes::from(bytes)));
                res.headers_mut().insert(CONTENT_TYPE, JSON);
                res
            }
            Err(err) => {
                tracing::error!(error = %err, "failed to serialize a JSON response");
                crate::response::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "failed to serialize the response",
                )
            }
        }
    }
}

/// An error of the request body itself, as opposed to the JSON limit's.
#[derive(Debug)]
struct ReadError(BoxError);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ReadError {}

impl ReadError {
    fn boxed<E: Into<BoxError>>(err: E) -> BoxError {
        Box::new(ReadError(err.into()))
    }
}

/// The deepest nesting of arrays and objects [`Json`] reads. serde_json's own limit is 128,
/// but a debug build deserializing `serde_json::Value` overflows a 2 MiB thread stack at
/// about 96 levels of objects; 64 leaves room for the layers and the server's futures below
/// the handler. Real documents rarely pass 20.
pub const MAX_JSON_DEPTH: usize = 64;

/// Whether arrays and objects in `bytes` nest more than `limit` levels deep, counting
/// brackets outside strings. One pass, no allocation; it does not validate anything else
/// (the parser does).
fn nested_deeper_than(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Why a JSON request body was refused. Its response is the status and a short message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonRejection {
    /// No `content-type`, or one that is not `application/json` / `application/*+json`: `415`.
    UnsupportedContentType,
    /// The body is larger than the limit: `413`.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body grew past a limit set before the handler, such as tower-http's
    /// `RequestBodyLimitLayer` (a body whose length was not declared): `413`.
    BodyTooLarge,
    /// The body could not be read (the client went away, broken chunking): `400`.
    BodyRead(String),
    /// The body is not valid JSON: `400`.
    Malformed(String),
    /// Arrays and objects nested deeper than `limit` ([`MAX_JSON_DEPTH`]): `400`.
    TooDeep {
        /// The deepest nesting read.
        limit: usize,
    },
    /// Valid JSON, but not the expected shape (missing field, wrong type): `422`.
    WrongShape(String),
}

impl JsonRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            JsonRejection::UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::TooLarge { .. } | JsonRejection::BodyTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            JsonRejection::BodyRead(_)
            | JsonRejection::Malformed(_)
            | JsonRejection::TooDeep { .. } => StatusCode::BAD_REQUEST,
            JsonRejection::WrongShape(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl fmt::Display for JsonRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonRejection::UnsupportedContentType => {
                f.write_str("expected a request with `content-type: application/json`")
            }
            JsonRejection::TooLarge { limit } => {
                write!(f, "JSON body is larger than the limit of {limit} bytes")
            }
            JsonRejection::BodyTooLarge => {
                f.write_str("request body is larger than the server accepts")
            }
            JsonRejection::BodyRead(err) => write!(f, "failed to read the request body: {err}"),
            JsonRejection::Malformed(err) => write!(f, "malformed JSON: {err}"),
            JsonRejection::TooDeep { limit } => {
                write!(f, "JSON nested more than {limit} levels deep")
            }
            JsonRejection::WrongShape(err) => write!(f, "invalid JSON body: {err}"),
        }
    }
}

impl std::error::Error for JsonRejection {}

impl IntoResponse for JsonRejection {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}
