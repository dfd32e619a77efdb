//! Armature's layers on a tonic gRPC server, unchanged: `Server::builder().layer(...)`.
//!
//! The server is tonic-health's service (no `.proto` needed). Every gRPC call gets an
//! `x-request-id` (echoed in the response metadata) and one access log event, and calls that
//! carry an `x-api-key` are limited to [`CALLS_PER_MINUTE`] per key: over it, a call fails with
//! the gRPC status `RESOURCE_EXHAUSTED` (not a bare HTTP 429).
//!
//! ```text
//! cargo run --example tonic_interop -- --port 50051
//! ```

use std::net::SocketAddr;

use armature_examples::{init_tracing, Args};
use armature_layers::cors::Cors;
use armature_layers::logger::Logger;
use armature_layers::rate_limit::{Quota, RateLimitLayer};
use armature_layers::request_id::RequestIdLayer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tower::ServiceBuilder;

/// The quota of each API key (the `x-api-key` metadata).
pub const CALLS_PER_MINUTE: u32 = 20;

/// Serves tonic-health behind Armature's request-id, logger, CORS and rate-limit layers on `listener` until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("armature.Demo", tonic_health::ServingStatus::Serving)
        .await;
    // tonic puts no client address in the request, so gRPC calls are keyed by API key.
    let rate_limit = RateLimitLayer::builder()
        .quota(Quota::per_minute(CALLS_PER_MINUTE))
        .key_by_header("x-api-key")
        .build()
        .expect("a valid quota");
    tonic::transport::Server::builder()
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(Logger::default())
                .layer(Cors::permissive())
                .layer(rate_limit),
        )
        .add_service(health)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let args = Args::from_env_or_exit("tonic_interop", "usage: tonic_interop [--port N]", |args| {
        args.only(&[], &[])?;
        Ok(args)
    });
    let addr: SocketAddr = args.addr();
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(
        "tonic health service with Armature layers on {}",
        listener.local_addr()?
    );
    serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
