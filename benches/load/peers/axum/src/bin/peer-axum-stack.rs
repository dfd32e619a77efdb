//! `peer-axum-stack`: the three benchmark routes behind what an axum user would stack from
//! the ecosystem for the same job as Armature's preset (`examples/stack.rs`), outermost first:
//!
//! - request id: tower-http `SetRequestIdLayer` (`x-request-id`, a UUID v4 unless the client
//!   sent one) and `PropagateRequestIdLayer` (copied to the response);
//! - metrics: axum-prometheus (per method, matched route and status: a counter, a latency
//!   histogram and an in-flight gauge, on `metrics` + its Prometheus exporter), `/metrics`;
//! - access log: tower-http `TraceLayer` at INFO (a span per request, an event per response
//!   with status and latency), `tracing-subscriber`'s fmt layer writing to stdout through
//!   `tracing-appender`'s non-blocking writer (a background thread does the writes);
//! - CORS: tower-http `CorsLayer::permissive()`;
//! - rate limit: tower_governor keyed by peer IP, 10^9 requests/s (never refuses), with its
//!   `x-ratelimit-*` headers.
//!
//! Armature's stack also keeps a per-client top-N; axum-prometheus has no such table, so this
//! peer does a little less work there.

use std::sync::Arc;

use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use tower::ServiceBuilder;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

#[tokio::main]
async fn main() {
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(std::io::stdout());
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(Level::INFO)
        .init();

    let (metrics, handle) = PrometheusMetricLayer::pair();
    let governor = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000_000)
        .use_headers()
        .finish()
        .expect("a valid quota");

    let app = peer_axum::routes()
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(metrics)
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(CorsLayer::permissive())
                .layer(GovernorLayer::new(Arc::new(governor)))
                .layer(PropagateRequestIdLayer::x_request_id()),
        );
    peer_axum::serve("peer-axum-stack", app, true).await;
}
