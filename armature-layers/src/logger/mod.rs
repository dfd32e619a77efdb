//! Access logging on `tracing`: one event per request, when the response has been sent.
//!
//! Each event (target `armature::access`) carries the method, the matched route template (from
//! the router's [`MatchedRoute`](armature_router::MatchedRoute); the raw path only when nothing
//! matched), status, latency, response size in bytes, request id (from
//! [`RequestIdLayer`](crate::request_id::RequestIdLayer) or an `x-request-id` header) and peer
//! address (the `std::net::SocketAddr` extension armature-server sets), plus an `outcome`:
//!
//! | outcome | when |
//! | --- | --- |
//! | `ok` | the whole body was sent |
//! | `body_error` | the body stream failed midway |
//! | `aborted` | the client went away: the body or the handler was dropped before the end |
//! | `service_error` | the inner service returned an error instead of a response |
//!
//! [`Logger::default()`] writes a readable one-line message; [`Logger::json()`] makes the
//! message one JSON object, for log pipelines that read JSON. Either way the fields are
//! structured, for subscribers that use them. When the event's level is disabled the layer only
//! checks that (a cached atomic load) and passes requests through untouched.
//!
//! ```
//! use armature_layers::logger::Logger;
//! use armature_router::{get, Router};
//! use http::Request;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let app = ServiceBuilder::new()
//!     .layer(Logger::default().level(tracing::Level::INFO))
//!     .service(Router::builder().route("/users/{id}", get(|_r: Request<()>| async { "hi" })).build()?);
//! // logs: GET /users/{id} 200 0.02ms 2B rid=- peer=-
//! let res = app.oneshot(Request::get("/users/7").body(())?).await?;
//! assert_eq!(res.status(), 200);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```

mod body;
mod future;
mod layer;
mod record;

pub use body::LoggedBody;
pub use future::ResponseFuture;
pub use layer::{Format, Logger, LoggerService};

/// The `tracing` target of access events, for filtering (`RUST_LOG=armature::access=info`).
pub const TARGET: &str = "armature::access";
