//! Serving the spec (`/openapi.json`, precomputed) and Swagger UI (`/docs`, vendored) beside an app.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use armature_router::{Body, IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{Method, Request, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use utoipa_swagger_ui::Config;

/// One file of the docs, ready to send.
#[derive(Clone)]
struct File {
    content_type: HeaderValue,
    bytes: Bytes,
}

struct Inner {
    spec_path: String,
    ui_path: String,
    /// The path prefix a proxy in front adds ([`DocsLayer::served_under`]): in the links the
    /// browser follows, not in the paths this layer answers.
    prefix: String,
    spec: File,
    /// The files that depend on the configuration, rendered once: `""` (`index.html`) and
    /// `swagger-initializer.js`.
    ui: Vec<(String, File)>,
    config: Arc<Config<'static>>,
}

/// Serves an OpenAPI document and interactive docs beside the service it wraps.
///
/// * `GET /openapi.json`: the document, serialized once when the layer is built.
/// * `GET /docs` redirects to `/docs/`, which is Swagger UI with try-it-out enabled, reading
///   `/openapi.json`. Its files are Swagger UI's distribution embedded at build time by
///   `utoipa-swagger-ui` (`vendored`: from crates.io); the page loads nothing from any other
///   origin, and its spec validator badge (which would call `validator.swagger.io`) is off.
/// * Every other request goes to the wrapped service.
///
/// ```
/// use armature_openapi::DocsLayer;
/// use armature_router::{get, Router};
/// use http::{Request, StatusCode};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/hello", get(|_req: Request<()>| async { "hi" }))
///     .build()?;
/// let spec = armature_openapi::spec(&router, utoipa::openapi::OpenApi::default())?;
/// let app = ServiceBuilder::new().layer(DocsLayer::new(&spec)).service(router);
///
/// let res = app.clone().oneshot(Request::get("/openapi.json").body(())?).await?;
/// assert_eq!(res.headers()["content-type"], "application/json");
/// let res = app.clone().oneshot(Request::get("/docs/").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// let res = app.oneshot(Request::get("/hello").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct DocsLayer {
    inner: Arc<Inner>,
}

impl fmt::Debug for DocsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocsLayer")
            .field("spec_path", &self.inner.spec_path)
            .field("ui_path", &self.inner.ui_path)
            .finish()
    }
}

impl DocsLayer {
    /// Docs for `spec` (a utoipa `OpenApi`, a `serde_json::Value`, anything serializable) at
    /// `/openapi.json` and `/docs`.
    ///
    /// # Panics
    /// When `spec` does not serialize to JSON (utoipa documents and JSON values always do).
    pub fn new(spec: &impl serde::Serialize) -> Self {
        Self::with_paths(spec, "/openapi.json", "/docs")
    }

    /// Like [`new`](Self::new), with the document at `spec_path` and the UI under `ui_path`
    /// (both absolute, `ui_path` without a trailing slash).
    ///
    /// # Panics
    /// When `spec` does not serialize to JSON, a path does not start with `/`, or `ui_path`
    /// ends with `/` (`/` itself included: the UI's files live under it, so at `/` it would
    /// answer every request the wrapped service should get).
    pub fn with_paths(spec: &impl serde::Serialize, spec_path: &str, ui_path: &str) -> Self {
        assert!(
            spec_path.starts_with('/') && ui_path.starts_with('/'),
            "docs paths must start with `/`"
        );
        assert!(
            !ui_path.ends_with('/'),
            "the docs UI path {ui_path:?} must not end with `/` (nor be `/`, which would take \
             every request): use a path of its own, like `/docs`"
        );
        let json = serde_json::to_vec(spec).expect("an OpenAPI document serializes to JSON");
        Self::build(Bytes::from(json), spec_path, ui_path, "")
    }

    /// The same docs behind a proxy that serves this app under `prefix` (`/api`), as FastAPI's
    /// `root_path`: the paths answered stay as they were (the proxy strips the prefix), while
    /// the links the browser follows — the document Swagger UI loads, the redirect to
    /// `{ui_path}/` — get the prefix.
    ///
    /// ```
    /// use armature_openapi::DocsLayer;
    /// use http::{header, Request, StatusCode};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # tokio_test::block_on(async {
    /// let docs = DocsLayer::new(&serde_json::json!({ "openapi": "3.1.0" })).served_under("/api");
    /// let app = docs.layer(service_fn(|_req: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(StatusCode::NOT_FOUND)
    /// }));
    /// let res = app.clone().oneshot(Request::get("/docs").body(())?).await?;
    /// assert_eq!(res.headers()[header::LOCATION], "/api/docs/");
    /// let res = app.oneshot(Request::get("/docs/swagger-initializer.js").body(())?).await?;
    /// let js = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert!(std::str::from_utf8(&js)?.contains("/api/openapi.json"));
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Panics
    /// When `prefix` is not empty and does not start with `/`.
    pub fn served_under(self, prefix: &str) -> Self {
        assert!(
            prefix.is_empty() || prefix.starts_with('/'),
            "a docs prefix must start with `/`"
        );
        let inner = &*self.inner;
        Self::build(
            inner.spec.bytes.clone(),
            &inner.spec_path,
            &inner.ui_path,
            prefix.trim_end_matches('/'),
        )
    }

