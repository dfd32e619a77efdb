//! The compiled router: a `tower::Service` that dispatches by path and method.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, LOCATION};
use http::{Method, Request, StatusCode};
use http_body::Body as _;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::builder::RouterBuilder;
use crate::handler::{Endpoint, EndpointFuture};
use crate::method_router::MethodRouter;
use crate::observe::{self, RouteKey};
use crate::params::{MatchedRoute, PathParams, ReportMatchedRoute};
use crate::path::{decode_param, normalize, InvalidPath};
use crate::response::{ErrorAnswer, IntoResponse, Response};
use crate::statics::Statics;
use crate::table::{Spans, Table};
use crate::Body;

pub(crate) struct Entry<B> {
    pub(crate) template: Arc<str>,
    /// Its key (see [`RouteKey`]); `None` for a nested fallback, which is not a route.
    pub(crate) key: Option<RouteKey>,
    pub(crate) names: Arc<[Box<str>]>,
    pub(crate) methods: MethodRouter<B>,
    pub(crate) allow: HeaderValue,
    /// A nested builder's fallback (`{prefix}/{*path}`): answers as a fallback, not a route.
    pub(crate) fallback: bool,
    /// What decides whether the route takes a path's parameter values
    /// ([`RouterBuilder::route_if`]); `None` takes them all.
    pub(crate) guard: Option<Guard>,
}

impl<B> Entry<B> {
    /// The route's parameters: the values at `spans` of `path`, percent-decoded.
    fn params(&self, path: &str, spans: &[(usize, usize)]) -> Result<PathParams, InvalidPath> {
        let mut params = PathParams::with_names(Arc::clone(&self.names));
        for &(start, end) in spans {
            params.push(&decode_param(&path[start..end])?);
        }
        Ok(params)
    }
}

/// A route's predicate on its decoded parameter values ([`RouterBuilder::route_if`]).
pub(crate) type Guard = Arc<dyn Fn(&PathParams) -> bool + Send + Sync>;

/// A guard's panic, on its way to where it surfaces.
type Panic = Box<dyn Any + Send>;

pub(crate) struct Inner<B> {
    /// Routes without parameters, by exact (normalized) path: one hash lookup.
    pub(crate) statics: Statics,
    pub(crate) tree: Table,
    pub(crate) entries: Vec<Entry<B>>,
    pub(crate) fallback: Endpoint<B>,
    /// What answers a matched path's unserved method, when not the router's own `405`.
    pub(crate) method_not_allowed: Option<Endpoint<B>>,
    pub(crate) redirect_trailing_slash: bool,
    /// How the router writes its own `400`, `404` and `405` (`RouterBuilder::error_answer`).
    pub(crate) error_answer: ErrorAnswer,
    /// Whether routed requests get a [`MatchedRoute`] extension.
    pub(crate) matched_route_extension: bool,
    /// Whether endpoints' futures are polled once in `call` (`RouterBuilder::eager_handlers`).
    pub(crate) eager_handlers: bool,
    /// Whether any entry has a guard (if none, lookups skip asking).
    pub(crate) guarded: bool,
    /// Whether a route lacking the method is passed over (`RouterBuilder::backtrack_on_method`).
    pub(crate) backtrack_on_method: bool,
    /// Neither: `call` looks up by path alone, with no guard to ask.
    pub(crate) plain: bool,
}

