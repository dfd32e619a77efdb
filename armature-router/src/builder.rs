//! Assembling a router: routes, nesting, layers, fallback. Errors surface at `build()`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{Request, StatusCode};
use tower_service::Service;

use crate::body::BoxError;
use crate::handler::{Endpoint, EndpointService, Handler};
use crate::method_router::MethodRouter;
use crate::nested_service::StripPrefix;
use crate::observe::KeyChain;
use crate::params::PathParams;
use crate::pattern::{Pattern, Segment};
use crate::response::{self, ErrorAnswer, IntoResponse};
use crate::router::{Entry, Guard, Inner, Router};
use crate::statics::Statics;
use crate::table::Table;
use crate::tree::Node;
use crate::RouteError;

struct RouteDef<B> {
    /// The pattern as the user wrote it, for error messages.
    given: String,
    pattern: Pattern,
    methods: MethodRouter<B>,
    kind: Kind,
    guard: Option<Guard>,
}

/// What a route is.
#[derive(Debug, Clone)]
enum Kind {
    /// A route: routes of the same pattern merge their methods.
    Route,
    /// A nested builder's fallback, mounted as `{prefix}/{*path}`: it answers like a fallback
    /// (no `MatchedRoute`, not in the route table, not wrapped by scope layers).
    Fallback,
    /// A route of [`RouterBuilder::nest_service`]: the mounted service takes every method, so
    /// nothing merges with it.
    Mounted(Mount),
}

/// Where a mounted service's routes tell it how much of a path to strip: the segments
/// (high half) and parameters (low half) before the catch-all of its final pattern, which
/// nesting adds to (the last pattern given is the final one).
pub(crate) type Mount = Arc<AtomicU64>;

/// Collects routes, then compiles them into a [`Router`] with [`build`](Self::build).
///
/// Errors (a malformed pattern, two routes matching the same paths, a method registered twice)
/// are kept and returned by `build`, naming both routes; the first one wins.
///
/// ```
/// use armature_router::{get, post, Router};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let users = Router::builder()
///     .route("/", get(|_req: Request<()>| async { "all users" }).post(|_req: Request<()>| async { StatusCode::CREATED }))
///     .route("/:id", get(|_req: Request<()>| async { "one user" }));
/// let router = Router::builder()
///     .route("/health", get(|_req: Request<()>| async { "ok" }))
///     .nest("/api/v1/users", users)
///     .fallback(|_req: Request<()>| async { (StatusCode::NOT_FOUND, "nothing here") })
///     .build()?;
///
/// let res = router.clone().oneshot(Request::get("/api/v1/users/7").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// let res = router.oneshot(Request::get("/nope").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub struct RouterBuilder<B> {
    routes: Vec<RouteDef<B>>,
    /// Route shape (parameter names erased) to its index in `routes`.
    shapes: HashMap<String, usize>,
    fallback: Option<Endpoint<B>>,
    method_not_allowed: Option<Endpoint<B>>,
    redirect_trailing_slash: bool,
    /// How the router writes its own error answers (see [`Self::error_answer`]).
    error_answer: ErrorAnswer,
    matched_route_extension: bool,
    eager_handlers: bool,
    empty_catch_all: bool,
    exclusive_any: bool,
    backtrack_on_method: bool,
    error: Option<RouteError>,
}

impl<B> fmt::Debug for RouterBuilder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field(
                "routes",
                &self.routes.iter().map(|r| &r.given).collect::<Vec<_>>(),
            )
            .field("error", &self.error)
            .finish()
    }
}

impl<B: Send + 'static> Default for RouterBuilder<B> {
    fn default() -> Self {
        RouterBuilder {
            routes: Vec::new(),
            shapes: HashMap::new(),
            fallback: None,
            method_not_allowed: None,
            redirect_trailing_slash: false,
            error_answer: response::error,
            matched_route_extension: true,
            eager_handlers: false,
            empty_catch_all: false,
            exclusive_any: false,
            backtrack_on_method: false,
            error: None,
        }
    }
}

