//! Guarded routes (`RouterBuilder::route_if`): a route whose guard refuses a path's parameter
//! values is passed over, and the lookup backtracks to the next route in precedence order.

use crate::support;

use armature_router::{get, post, PathParams, RouteError, Router};
use http::{Method, Request, StatusCode};
use support::{echo, echo_as, pairs};

fn digits(name: &'static str) -> impl Fn(&PathParams) -> bool + Send + Sync + 'static {
    move |params| {
        params
            .get(name)
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    }
}

fn router() -> Router<()> {
    Router::builder()
        .route_if("/docs/{page}", digits("page"), get(echo))
        .route("/docs/{*rest}", get(echo))
        .route_if("/users/me", |_: &PathParams| false, get(echo))
        .route("/users/{id}", get(echo))
        .route_if(
            "/files/{*path}",
            |p: &PathParams| !p["path"].ends_with(".tmp"),
            get(echo),
        )
        .route("/{*fallback}", get(echo))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_refused_route_gives_way_to_the_next_in_precedence() {
    let router = router();
    // (path, the route that answers, its parameters)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        ("/docs/12", "/docs/{page}", &[("page", "12")]),
        ("/docs/intro", "/docs/{*rest}", &[("rest", "intro")]),
        ("/docs/12/more", "/docs/{*rest}", &[("rest", "12/more")]),
        // The guard sees decoded values: `%31%32` is `12`.
        ("/docs/%31%32", "/docs/{page}", &[("page", "12")]),
        // A static route that refuses leaves the path to the parameter.
        ("/users/me", "/users/{id}", &[("id", "me")]),
        ("/users/7", "/users/{id}", &[("id", "7")]),
        // A refused catch-all backtracks to the root's.
        ("/files/a/b.txt", "/files/{*path}", &[("path", "a/b.txt")]),
        (
            "/files/a/b.tmp",
            "/{*fallback}",
            &[("fallback", "files/a/b.tmp")],
        ),
    ];
    for &(path, route, params) in cases {
        let answer = support::get(&router, path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let seen = answer
            .seen
            .unwrap_or_else(|| panic!("{path} reached no route"));
        assert_eq!(seen.matched.as_deref(), Some(route), "{path}");
        assert_eq!(seen.params, pairs(params), "{path}");
        assert_eq!(answer.matched.as_deref(), Some(route), "{path}");
        // `at` and `route_key` agree with what serves the request.
        let found = router.at(path).map(|m| m.template().to_owned());
        let normalized = path.replace("%31%32", "12");
        let at = router.at(&normalized).map(|m| m.template().to_owned());
        assert!(found.is_none() || found.as_deref() == Some(route), "{path}");
        assert_eq!(at.as_deref(), Some(route), "{path}");
        let key = router.route_key(path).expect("a route");
        let listed: Vec<&str> = router.routes().map(|(t, _)| t).collect();
        assert_eq!(listed[key.number()], route, "{path}");
    }
}

#[tokio::test]
async fn a_refused_route_with_nothing_behind_it_is_the_fallback() {
    let router = Router::builder()
        .route_if("/items/{id}", digits("id"), get(echo).post(echo))
        .fallback(echo_as("fallback"))
        .build()
        .unwrap();
    let answer = support::get(&router, "/items/abc").await;
    assert_eq!(answer.body, "fallback");
    assert_eq!(answer.matched, None);
    // A method the route lacks is still a 405 for values it takes, a 404 for others.
    let answer = support::call(&router, Method::DELETE, "/items/1").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET,HEAD,POST");
    let answer = support::call(&router, Method::DELETE, "/items/x").await;
    assert_eq!(answer.body, "fallback");
    // HEAD follows GET.
    let answer = support::call(&router, Method::HEAD, "/items/1").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert!(router.at("/items/abc").is_none());
    assert!(router.route_key("/items/abc").is_none());
}

#[tokio::test]
async fn a_value_that_is_not_utf8_is_the_routes_400_not_a_refusal() {
    let router = Router::builder()
        .route_if("/items/{id}", |_: &PathParams| false, get(echo))
        .route("/items/{*rest}", get(echo))
        .build()
        .unwrap();
    assert_eq!(
        support::get(&router, "/items/%FF").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        support::get(&router, "/items/a").await.matched.as_deref(),
        Some("/items/{*rest}")
    );
}

#[tokio::test]
async fn guards_survive_nesting_and_see_the_whole_routes_parameters() {
    let users = Router::builder().route_if(
        "/{id}",
        |p: &PathParams| &p["org"] != "private" && p["id"].len() < 4,
        get(echo),
    );
    let router = Router::builder()
        .nest("/orgs/{org}/users", users)
        .route("/orgs/{org}/{*rest}", get(echo_as("rest")))
        .build()
        .unwrap();
    let answer = support::get(&router, "/orgs/acme/users/42").await;
    let seen = answer.seen.expect("a route");
    assert_eq!(seen.matched.as_deref(), Some("/orgs/{org}/users/{id}"));
    assert_eq!(seen.params, pairs(&[("org", "acme"), ("id", "42")]));
    assert_eq!(
        support::get(&router, "/orgs/acme/users/12345").await.body,
        "rest"
    );
    assert_eq!(
        support::get(&router, "/orgs/private/users/42").await.body,
        "rest"
    );
}

#[tokio::test]
async fn the_trailing_slash_redirect_asks_the_guard() {
    let router = Router::builder()
        .redirect_trailing_slash(true)
        .route_if("/pages/{n}", digits("n"), get(echo))
        .build()
        .unwrap();
    let answer = support::get(&router, "/pages/3/").await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(answer.headers["location"], "/pages/3");
    assert_eq!(
        support::get(&router, "/pages/x/").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_guarded_route_owns_its_shape() {
    let handler = || get(|_req: Request<()>| async { "" });
    let conflict = |result: Result<Router<()>, RouteError>| match result {
        Err(RouteError::Conflict { route, existing }) => (route, existing),
        other => panic!("expected a conflict, got {other:?}"),
    };
    let (route, existing) = conflict(
        Router::builder()
            .route_if("/a/{x}", |_: &PathParams| true, handler())
            .route("/a/{y}", post(|_req: Request<()>| async { "" }))
            .build(),
    );
    assert_eq!((route.as_str(), existing.as_str()), ("/a/{y}", "/a/{x}"));
    let (route, existing) = conflict(
        Router::builder()
            .route("/a/{x}", handler())
            .route_if(
                "/a/{x}",
                |_: &PathParams| true,
                post(|_req: Request<()>| async { "" }),
            )
            .build(),
    );
    assert_eq!((route.as_str(), existing.as_str()), ("/a/{x}", "/a/{x}"));
    // `try_route_if` reports it at once, and a malformed pattern as well.
    let err = Router::builder()
        .route_if("/a/{x}", |_: &PathParams| true, handler())
        .try_route_if("/a/{z}", |_: &PathParams| true, handler())
        .unwrap_err();
    assert!(matches!(err, RouteError::Conflict { .. }), "{err:?}");
    let err = Router::<()>::builder()
        .try_route_if("/a/{x", |_: &PathParams| true, handler())
        .unwrap_err();
    assert!(!matches!(err, RouteError::Conflict { .. }), "{err:?}");
}

#[test]
fn a_guarded_catch_all_cannot_take_a_nested_fallbacks_place() {
    let never = || |_: &PathParams| false;
    let api = || {
        Router::builder()
            .route("/users", get(echo))
            .fallback(echo_as("api fallback"))
    };
    let conflict = |result: Result<Router<()>, RouteError>| {
        assert!(
            matches!(result, Err(RouteError::Conflict { .. })),
            "{:?}",
            result.err()
        );
    };
    // Added after the scope, before it, or at the scope's own root: what the guard refuses
    // would have nowhere to go but the root fallback, past the scope's own.
    conflict(
        Router::builder()
            .nest("/api", api())
            .route_if("/api/{*rest}", never(), get(echo))
            .build(),
    );
    conflict(
        Router::builder()
            .route_if("/api/{*rest}", never(), get(echo))
            .nest("/api", api())
            .build(),
    );
    let inner = Router::builder()
        .route_if("/{*rest}", never(), get(echo))
        .fallback(echo_as("api fallback"));
    conflict(Router::builder().nest("/api", inner).build());
    // An unguarded catch-all still takes the fallback's place; a guarded one without a
    // nested fallback is fine.
    let router = Router::builder()
        .nest("/api", api())
        .route("/api/{*rest}", get(echo_as("rest")))
        .build()
        .unwrap();
    assert!(router.routes().any(|(t, _)| t == "/api/{*rest}"));
    let inner = Router::builder().route_if("/{*rest}", never(), get(echo));
    let router = Router::builder()
        .nest("/api", inner)
        .fallback(echo_as("root fallback"))
        .build()
        .unwrap();
    let answer = tokio_test::block_on(support::get(&router, "/api/x"));
    assert_eq!(answer.body, "root fallback");
}

#[tokio::test]
async fn a_guards_panic_surfaces_when_the_future_is_polled_not_in_call() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use tower::{Service, ServiceExt};

    let mut router = Router::builder()
        .redirect_trailing_slash(true)
        .route_if("/boom/{x}", |p: &PathParams| &p["nope"] == "x", get(echo))
        .route("/fine", get(echo))
        .build()
        .unwrap();
    // The guard asked for the path, and for the path without its slash (the redirect's).
    for path in ["/boom/1", "/boom/1/"] {
        let req = Request::get(path).body(()).unwrap();
        // Making the future does not panic ...
        let future = catch_unwind(AssertUnwindSafe(|| router.call(req))).expect("call returns");
        // ... polling it does, with the guard's payload.
        let polled = tokio::spawn(future).await;
        assert!(polled.expect_err("re-raised on poll").is_panic(), "{path}");
    }
    // `at` and `route_key` are where the caller asked: the panic is theirs.
    assert!(catch_unwind(AssertUnwindSafe(|| router.at("/boom/1").is_some())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| router.route_key("/boom/1"))).is_err());
    // The router goes on serving.
    let res = router
        .clone()
        .oneshot(Request::get("/fine").body(()).unwrap())
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
}