/// An HTTP router: a `tower::Service<http::Request<B>>`, generic over the request body.
///
/// Build one with [`Router::builder`]. Cloning is cheap (one `Arc`); the route table is
/// compiled once and never rebuilt per request.
///
/// What it answers by itself:
/// * `404 Not Found` from the fallback when no route matches;
/// * `405 Method Not Allowed` with an `Allow` header when the path matches but not the method;
/// * `HEAD` with the `GET` endpoint's status and headers and no body (unless `HEAD` has its own);
/// * `400 Bad Request` for a path with invalid percent-encoding, or a parameter that does not
///   decode to UTF-8 (see the [decoding policy](crate#percent-decoding-policy)).
///
/// ```
/// use armature_router::{get, Router};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/plaintext", get(|_req: Request<()>| async { "Hello, World!" }))
///     .build()?;
/// let res = router.oneshot(Request::get("/plaintext").body(())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub struct Router<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Router<B> {
    fn clone(&self) -> Self {
        Router {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B> fmt::Debug for Router<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes().collect::<Vec<_>>())
            .finish()
    }
}

impl<B: Send + 'static> Router<B> {
    /// Starts a [`RouterBuilder`].
    pub fn builder() -> RouterBuilder<B> {
        RouterBuilder::new()
    }
}

impl<B> Router<B> {
    pub(crate) fn from_inner(inner: Inner<B>) -> Self {
        Router {
            inner: Arc::new(inner),
        }
    }