/// Refuses a prefix that is not one: it must start with `/`, not end with `/`, not be `/`,
/// and hold no catch-all.
fn check_prefix(prefix: &str) -> Result<(), RouteError> {
    let invalid = |reason| RouteError::InvalidPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return Err(invalid(
            "a prefix must start with `/`, not end with `/`, and not be `/`",
        ));
    }
    let parsed = Pattern::parse(prefix)?;
    if parsed.segments.contains(&Segment::CatchAll) {
        return Err(invalid("a prefix cannot hold a catch-all"));
    }
    Ok(())
}

/// `{scope}/{*name}`, with a catch-all name that no parameter of `scope` uses (fallbacks see no
/// parameters, but a pattern may not name one twice).
fn fallback_pattern(scope: &str) -> Result<String, RouteError> {
    let names = Pattern::parse(scope)?.names;
    let mut name = String::from("path");
    while names.iter().any(|n| **n == *name) {
        name.push('_');
    }
    Ok(format!("{scope}/{{*{name}}}"))
}

impl<B: Send + 'static> RouterBuilder<B> {
    /// An empty builder; same as [`Router::builder`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes requests whose path matches `pattern` to `methods`.
    ///
    /// Patterns: static segments, parameters `{id}` or `:id`, and a final catch-all `{*rest}`.
    /// Adding methods to a pattern that is already routed merges them.
    pub fn route(mut self, pattern: &str, methods: MethodRouter<B>) -> Self {
        if let Err(err) = self.try_add(pattern, methods, Kind::Route, None) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Like [`route`](Self::route), but returns the error at once.
    pub fn try_route(
        mut self,
        pattern: &str,
        methods: MethodRouter<B>,
    ) -> Result<Self, RouteError> {
        self.try_add(pattern, methods, Kind::Route, None)?;
        Ok(self)
    }

    /// Routes requests whose path matches `pattern` to `methods` when `accept` takes the path's
    /// parameter values, percent-decoded. When it refuses them, the router goes on looking as
    /// if the route were not there: a route of lower precedence for the path answers (a
    /// catch-all, say), or the fallback's `404`. Actix-web's guards and Starlette's convertors
    /// (`{id:int}`) work this way; `accept` is the place for a check of the shape of a value,
    /// not for validation that deserves a `400` or `422`.
    ///
    /// `accept` sees the parameters of the whole pattern, those of the prefixes it is
    /// [nested](Self::nest) under included, by name. It is a pure predicate: it may be asked
    /// more than once for one request, and only for the paths that reach this route. It should
    /// not panic; if it does, the panic surfaces as a handler's would, when the request's
    /// future is polled (and [`Router::at`] and [`Router::route_key`] propagate it). A value
    /// that does not decode to UTF-8 is not shown to it: the route takes the path and answers
    /// the `400` of such a value, as any route does.
    ///
    /// The guard decides whether the route is the path's; the methods are decided after, as
    /// for any route: a path whose values the route takes but whose method it lacks is a
    /// `405` listing its methods, even when a route of lower precedence has that method.
    ///
    /// A guarded route owns its pattern: another route of the same shape is a
    /// [`RouteError::Conflict`], and so is a guarded catch-all where a [nested](Self::nest)
    /// builder's fallback is mounted.
    ///
    /// ```
    /// use armature_router::{get, PathParams, Router};
    /// use http::{Request, StatusCode};
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let numeric = |params: &PathParams| params["page"].bytes().all(|b| b.is_ascii_digit());
    /// let router = Router::builder()
    ///     .route_if("/docs/{page}", numeric, get(|_req: Request<()>| async { "page by number" }))
    ///     .route("/docs/{*rest}", get(|_req: Request<()>| async { "a file" }))
    ///     .build()?;
    /// let text = |res: http::Response<armature_router::Body>| async {
    ///     http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes()
    /// };
    /// let res = router.clone().oneshot(Request::get("/docs/12").body(())?).await?;
    /// assert_eq!(text(res).await, "page by number");
    /// let res = router.clone().oneshot(Request::get("/docs/intro").body(())?).await?;
    /// assert_eq!(text(res).await, "a file");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn route_if<F>(mut self, pattern: &str, accept: F, methods: MethodRouter<B>) -> Self
    where
        F: Fn(&PathParams) -> bool + Send + Sync + 'static,
    {
        if let Err(err) = self.try_add(pattern, methods, Kind::Route, Some(Arc::new(accept))) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Like [`route_if`](Self::route_if), but returns the error at once.
    pub fn try_route_if<F>(
        mut self,
        pattern: &str,
        accept: F,
        methods: MethodRouter<B>,
    ) -> Result<Self, RouteError>
    where
        F: Fn(&PathParams) -> bool + Send + Sync + 'static,
    {
        self.try_add(pattern, methods, Kind::Route, Some(Arc::new(accept)))?;
        Ok(self)
    }

    fn try_add(
        &mut self,
        given: &str,
        mut methods: MethodRouter<B>,
        kind: Kind,
        guard: Option<Guard>,
    ) -> Result<(), RouteError> {
        let pattern = Pattern::parse(given)?;
        let shape = pattern.shape().to_string();
        let duplicate = methods.duplicate.take();
        let beside_any = || methods.any_overlap(&MethodRouter::new());
        if let Some(method) = duplicate.or_else(|| self.exclusive_any.then(beside_any).flatten()) {
            return Err(RouteError::DuplicateMethod {
                route: given.to_owned(),
                existing: given.to_owned(),
                method,
            });
        }
        if let Kind::Mounted(mount) = &kind {
            if pattern.segments.last() == Some(&Segment::CatchAll) {
                // What comes before the catch-all is the prefix.
                let (segments, params) = (pattern.segments.len() - 1, pattern.names.len() - 1);
                mount.store((segments as u64) << 32 | params as u64, Ordering::Relaxed);
            }
        }
        let Some(&index) = self.shapes.get(&shape) else {
            self.shapes.insert(shape, self.routes.len());
            self.routes.push(RouteDef {
                given: given.to_owned(),
                pattern,
                methods,
                kind,
                guard,
            });
            return Ok(());
        };
        let existing = &mut self.routes[index];
        // A catch-all route or mount where a scope's fallback is mounted leaves that fallback
        // nothing to answer (as one inside the scope does): it takes the fallback's place. A
        // guarded catch-all would leave it what its guard refuses: that is a conflict.
        match (&existing.kind, &kind) {
            (Kind::Fallback, Kind::Route | Kind::Mounted(_)) if guard.is_none() => {
                *existing = RouteDef {
                    given: given.to_owned(),
                    pattern,
                    methods,
                    kind,
                    guard,
                };
                return Ok(());
            }
            (Kind::Route | Kind::Mounted(_), Kind::Fallback) if existing.guard.is_none() => {
                return Ok(())
            }
            _ => {}
        }
        // Only routes merge: a nested fallback or a mounted service would share `any`, and
        // a guarded route owns its shape (whose guard would the merged route ask?).
        if existing.pattern.template != pattern.template
            || existing.guard.is_some()
            || guard.is_some()
            || !matches!(existing.kind, Kind::Route)
            || !matches!(kind, Kind::Route)
        {
            return Err(RouteError::Conflict {
                route: given.to_owned(),
                existing: existing.given.clone(),
            });
        }
        existing
            .methods
            .merge(methods, self.exclusive_any)
            .map_err(|method| RouteError::DuplicateMethod {
                route: given.to_owned(),
                existing: existing.given.clone(),
                method,
            })
    }

    /// Mounts `service` under `prefix` for every method, as axum's `nest_service`: a request
    /// for `prefix`, `prefix/` or anything below reaches it with the prefix taken off its
    /// path (the query kept): tower-http's `ServeDir` mounted at `/static` serves
    /// `/static/css/site.css` from `css/site.css`. The segments are counted on the path as
    /// sent, so the rest keeps its percent-encoding for the service to decode; the target as
    /// sent is the request's [`OriginalUri`](crate::OriginalUri). The routes it adds
    /// (`prefix`, `prefix/`, `prefix/{*path}`) conflict with routes of the same shape.
    ///
    /// ```
    /// use armature_router::{handler_fn, Router};
    /// use http::Request;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let files = handler_fn(|req: Request<()>| async move { format!("file {}", req.uri()) });
    /// let router = Router::builder().nest_service("/static", files).build()?;
    /// let res = router.clone().oneshot(Request::get("/static/css/site.css?v=2").body(())?).await?;
    /// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert_eq!(body, "file /css/site.css?v=2");
    /// let res = router.oneshot(Request::get("/static").body(())?).await?;
    /// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert_eq!(body, "file /");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn nest_service<S>(mut self, prefix: &str, service: S) -> Self
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        if let Err(err) = self.add_service(prefix, service) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Like [`nest_service`](Self::nest_service), but returns the error at once.
    pub fn try_nest_service<S>(mut self, prefix: &str, service: S) -> Result<Self, RouteError>
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.add_service(prefix, service)?;
        Ok(self)
    }

    fn add_service<S>(&mut self, prefix: &str, service: S) -> Result<(), RouteError>
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        check_prefix(prefix)?;
        let mount = Mount::default();
        let mounted = StripPrefix {
            inner: service,
            mount: Arc::clone(&mount),
        };
        let endpoint = || MethodRouter::new().any_endpoint(Endpoint::from_service(mounted.clone()));
        let kind = Kind::Mounted(mount);
        self.try_add(prefix, endpoint(), kind.clone(), None)?;
        self.try_add(&format!("{prefix}/"), endpoint(), kind.clone(), None)?;
        self.try_add(&fallback_pattern(prefix)?, endpoint(), kind, None)
    }

    /// Mounts every route of `routes` under `prefix` (a scope): `/users/{id}` nested at
    /// `/api/v1` becomes `/api/v1/users/{id}`, and a nested `/` becomes `/api/v1` itself.
    ///
    /// Layers added to `routes` stay on its routes only (per-scope middleware). A fallback of
    /// `routes` answers every unmatched path under the prefix, as `{prefix}/{*path}` (unless
    /// a catch-all route there, `/{*rest}` of `routes` or `{prefix}/{*rest}` of this builder
    /// added before or after, or a service mounted at the prefix, leaves it nothing to
    /// answer; a [guarded](Self::route_if) catch-all there would leave it what the guard
    /// refuses, and is a [`RouteError::Conflict`] with it); like the
    /// root fallback, its answers carry no [`MatchedRoute`](crate::MatchedRoute), it is not
    /// listed by [`Router::routes`] and no scope layer wraps it.
    ///
    /// Router-wide settings are the outer builder's: a nested builder's
    /// [`redirect_trailing_slash`](Self::redirect_trailing_slash),
    /// [`matched_route_extension`](Self::matched_route_extension) and
    /// [`eager_handlers`](Self::eager_handlers) are not used; set them on the builder that is
    /// built.
    pub fn nest(mut self, prefix: &str, routes: RouterBuilder<B>) -> Self {
        if let Err(err) = self.add_nested(prefix, routes) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Like [`nest`](Self::nest), but returns the error at once: with
    /// [`try_route`](Self::try_route), a table can be checked route by route as it grows
    /// (as the Node and Python bindings do at each registration), without building it.
    ///
    /// ```
    /// use armature_router::{get, RouteError, Router};
    /// use http::Request;
    ///
    /// let users = || Router::builder().route("/users/{id}", get(|_req: Request<()>| async { "user" }));
    /// let app = Router::builder().try_nest("/api", users())?;
    /// let clash = Router::builder().route("/api/users/{name}", get(|_req: Request<()>| async { "other" }));
    /// assert!(matches!(
    ///     clash.try_nest("/", users()),
    ///     Err(RouteError::InvalidPrefix { .. })
    /// ));
    /// let clash = Router::builder().route("/api/users/{name}", get(|_req: Request<()>| async { "other" }));
    /// assert!(matches!(clash.try_nest("/api", users()), Err(RouteError::Conflict { .. })));
    /// # let _ = app;
    /// # Ok::<(), RouteError>(())
    /// ```
    pub fn try_nest(mut self, prefix: &str, routes: RouterBuilder<B>) -> Result<Self, RouteError> {
        self.add_nested(prefix, routes)?;
        Ok(self)
    }

    fn add_nested(&mut self, prefix: &str, routes: RouterBuilder<B>) -> Result<(), RouteError> {
        check_prefix(prefix)?;
        if let Some(err) = routes.error {
            return Err(err);
        }
        // An unguarded catch-all route at the root of `routes` leaves its fallback nothing to
        // answer (as at the root of a router), so the fallback is not mounted.
        let catches_all = routes
            .shapes
            .get("/{*}")
            .is_some_and(|&at| routes.routes[at].guard.is_none());
        for route in routes.routes {
            let renamed = match route.kind {
                Kind::Fallback => true,
                // A mount's catch-all too (its name is the mount's own, not the user's).
                Kind::Mounted(_) => route.pattern.segments.last() == Some(&Segment::CatchAll),
                Kind::Route => false,
            };
            let joined = if renamed {
                // Re-name the catch-all of a deeper scope's fallback against the new prefix.
                let scope = route.given.rsplit_once('/').map_or("", |(scope, _)| scope);
                fallback_pattern(&format!("{prefix}{scope}"))?
            } else if route.given == "/" {
                prefix.to_owned()
            } else {
                format!("{prefix}{}", route.given)
            };
            self.try_add(&joined, route.methods, route.kind, route.guard)?;
        }
        if let Some(fallback) = routes.fallback.filter(|_| !catches_all) {
            let methods = MethodRouter::new().any_endpoint(fallback);
            self.try_add(&fallback_pattern(prefix)?, methods, Kind::Fallback, None)?;
        }
        Ok(())
    }

    /// Wraps every route added *so far* in `layer` (per-scope middleware). Routes added later
    /// and fallbacks (nested ones included) are not wrapped; wrap the built [`Router`] itself (with
    /// `tower::ServiceBuilder`) for middleware that sees every request.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<EndpointService<B>>,
        L::Service: Service<Request<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<B>>>::Response: IntoResponse,
        <L::Service as Service<Request<B>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<B>>>::Future: Send + 'static,
    {
        for route in self
            .routes
            .iter_mut()
            .filter(|r| !matches!(r.kind, Kind::Fallback))
        {
            let methods = std::mem::take(&mut route.methods);
            route.methods = methods.map_endpoints(|e| e.layer(&layer));
        }
        self
    }

    /// Answers requests no route matches (default: `404 Not Found`).
    pub fn fallback<H: Handler<B>>(mut self, handler: H) -> Self {
        self.fallback = Some(Endpoint::from_handler(handler));
        self
    }

    /// Like [`fallback`](Self::fallback) with a tower service (e.g. a static file server).
    pub fn fallback_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.fallback = Some(Endpoint::from_service(service));
        self
    }

    /// Answers requests whose path a route matches but whose method it does not serve
    /// (default: `405 Method Not Allowed` in plain text). The router adds the `Allow` header
    /// listing the route's methods to a `405` answer, unless it has one (another status, a
    /// `401` of a check in front, gets none). For the whole router,
    /// nested routes included (set on a [nested](Self::nest) builder, it is not used).
    ///
    /// ```
    /// use armature_router::{get, IntoResponse, Router};
    /// use http::{header, Request, StatusCode};
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let router = Router::builder()
    ///     .route("/users", get(|_req: Request<()>| async { "list" }))
    ///     .method_not_allowed_fallback(|_req: Request<()>| async {
    ///         let body = r#"{"detail":"Method Not Allowed"}"#;
    ///         (StatusCode::METHOD_NOT_ALLOWED, [(header::CONTENT_TYPE, "application/json")], body)
    ///     })
    ///     .build()?;
    /// let res = router.oneshot(Request::delete("/users").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    /// assert_eq!(res.headers()[header::ALLOW], "GET,HEAD");
    /// assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn method_not_allowed_fallback<H: Handler<B>>(mut self, handler: H) -> Self {
        self.method_not_allowed = Some(Endpoint::from_handler(handler));
        self
    }

    /// How the router writes the error answers it makes itself: `400` for a path with invalid
    /// percent-encoding or a parameter that is not UTF-8, and the `404` and `405` that no
    /// [`fallback`](Self::fallback) or [`method_not_allowed_fallback`](Self::method_not_allowed_fallback)
    /// replaces (the router adds `Allow` to the `405`). Given the status and a short message;
    /// by default the message as `text/plain`. An app whose errors are JSON makes these JSON
    /// too. Only the builder that is built counts, as for the fallbacks.
    ///
    /// ```
    /// use armature_router::{get, IntoResponse, Response, Router};
    /// use http::{header, Request, StatusCode};
    /// use tower::ServiceExt;
    ///
    /// fn json_error(status: StatusCode, message: &'static str) -> Response {
    ///     let body = format!(r#"{{"detail":"{message}"}}"#);
    ///     (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    /// }
    ///
    /// # tokio_test::block_on(async {
    /// let router = Router::builder()
    ///     .route("/files/{name}", get(|_req: Request<()>| async { "a file" }))
    ///     .error_answer(json_error)
    ///     .build()?;
    /// let res = router.clone().oneshot(Request::get("/files/%FF").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    /// assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    /// let res = router.oneshot(Request::get("/nope").body(())?).await?;
    /// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert_eq!(body, r#"{"detail":"Not Found"}"#);
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn error_answer(mut self, answer: ErrorAnswer) -> Self {
        self.error_answer = answer;
        self
    }

    /// When a path does not match but the same path with the trailing slash added or removed
    /// does, answer `308 Permanent Redirect` to it (query kept) instead of the fallback.
    /// Off by default: routing is strict about trailing slashes. It applies to the whole
    /// router, nested routes included; set on a builder that is [nested](Self::nest), it is
    /// not used. It never redirects to a path starting `//` or `/\`, which a browser would
    /// take for another host (`/\evil.com/` is not sent to `/\evil.com`).
    pub fn redirect_trailing_slash(mut self, enabled: bool) -> Self {
        self.redirect_trailing_slash = enabled;
        self
    }

    /// Whether a routed request carries its [`MatchedRoute`](crate::MatchedRoute) in its
    /// extensions for the handler (and the route's layers). On by default.
    ///
    /// A request's extension map is allocated on its first insert, so on a route without
    /// parameters this extension is the map: three allocations and their frees, about 700
    /// instructions a request (measured in BENCHMARKS.md). An app whose handlers never read it
    /// can turn it off. Layers outside the router do not need it: they learn the route through
    /// [`observe`](crate::observe) or [`ReportMatchedRoute`](crate::ReportMatchedRoute), which
    /// work either way. [`PathParams`](crate::PathParams) are inserted either way.
    ///
    /// Only the builder that is built counts: a builder given to [`nest`](Self::nest) keeps
    /// the setting of the one it is nested into.
    ///
    /// ```
    /// use armature_router::{get, MatchedRoute, Router};
    /// use http::Request;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let router = Router::builder()
    ///     .route("/health", get(|req: Request<()>| async move {
    ///         match req.extensions().get::<MatchedRoute>() {
    ///             Some(route) => format!("matched {route}"),
    ///             None => "no route extension".to_owned(),
    ///         }
    ///     }))
    ///     .matched_route_extension(false)
    ///     .build()?;
    /// let res = router.oneshot(Request::get("/health").body(())?).await?;
    /// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert_eq!(body, "no route extension");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn matched_route_extension(mut self, enabled: bool) -> Self {
        self.matched_route_extension = enabled;
        self
    }

    /// Polls each endpoint's future once inside [`Router::call`], as soon as it is made
    /// (off by default).
    ///
    /// Most handlers finish without waiting for anything; polled in `call`, such a handler is
    /// done, and has dropped its request, before the server goes on. That saves hyper's HTTP/1
    /// connections a fresh 8 KiB read buffer for every request whose handler holds its request
    /// (a handler reading path parameters, say): ~5% of the server's work on such a route,
    /// measured in BENCHMARKS.md. A future that is not done is polled again as usual, with
    /// the caller's waker; a panic in that first poll is raised when the future is polled.
    ///
    /// What it changes: a handler's code up to its first `.await` then runs in `call`, not in
    /// the returned future. A layer that only wraps the future — `inner.call(req).instrument(span)`,
    /// or a tokio task-local `scope` around it — does not cover that code; one that also
    /// enters its span around `call`, as tower-http's `TraceLayer` does, does. Leave it off
    /// when layers around the router work that way.
    ///
    /// ```
    /// use armature_router::{get, Router};
    /// use http::Request;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let router = Router::builder()
    ///     .route("/users/{id}", get(|_req: Request<()>| async { "Alice" }))
    ///     .eager_handlers(true)
    ///     .build()?;
    /// let res = router.oneshot(Request::get("/users/7").body(())?).await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn eager_handlers(mut self, enabled: bool) -> Self {
        self.eager_handlers = enabled;
        self
    }

    /// Whether a catch-all also matches an empty rest: `/files/{*path}` answers `/files/`
    /// with `path` empty (off by default). Off, a catch-all needs at least one character, as
    /// in matchit and axum, and `/files/` goes to the fallback (or to a route of its own);
    /// on, it matches as Fastify's `/files/*` and Starlette's `{path:path}` do. Either way
    /// `/files` (no slash) is not matched by it, and a static route of the same path wins.
    /// It applies to the whole router, nested routes included; set on a builder that is
    /// [nested](Self::nest), it is not used.
    ///
    /// ```
    /// use armature_router::{get, PathParams, Router};
    /// use http::{Request, StatusCode};
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let files = || get(|req: Request<()>| async move {
    ///     format!("[{}]", req.extensions().get::<PathParams>().and_then(|p| p.get("path")).unwrap_or("?"))
    /// });
    /// let strict = Router::builder().route("/files/{*path}", files()).build()?;
    /// let res = strict.oneshot(Request::get("/files/").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::NOT_FOUND);
    ///
    /// let lenient = Router::builder()
    ///     .route("/files/{*path}", files())
    ///     .catch_all_matches_empty(true)
    ///     .build()?;
    /// let res = lenient.oneshot(Request::get("/files/").body(())?).await?;
    /// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
    /// assert_eq!(body, "[]");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn catch_all_matches_empty(mut self, enabled: bool) -> Self {
        self.empty_catch_all = enabled;
        self
    }

    /// Whether an [`any`](crate::any) endpoint claims every method of its path, so that it
    /// cannot share the path with endpoints of single methods (off by default). Off, as in
    /// axum, `any` answers the methods that have no endpoint of their own: `/x` may have
    /// `get(a)` and `any(b)`, and `GET /x` goes to `a` whichever came first. On, as Fastify's
    /// `all` (which declares every method), that pair is a [`RouteError::DuplicateMethod`]
    /// naming the single method, in either order, on one route or two. It applies to the
    /// routes added to this builder after it is set, and to those nested into it.
    ///
    /// ```
    /// use armature_router::{any, get, RouteError, Router};
    /// use http::{Method, Request};
    ///
    /// let all = || any(|_req: Request<()>| async { "all" });
    /// let one = || get(|_req: Request<()>| async { "one" });
    /// assert!(Router::builder().route("/x", all()).route("/x", one()).build().is_ok());
    /// let err = Router::builder()
    ///     .exclusive_any(true)
    ///     .route("/x", one())
    ///     .route("/x", all())
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, RouteError::DuplicateMethod { method, .. } if method == Method::GET));
    /// ```
    pub fn exclusive_any(mut self, enabled: bool) -> Self {
        self.exclusive_any = enabled;
        self
    }

    /// Whether a route that matches a path but lacks the request's method is passed over, so
    /// that a route of lower precedence with the method answers: with `GET /users/{id}` and
    /// `POST /users/me`, `GET /users/me` is `/users/{id}`'s. Off by default (a path's most
    /// specific route decides, as in axum: `405`); on, the router matches as Fastify's
    /// find-my-way, which keeps a tree per method. A path none of whose routes has the method
    /// is still a `405`, whose `Allow` then lists the methods of every route for the path,
    /// most specific first; the route it reports is the most specific one.
    ///
    /// [`Router::at`] and [`Router::route_key`] know no method and keep matching by path.
    ///
    /// ```
    /// use armature_router::{get, post, Router};
    /// use http::{Request, StatusCode};
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let router = Router::builder()
    ///     .backtrack_on_method(true)
    ///     .route("/users/{id}", get(|_req: Request<()>| async { "one user" }))
    ///     .route("/users/me", post(|_req: Request<()>| async { "updated" }))
    ///     .build()?;
    /// let res = router.clone().oneshot(Request::get("/users/me").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::OK); // `/users/{id}` answered
    /// let res = router.oneshot(Request::delete("/users/me").body(())?).await?;
    /// assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    /// assert_eq!(res.headers()["allow"], "POST,GET,HEAD");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn backtrack_on_method(mut self, enabled: bool) -> Self {
        self.backtrack_on_method = enabled;
        self
    }

    /// Compiles the route table. Returns the first error met while adding routes.
    pub fn build(self) -> Result<Router<B>, RouteError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let mut tree = Node::default();
        let mut statics = Statics::default();
        let mut entries = Vec::with_capacity(self.routes.len());
        let mut keys = KeyChain::default();
        let guarded = self.routes.iter().any(|route| route.guard.is_some());
        for (index, route) in self.routes.into_iter().enumerate() {
            let Pattern {
                segments,
                names,
                template,
            } = route.pattern;
            if let Err(existing) = tree.insert(&segments, index) {
                // Shapes were deduplicated while adding, so this is unreachable; report it
                // as a conflict rather than panic all the same.
                let existing: &Entry<B> = &entries[existing];
                return Err(RouteError::Conflict {
                    route: route.given,
                    existing: existing.template.to_string(),
                });
            }
            if names.is_empty() {
                statics.insert(template.clone(), index);
            }
            // Keyed in `Router::routes` order, which leaves nested fallbacks out.
            let fallback = matches!(route.kind, Kind::Fallback);
            let key = (!fallback).then(|| keys.key(&template));
            entries.push(Entry {
                key,
                allow: route.methods.allow_header(),
                template: Arc::from(template),
                names: Arc::from(names),
                methods: route.methods,
                fallback,
                guard: route.guard,
            });
        }
        let error_answer = self.error_answer;
        let fallback = self.fallback.unwrap_or_else(|| {
            Endpoint::from_handler(move |_req: Request<B>| async move {
                error_answer(StatusCode::NOT_FOUND, "Not Found")
            })
        });
        Ok(Router::from_inner(Inner {
            statics,
            tree: Table::compile(&tree, self.empty_catch_all),
            entries,
            fallback,
            method_not_allowed: self.method_not_allowed,
            redirect_trailing_slash: self.redirect_trailing_slash,
            error_answer,
            matched_route_extension: self.matched_route_extension,
            eager_handlers: self.eager_handlers,
            guarded,
            backtrack_on_method: self.backtrack_on_method,
            plain: !guarded && !self.backtrack_on_method,
        }))
    }
}
