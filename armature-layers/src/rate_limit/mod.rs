//! Rate limiting: GCRA per key (client IP, API key, or your function), in this process or
//! shared through Redis, with the IETF `RateLimit` headers, `429` + `Retry-After`, and gRPC's
//! `RESOURCE_EXHAUSTED` for gRPC calls.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use armature_layers::rate_limit::{Quota, RateLimitLayer, RateLimited};
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let limit = RateLimitLayer::builder()
//!     .quota(Quota::per_minute(2)) // 2 at once, then one every 30 s
//!     .x_ratelimit_headers(true)
//!     .build()?;
//! let app = ServiceBuilder::new().layer(limit).service(service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//! }));
//! // armature-server puts the peer address in every request's extensions.
//! let from = |ip: [u8; 4]| {
//!     let mut req = Request::get("/").body(()).unwrap();
//!     req.extensions_mut().insert(SocketAddr::from((ip, 50000)));
//!     req
//! };
//!
//! let res = app.clone().oneshot(from([192, 0, 2, 1])).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["ratelimit-policy"], r#""default";q=2;w=60"#);
//! assert_eq!(res.headers()["ratelimit"], r#""default";r=1;t=30"#);
//! assert_eq!(res.headers()["x-ratelimit-remaining"], "1");
//!
//! let res = app.clone().oneshot(from([192, 0, 2, 1])).await?;
//! assert_eq!(res.headers()["ratelimit"], r#""default";r=0;t=60"#);
//!
//! // The third request within the minute is refused, with when to retry.
//! let res = app.clone().oneshot(from([192, 0, 2, 1])).await?;
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["retry-after"], "30");
//! assert!(res.extensions().get::<RateLimited>().is_some());
//!
//! // Another client has its own budget.
//! let res = app.clone().oneshot(from([192, 0, 2, 2])).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # The algorithm
//!
//! GCRA, as in the `governor` crate: each key holds one timestamp, its *theoretical arrival
//! time* (TAT). A [`Quota`] of `n` per `period` with burst `b` replenishes one request every
//! `period / n` and lets the TAT run at most `b` intervals ahead of now. It is exact: over
//! any window of length `w` a key is admitted at most `b + floor(w / interval)` requests.
//!
//! # Keys
//!
//! * **Client IP** (the default): the peer address armature-server puts in the request's
//!   extensions. Behind load balancers, [`trust_proxies`](RateLimitBuilder::trust_proxies)
//!   names them; the client is then the *rightmost* address in `X-Forwarded-For` (or
//!   `Forwarded`, see [`ForwardedHeader`]) that is not a trusted proxy — the leftmost entries
//!   are client-controlled. IPv6 clients are keyed by /64 unless
//!   [`ipv6_prefix`](RateLimitBuilder::ipv6_prefix) says otherwise.
//! * **A header**, such as an API key: [`key_by_header`](RateLimitBuilder::key_by_header).
//! * **Your function** of the request head: [`key_by`](RateLimitBuilder::key_by).
//!
//! A request without a key (no peer address, no such header, or your function returns
//! `None`) is passed through unlimited and without headers. Keyed by client IP, the first
//! one is logged at `warn`: it means the server sets no peer address, so nothing is limited.
//!
//! # Per-route quotas
//!
//! Put a layer on the route itself with `MethodRouter::layer`, each with its own
//! [`policy_name`](RateLimitBuilder::policy_name); a layer around the whole router still
//! applies to every request:
//!
//! ```
//! use armature_layers::rate_limit::{Quota, RateLimitLayer};
//! use armature_router::{get, post, Router};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # tokio_test::block_on(async {
//! let login_limit = RateLimitLayer::builder()
//!     .quota(Quota::per_minute(1))
//!     .key_by_header("x-api-key")
//!     .policy_name("login")
//!     .build()?;
//! let router = Router::builder()
//!     .route("/login", post(|_req: Request<()>| async { "welcome" }).layer(login_limit))
//!     .route("/items", get(|_req: Request<()>| async { "items" }))
//!     .build()?;
//! let req = |method: &str, path: &str| {
//!     Request::builder().method(method).uri(path).header("x-api-key", "k").body(())
//! };
//! assert_eq!(router.clone().oneshot(req("POST", "/login")?).await?.status(), StatusCode::OK);
//! let res = router.clone().oneshot(req("POST", "/login")?).await?;
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["ratelimit-policy"], r#""login";q=1;w=60"#);
//! // Other routes are not limited by it.
//! assert_eq!(router.clone().oneshot(req("GET", "/items")?).await?.status(), StatusCode::OK);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # Stores
//!
//! * [`MemoryStore`] (the default): sharded maps behind short mutexes, bounded to
//!   `max_keys` entries whatever the traffic — replenished keys are dropped first, which
//!   loses nothing.
//! * [`RedisStore`]: one atomic Lua script per decision on Redis' own clock, over a pool of
//!   reconnecting multiplexed connections, so several processes enforce one combined limit.
//!   While Redis is unreachable requests are decided by the [`FailurePolicy`] (open by
//!   default): after a failure at once, without asking Redis, except one request per
//!   [`retry_interval`](RedisStoreBuilder::retry_interval), which waits at most the timeout;
//!   it is logged once, and limiting resumes when Redis returns.
//!
//! # Responses
//!
//! * **Admitted**: the inner response, plus `RateLimit-Policy: "<name>";q=<burst>;w=<secs>`
//!   and `RateLimit: "<name>";r=<remaining>;t=<secs until fully replenished>` (the IETF
//!   httpapi draft's structured fields), and with
//!   [`x_ratelimit_headers`](RateLimitBuilder::x_ratelimit_headers) `X-RateLimit-Limit`,
//!   `-Remaining` and `-Reset`. Both IETF fields are lists: behind a per-route limit and a
//!   global one, an answer lists each policy's item (an item of the layer's own name is
//!   replaced; the `X-` fields are the outermost layer's).
//! * **Refused**: `429 Too Many Requests` with a short `text/plain` message, the same headers and
//!   `Retry-After` in whole seconds (rounded up, so a client that waits that long is
//!   admitted), and a [`RateLimited`] marker in the response extensions. The inner service
//!   is not called.
//! * **Refused, with [`forward_refusals`](RateLimitBuilder::forward_refusals)**: the request
//!   goes on to the inner service, marked, and its answer gets the refusal's headers it did
//!   not set itself and the [`RateLimited`] marker (gRPC calls are refused as below).
//! * **Refused gRPC call** (`content-type: application/grpc...`): a trailers-only gRPC
//!   answer — HTTP 200, `grpc-status: 8` (`RESOURCE_EXHAUSTED`), `grpc-message` — which
//!   gRPC clients report as that status rather than as a transport error.
//! * **Key header sent twice** ([`key_by_header`](RateLimitBuilder::key_by_header)): `400 Bad
//!   Request` with a short `text/plain` message (gRPC: `grpc-status: 3`, `INVALID_ARGUMENT`),
//!   since which one counts would be ambiguous. The inner service is not called.
//! * **Redis unreachable**: with [`FailurePolicy::Open`] the inner response without
//!   `RateLimit` headers; with [`FailurePolicy::Closed`] a 429 (or gRPC 8) whose
//!   [`RateLimited::store_unavailable`] is true, and whose `Retry-After` is when Redis will be
//!   asked again (the store's [`retry_interval`](RedisStoreBuilder::retry_interval), at
//!   least 1 s), not the quota's interval.

mod builder;
mod client_ip;
mod clock;
mod error;
mod future;
mod gcra;
mod headers;
mod key;
mod layer;
mod marker;
mod memory;
mod messages;
mod quota;
mod redis;
mod service;
mod store;

pub use crate::body::ResponseBody;
pub use builder::RateLimitBuilder;
pub use client_ip::ForwardedHeader;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::RateLimitError;
pub use future::ResponseFuture;
pub use gcra::Decision;
pub use layer::RateLimitLayer;
pub use marker::RateLimited;
pub use memory::{MemoryStore, MemoryStoreBuilder};
pub use quota::Quota;
pub use redis::{FailurePolicy, RedisStore, RedisStoreBuilder};
pub use service::RateLimit;
pub use store::Store;