    /// Every route as `(template, methods)`, in the order they were added. This is the table
    /// that serves requests (OpenAPI generation reads it too). A route with an
    /// [`any`](crate::any) endpoint lists every standard method, which it answers.
    ///
    /// ```
    /// use armature_router::{any, get, Router};
    /// use http::{Method, Request};
    ///
    /// let router = Router::builder()
    ///     .route("/users", get(|_req: Request<()>| async { "list" }))
    ///     .route("/hook", any(|_req: Request<()>| async { "any" }))
    ///     .build()?;
    /// let routes: Vec<_> = router.routes().collect();
    /// assert_eq!(routes[0], ("/users", vec![Method::GET]));
    /// assert!(routes[1].1.contains(&Method::POST) && routes[1].1.contains(&Method::DELETE));
    /// # Ok::<_, armature_router::RouteError>(())
    /// ```
    pub fn routes(&self) -> impl Iterator<Item = (&str, Vec<http::Method>)> + '_ {
        self.inner
            .entries
            .iter()
            .filter(|e| !e.fallback)
            .map(|e| (&*e.template, e.methods.served()))
    }

    /// The values of type `T` attached with [`MethodRouter::metadata`] to the route
    /// `template` (as listed by [`routes`](Self::routes)), with the method each is attached to.
    ///
    /// A value attached to a method the route does not serve is listed as well, so a tool can
    /// report it rather than document an operation nobody answers.
    pub fn metadata<T: Any + Send + Sync>(
        &self,
        template: &str,
    ) -> impl Iterator<Item = (&http::Method, &T)> + '_ {
        // Templates are unique in a built router, so the first entry is the only one.
        let entry = self
            .inner
            .entries
            .iter()
            .find(|e| !e.fallback && *e.template == *template);
        entry
            .into_iter()
            .flat_map(|e| e.methods.metadata.iter())
            .filter_map(|(m, v)| (**v).downcast_ref::<T>().map(|v| (m, v)))
    }

    /// Looks up the route for an already-normalized `path` without calling anything: the
    /// matched template and the raw (still percent-encoded) parameter values. `None` when no
    /// route matches. Allocation-free for up to four parameters.
    ///
    /// The service itself first normalizes the path (see the
    /// [decoding policy](crate#percent-decoding-policy)); `at` matches `path` exactly as given.
    ///
    /// ```
    /// use armature_router::{get, Router};
    ///
    /// let router = Router::<()>::builder()
    ///     .route("/repos/{owner}/{repo}", get(|_req: http::Request<()>| async { "" }))
    ///     .build()
    ///     .unwrap();
    /// let found = router.at("/repos/rust-lang/rust").unwrap();
    /// assert_eq!(found.template(), "/repos/{owner}/{repo}");
    /// assert_eq!(found.params().collect::<Vec<_>>(), [("owner", "rust-lang"), ("repo", "rust")]);
    /// assert!(router.at("/repos/rust-lang").is_none());
    /// ```
    pub fn at<'r, 'p>(&'r self, path: &'p str) -> Option<RouteMatch<'r, 'p>> {
        let mut spans = Spans::new();
        let index = self
            .find(path, &mut spans)
            .unwrap_or_else(|p| resume_unwind(p))?;
        if self.inner.entries[index].fallback {
            return None;
        }
        Some(RouteMatch {
            entry_template: &self.inner.entries[index].template,
            names: &self.inner.entries[index].names,
            path,
            spans,
        })
    }

    /// The [`RouteKey`] of every route, in [`routes`](Self::routes) order: what a layer
    /// [observing](crate::observe) this router, or one built with the same routes first,
    /// is told when the route matches.
    ///
    /// ```
    /// use armature_router::{get, Router};
    /// use http::Request;
    ///
    /// let router = Router::<()>::builder()
    ///     .route("/a", get(|_r: Request<()>| async { "" }))
    ///     .route("/b", get(|_r: Request<()>| async { "" }))
    ///     .build()
    ///     .unwrap();
    /// let numbers: Vec<usize> = router.route_keys().map(|key| key.number()).collect();
    /// assert_eq!(numbers, [0, 1]);
    /// ```
    pub fn route_keys(&self) -> impl Iterator<Item = RouteKey> + '_ {
        self.inner.entries.iter().filter_map(|e| e.key)
    }

    /// The key of the route that would serve a request for `path`, the path of a request
    /// target as received: percent-decoded and matched exactly as
    /// [`call`](tower_service::Service::call) does. `None` when the fallback would answer, or
    /// the path is not valid percent-encoding.
    ///
    /// A layer that labels a request the router never saw (one an outer layer refused) finds
    /// its route with this; [`observe`](crate::observe) is cheaper for the ones it does see.
    ///
    /// ```
    /// use armature_router::{get, Router};
    /// use http::Request;
    ///
    /// let router = Router::<()>::builder()
    ///     .route("/health", get(|_req: Request<()>| async { "ok" }))
    ///     .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
    ///     .build()
    ///     .unwrap();
    /// let number = |path| router.route_key(path).map(|key| key.number());
    /// assert_eq!(number("/users/%41"), Some(1));
    /// assert_eq!(number("/%68ealth"), Some(0)); // `%68` is `h`
    /// assert_eq!(number("/users"), None);
    /// assert_eq!(number("/users/%zz"), None);
    /// ```
    pub fn route_key(&self, path: &str) -> Option<RouteKey> {
        let path = normalize(path).ok()?;
        let index = self
            .find(&path, &mut Spans::new())
            .unwrap_or_else(|p| resume_unwind(p))?;
        self.inner.entries[index].key
    }

    /// Which route (by index into `entries`) matches `path`, with its parameter spans.
    /// `Err` holds a guard's panic: [`call`](Service::call) keeps it to surface where a
    /// handler's would, when the request's future is polled, rather than unwind through its
    /// caller (over HTTP/2, the connection's task and all its streams).
    fn find(&self, path: &str, spans: &mut Spans) -> Result<Option<usize>, Panic> {
        if self.inner.guarded {
            return catch_unwind(AssertUnwindSafe(|| self.find_guarded(path, spans)));
        }
        Ok(self.find_plain(path, spans))
    }

    /// The lookup when no route has a guard.
    #[inline(always)]
    fn find_plain(&self, path: &str, spans: &mut Spans) -> Option<usize> {
        if let Some(index) = self.inner.statics.get(path) {
            return Some(index);
        }
        self.inner.tree.at(path, spans)
    }

    /// What [`call`](Service::call) looks up when the router has guards or backtracks on the
    /// method: the route for `path` and `method`.
    #[inline(never)]
    fn find_slow(
        &self,
        path: &str,
        spans: &mut Spans,
        method: &Method,
    ) -> Result<Option<usize>, Panic> {
        match self.inner.backtrack_on_method {
            true => self.find_serving(path, spans, method),
            false => self.find(path, spans),
        }
    }

    /// [`find`](Self::find) when some route has a guard: a route whose guard refuses the
    /// decoded values is passed over, and the search backtracks to the next candidate.
    #[inline(never)]
    fn find_guarded(&self, path: &str, spans: &mut Spans) -> Option<usize> {
        self.find_where(path, spans, |_| true)
    }

    /// The first route in precedence for `path` that its guard (if any) and `also` take.
    fn find_where(
        &self,
        path: &str,
        spans: &mut Spans,
        mut also: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let entries = &self.inner.entries;
        let mut accept = |index: usize, spans: &Spans| {
            let entry = &entries[index];
            let Some(guard) = &entry.guard else {
                return also(index);
            };
            match entry.params(path, spans) {
                Ok(params) => guard(&params) && also(index),
                // The route's to answer: with the `400` a value that is not UTF-8 gets.
                Err(InvalidPath) => also(index),
            }
        };
        if let Some(index) = self.inner.statics.get(path) {
            if accept(index, spans) {
                return Some(index);
            }
        }
        self.inner.tree.at_where(path, spans, &mut accept)
    }

    /// With [`backtrack_on_method`](RouterBuilder::backtrack_on_method): the first route for
    /// `path` that serves `method`, else the first for the path (whose `405` is answered; its
    /// spans are not needed, and left empty).
    fn find_serving(
        &self,
        path: &str,
        spans: &mut Spans,
        method: &Method,
    ) -> Result<Option<usize>, Panic> {
        let entries = &self.inner.entries;
        let mut first = None;
        // Not a nested fallback: a route that lacks the method is still the path's (`405`).
        let serves = |index: usize| {
            first.get_or_insert(index);
            !entries[index].fallback && entries[index].methods.endpoint(method).is_some()
        };
        let found = catch_unwind(AssertUnwindSafe(|| self.find_where(path, spans, serves)))?;
        Ok(found.or(first))
    }

    /// With [`backtrack_on_method`](RouterBuilder::backtrack_on_method), the `Allow` of a
    /// path no route of which serves the method: the methods of every route for the path.
    #[cold]
    fn allow_across(&self, path: &str) -> Result<HeaderValue, Panic> {
        let entries = &self.inner.entries;
        let mut methods: Vec<&str> = Vec::new();
        let mut collect = |index: usize| {
            let entry = &entries[index];
            if !entry.fallback {
                let allow = entry.allow.to_str().unwrap_or_default();
                for method in allow.split(',').filter(|m| !m.is_empty()) {
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
            }
            false // and go on to the next route for the path
        };
        catch_unwind(AssertUnwindSafe(|| {
            self.find_where(path, &mut Spans::new(), &mut collect)
        }))?;
        Ok(HeaderValue::from_str(&methods.join(",")).unwrap_or(HeaderValue::from_static("")))
    }

    /// The redirect to `path` with its trailing slash added or taken off, if a route has that
    /// path; `Err` holds a guard's panic (see [`find`](Self::find)).
    fn trailing_slash_redirect(
        &self,
        path: &str,
        req: &Request<B>,
    ) -> Result<Option<Response>, Panic> {
        // Only an origin-form path has a slash to fix: not `*`, nor the empty path of an
        // authority-form target (`CONNECT host:443`).
        if !self.inner.redirect_trailing_slash || path == "/" || !path.starts_with('/') {
            return Ok(None);
        }
        let other = match path.strip_suffix('/') {
            Some(trimmed) => trimmed.to_owned(),
            None => format!("{path}/"),
        };
        // `//host/…` is a network-path reference, and so is `/\host/…` to browsers (which
        // read `\` as `/`): as a `Location` either would send the client to another site.
        if matches!(other.as_bytes().get(1), Some(b'/' | b'\\')) {
            return Ok(None);
        }
        let Some(index) = self.find(&other, &mut Spans::new())? else {
            return Ok(None);
        };
        if self.inner.entries[index].fallback {
            return Ok(None);
        }
        let location = match req.uri().query() {
            Some(query) => format!("{other}?{query}"),
            None => other,
        };
        let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
        let Ok(location) = HeaderValue::from_str(&location) else {
            return Ok(None);
        };
        res.headers_mut().insert(LOCATION, location);
        Ok(Some(res))
    }
}

