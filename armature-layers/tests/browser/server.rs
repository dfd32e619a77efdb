//! The servers of the CORS browser test, shared by `tests/it/cors_browser.rs` (which runs them
//! in-process) and `examples/cors_test_server.rs` (which runs one from the command line).
//!
//! * The **page** origin serves a blank HTML page at `/`; the browser runs `fetch()` from it.
//! * Each **API** origin serves every path through `Cors` (one preset each) in front of an
//!   `armature_router::Router`, and records what reaches the router, so a test can tell
//!   that a preflight, or a request the browser blocked at the preflight, never got there.

#![allow(dead_code)] // each includer uses a different part

use std::future::Future;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use armature_layers::cors::{Cors, CorsLayer};
use armature_router::{any, get, IntoResponse, Response, Router};
use armature_server::RequestBody;
use armature_server::{Server, ServerError};
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Method, Request, StatusCode};
use tower::ServiceBuilder;

/// The CORS configurations an API origin can run with.
pub const PRESETS: [&str; 5] = ["app", "credentials", "other", "permissive", "null"];

/// The header a page may send to the `app` and `credentials` presets.
pub const CUSTOM_HEADER: &str = "x-custom";

/// The CORS layer of `preset`, for a page served from `page_origin`.
///
/// * `app`: the page's origin; `GET`, `PUT`; header `x-custom`; exposes `x-exposed`.
/// * `credentials`: `app` plus `allow_credentials(true)`.
/// * `other`: like `app` but for `https://other.example` only, so the page is disallowed.
/// * `permissive`: [`Cors::permissive`].
/// * `null`: `app` plus `allow_null_origin()` (for pages in sandboxed iframes).
pub fn preset(name: &str, page_origin: &str) -> Result<CorsLayer, String> {
    let app = |origin: &str| {
        Cors::builder()
            .allow_origins([origin])
            .allow_methods([Method::GET, Method::PUT])
            .allow_headers([CUSTOM_HEADER])
            .expose_headers(["x-exposed"])
    };
    let built = match name {
        "app" => app(page_origin).build(),
        "credentials" => app(page_origin).allow_credentials(true).build(),
        "other" => app("https://other.example").build(),
        "permissive" => return Ok(Cors::permissive()),
        "null" => app(page_origin).allow_null_origin().build(),
        _ => return Err(format!("unknown preset {name:?}; one of {PRESETS:?}")),
    };
    built.map_err(|err| err.to_string())
}

/// What reached the inner router of an API origin, as `"METHOD /path"`.
pub type Hits = Arc<Mutex<Vec<String>>>;

/// Serves the page origin until `shutdown` completes.
pub async fn serve_page(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let router = Router::<RequestBody>::builder()
        .route(
            "/",
            get(|_req: Request<RequestBody>| async {
                (
                    [(CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!doctype html><html><head><title>CORS test page</title></head><body>page</body></html>",
                )
            }),
        )
        .route("/favicon.ico", get(|_req: Request<RequestBody>| async { StatusCode::NO_CONTENT }))
        .build()
        .expect("valid routes");
    Server::from_listener(listener)?
        .shutdown_on_signals(false)
        .with_graceful_shutdown(shutdown)
        .serve(router)
        .await
}

/// Serves an API origin behind `cors` until `shutdown` completes, recording into `hits`
/// every request that gets past the layer.
pub async fn serve_api(
    listener: TcpListener,
    cors: CorsLayer,
    hits: Hits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let router = Router::<RequestBody>::builder()
        .route("/{*path}", any(api))
        .build()
        .expect("valid routes");
    let service = ServiceBuilder::new()
        .layer(cors)
        .map_request(move |req: Request<RequestBody>| {
            let hit = format!("{} {}", req.method(), req.uri().path());
            hits.lock().expect("not poisoned").push(hit);
            req
        })
        .service(router);
    Server::from_listener(listener)?
        .shutdown_on_signals(false)
        .with_graceful_shutdown(shutdown)
        .serve(service)
        .await
}

/// Every API path: `/cookie/set` sets a cookie, `/cookie/echo` returns the request's
/// cookies, anything else answers `ok METHOD /path` with one header the page may read
/// (`x-exposed`) and one it may not (`x-hidden`).
async fn api(req: Request<RequestBody>) -> Response {
    match req.uri().path() {
        "/cookie/set" => {
            ([(SET_COOKIE, "sid=s3cret; Path=/; SameSite=Lax")], "set").into_response()
        }
        "/cookie/echo" => {
            let cookies = req
                .headers()
                .get(COOKIE)
                .and_then(|c| c.to_str().ok())
                .unwrap_or("");
            cookies.to_owned().into_response()
        }
        path => (
            [("x-exposed", "yes"), ("x-hidden", "secret")],
            format!("ok {} {path}", req.method()),
        )
            .into_response(),
    }
}
