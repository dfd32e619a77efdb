//! [`AnalyticsLayer`], its builder, and the service it wraps around yours.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use armature_router::{Observation, RouteKey, Router};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::consumers::{Consumers, TopConsumers};
use super::future::{Pending, ResponseFuture};
use super::route::{Lookup, Route};
use super::stats::{method_index, Counters, Routes};

use crate::ticks::Ticks;
use crate::RouteLabel;

/// Finds the route of a path the router never saw (a request an outer layer refused), so
/// that refusal is still counted under its route.
pub(crate) trait Resolve: Send + Sync {
    fn route_key(&self, path: &str) -> Option<RouteKey>;
}

impl<B: 'static> Resolve for Router<B>
where
    Router<B>: Send + Sync,
{
    fn route_key(&self, path: &str) -> Option<RouteKey> {
        Router::route_key(self, path)
    }
}

pub(crate) struct Shared {
    pub(crate) routes: Routes,
    pub(crate) consumers: Option<TopConsumers>,
    /// The router given to [`AnalyticsBuilder::routes`].
    pub(crate) router: Option<Box<dyn Resolve>>,
    /// [`AnalyticsBuilder::route_label`]: a request's route from its extensions.
    pub(crate) label: Option<RouteLabel>,
    pub(crate) started: Instant,
    pub(crate) top_routes: usize,
    pub(crate) top_consumers: usize,
}

impl Shared {
    /// The counters of the route the registered router routes `path` to.
    pub(crate) fn resolve(&self, path: &str) -> Counters {
        self.router
            .as_ref()
            .and_then(|router| router.route_key(path))
            .and_then(|key| self.routes.numbered(key))
            .unwrap_or(Counters::Unmatched)
    }
}

/// Records request counts, in-flight requests, latency, body sizes, errors and rate-limit
/// refusals per method, route template and status class; see the [module docs](super).
///
/// Cheap to clone: every clone (and every service it wraps) shares the same counters, which
/// [`metrics_service`](Self::metrics_service), [`json_service`](Self::json_service) and
/// [`dashboard_service`](Self::dashboard_service) read.
///
/// ```
/// use armature_layers::analytics::AnalyticsLayer;
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # tokio_test::block_on(async {
/// let analytics = AnalyticsLayer::new();
/// let app = ServiceBuilder::new().layer(analytics.clone()).service(service_fn(|_req: Request<()>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
/// }));
/// let res = app.oneshot(Request::get("/anything").body(())?).await?;
/// drop(res); // counted when the response body ends or is dropped
/// let summary = analytics.summary();
/// assert_eq!(summary.total.requests, 1);
/// assert_eq!(summary.routes[0].route, "unmatched"); // no router: no route template
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct AnalyticsLayer {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for AnalyticsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalyticsLayer").finish_non_exhaustive()
    }
}

impl Default for AnalyticsLayer {
    fn default() -> Self {
        AnalyticsLayer::new()
    }
}

impl AnalyticsLayer {
    /// Per-route analytics with the defaults: at most 1000 route templates, no per-consumer
    /// table.
    ///
    /// ```
    /// let analytics = armature_layers::analytics::AnalyticsLayer::new();
    /// assert_eq!(analytics.summary().total.requests, 0);
    /// ```
    pub fn new() -> Self {
        AnalyticsLayer::builder().build()
    }

    /// A builder, to pre-register a router's routes and count consumers.
    ///
    /// ```
    /// use armature_layers::analytics::{AnalyticsLayer, Consumers};
    ///
    /// let analytics = AnalyticsLayer::builder()
    ///     .consumers(Consumers::client_ip(), 1_000)
    ///     .max_routes(500)
    ///     .build();
    /// # let _ = analytics;
    /// ```
    pub fn builder() -> AnalyticsBuilder {
        AnalyticsBuilder {
            max_routes: 1000,
            consumers: None,
            router: None,
            label: None,
            register: Vec::new(),
            keyed: Vec::new(),
            top_routes: 100,
            top_consumers: 20,
        }
    }
}

