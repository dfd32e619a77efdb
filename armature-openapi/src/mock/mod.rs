//! A mock server for any OpenAPI 3.0/3.1 document (JSON): every operation answers with its
//! example, requests are validated against the document first.

mod schema;

use std::fmt;
use std::sync::Arc;

use armature_router::{on, BoxError, PathParams, Response, RouteError, Router};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};

use crate::docs::{Docs, DocsLayer};

pub use schema::example;
pub(crate) use schema::resolve;

/// The largest request body the mock reads: 2 MiB.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Why a document could not be turned into a mock server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockError {
    /// The document has no `openapi: 3.x` version or no `paths` object.
    NotOpenApi(String),
    /// A path of the document is not a route the router can serve (a parameter that does
    /// not span a whole segment, like `/files/{name}.json`, or two paths matching the same
    /// requests).
    Route(RouteError),
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockError::NotOpenApi(why) => write!(f, "not an OpenAPI 3 document: {why}"),
            MockError::Route(err) => write!(f, "cannot serve a path of the document: {err}"),
        }
    }
}

impl std::error::Error for MockError {}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
    Header,
}

impl In {
    fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
        }
    }
}

struct Param {
    name: String,
    location: In,
    required: bool,
    schema: Value,
}

struct Operation {
    doc: Arc<Value>,
    params: Vec<Param>,
    /// The request body: whether it is required and its media types with their schemas.
    body: Option<(bool, Vec<(String, Value)>)>,
    status: StatusCode,
    /// The precomputed answer: content type and bytes.
    answer: Option<(HeaderValue, Bytes)>,
}

/// A mock server for `doc`: the router of every operation (mounted under the path of the
/// first `servers` URL, e.g. `/api/v3`), wrapped in [`DocsLayer`] serving the document at
/// `/openapi.json` (with `servers` rewritten to the mock's own base path, so try-it-out calls
/// the mock) and Swagger UI at `/docs`.
///
/// Each operation:
/// * checks path, query and header parameters against their schemas (`"7"` is an integer,
///   `"seven"` is not; required ones must be present; repeated query parameters make arrays);
/// * checks a JSON request body against its schema (other media types are accepted unread);
/// * answers anything that does not match with `422` and a JSON body naming the failing
///   field: `{"error": "...", "in": "body", "field": "category.id", "message": "expected integer, got string"}`
///   (malformed JSON is a `400`, a media type the operation does not take a `415`);
/// * answers valid requests with its lowest `2xx` response (else `default` as `200`), whose
///   body is the media type's `example`, its first `examples` value, or one generated from the
///   schema (JSON preferred when the response offers several media types).
///
/// ```
/// use http::{Request, StatusCode};
/// use serde_json::json;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let doc = json!({
///     "openapi": "3.0.3",
///     "info": {"title": "t", "version": "1"},
///     "paths": {"/users/{id}": {"get": {
///         "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
///         "responses": {"200": {"description": "ok", "content": {"application/json": {
///             "schema": {"type": "object", "properties": {"name": {"type": "string", "example": "Ann"}}}}}}}
///     }}}
/// });
/// let mock = armature_openapi::mock::<String>(&doc)?;
/// let res = mock.clone().oneshot(Request::get("/users/7").body(String::new())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
/// assert_eq!(body, r#"{"name":"Ann"}"#);
/// let res = mock.oneshot(Request::get("/users/seven").body(String::new())?).await?;
/// assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub fn mock<B>(doc: &Value) -> Result<Docs<Router<B>>, MockError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let base = base_path(doc);
    let router = mock_router(doc, &base)?;
    let mut served = doc.clone();
    let url = if base.is_empty() { "/" } else { base.as_str() };
    served["servers"] = json!([{ "url": url }]);
    Ok(tower_layer::Layer::layer(&DocsLayer::new(&served), router))
}

/// The path of the first server URL (`https://host/api/v3/` → `/api/v3`), or empty.
///
/// A network-path URL (`//host/api/v3`) has a host too; a relative one (`api/v3`, `./api/v3`)
/// is relative to the document, which the mock serves at the root.
fn base_path(doc: &Value) -> String {
    let url = doc
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .unwrap_or("");
    let authority = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .or_else(|| url.strip_prefix("//"));
    let path = match authority {
        Some(rest) => rest.find('/').map_or("", |i| &rest[i..]),
        // Relative to `/openapi.json`: `v1`, `./v1`, `../v1` and `/v1` are all `/v1`.
        None => url.trim_start_matches(['.', '/']),
    };
    // Server variables (`{basePath}`) are not substituted: such a base is not used.
    if path.contains('{') {
        return String::new();
    }
    let path = path.trim_matches('/');
    if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    }
}