impl<B: Send + 'static> Service<Request<B>> for Router<B> {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<B>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> RouteFuture<B> {
        let Ok(path) = normalize(req.uri().path()) else {
            observe::report(|| None);
            return RouteFuture::ready((self.inner.error_answer)(
                StatusCode::BAD_REQUEST,
                "invalid percent-encoding in path",
            ));
        };
        let mut spans = Spans::new();
        let found = match self.inner.plain {
            true => Ok(self.find_plain(&path, &mut spans)),
            false => self.find_slow(&path, &mut spans, req.method()),
        };
        let found = match found {
            Ok(found) => found.map(|i| &self.inner.entries[i]),
            Err(panic) => return RouteFuture::panicked(panic),
        };
        observe::report(|| found.and_then(|e| Some((e.key?, &*e.template))));
        let entry = match found {
            Some(entry) if !entry.fallback => entry,
            nested_fallback => {
                match self.trailing_slash_redirect(&path, &req) {
                    Ok(Some(redirect)) => return RouteFuture::ready(redirect),
                    Ok(None) => {}
                    Err(panic) => return RouteFuture::panicked(panic),
                }
                // A nested fallback answers like the root one: no route matched.
                let fallback = nested_fallback
                    .and_then(|e| e.methods.endpoint(req.method()))
                    .map_or(&self.inner.fallback, |(endpoint, _)| endpoint);
                return RouteFuture::call(fallback, req, None, false, self.inner.eager_handlers);
            }
        };
        let matched = || MatchedRoute::new(Arc::clone(&entry.template));
        let report = req.extensions().get::<ReportMatchedRoute>().is_some();
        let Some((endpoint, head_from_get)) = entry.methods.endpoint(req.method()) else {
            let allow = match self.inner.backtrack_on_method {
                false => entry.allow.clone(),
                true => match self.allow_across(&path) {
                    Ok(allow) => allow,
                    Err(panic) => return RouteFuture::panicked(panic),
                },
            };
            if let Some(handler) = &self.inner.method_not_allowed {
                let answer = handler.call(req, self.inner.eager_handlers);
                let matched = report.then(matched);
                return RouteFuture::boxed(async move {
                    let Ok(mut res) = answer.await;
                    // `Allow` belongs to a `405` (not to a `401` a middleware gave instead).
                    if res.status() == StatusCode::METHOD_NOT_ALLOWED {
                        res.headers_mut().entry(ALLOW).or_insert(allow);
                    }
                    if let Some(matched) = matched {
                        res.extensions_mut().insert(matched);
                    }
                    Ok(res)
                });
            }
            let mut res =
                (self.inner.error_answer)(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            res.headers_mut().insert(ALLOW, allow);
            if report {
                res.extensions_mut().insert(matched());
            }
            return RouteFuture::ready(res);
        };
        if !spans.is_empty() {
            let Ok(params) = entry.params(&path, &spans) else {
                return RouteFuture::ready((self.inner.error_answer)(
                    StatusCode::BAD_REQUEST,
                    "path parameter is not valid UTF-8",
                ));
            };
            req.extensions_mut().insert(params);
        }
        let on_response = report.then(matched);
        if self.inner.matched_route_extension {
            req.extensions_mut().insert(matched());
        }
        RouteFuture::call(
            endpoint,
            req,
            on_response,
            head_from_get,
            self.inner.eager_handlers,
        )
    }
}