/// Builds an [`AnalyticsLayer`].
///
/// ```
/// use armature_layers::analytics::AnalyticsLayer;
/// use armature_router::{get, Router};
/// use http::Request;
///
/// let router = Router::builder()
///     .route("/users/{id}", get(|_req: Request<()>| async { "" }))
///     .build()
///     .unwrap();
/// let analytics = AnalyticsLayer::builder().routes(&router).build();
/// // The route is listed (with zero requests) before its first request.
/// assert_eq!(analytics.summary().routes.len(), 1);
/// ```
pub struct AnalyticsBuilder {
    max_routes: usize,
    consumers: Option<(Consumers, usize)>,
    router: Option<Box<dyn Resolve>>,
    label: Option<RouteLabel>,
    register: Vec<(http::Method, String)>,
    keyed: Vec<(RouteKey, String)>,
    top_routes: usize,
    top_consumers: usize,
}

impl fmt::Debug for AnalyticsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalyticsBuilder")
            .field("max_routes", &self.max_routes)
            .field("consumers", &self.consumers)
            .field("routes", &self.register.len())
            .finish_non_exhaustive()
    }
}

impl AnalyticsBuilder {
    /// Pre-registers every route of `router` (so each is listed, and its counters exist,
    /// before its first request, and a request's counters are found by route number when the
    /// router reports it) and uses the router to find the route of requests no router saw,
    /// such as rate-limit refusals: one allocation-free route match for each of those. A
    /// router built with the same routes first (and more after them) is as good as the one
    /// served; with several calls, the last router given is the one paths are looked up in.
    ///
    /// ```
    /// use armature_layers::analytics::AnalyticsLayer;
    /// use armature_router::{get, Router};
    /// use http::Request;
    ///
    /// let router = Router::builder().route("/a", get(|_r: Request<()>| async { "" })).build().unwrap();
    /// let analytics = AnalyticsLayer::builder().routes(&router).build();
    /// assert!(analytics.summary().routes.iter().any(|r| r.route == "/a" && r.method == "GET"));
    /// ```
    pub fn routes<B: 'static>(mut self, router: &Router<B>) -> Self
    where
        Router<B>: Send + Sync,
    {
        self.keyed.clear();
        for ((template, methods), key) in router.routes().zip(router.route_keys()) {
            for method in methods {
                self.register.push((method, template.to_owned()));
            }
            self.keyed.push((key, template.to_owned()));
        }
        self.router = Some(Box::new(router.clone()));
        self
    }

