//! Per-path method dispatch: `get(handler).post(other)`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Method, Request};
use tower_service::Service;

use crate::body::BoxError;
use crate::handler::{Endpoint, EndpointService, Handler};
use crate::response::IntoResponse;

/// The methods with a fixed slot; others go in a list.
const STANDARD: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

fn slot(method: &Method) -> Option<usize> {
    // `Method` compares standard methods by tag, so this is a handful of integer compares.
    STANDARD.iter().position(|m| m == method)
}

/// The endpoints of one path, by method.
///
/// Built with [`get`], [`post`], … and chained: `get(list).post(create)`. A method registered
/// twice is reported by [`RouterBuilder::build`](crate::RouterBuilder::build).
///
/// ```
/// use armature_router::{get, Router};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/users", get(|_req: Request<()>| async { "list" }).post(|_req: Request<()>| async { "create" }))
///     .build()?;
/// let res = router.oneshot(Request::delete("/users").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(res.headers()["allow"], "GET,HEAD,POST");
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub struct MethodRouter<B> {
    standard: [Option<Endpoint<B>>; 9],
    extension: Vec<(Method, Endpoint<B>)>,
    any: Option<Endpoint<B>>,
    /// Opaque values attached per method for tools that read the route table (OpenAPI);
    /// the router never looks at them.
    pub(crate) metadata: Vec<(Method, Arc<dyn Any + Send + Sync>)>,
    /// The first method registered twice, reported when the route is added.
    pub(crate) duplicate: Option<Method>,
}

impl<B> fmt::Debug for MethodRouter<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodRouter")
            .field("methods", &self.methods().collect::<Vec<_>>())
            .field("any", &self.any.is_some())
            .finish()
    }
}

impl<B> Default for MethodRouter<B> {
    fn default() -> Self {
        MethodRouter {
            standard: Default::default(),
            extension: Vec::new(),
            any: None,
            metadata: Vec::new(),
            duplicate: None,
        }
    }
}

impl<B> Clone for MethodRouter<B> {
    fn clone(&self) -> Self {
        MethodRouter {
            standard: self.standard.clone(),
            extension: self.extension.clone(),
            any: self.any.clone(),
            metadata: self.metadata.clone(),
            duplicate: self.duplicate.clone(),
        }
    }
}

macro_rules! chained {
    ($($name:ident => $method:ident),* $(,)?) => {$(
        #[doc = concat!("Adds a handler for `", stringify!($method), "` requests.")]
        pub fn $name<H: Handler<B>>(self, handler: H) -> Self {
            self.on(Method::$method, handler)
        }
    )*};
}