/// A route found by [`Router::at`].
#[derive(Debug, Clone)]
pub struct RouteMatch<'r, 'p> {
    entry_template: &'r str,
    names: &'r [Box<str>],
    path: &'p str,
    spans: Spans,
}

impl<'r, 'p> RouteMatch<'r, 'p> {
    /// The matched route's template, like `/users/{id}`.
    pub fn template(&self) -> &'r str {
        self.entry_template
    }

    /// The raw parameter values as `(name, value)`, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&'r str, &'p str)> + '_ {
        let path = self.path;
        self.names
            .iter()
            .zip(&self.spans)
            .map(move |(name, &(start, end))| (&**name, &path[start..end]))
    }
}

pin_project! {
    /// Response future of [`Router`].
    pub struct RouteFuture<B> {
        #[pin]
        kind: Kind<B>,
        matched: Option<MatchedRoute>,
        strip_body: bool,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        // Boxed: a router's own answers (404, 405, redirects) are rare next to endpoint calls,
        // and an inline response would make the future every outer layer moves 150 bytes larger.
        Ready { response: Option<Box<Response>> },
        Endpoint { #[pin] fut: EndpointFuture<B> },
        // A rare answer that needs work after its endpoint's (a custom `405`).
        Boxed { fut: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>> },
    }
}

impl<B: Send + 'static> RouteFuture<B> {
    fn ready(response: Response) -> Self {
        RouteFuture {
            kind: Kind::Ready {
                response: Some(Box::new(response)),
            },
            matched: None,
            strip_body: false,
        }
    }

    /// A future that panics with a guard's `payload` when polled.
    #[cold]
    fn panicked(payload: Panic) -> Self {
        RouteFuture::boxed(async move { resume_unwind(payload) })
    }

    fn boxed(fut: impl Future<Output = Result<Response, Infallible>> + Send + 'static) -> Self {
        RouteFuture {
            kind: Kind::Boxed { fut: Box::pin(fut) },
            matched: None,
            strip_body: false,
        }
    }

    fn call(
        endpoint: &Endpoint<B>,
        req: Request<B>,
        matched: Option<MatchedRoute>,
        strip_body: bool,
        eager: bool,
    ) -> Self {
        RouteFuture {
            kind: Kind::Endpoint {
                fut: endpoint.call(req, eager),
            },
            matched,
            strip_body,
        }
    }
}