    /// Labels requests no Armature router reports with the route template `label` reads from
    /// the request's extensions: how routes are told apart inside another router, such as
    /// axum's, whose `Router::layer` runs a layer after the route is matched and its
    /// `MatchedPath` is in the request. Armature's router, when it reports, still wins.
    ///
    /// ```ignore
    /// // In an axum 0.8 app:
    /// use axum::extract::MatchedPath;
    /// let analytics = AnalyticsLayer::builder()
    ///     .route_label(|ext| ext.get::<MatchedPath>().map(MatchedPath::as_str))
    ///     .build();
    /// let app = axum::Router::new().route("/users/{id}", get(user)).layer(analytics.clone());
    /// ```
    ///
    /// The same with a template any layer put in the extensions:
    ///
    /// ```
    /// use armature_layers::analytics::AnalyticsLayer;
    /// use http::{Request, Response};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// #[derive(Clone)]
    /// struct Template(&'static str);
    ///
    /// # tokio_test::block_on(async {
    /// let analytics = AnalyticsLayer::builder()
    ///     .route_label(|ext| ext.get::<Template>().map(|t| t.0))
    ///     .build();
    /// let app = ServiceBuilder::new().layer(analytics.clone()).service(service_fn(|_req: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
    /// }));
    /// let mut req = Request::get("/users/7").body(())?;
    /// req.extensions_mut().insert(Template("/users/{id}"));
    /// drop(app.oneshot(req).await?);
    /// assert_eq!(analytics.summary().routes[0].route, "/users/{id}");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn route_label(mut self, label: RouteLabel) -> Self {
        self.label = Some(label);
        self
    }

    /// Counts requests per consumer in a bounded top-N table of `capacity` entries.
    ///
    /// ```
    /// use armature_layers::analytics::{AnalyticsLayer, Consumers};
    /// let _ = AnalyticsLayer::builder().consumers(Consumers::api_key("x-api-key"), 256).build();
    /// ```
    pub fn consumers(mut self, consumers: Consumers, capacity: usize) -> Self {
        self.consumers = Some((consumers, capacity));
        self
    }

    /// The most route templates counted separately (default 1000); later ones are counted as
    /// `unmatched`.
    ///
    /// ```
    /// let _ = armature_layers::analytics::AnalyticsLayer::builder().max_routes(50).build();
    /// ```
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// How many routes (default 100) and consumers (default 20) the JSON summary lists.
    ///
    /// ```
    /// let _ = armature_layers::analytics::AnalyticsLayer::builder().summary_size(10, 5).build();
    /// ```
    pub fn summary_size(mut self, routes: usize, consumers: usize) -> Self {
        self.top_routes = routes;
        self.top_consumers = consumers;
        self
    }

    /// The layer.
    ///
    /// ```
    /// let analytics = armature_layers::analytics::AnalyticsLayer::builder().build();
    /// # let _ = analytics;
    /// ```
    pub fn build(self) -> AnalyticsLayer {
        // Calibrated now rather than on the first request.
        crate::ticks::warm_up();
        let routes = Routes::new(
            self.max_routes,
            self.register.iter().map(|(m, t)| (m, t.as_str())),
            self.keyed.iter().map(|(k, t)| (*k, t.as_str())),
        );
        let shared = Shared {
            routes,
            consumers: self
                .consumers
                .map(|(consumers, capacity)| TopConsumers::new(consumers, capacity)),
            router: self.router,
            label: self.label,
            started: Instant::now(),
            top_routes: self.top_routes,
            top_consumers: self.top_consumers,
        };
        AnalyticsLayer {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for AnalyticsLayer {
    type Service = Analytics<S>;

    fn layer(&self, inner: S) -> Analytics<S> {
        Analytics {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of [`AnalyticsLayer`]: passes requests through and records each one.
///
/// ```
/// use armature_layers::analytics::{Analytics, AnalyticsLayer};
/// use tower::{service_fn, Layer};
///
/// let svc: Analytics<_> = AnalyticsLayer::new().layer(service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// }));
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct Analytics<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: fmt::Debug> fmt::Debug for Analytics<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analytics")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Analytics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<super::AnalyticsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let start = Ticks::now();
        let method = method_index(req.method());
        let shared = &self.shared;
        shared.routes.start(method);
        let request_bytes = declared_length(req.headers());
        let consumer = shared.consumers.as_ref().and_then(|c| c.record(&req));
        let lookup = Lookup::new(shared, method, &req);
        let observation = Observation::start();
        let future = self.inner.call(req);
        let route = Route::called(shared, method, observation, lookup);
        let pending = Pending {
            shared: Arc::clone(shared),
            start,
            method: method as u8,
            request_bytes,
            consumer,
            route,
        };
        ResponseFuture::new(future, pending)
    }
}

/// The request's declared body size (`Content-Length`; 0 if absent or not a number). The body
/// stays the caller's type (any type, even `()`), so it is not wrapped to be counted.
#[inline]
fn declared_length(headers: &HeaderMap) -> u64 {
    // A request has a few headers: comparing their names is cheaper than hashing one.
    let value = if headers.keys_len() <= 8 {
        headers
            .iter()
            .find_map(|(name, value)| (name == CONTENT_LENGTH).then_some(value))
    } else {
        headers.get(CONTENT_LENGTH)
    };
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |length| length.min(MAX_DECLARED))
}

/// The most a request's declared `Content-Length` counts for: 1 TiB. A client may declare
/// up to 2^64 - 1 bytes and send none; uncapped, every other such request would wrap the byte
/// sum around (sums are modulo 2^64: it now takes 2^24 of them, each refused or cut short).
const MAX_DECLARED: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_declared_length_is_found_among_few_or_many_headers() {
        for others in [0, 3, 8, 40] {
            let mut headers = HeaderMap::new();
            for i in 0..others {
                headers.insert(
                    http::HeaderName::try_from(format!("x-h{i}")).unwrap(),
                    HeaderValue::from_static("v"),
                );
            }
            assert_eq!(declared_length(&headers), 0, "absent, {others} others");
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("1234"));
            assert_eq!(declared_length(&headers), 1234, "{others} others");
            headers.insert(CONTENT_LENGTH, HeaderValue::from(u64::MAX));
            assert_eq!(
                declared_length(&headers),
                MAX_DECLARED,
                "huge, {others} others"
            );
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("12x"));
            assert_eq!(
                declared_length(&headers),
                0,
                "not a number, {others} others"
            );
        }
    }
}