impl<B: Send + 'static> MethodRouter<B> {
    /// A method router with no endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    chained! {
        get => GET, head => HEAD, post => POST, put => PUT, delete => DELETE,
        patch => PATCH, options => OPTIONS, trace => TRACE,
    }

    /// Adds a handler for `method` (any method, extension methods included).
    pub fn on<H: Handler<B>>(self, method: Method, handler: H) -> Self {
        self.add(method, Endpoint::from_handler(handler))
    }

    /// Adds a tower service for `method`. Service errors are answered with `500`.
    pub fn on_service<S>(self, method: Method, service: S) -> Self
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.add(method, Endpoint::from_service(service))
    }

    /// Adds a handler for every method that has no endpoint of its own (no `405` then).
    pub fn any<H: Handler<B>>(self, handler: H) -> Self {
        self.any_endpoint(Endpoint::from_handler(handler))
    }

    /// Sets the endpoint for every method without one of its own.
    pub(crate) fn any_endpoint(mut self, endpoint: Endpoint<B>) -> Self {
        if self.any.is_some() {
            self.duplicate
                .get_or_insert(Method::from_bytes(b"ANY").expect("valid token"));
        }
        self.any = Some(endpoint);
        self
    }

    /// Attaches `value` to this path's `method`, for tools that read the route table rather
    /// than serve it (armature-openapi stores each operation's OpenAPI description here). The
    /// router never looks at it; [`Router::metadata`](crate::Router::metadata) gives it back.
    ///
    /// Values are found again by type: attaching a second value of the same type to the same
    /// method replaces the first. Metadata survives [`layer`](Self::layer), merging and nesting.
    ///
    /// ```
    /// use armature_router::{get, Router};
    /// use http::{Method, Request};
    ///
    /// struct Summary(&'static str);
    ///
    /// let router = Router::<()>::builder()
    ///     .route("/users/{id}", get(|_req: Request<()>| async { "" }).metadata(Method::GET, Summary("one user")))
    ///     .build()
    ///     .unwrap();
    /// let found = router.metadata::<Summary>("/users/{id}").collect::<Vec<_>>();
    /// assert_eq!(found.len(), 1);
    /// assert_eq!((found[0].0, found[0].1 .0), (&Method::GET, "one user"));
    /// ```
    pub fn metadata<T: Any + Send + Sync>(mut self, method: Method, value: T) -> Self {
        self.metadata
            .retain(|(m, v)| *m != method || !(**v).is::<T>());
        self.metadata.push((method, Arc::new(value)));
        self
    }

    /// Wraps every endpoint of this path in `layer` (per-route middleware).
    ///
    /// ```
    /// use armature_router::{get, Router};
    /// use http::{Request, StatusCode};
    /// use std::time::Duration;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let slow = get(|_req: Request<()>| async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     "late"
    /// })
    /// .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(10)));
    /// let router = Router::builder().route("/slow", slow).build()?;
    /// let res = router.oneshot(Request::get("/slow").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: tower_layer::Layer<EndpointService<B>>,
        L::Service: Service<Request<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<B>>>::Response: IntoResponse,
        <L::Service as Service<Request<B>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<B>>>::Future: Send + 'static,
    {
        self.map_endpoints(|e| e.layer(&layer))
    }

    pub(crate) fn map_endpoints(self, mut f: impl FnMut(Endpoint<B>) -> Endpoint<B>) -> Self {
        MethodRouter {
            standard: self.standard.map(|e| e.map(&mut f)),
            extension: self.extension.into_iter().map(|(m, e)| (m, f(e))).collect(),
            any: self.any.map(&mut f),
            metadata: self.metadata,
            duplicate: self.duplicate,
        }
    }

    fn add(mut self, method: Method, endpoint: Endpoint<B>) -> Self {
        let existing = match slot(&method) {
            Some(i) => self.standard[i].replace(endpoint),
            None => match self.extension.iter_mut().find(|(m, _)| *m == method) {
                Some((_, e)) => Some(std::mem::replace(e, endpoint)),
                None => {
                    self.extension.push((method.clone(), endpoint));
                    None
                }
            },
        };
        if existing.is_some() {
            self.duplicate.get_or_insert(method);
        }
        self
    }

    /// Moves the endpoints of `other` into `self`; returns the first method both define. With
    /// `exclusive_any`, an `any` endpoint defines every method (see
    /// [`RouterBuilder::exclusive_any`](crate::RouterBuilder::exclusive_any)).
    pub(crate) fn merge(
        &mut self,
        other: MethodRouter<B>,
        exclusive_any: bool,
    ) -> Result<(), Method> {
        if let Some(method) = other.methods().find(|m| self.has(m)) {
            return Err(method);
        }
        if exclusive_any {
            if let Some(method) = self.any_overlap(&other) {
                return Err(method);
            }
        }
        if other.any.is_some() && self.any.is_some() {
            return Err(Method::from_bytes(b"ANY").expect("valid token"));
        }
        for (i, endpoint) in other.standard.into_iter().enumerate() {
            if endpoint.is_some() {
                self.standard[i] = endpoint;
            }
        }
        self.extension.extend(other.extension);
        self.metadata.extend(other.metadata);
        if other.any.is_some() {
            self.any = other.any;
        }
        Ok(())
    }

    /// The first single method that an `any` endpoint of `self` and `other` together would
    /// share with a single-method endpoint of either (`self` against itself too).
    pub(crate) fn any_overlap(&self, other: &MethodRouter<B>) -> Option<Method> {
        let any = self.any.is_some() || other.any.is_some();
        any.then(|| self.methods().chain(other.methods()).next())
            .flatten()
    }

    fn has(&self, method: &Method) -> bool {
        match slot(method) {
            Some(i) => self.standard[i].is_some(),
            None => self.extension.iter().any(|(m, _)| m == method),
        }
    }
}