/// Only the mock router of `doc`, its paths under `base` (`""` for none), without the docs.
pub fn mock_router<B>(doc: &Value, base: &str) -> Result<Router<B>, MockError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(MockError::NotOpenApi(format!(
            "`openapi` is {:?}, expected 3.x",
            doc.get("openapi")
        )));
    }
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| MockError::NotOpenApi("no `paths` object".into()))?;
    let shared = Arc::new(doc.clone());
    let mut builder = Router::builder();
    for (path, item) in paths {
        let item = resolve(doc, item);
        let shared_params = item.get("parameters").and_then(Value::as_array);
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            let Some(op) = item.get(method) else {
                continue;
            };
            let operation = Arc::new(operation(&shared, shared_params, op));
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .expect("standard methods");
            let handler = on(method, move |req: Request<B>| {
                let operation = Arc::clone(&operation);
                async move { operation.answer(req).await }
            });
            builder = builder
                .try_route(&format!("{base}{path}"), handler)
                .map_err(MockError::Route)?;
        }
    }
    builder.build().map_err(MockError::Route)
}

fn operation(doc: &Arc<Value>, shared: Option<&Vec<Value>>, op: &Value) -> Operation {
    let mut params: Vec<Param> = Vec::new();
    let own = op.get("parameters").and_then(Value::as_array);
    for raw in shared
        .into_iter()
        .flatten()
        .chain(own.into_iter().flatten())
    {
        let raw = resolve(doc, raw);
        let name = raw.get("name").and_then(Value::as_str).unwrap_or_default();
        let location = match raw.get("in").and_then(Value::as_str) {
            Some("path") => In::Path,
            Some("query") => In::Query,
            Some("header") => In::Header,
            _ => continue, // cookies are not checked
        };
        let schema = raw
            .get("schema")
            .or_else(|| raw.pointer("/content/application~1json/schema"))
            .cloned()
            .unwrap_or(Value::Bool(true));
        let param = Param {
            name: name.to_owned(),
            location,
            required: location == In::Path
                || raw.get("required").and_then(Value::as_bool) == Some(true),
            schema,
        };
        // An operation's parameter overrides the path item's one of the same name and place.
        params.retain(|p| !(p.name == param.name && p.location == param.location));
        params.push(param);
    }
    let body = op.get("requestBody").map(|body| {
        let body = resolve(doc, body);
        let required = body.get("required").and_then(Value::as_bool) == Some(true);
        let media = body
            .get("content")
            .and_then(Value::as_object)
            .map(|content| {
                content
                    .iter()
                    .map(|(media, m)| {
                        let schema = m.get("schema").cloned().unwrap_or(Value::Bool(true));
                        (essence(media), schema)
                    })
                    .collect()
            })
            .unwrap_or_default();
        (required, media)
    });
    let (status, answer) = response(doc, op);
    Operation {
        doc: Arc::clone(doc),
        params,
        body,
        status,
        answer,
    }
}

/// The status and body the operation answers with.
fn response(doc: &Value, op: &Value) -> (StatusCode, Option<(HeaderValue, Bytes)>) {
    let responses = op.get("responses").and_then(Value::as_object);
    let chosen = responses.and_then(|r| {
        let mut success: Vec<_> = r.iter().filter(|(code, _)| code.starts_with('2')).collect();
        success.sort_by_key(|(code, _)| code.as_str());
        success
            .first()
            .map(|(code, res)| (code.replace('X', "0"), *res))
            .or_else(|| r.get("default").map(|res| ("200".to_owned(), res)))
    });
    let Some((code, res)) = chosen else {
        return (StatusCode::OK, None);
    };
    let status = code.parse().unwrap_or(StatusCode::OK);
    let res = resolve(doc, res);
    let Some(content) = res.get("content").and_then(Value::as_object) else {
        return (status, None);
    };
    let picked = content
        .iter()
        .find(|(media, _)| is_json(media))
        .or_else(|| content.iter().next());
    let Some((media, spec)) = picked else {
        return (status, None);
    };
    let value = spec
        .get("example")
        .cloned()
        .or_else(|| {
            spec.get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .map(|e| resolve(doc, e))
                .and_then(|e| e.get("value").cloned())
        })
        .unwrap_or_else(|| spec.get("schema").map_or(Value::Null, |s| example(doc, s)));
    let (content_type, bytes) = if is_json(media) {
        (
            media.as_str(),
            serde_json::to_vec(&value).unwrap_or_default(),
        )
    } else {
        // Not JSON: a string example is sent as it is, anything else as JSON text.
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        (media.as_str(), text.into_bytes())
    };
    let content_type = HeaderValue::from_str(if content_type.contains('*') {
        "application/octet-stream"
    } else {
        content_type
    })
    .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (status, Some((content_type, Bytes::from(bytes))))
}

