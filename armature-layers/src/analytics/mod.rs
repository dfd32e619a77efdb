//! API analytics: per-route usage, latency, body sizes, errors and rate-limit refusals, with
//! a bounded per-consumer top-N, served as Prometheus/OpenMetrics text, as JSON and as a live
//! dashboard.
//!
//! [`AnalyticsLayer`] records every request once, per method, matched route template (the
//! router's [`MatchedRoute`](armature_router::MatchedRoute); paths no route matched share
//! the one label [`UNMATCHED`]) and status class. Three services read the same counters;
//! mount each where you like:
//!
//! | service | what it answers |
//! | --- | --- |
//! | [`metrics_service`](AnalyticsLayer::metrics_service) | OpenMetrics text for Prometheus, encoded by `prometheus-client` |
//! | [`json_service`](AnalyticsLayer::json_service) | a [`Summary`]: top routes, p50/p95/p99 latency, error rate, limited rate, top consumers |
//! | [`dashboard_service`](AnalyticsLayer::dashboard_service) | a self-contained page charting requests/s, latency percentiles and error rate per route, refreshed every second |
//!
//! ```
//! use armature_layers::analytics::AnalyticsLayer;
//! use armature_router::{get, on_service, Router};
//! use http::{Method, Request, StatusCode};
//! use http_body_util::BodyExt;
//! use tower::{Layer, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let routes = || {
//!     Router::builder()
//!         .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
//!         .route("/boom", get(|_r: Request<()>| async { StatusCode::INTERNAL_SERVER_ERROR }))
//! };
//! // Pre-registering the routes lists them before their first request.
//! let analytics = AnalyticsLayer::builder().routes(&routes().build()?).build();
//! let router = routes()
//!     .route("/metrics", on_service(Method::GET, analytics.metrics_service()))
//!     .route("/analytics", on_service(Method::GET, analytics.json_service()))
//!     .route("/analytics/ui", on_service(Method::GET, analytics.dashboard_service("/analytics")))
//!     .build()?;
//! let app = analytics.layer(router);
//!
//! for path in ["/users/1", "/users/2", "/boom", "/nope"] {
//!     let res = app.clone().oneshot(Request::get(path).body(())?).await?;
//!     res.into_body().collect().await?; // recorded when the body ends
//! }
//!
//! let summary = analytics.summary();
//! assert_eq!(summary.total.requests, 4);
//! assert_eq!(summary.total.errors, 1);
//! let users = &summary.routes[0];
//! assert_eq!((users.method.as_str(), users.route.as_str(), users.requests), ("GET", "/users/{id}", 2));
//! assert_eq!(users.response_bytes, 10);
//! assert!(users.latency_ms.p99.is_some());
//!
//! let res = app.oneshot(Request::get("/metrics").body(())?).await?;
//! let text = String::from_utf8(res.into_body().collect().await?.to_bytes().to_vec())?;
//! assert!(text.contains(
//!     r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_class="2xx"} 2"#
//! ));
//! assert!(text.contains(r#"http_route="unmatched",http_response_status_class="4xx"} 1"#));
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # What is recorded
//!
//! OpenTelemetry's HTTP server metrics, in their Prometheus names, labelled
//! `http_request_method` (`_OTHER` for non-standard methods, so made-up methods cannot add
//! series), `http_route` and `http_response_status_class` (`1xx` … `5xx`, or `error` when the
//! service failed or the client left before any response):
//!
//! | metric | type | OpenTelemetry |
//! | --- | --- | --- |
//! | `http_server_request_duration_seconds` | histogram | `http.server.request.duration` |
//! | `http_server_active_requests` (method only) | gauge | `http.server.active_requests` |
//! | `http_server_request_body_size_bytes` | histogram | `http.server.request.body.size` |
//! | `http_server_response_body_size_bytes` | histogram | `http.server.response.body.size` |
//! | `armature_http_server_rate_limited_total` | counter | responses carrying the rate limiter's [`RateLimited`](crate::rate_limit::RateLimited) marker |
//! | `armature_http_server_failures_total` (`error_type`) | counter | `service_error`, `body_error`, `aborted` |
//!
//! A request is recorded when its response body ends, fails or is dropped, so its duration
//! covers sending the body. The request size is the declared one (`Content-Length`, counted
//! up to 1 TiB so that no client can wrap the sums around): the request body is left as the
//! caller's type. Percentiles in the JSON are interpolated
//! within the histogram buckets, as Prometheus' `histogram_quantile` does.
//!
//! # Cost and bounds
//!
//! The router tells the layer the route it matched as it matches
//! ([`armature_router::observe`]): no second match, no response extension. The counters of a
//! route pre-registered with [`AnalyticsBuilder::routes`] are then found by its number, with
//! no lookup; other routes by a hash lookup of the template under a read lock (no allocation
//! once a route has been seen). Add two raw reads of the TSC (one clock for the process,
//! calibrated when the layer is built, not on the first request; the difference is scaled
//! once), and counter updates in a shard of the calling thread's own: plain loads and stores,
//! no atomic read-modify-write (threads past twice the CPU count share one shard, with atomic
//! adds). The reading services sum the shards. Route templates are capped
//! ([`AnalyticsBuilder::max_routes`]). Per-consumer counts ([`AnalyticsBuilder::consumers`])
//! live in a fixed-size space-saving table, so a flood of distinct API keys or IPs cannot grow
//! memory; API keys are shown as fingerprints.
//!
//! # Placement
//!
//! Put the layer outside the rate limiter (to see its refusals) and inside anything that
//! should not be counted. Refusals never reach the router, so no router reports their route:
//! give the router to [`AnalyticsBuilder::routes`] and their path is looked up in it, so they
//! are counted under their route rather than as `unmatched`. The router given there may be
//! another one built with the same routes first (the router you serve usually has the
//! analytics services added after them); a route it lacks is still labelled by its template
//! when a router reports it. The path is looked up too when the router runs on another task
//! (behind a `tower::buffer::Buffer`, say), where it cannot report to the layer.
//!
//! Inside another router, such as axum's, no Armature router reports: give the layer
//! [`AnalyticsBuilder::route_label`] to read that router's template from the request (axum's
//! `Router::layer` runs after matching, with `MatchedPath` in the request; the
//! [logger](crate::logger::Logger::route_label) takes the same label; see
//! `examples/axum_interop.rs`). Without it, every request there counts as `unmatched`.

mod consumers;
mod future;
mod layer;
mod prometheus;
mod route;
mod services;
mod shards;
mod stats;
mod summary;

pub use consumers::{ConsumerUsage, Consumers};
pub use future::{AnalyticsBody, ResponseFuture};
pub use layer::{Analytics, AnalyticsBuilder, AnalyticsLayer};
pub use services::{DashboardService, JsonService, MetricsService};
pub use stats::{DURATION_BUCKETS, SIZE_BUCKETS, UNMATCHED};
pub use summary::{Latency, RouteSummary, StatusCounts, Summary, Totals};
