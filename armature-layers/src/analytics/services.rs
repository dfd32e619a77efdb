//! The three services that show the counters; mount each where you like.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use armature_router::Body;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::layer::Shared;
use super::{prometheus, summary, AnalyticsLayer, Summary};

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const DASHBOARD: &str = include_str!("dashboard.html");

impl AnalyticsLayer {
    /// The counters now, as served by [`json_service`](Self::json_service).
    ///
    /// ```
    /// let summary = armature_layers::analytics::AnalyticsLayer::new().summary();
    /// assert!(summary.consumers.is_empty());
    /// ```
    pub fn summary(&self) -> Summary {
        summary::summarize(&self.shared)
    }

    /// How many consumers the bounded top-N table holds now: never more than the capacity
    /// given to [`AnalyticsBuilder::consumers`](super::AnalyticsBuilder::consumers) (rounded
    /// up to a multiple of its 8 shards), however many distinct consumers called.
    ///
    /// ```
    /// use armature_layers::analytics::{AnalyticsLayer, Consumers};
    /// let analytics = AnalyticsLayer::builder().consumers(Consumers::client_ip(), 100).build();
    /// assert_eq!(analytics.tracked_consumers(), 0);
    /// ```
    pub fn tracked_consumers(&self) -> usize {
        self.shared.consumers.as_ref().map_or(0, |c| c.len())
    }

    /// The counters now in OpenMetrics text (which Prometheus scrapes), as served by
    /// [`metrics_service`](Self::metrics_service).
    ///
    /// ```
    /// let text = armature_layers::analytics::AnalyticsLayer::new().render_metrics();
    /// assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    /// assert!(text.ends_with("# EOF\n"));
    /// ```
    pub fn render_metrics(&self) -> String {
        prometheus::render(&self.shared)
    }

    /// A service answering every request with [`render_metrics`](Self::render_metrics), as
    /// `application/openmetrics-text`: mount it at `/metrics`.
    ///
    /// ```
    /// use armature_layers::analytics::AnalyticsLayer;
    /// use armature_router::{get, on_service, Router};
    /// use http::{Method, Request};
    /// use tower::{Layer, ServiceExt};
    ///
    /// # tokio_test::block_on(async {
    /// let analytics = AnalyticsLayer::new();
    /// let router = Router::builder()
    ///     .route("/hello", get(|_r: Request<()>| async { "hi" }))
    ///     .route("/metrics", on_service(Method::GET, analytics.metrics_service()))
    ///     .build()?;
    /// let app = analytics.layer(router);
    /// drop(app.clone().oneshot(Request::get("/hello").body(())?).await?);
    /// let res = app.oneshot(Request::get("/metrics").body(())?).await?;
    /// assert_eq!(res.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn metrics_service(&self) -> MetricsService {
        MetricsService {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A service answering every request with the [`summary`](Self::summary) as JSON: mount
    /// it at `/analytics`.
    ///
    /// ```
    /// use armature_layers::analytics::AnalyticsLayer;
    /// use http::Request;
    /// use http_body_util::BodyExt;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let res = AnalyticsLayer::new().json_service().oneshot(Request::new(())).await?;
    /// assert_eq!(res.headers()["content-type"], "application/json");
    /// let body = res.into_body().collect().await?.to_bytes();
    /// assert!(body.starts_with(b"{\"uptime_seconds\":"));
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn json_service(&self) -> JsonService {
        JsonService {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A service answering every request with the dashboard, one self-contained HTML page
    /// (no external script, style or font) that polls `json_url` (where
    /// [`json_service`](Self::json_service) is mounted) every second and charts requests/s,
    /// latency percentiles and error rate per route.
    ///
    /// ```
    /// use armature_layers::analytics::AnalyticsLayer;
    /// use http::Request;
    /// use http_body_util::BodyExt;
    /// use tower::ServiceExt;
    ///
    /// # tokio_test::block_on(async {
    /// let ui = AnalyticsLayer::new().dashboard_service("/analytics");
    /// let res = ui.oneshot(Request::new(())).await?;
    /// assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    /// let page = res.into_body().collect().await?.to_bytes();
    /// assert!(std::str::from_utf8(&page)?.contains(r#"const JSON_URL = "/analytics";"#));
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn dashboard_service(&self, json_url: &str) -> DashboardService {
        let url = sonic_rs::to_string(json_url).expect("a string serializes");
        // `</` inside a script would end it; JSON allows `<\/`.
        let url = url.replace("</", "<\\/");
        let page = DASHBOARD.replace("\"__JSON_URL__\"", &url);
        DashboardService {
            page: Bytes::from(page),
        }
    }
}

fn respond(content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Body::full(body.into()));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, NO_STORE);
    res
}

/// Serves the counters in OpenMetrics text; see [`AnalyticsLayer::metrics_service`].
///
/// ```
/// let svc: armature_layers::analytics::MetricsService =
///     armature_layers::analytics::AnalyticsLayer::new().metrics_service();
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct MetricsService {
    shared: Arc<Shared>,
}

/// Serves the JSON summary; see [`AnalyticsLayer::json_service`].
///
/// ```
/// let svc: armature_layers::analytics::JsonService =
///     armature_layers::analytics::AnalyticsLayer::new().json_service();
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct JsonService {
    shared: Arc<Shared>,
}

/// Serves the dashboard page; see [`AnalyticsLayer::dashboard_service`].
///
/// ```
/// let svc: armature_layers::analytics::DashboardService =
///     armature_layers::analytics::AnalyticsLayer::new().dashboard_service("/analytics");
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct DashboardService {
    page: Bytes,
}

macro_rules! debug_and_service {
    ($ty:ident, |$this:ident| $respond:expr) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }

        impl<B> Service<Request<B>> for $ty {
            type Response = Response<Body>;
            type Error = Infallible;
            type Future = Ready<Result<Response<Body>, Infallible>>;

            fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, _req: Request<B>) -> Self::Future {
                let $this = &*self;
                ready(Ok($respond))
            }
        }
    };
}

debug_and_service!(MetricsService, |this| respond(
    prometheus::CONTENT_TYPE,
    prometheus::render(&this.shared)
));
debug_and_service!(JsonService, |this| respond(
    "application/json",
    sonic_rs::to_vec(&summary::summarize(&this.shared)).expect("the summary serializes")
));
debug_and_service!(DashboardService, |this| respond(
    "text/html; charset=utf-8",
    this.page.clone()
));
