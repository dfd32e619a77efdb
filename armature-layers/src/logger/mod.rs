//! Access logging: one event or line per request, when the response has been sent.
//!
//! Each event (target `armature::access`) carries the method, the matched route template (from
//! the router's [`MatchedRoute`](armature_router::MatchedRoute); the raw path only when nothing
//! matched), status, latency, response size in bytes, request id (from
//! [`RequestIdLayer`](crate::request_id::RequestIdLayer) outside this layer or, with one inside,
//! the id it echoes on the response; else an `x-request-id` header of 1 to 128 visible ASCII
//! characters, the layer's own rule; `-` otherwise) and peer
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
//! For a busy server, [`Logger::write_to`] an [`AccessLog`] instead: the layer formats the line
//! itself (integers by `itoa`, the timestamp's date part once a second) into a per-thread
//! buffer that is written in batches, so a request costs no `write` system call and no
//! `tracing` formatting. The line is the same text (or JSON) with a UTC timestamp in front:
//!
//! ```text
//! 2026-12-05T18:12:20.123Z GET /users/{id} 200 0.42ms 26B rid=8f0c…-…-… peer=127.0.0.1:50312
//! ```
//!
//! ```
//! use armature_layers::logger::{AccessLog, Logger};
//! use armature_router::{get, Router};
//! use http::Request;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let log = AccessLog::stdout();
//! let app = ServiceBuilder::new()
//!     .layer(Logger::default().write_to(log.clone()))
//!     .service(Router::builder().route("/users/{id}", get(|_r: Request<()>| async { "hi" })).build()?);
//! let res = app.oneshot(Request::get("/users/7").body(())?).await?;
//! http_body_util::BodyExt::collect(res.into_body()).await?; // the line is buffered at the body's end
//! log.flush()?; // ... and on stdout now (else within the flush interval)
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
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

mod access_log;
mod body;
mod future;
mod layer;
mod line;
mod record;

pub use access_log::AccessLog;
pub use body::LoggedBody;
pub use future::ResponseFuture;
pub use layer::{Format, Logger, LoggerService};
pub use line::{write_json_string, write_timestamp};

/// The `tracing` target of access events, for filtering (`RUST_LOG=armature::access=info`).
pub const TARGET: &str = "armature::access";
