//! Armature's layers on a tonic gRPC server, unchanged: `Server::builder().layer(...)`.
//!
//! The server is tonic-health's service (no `.proto` needed). Every gRPC call gets an
//! `x-request-id` (echoed in the response metadata) and one access log event.
//!
//! ```text
//! cargo run --example tonic_interop -- --port 50051
//! ```

use std::net::SocketAddr;

use armature_examples::{init_tracing, Args};
use armature_layers::cors::Cors;
use armature_layers::logger::Logger;
use armature_layers::request_id::RequestIdLayer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tower::ServiceBuilder;

/// Serves tonic-health behind Armature's request-id, logger and CORS layers on `listener` until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("armature.Demo", tonic_health::ServingStatus::Serving)
        .await;
    tonic::transport::Server::builder()
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(Logger::default())
                .layer(Cors::permissive()),
        )
        .add_service(health)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let args = Args::from_env()?;
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
