//! `RouterBuilder::backtrack_on_method`: a route that lacks the request's method is passed
//! over, as Fastify's find-my-way matches (a tree per method).

use crate::support;

use armature_router::{any, delete, get, post, put, Router};
use http::{Method, StatusCode};
use support::{echo, echo_as};

fn routes(backtrack: bool) -> Router<()> {
    Router::builder()
        .backtrack_on_method(backtrack)
        .route("/u/{id}", get(echo))
        .route("/u/me", post(echo))
        .route("/a/b", get(echo))
        .route("/a/{x}", post(echo))
        .route("/{*rest}", delete(echo))
        .nest(
            "/api",
            Router::builder()
                .route("/users", get(echo))
                .fallback(echo_as("api fallback")),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_route_lacking_the_method_gives_way_to_one_that_has_it() {
    let router = routes(true);
    // (method, path, the route that answers)
    let cases = [
        (Method::GET, "/u/me", "/u/{id}"),
        (Method::HEAD, "/u/me", "/u/{id}"),
        (Method::POST, "/u/me", "/u/me"),
        (Method::GET, "/a/b", "/a/b"),
        (Method::POST, "/a/b", "/a/{x}"),
        (Method::DELETE, "/a/b", "/{*rest}"),
        (Method::DELETE, "/u/me", "/{*rest}"),
    ];
    for (method, path, route) in cases {
        let answer = support::call(&router, method.clone(), path).await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {path}");
        let seen = answer.seen.expect("a route answered");
        assert_eq!(seen.matched.as_deref(), Some(route), "{method} {path}");
        assert_eq!(answer.matched.as_deref(), Some(route), "{method} {path}");
    }
    // Off (the default), the most specific route decides: a 405 listing its methods.
    let strict = routes(false);
    let answer = support::get(&strict, "/u/me").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");
}

#[tokio::test]
async fn a_method_no_route_of_the_path_has_is_a_405_listing_every_routes_methods() {
    let router = routes(true);
    let answer = support::call(&router, Method::PUT, "/a/b").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET,HEAD,POST,DELETE");
    // The route reported is the path's most specific.
    assert_eq!(answer.matched.as_deref(), Some("/a/b"));
    let answer = support::call(&router, Method::PATCH, "/u/7").await;
    assert_eq!(answer.headers["allow"], "GET,HEAD,DELETE");
    // A nested fallback is not a route that serves the method: the scope's route keeps its
    // 405, and only paths no route matches reach the fallback.
    let answer = support::call(&router, Method::PUT, "/api/users").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET,HEAD,DELETE");
    assert_eq!(
        support::get(&router, "/api/nope").await.body,
        "api fallback"
    );
    // With a method-not-allowed handler, it answers, and gets the same `Allow`.
    let router = Router::builder()
        .backtrack_on_method(true)
        .route("/a/b", get(echo))
        .route("/a/{x}", put(echo))
        .method_not_allowed_fallback(echo_as("not allowed"))
        .build()
        .unwrap();
    let answer = support::call(&router, Method::POST, "/a/b").await;
    assert_eq!(answer.body, "not allowed");
    // `Allow` is added to a 405 only; the handler answered 200.
    assert!(answer.headers.get("allow").is_none());
}

#[tokio::test]
async fn it_works_with_guards_and_any() {
    let router = Router::builder()
        .backtrack_on_method(true)
        .route_if(
            "/n/{n}",
            |p: &armature_router::PathParams| p["n"].parse::<u32>().is_ok(),
            post(echo),
        )
        .route("/n/{*rest}", get(echo))
        .route("/any/{x}", any(echo))
        .route("/any/fixed", get(echo))
        .build()
        .unwrap();
    // Refused by the guard: the catch-all, whatever the method; taken: the method decides.
    let answer = support::get(&router, "/n/x").await;
    assert_eq!(answer.matched.as_deref(), Some("/n/{*rest}"));
    let answer = support::get(&router, "/n/7").await;
    assert_eq!(answer.matched.as_deref(), Some("/n/{*rest}"));
    let answer = support::call(&router, Method::POST, "/n/7").await;
    assert_eq!(answer.matched.as_deref(), Some("/n/{n}"));
    let answer = support::call(&router, Method::POST, "/n/x").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET,HEAD");
    // `any` serves every method.
    let answer = support::call(&router, Method::DELETE, "/any/fixed").await;
    assert_eq!(answer.matched.as_deref(), Some("/any/{x}"));
}
