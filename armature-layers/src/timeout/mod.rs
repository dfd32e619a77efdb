//! Timeouts: a request whose inner service has not answered within a time limit gets
//! `503 Service Unavailable` with a short message, and the inner service's future is dropped
//! (the handler stops at its next `.await`).
//!
//! Like Go's `http.TimeoutHandler` and unlike tower-http's `TimeoutLayer` (an empty `408` by
//! default), the answer is a `503` that says what happened: `408 Request Timeout` tells a
//! client that *it* was slow, and browsers retry a request answered with it, a `POST`
//! included. [`TimeoutLayer::status`] picks another status (a `504` behind a gateway, say).
//!
//! A gRPC call (`content-type: application/grpc…`) is answered the gRPC way instead: HTTP
//! `200` with the trailers-only status `grpc-status: 4` (`DEADLINE_EXCEEDED`) and a
//! `grpc-message`, which clients read as a deadline rather than as `UNAVAILABLE` (a `503`),
//! which retry policies retry.
//!
//! The limit covers the time until the response head, as tower-http's does. A slow request
//! *body* is the client's doing: bound it with tower-http's `RequestBodyTimeoutLayer`; a
//! response body that streams for long, with its `ResponseBodyTimeoutLayer`.
//! The layer needs a tokio runtime with its timer enabled (armature-server's, axum's and
//! tonic's all have one).
//!
//! ```
//! use std::time::Duration;
//! use armature_layers::timeout::TimeoutLayer;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(10)))
//!     .service(service_fn(|req: Request<()>| async move {
//!         if req.uri().path() == "/slow" {
//!             tokio::time::sleep(Duration::from_secs(60)).await;
//!         }
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::from("done"))))
//!     }));
//!
//! let fast = svc.clone().oneshot(Request::get("/fast").body(())?).await?;
//! assert_eq!(fast.into_body().collect().await?.to_bytes(), "done");
//!
//! let slow = svc.oneshot(Request::get("/slow").body(())?).await?;
//! assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(slow.headers()["content-type"], "text/plain; charset=utf-8");
//! let message = slow.into_body().collect().await?.to_bytes();
//! assert!(message.starts_with(b"Service Unavailable: the request took longer than"));
//! # Ok(())
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::TimeoutLayer;
pub use service::Timeout;

/// The message of the answer to a request that ran out of time (`text/plain`).
const MESSAGE: &str = "Service Unavailable: the request took longer than the server's time limit\n";
