//! Cross-origin resource sharing: a layer that follows the [Fetch standard's CORS
//! protocol][fetch], answers preflights itself, and refuses at build time the configurations
//! browsers would reject or that would be unsafe.
//!
//! ```
//! use std::time::Duration;
//!
//! use armature_layers::cors::Cors;
//! use armature_router::{get, Router};
//! use http::header::{self, HeaderName};
//! use http::{Method, Request, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let cors = Cors::builder()
//!     .allow_origins(["https://app.example"])
//!     .allow_methods([Method::GET, Method::PUT])
//!     .allow_headers([HeaderName::from_static("x-api-key")])
//!     .expose_headers([HeaderName::from_static("x-request-id")])
//!     .allow_credentials(true)
//!     .max_age(Duration::from_secs(600))
//!     .build()?;
//! let router = Router::builder()
//!     .route(
//!         "/items",
//!         get(|_req: Request<()>| async { ([("x-request-id", "7")], "items") })
//!             .put(|_req: Request<()>| async { "stored" })
//!             .options(|_req: Request<()>| async { "the inner service's own OPTIONS" }),
//!     )
//!     .build()?;
//! let app = ServiceBuilder::new().layer(cors).service(router);
//!
//! // A preflight from an allowed origin is answered by the layer: 204, never forwarded.
//! let preflight = Request::options("/items")
//!     .header(header::ORIGIN, "https://app.example")
//!     .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
//!     .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-api-key")
//!     .body(())?;
//! let res = app.clone().oneshot(preflight).await?;
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! let h = res.headers();
//! assert_eq!(h["access-control-allow-origin"], "https://app.example");
//! assert_eq!(h["access-control-allow-credentials"], "true");
//! assert_eq!(h["access-control-allow-methods"], "GET, PUT");
//! assert_eq!(h["access-control-allow-headers"], "x-api-key");
//! assert_eq!(h["access-control-max-age"], "600");
//! assert_eq!(h["vary"], "origin, access-control-request-method, access-control-request-headers");
//!
//! // A preflight asking for a method that is not allowed gets no allow headers.
//! let preflight = Request::options("/items")
//!     .header(header::ORIGIN, "https://app.example")
//!     .header(header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE")
//!     .body(())?;
//! let res = app.clone().oneshot(preflight).await?;
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert!(!res.headers().contains_key("access-control-allow-methods"));
//!
//! // An actual request from an allowed origin: the origin is reflected, `Vary` set.
//! let get = Request::get("/items").header(header::ORIGIN, "https://app.example").body(())?;
//! let res = app.clone().oneshot(get).await?;
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
//! assert_eq!(res.headers()["access-control-expose-headers"], "x-request-id");
//! assert_eq!(res.headers()["vary"], "origin");
//!
//! // A look-alike origin is not allowed: no CORS headers, but still `Vary: origin`.
//! let get = Request::get("/items")
//!     .header(header::ORIGIN, "https://app.example.evil.com")
//!     .body(())?;
//! let res = app.clone().oneshot(get).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert!(!res.headers().contains_key("access-control-allow-origin"));
//! assert_eq!(res.headers()["vary"], "origin");
//!
//! // An OPTIONS request without Access-Control-Request-Method is not a preflight.
//! let options = Request::options("/items").header(header::ORIGIN, "https://app.example").body(())?;
//! let res = app.clone().oneshot(options).await?;
//! let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
//! assert_eq!(body, "the inner service's own OPTIONS");
//!
//! // What browsers would refuse is an error from `build()`, not a panic.
//! let err = Cors::builder().allow_any_origin().allow_credentials(true).build().unwrap_err();
//! assert_eq!(err, armature_layers::cors::CorsError::AnyOriginWithCredentials);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # The rules
//!
//! ## Preflights
//!
//! A preflight is an `OPTIONS` request with both `Origin` and `Access-Control-Request-Method`
//! (Fetch §4.8). Any other `OPTIONS` request is an ordinary request: it reaches the inner
//! service, and its response gets CORS headers like any other.
//!
//! **Preflights are answered by the layer and never forwarded**, whatever the outcome,
//! always with `204 No Content`. A rejected preflight differs only in which headers it
//! lacks, and the browser blocks the actual request; its console then names the rule that
//! failed (Chromium: "Method DELETE is not allowed by Access-Control-Allow-Methods in
//! preflight response"):
//!
//! | preflight | `-Allow-Origin` (+ `-Allow-Credentials`) | `-Allow-Methods` | `-Allow-Headers` | `-Max-Age` |
//! |---|---|---|---|---|
//! | origin, method and headers allowed | yes | yes | yes | yes |
//! | method not allowed | yes | **none** | yes, if the headers are allowed | none |
//! | a requested header not allowed | yes | yes, if the method is allowed | **none** | none |
//! | origin not allowed | **none** | none | none | none |
//!
//! The method check is Fetch's: `GET`, `HEAD` and `POST` are CORS-safelisted and always
//! pass (browsers send them cross-origin without asking, so CORS cannot forbid them); any
//! other method must be listed, compared byte for byte. Requested headers (from
//! `Access-Control-Request-Headers`) must all be listed, compared case-insensitively;
//! [`allow_any_header`](CorsBuilder::allow_any_header)'s `*` covers every header except
//! `authorization`, as in browsers.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! use armature_layers::cors::Cors;
//! use http::{header, Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let calls = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&calls);
//! let inner = service_fn(move |_req: Request<()>| {
//!     counter.fetch_add(1, Ordering::SeqCst);
//!     async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }
//! });
//! let cors = Cors::builder()
//!     .allow_origins(["https://app.example"])
//!     .allow_methods(["PUT"])
//!     .allow_headers(["x-api-key"])
//!     .build()?;
//! let app = ServiceBuilder::new().layer(cors).service(inner);
//! let preflight = |origin: &str, headers: &str| {
//!     Request::options("/")
//!         .header(header::ORIGIN, origin)
//!         .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
//!         .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
//!         .body(())
//! };
//!
//! // A header that is not allowed: no Access-Control-Allow-Headers.
//! let res = app.clone().oneshot(preflight("https://app.example", "x-api-key, x-other")?).await?;
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
//! assert_eq!(res.headers()["access-control-allow-methods"], "PUT");
//! assert!(!res.headers().contains_key("access-control-allow-headers"));
//!
//! // An origin that is not allowed: no CORS headers at all.
//! let res = app.clone().oneshot(preflight("https://other.example", "x-api-key")?).await?;
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert!(res.headers().keys().all(|name| !name.as_str().starts_with("access-control-")));
//!
//! // Neither preflight reached the inner service.
//! assert_eq!(calls.load(Ordering::SeqCst), 0);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! ## Actual requests
//!
//! Everything that is not a preflight goes to the inner service. If the origin is allowed,
//! the response gets `Access-Control-Allow-Origin` (the request's origin, or `*` with
//! [`allow_any_origin`](CorsBuilder::allow_any_origin)),
//! `Access-Control-Allow-Credentials: true` when credentials are allowed, and
//! `Access-Control-Expose-Headers` when headers are exposed. If not, it gets none of them.
//!
//! **The layer owns these three headers**: values the inner service set are overwritten,
//! or removed when the origin is not allowed, so a disallowed origin never receives CORS
//! headers and an allowed one never receives two conflicting `Access-Control-Allow-Origin`
//! values (which browsers reject). For per-route policies, give each route its own layer.
//!
//! ## `Vary`
//!
//! So that caches never serve one origin's answer to another:
//! * every actual response gets `Vary: origin` whenever `Access-Control-Allow-Origin`
//!   depends on the request (always, except with `allow_any_origin`), including responses
//!   to requests without `Origin` or from disallowed origins;
//! * every preflight answer gets
//!   `Vary: origin, access-control-request-method, access-control-request-headers`;
//! * `Vary` values already set by the inner service are kept, a name already listed (in any
//!   case) is not added twice, and `Vary: *` is left alone.
//!
//! ```
//! use armature_layers::cors::Cors;
//! use http::{header, HeaderValue, Request, Response};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! // An inner service that varies on Accept-Encoding and sets its own (wrong) CORS header.
//! let inner = service_fn(|_req: Request<()>| async {
//!     let mut res = Response::new(String::new());
//!     res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
//!     res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
//!     Ok::<_, std::convert::Infallible>(res)
//! });
//! let cors = Cors::builder().allow_origins(["https://app.example"]).build()?;
//! let app = ServiceBuilder::new().layer(cors).service(inner);
//! let from = |origin: &str| Request::get("/").header(header::ORIGIN, origin).body(());
//!
//! let res = app.clone().oneshot(from("https://app.example")?).await?;
//! assert_eq!(res.headers()["vary"], "accept-encoding, origin");
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
//!
//! let res = app.clone().oneshot(from("https://other.example")?).await?;
//! assert_eq!(res.headers()["vary"], "accept-encoding, origin");
//! assert!(!res.headers().contains_key("access-control-allow-origin"));
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! ## Origins
//!
//! The request's `Origin` must equal an allowed origin byte for byte, so
//! `https://a.example` allows neither `https://a.example.evil.com`, `https://evil-a.example`,
//! `http://a.example`, nor `https://a.example:8443`. The allowed origins are checked at build
//! time to be serialized origins as browsers send them (`scheme://host[:port]`: lowercase,
//! no default port, no path, no trailing slash), since anything else could never match.
//!
//! `null` (sandboxed iframes, `file:` pages) is allowed only after
//! [`allow_null_origin`](CorsBuilder::allow_null_origin); predicates are never asked about
//! it, nor about malformed origins. A request with two `Origin` fields is treated as coming
//! from a disallowed origin. With [`allow_any_origin`](CorsBuilder::allow_any_origin) every
//! response carries `*`, which browsers honour for every origin, `null` included, but never
//! with credentials.
//!
//! ```
//! use armature_layers::cors::Cors;
//! use http::{header, Request, Response};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio_test::block_on(async {
//! let cors = Cors::builder()
//!     .allow_origins(["https://app.example"])
//!     // Whole-host suffix: note the dot, so `eviltenant.example` does not match.
//!     .allow_origin_predicate(|origin, _request| {
//!         origin.strip_prefix("https://").is_some_and(|host| host.ends_with(".tenant.example"))
//!     })
//!     .build()?;
//! let inner = service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//! });
//! let app = ServiceBuilder::new().layer(cors).service(inner);
//! for (origin, allowed) in [
//!     ("https://app.example", true),
//!     ("https://a.tenant.example", true),
//!     ("https://app.example.evil.com", false),
//!     ("https://eviltenant.example", false),
//!     ("http://app.example", false),
//!     ("null", false),
//! ] {
//!     let req = Request::get("/").header(header::ORIGIN, origin).body(())?;
//!     let res = app.clone().oneshot(req).await?;
//!     let reflected = res.headers().get("access-control-allow-origin");
//!     assert_eq!(reflected.is_some(), allowed, "{origin}");
//! }
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! ## Invalid configurations
//!
//! They are a [`CorsError`] from [`build`](CorsBuilder::build), never a panic: with
//! [`allow_credentials(true)`](CorsBuilder::allow_credentials), any wildcard
//! (`allow_any_origin`, `allow_any_method`, `allow_any_header`, `expose_any_header`),
//! `mirror_any_origin` and `allow_null_origin` (but not `mirror_request_headers`: the origins
//! stay a list); an origin
//! that is not a serialized origin; an invalid method or header name; a literal `*` in a
//! list; and contradicting settings (such as `allow_any_origin` with `allow_origins`).
//!
//! ```
//! use armature_layers::cors::{Cors, CorsError};
//!
//! let err = Cors::builder().allow_origins(["https://app.example/"]).build().unwrap_err();
//! assert!(matches!(err, CorsError::InvalidOrigin { .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "invalid CORS origin \"https://app.example/\": an origin has no path, not even a trailing slash"
//! );
//! let err = Cors::builder()
//!     .allow_origins(["https://app.example"])
//!     .allow_any_header()
//!     .allow_credentials(true)
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err, CorsError::AnyHeaderWithCredentials);
//! let err = Cors::builder().allow_headers(["x api"]).build().unwrap_err();
//! assert_eq!(err, CorsError::InvalidHeaderName { name: "x api".into() });
//! ```
//!
//! ## Cost per request
//!
//! A lookup: every header value (the joined method and header lists, `max-age`, `Vary`) is
//! computed by `build()`; an exact origin is found by comparing bytes in a small set (a
//! hash set beyond eight origins); only a predicate or `mirror_any_origin` parses the
//! request's origin. [`Cors::permissive`] is an open preset for development.
//!
//! [fetch]: https://fetch.spec.whatwg.org/#http-cors-protocol

mod allow_origin;
mod builder;
mod error;
mod future;
mod layer;
mod policy;
mod service;
mod vary;

pub use builder::CorsBuilder;
pub use error::CorsError;
pub use future::ResponseFuture;
pub use layer::CorsLayer;
pub use service::Cors;