impl<B> Future for RouteFuture<B> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The usual case, an endpoint's answer left as it is: passed through, not moved twice.
        if this.matched.is_none() && !*this.strip_body {
            if let KindProj::Endpoint { fut } = this.kind.as_mut().project() {
                return fut.poll(cx);
            }
        }
        let mut res = match this.kind.project() {
            KindProj::Ready { response } => match response.take() {
                Some(res) => *res,
                None => return Poll::Pending,
            },
            KindProj::Endpoint { fut } => match fut.poll(cx) {
                Poll::Ready(Ok(res)) => res,
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
            KindProj::Boxed { fut } => match fut.as_mut().poll(cx) {
                Poll::Ready(Ok(res)) => res,
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
        };
        if let Some(matched) = this.matched.take() {
            res.extensions_mut().insert(matched);
        }
        if *this.strip_body {
            strip_body(&mut res);
        }
        Poll::Ready(Ok(res))
    }
}

/// Answers a `HEAD` from a `GET` response: same status and headers, no body. The length the
/// body would have had is kept in `content-length` when it is known, except where RFC 9110
/// §8.6 forbids one (1xx, 204) or it would have to be a 200's length (304).
fn strip_body(res: &mut Response) {
    let bodiless = crate::is_bodiless(res.status());
    if let Some(len) = res.body().size_hint().exact().filter(|_| !bodiless) {
        if !res.headers().contains_key(CONTENT_LENGTH) {
            res.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
    }
    *res.body_mut() = Body::empty();
}
