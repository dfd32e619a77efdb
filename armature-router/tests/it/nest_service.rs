//! `RouterBuilder::nest_service`: a tower service mounted under a prefix, reached with the
//! prefix taken off the path, for every method.

use crate::support;

use armature_router::{get, handler_fn, OriginalUri, PathParams, RouteError, Router};
use http::{Method, Request, StatusCode};
use support::call;

/// The mounted service: says which method, path and query it was called with, and the
/// prefix's parameters.
async fn show(req: Request<()>) -> String {
    let params = req
        .extensions()
        .get::<PathParams>()
        .map(|p| {
            p.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    format!("{} {} [{params}]", req.method(), req.uri())
}

#[tokio::test]
async fn a_nested_service_sees_the_rest_of_the_path_for_every_method() {
    let router = Router::builder()
        .route(
            "/static/about",
            get(|_req: Request<()>| async { "a route of its own" }),
        )
        .nest_service("/static", handler_fn(show))
        .nest_service("/users/{id}/files", handler_fn(show))
        .build()
        .unwrap();
    let cases = [
        (
            Method::GET,
            "/static/css/site.css?v=2",
            "GET /css/site.css?v=2 []",
        ),
        (Method::GET, "/static", "GET / []"),
        (Method::GET, "/static/", "GET / []"),
        // Percent-encoding is kept for the service to decode; an escaped slash stays one.
        (Method::GET, "/static/a%20b/c%2Fd", "GET /a%20b/c%2Fd []"),
        (Method::DELETE, "/static/x", "DELETE /x []"),
        (
            Method::GET,
            "/users/7/files/report.pdf",
            "GET /report.pdf [id=7]",
        ),
    ];
    for (method, uri, seen) in cases {
        let answer = call(&router, method.clone(), uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {uri}");
        assert_eq!(answer.body, seen, "{method} {uri}");
    }
    // A route of the router's own beside the mount wins, as static beats catch-all.
    assert_eq!(
        call(&router, Method::GET, "/static/about").await.body,
        "a route of its own"
    );
    assert_eq!(
        call(&router, Method::GET, "/staticx").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_bad_prefix_or_a_clash_is_a_build_error() {
    for prefix in ["static", "/", "/static/", "/files/{*rest}"] {
        let err = Router::builder()
            .nest_service(prefix, handler_fn(show))
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                RouteError::InvalidPrefix { .. } | RouteError::MalformedPattern { .. }
            ),
            "{prefix}: {err}"
        );
    }
    let err = Router::builder()
        .route("/static/{*path}", get(|_req: Request<()>| async { "" }))
        .nest_service("/static", handler_fn(show))
        .build()
        .unwrap_err();
    assert!(matches!(err, RouteError::Conflict { .. }), "{err}");
    // The other way round too: nothing merges into a mount.
    let err = Router::builder()
        .nest_service("/static", handler_fn(show))
        .route("/static/", get(|_req: Request<()>| async { "" }))
        .build()
        .unwrap_err();
    assert!(matches!(err, RouteError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn a_service_mounted_in_a_scope_is_under_both_prefixes() {
    let scope = Router::builder().nest_service("/assets", handler_fn(show));
    let router = Router::builder().nest("/v1", scope).build().unwrap();
    let answer = call(&router, Method::GET, "/v1/assets/app.js").await;
    assert_eq!(answer.body, "GET /app.js []");
    // A scope parameter may have the name the mount gives its own catch-all.
    let scope = Router::builder().nest_service("/static", handler_fn(show));
    let router = Router::builder().nest("/{path}", scope).build().unwrap();
    let answer = call(&router, Method::GET, "/site/static/app.js").await;
    assert_eq!(answer.body, "GET /app.js [path=site]");
}

/// Says the path it was called with and the `OriginalUri` it sees, if any.
async fn original(req: Request<()>) -> String {
    let sent = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| "none".to_owned(), |OriginalUri(uri)| uri.to_string());
    format!("{} of {sent}", req.uri())
}

#[tokio::test]
async fn a_mounted_service_reads_the_target_as_sent_and_routes_do_not_see_it() {
    // A router mounted as a service, which mounts a service itself: the outermost target wins.
    let inner = Router::builder()
        .nest_service("/files", handler_fn(original))
        .route("/page", get(original))
        .build()
        .unwrap();
    let router = Router::builder()
        .nest_service("/app", inner)
        .route("/plain", get(original))
        .build()
        .unwrap();
    let cases = [
        ("/app/files/a.txt?v=1", "/a.txt?v=1 of /app/files/a.txt?v=1"),
        ("/app/files", "/ of /app/files"),
        ("/app/files/", "/ of /app/files/"),
        ("/app/page", "/page of /app/page"),
        ("/plain", "/plain of none"),
    ];
    for (uri, expected) in cases {
        assert_eq!(
            call(&router, Method::GET, uri).await.body,
            expected,
            "{uri}"
        );
    }
}