/// Whether `media` is JSON: `application/json` or `application/*+json`, parameters ignored.
pub(crate) fn is_json(media: &str) -> bool {
    let essence = essence(media);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A media type without its parameters, lowercased: `application/json;charset=UTF-8` is
/// `application/json`.
fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A `422` naming the failing field.
fn invalid(location: &str, field: &str, message: &str) -> Response {
    let body = json!({
        "error": "the request does not match the OpenAPI document",
        "in": location,
        "field": field,
        "message": message,
    });
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = Response::new(armature_router::Body::from(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Splits a query string into decoded pairs (`+` is a space, as in forms).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

impl Operation {
    async fn answer<B>(&self, req: Request<B>) -> Response
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        if let Err(res) = self.check_params(&req) {
            return res;
        }
        if let Err(res) = self.check_body(req).await {
            return res;
        }
        let mut res = match &self.answer {
            Some((content_type, bytes)) => {
                let mut res = Response::new(armature_router::Body::full(bytes.clone()));
                res.headers_mut().insert(CONTENT_TYPE, content_type.clone());
                res
            }
            None => Response::new(armature_router::Body::empty()),
        };
        *res.status_mut() = self.status;
        res
    }

    // The error is the response to send, built only when the request is refused.
    #[allow(clippy::result_large_err)]
    fn check_params<B>(&self, req: &Request<B>) -> Result<(), Response> {
        let doc = &*self.doc;
        let path_params = req.extensions().get::<PathParams>();
        let query = query_pairs(req.uri().query().unwrap_or(""));
        for param in &self.params {
            let raw: Vec<String> = match param.location {
                In::Path => path_params
                    .and_then(|p| p.get(&param.name))
                    .map(|v| vec![v.to_owned()])
                    .unwrap_or_default(),
                In::Query => query
                    .iter()
                    .filter(|(k, _)| *k == param.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                In::Header => req
                    .headers()
                    .get_all(param.name.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .collect(),
            };
            let fail = |message: &str| invalid(param.location.as_str(), &param.name, message);
            if raw.is_empty() {
                if param.required {
                    return Err(fail("is required"));
                }
                continue;
            }
            let value = if schema::is_array(doc, &param.schema) {
                let items = schema::items(doc, &param.schema);
                // `explode: false` (comma-separated) for a single value with commas.
                let raw: Vec<&str> = if raw.len() == 1 {
                    raw[0].split(',').collect()
                } else {
                    raw.iter().map(String::as_str).collect()
                };
                let mut values = Vec::new();
                for (i, one) in raw.iter().enumerate() {
                    values.push(schema::coerce(doc, items, one).map_err(|m| {
                        invalid(param.location.as_str(), &format!("{}[{i}]", param.name), &m)
                    })?);
                }
                Value::Array(values)
            } else {
                schema::coerce(doc, &param.schema, &raw[0]).map_err(|m| fail(&m))?
            };
            if let Err(violation) = schema::validate(doc, &param.schema, &value) {
                let field = if violation.field.is_empty() {
                    param.name.clone()
                } else if violation.field.starts_with('[') {
                    format!("{}{}", param.name, violation.field)
                } else {
                    format!("{}.{}", param.name, violation.field)
                };
                return Err(invalid(param.location.as_str(), &field, &violation.message));
            }
        }
        Ok(())
    }

    #[allow(clippy::result_large_err)] // as for `check_params`
    async fn check_body<B>(&self, req: Request<B>) -> Result<(), Response>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let Some((required, media)) = &self.body else {
            return Ok(());
        };
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(essence);
        let bytes = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return Err(json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": format!("the request body is larger than {BODY_LIMIT} bytes or could not be read")}),
                ))
            }
        };
        if bytes.is_empty() {
            return if *required {
                Err(invalid("body", "", "a request body is required"))
            } else {
                Ok(())
            };
        }
        let content_type = content_type.unwrap_or_default();
        let schema = media.iter().find(|(m, _)| *m == content_type).or_else(|| {
            media.iter().find(|(m, _)| {
                m == "*/*"
                    || (m.ends_with("/*") && content_type.starts_with(m.trim_end_matches('*')))
            })
        });
        let Some((media_type, schema)) = schema else {
            let accepted: Vec<&str> = media.iter().map(|(m, _)| m.as_str()).collect();
            return Err(json_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({"error": format!("content-type {content_type:?} is not one of {accepted:?}")}),
            ));
        };
        let json = is_json(media_type) || (media_type.contains('*') && is_json(&content_type));
        if !json {
            return Ok(()); // other media types are accepted unread
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("malformed JSON: {err}")}),
            )
        })?;
        schema::validate(&self.doc, schema, &value)
            .map_err(|v| invalid("body", &v.field, &v.message))
    }
}