    fn build(json: Bytes, spec_path: &str, ui_path: &str, prefix: &str) -> Self {
        let ui_path = ui_path.trim_end_matches('/').to_owned();
        let config = Arc::new(
            Config::new([format!("{prefix}{spec_path}")])
                .try_it_out_enabled(true)
                .validator_url("none")
                .display_request_duration(false),
        );
        let ui = ["index.html", "swagger-initializer.js"]
            .into_iter()
            .filter_map(|name| {
                let file = swagger_file(name, &config)?;
                let key = if name == "index.html" { "" } else { name };
                Some((key.to_owned(), file))
            })
            .collect();
        DocsLayer {
            inner: Arc::new(Inner {
                spec_path: spec_path.to_owned(),
                ui_path,
                prefix: prefix.to_owned(),
                spec: File {
                    content_type: HeaderValue::from_static("application/json"),
                    bytes: json,
                },
                ui,
                config,
            }),
        }
    }

    /// The answer for `req`, or `None` when it is not a docs path.
    fn answer<B>(&self, req: &Request<B>) -> Option<Response> {
        let path = req.uri().path();
        let inner = &*self.inner;
        let file = if path == inner.spec_path {
            Some(&inner.spec)
        } else if path == inner.ui_path {
            if !readable(req) {
                return Some(not_allowed());
            }
            let mut res = StatusCode::SEE_OTHER.into_response();
            let location =
                HeaderValue::from_str(&format!("{}{}/", inner.prefix, inner.ui_path)).ok()?;
            res.headers_mut().insert(LOCATION, location);
            return Some(res);
        } else {
            let tail = path.strip_prefix(&inner.ui_path)?.strip_prefix('/')?;
            match inner.ui.iter().find(|(name, _)| name == tail) {
                Some((_, file)) => Some(file),
                None => match swagger_file(tail, &inner.config) {
                    Some(file) => return Some(respond(req, &file)),
                    None => return Some((StatusCode::NOT_FOUND, "Not Found").into_response()),
                },
            }
        }?;
        Some(respond(req, file))
    }
}

/// One of Swagger UI's embedded files by name; the static ones are not copied.
fn swagger_file(name: &str, config: &Arc<Config<'static>>) -> Option<File> {
    let file = utoipa_swagger_ui::serve(name, Arc::clone(config)).ok()??;
    let bytes = match file.bytes {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    };
    let content_type = HeaderValue::from_str(&file.content_type).ok()?;
    Some(File {
        content_type,
        bytes,
    })
}

/// Whether `req` may read a docs path: `GET` or `HEAD`.
fn readable<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET || req.method() == Method::HEAD
}

/// `405` with `Allow: GET,HEAD` and a short message, for any other method on a docs path.
fn not_allowed() -> Response {
    let mut res = (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET,HEAD"));
    res
}

fn respond<B>(req: &Request<B>, file: &File) -> Response {
    if !readable(req) {
        return not_allowed();
    }
    let mut res = Response::new(Body::full(file.bytes.clone()));
    res.headers_mut()
        .insert(CONTENT_TYPE, file.content_type.clone());
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

impl<S> Layer<S> for DocsLayer {
    type Service = Docs<S>;

    fn layer(&self, inner: S) -> Docs<S> {
        Docs {
            docs: self.clone(),
            inner,
        }
    }
}

/// The service of [`DocsLayer`]: docs paths are answered here, the rest by `S`.
#[derive(Clone, Debug)]
pub struct Docs<S> {
    docs: DocsLayer,
    inner: S,
}

impl<S, B> Service<Request<B>> for Docs<S>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DocsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.docs.answer(&req) {
            Some(res) => DocsFuture {
                kind: Kind::Ready { res: Some(res) },
            },
            None => DocsFuture {
                kind: Kind::Inner {
                    fut: self.inner.call(req),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`Docs`].
    pub struct DocsFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Ready { res: Option<Response> },
        Inner { #[pin] fut: F },
    }
}

impl<F, R, E> Future for DocsFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { res } => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => Poll::Pending,
            },
            KindProj::Inner { fut } => fut.poll(cx).map(|r| r.map(IntoResponse::into_response)),
        }
    }
}