impl<B> MethodRouter<B> {
    /// The methods with an endpoint of their own, standard ones first.
    pub(crate) fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        STANDARD
            .iter()
            .zip(&self.standard)
            .filter(|(_, e)| e.is_some())
            .map(|(m, _)| m.clone())
            .chain(self.extension.iter().map(|(m, _)| m.clone()))
    }

    /// The methods this router serves, as [`Router::routes`](crate::Router::routes) lists
    /// them: its own, or with an [`any`](Self::any) endpoint every standard method (in the
    /// order of `http::Method`'s constants) and its extension methods.
    pub(crate) fn served(&self) -> Vec<Method> {
        if self.any.is_none() {
            return self.methods().collect();
        }
        STANDARD
            .iter()
            .cloned()
            .chain(self.extension.iter().map(|(m, _)| m.clone()))
            .collect()
    }

    /// The endpoint for `method`, and whether it is a `GET` endpoint answering a `HEAD`.
    pub(crate) fn endpoint(&self, method: &Method) -> Option<(&Endpoint<B>, bool)> {
        let own = match slot(method) {
            Some(i) => self.standard[i].as_ref(),
            None => self
                .extension
                .iter()
                .find(|(m, _)| m == method)
                .map(|(_, e)| e),
        };
        if let Some(endpoint) = own {
            return Some((endpoint, false));
        }
        if *method == Method::HEAD {
            if let Some(get) = &self.standard[0] {
                return Some((get, true));
            }
        }
        self.any.as_ref().map(|e| (e, false))
    }

    /// The `Allow` header value: every method with an endpoint, plus `HEAD` where `GET` is.
    pub(crate) fn allow_header(&self) -> HeaderValue {
        let mut methods: Vec<Method> = self.methods().collect();
        if self.standard[0].is_some() && self.standard[1].is_none() {
            methods.insert(1, Method::HEAD);
        }
        let joined = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(",");
        HeaderValue::from_str(&joined).expect("method names are valid header values")
    }
}

macro_rules! top_level {
    ($($name:ident => $method:ident),* $(,)?) => {$(
        #[doc = concat!("A [`MethodRouter`] answering `", stringify!($method), "` with `handler`.")]
        pub fn $name<B: Send + 'static, H: Handler<B>>(handler: H) -> MethodRouter<B> {
            MethodRouter::new().on(Method::$method, handler)
        }
    )*};
}

top_level! {
    get => GET, head => HEAD, post => POST, put => PUT, delete => DELETE,
    patch => PATCH, options => OPTIONS, trace => TRACE,
}

/// A [`MethodRouter`] answering `method` with `handler`.
pub fn on<B: Send + 'static, H: Handler<B>>(method: Method, handler: H) -> MethodRouter<B> {
    MethodRouter::new().on(method, handler)
}

/// A [`MethodRouter`] answering every method with `handler`.
pub fn any<B: Send + 'static, H: Handler<B>>(handler: H) -> MethodRouter<B> {
    MethodRouter::new().any(handler)
}

/// A [`MethodRouter`] answering `method` with a tower service.
///
/// ```
/// use armature_router::{on_service, handler_fn, Router};
/// use http::{Method, Request};
///
/// let echo = handler_fn(|req: Request<()>| async move { req.uri().to_string() });
/// let router = Router::builder().route("/echo", on_service(Method::GET, echo)).build();
/// assert!(router.is_ok());
/// ```
pub fn on_service<B, S>(method: Method, service: S) -> MethodRouter<B>
where
    B: Send + 'static,
    S: Service<Request<B>> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    MethodRouter::new().on_service(method, service)
}
