//! Armature's layers inside an existing axum app, unchanged: `Router::layer` with a
//! `tower::ServiceBuilder` stack, exactly as with tower-http's layers.
//!
//! ```text
//! cargo run --example axum_interop -- --port 3000
//! curl -i localhost:3000/users/42     # x-request-id echoed, one access log line
//! curl -i localhost:3000/slow         # after 30 s: 503 from Armature's timeout layer
//! ```

use armature_examples::{init_tracing, Args};
use armature_layers::analytics::AnalyticsLayer;
use armature_layers::cors::Cors;
use armature_layers::logger::Logger;
use armature_layers::request_id::{RequestId, RequestIdLayer};
use armature_layers::timeout::TimeoutLayer;
use axum::extract::{MatchedPath, Path};
use axum::routing::get;
use axum::{Extension, Json};
use std::time::Duration;
use tower::ServiceBuilder;

/// The axum app, with Armature's request-id, analytics, logger, CORS and timeout (30 s)
/// layers applied the axum way, and the analytics JSON at `/analytics`.
pub fn app() -> axum::Router {
    app_with(Duration::from_secs(30), analytics())
}

/// [`app`] with another time limit.
pub fn app_timing_out_after(limit: Duration) -> axum::Router {
    app_with(limit, analytics())
}

/// axum's route template, which its `Router::layer` puts in the request before the layers
/// run: the label the logger and analytics use.
fn matched_path(ext: &http::Extensions) -> Option<&str> {
    ext.get::<MatchedPath>().map(MatchedPath::as_str)
}

/// Per-route analytics labelled with axum's own routes.
pub fn analytics() -> AnalyticsLayer {
    AnalyticsLayer::builder().route_label(matched_path).build()
}

/// The app, time limit and analytics given.
pub fn app_with(limit: Duration, analytics: AnalyticsLayer) -> axum::Router {
    axum::Router::new()
        .route("/users/{id}", get(user))
        .route("/slow", get(slow))
        .route_service("/analytics", analytics.json_service())
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(analytics)
                .layer(Logger::default().route_label(matched_path))
                .layer(Cors::permissive())
                .layer(TimeoutLayer::new(limit)),
        )
}

/// A handler that never answers in time.
async fn slow() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

async fn user(
    Path(id): Path<String>,
    Extension(rid): Extension<RequestId>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id, "name": "Alice", "request_id": rid.as_str() }))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let args = Args::from_env_or_exit("axum_interop", "usage: axum_interop [--port N]", |args| {
        args.only(&[], &[])?;
        Ok(args)
    });
    let listener = tokio::net::TcpListener::bind(args.addr()).await?;
    tracing::info!(
        "axum app with Armature layers on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app()).await?;
    Ok(())
}
