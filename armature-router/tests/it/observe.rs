//! What a router reports to an observation (`armature_router::observe`): the route it matched,
//! by number and template, through nesting and layers; `Unmatched` for what its fallbacks
//! answer; and the same keys as `route_key` finds by path.

use armature_router::{get, observe, on_service, post, Observed, RouteKey, Router, RouterBuilder};
use http::{Method, Request};
use tower::Service;

fn api() -> RouterBuilder<()> {
    Router::builder()
        .route("/health", get(|_r: Request<()>| async { "ok" }))
        .nest(
            "/v1",
            Router::builder()
                .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
                .route("/files/{*path}", post(|_r: Request<()>| async { "saved" }))
                .fallback(|_r: Request<()>| async { "v1 fallback" }),
        )
        .redirect_trailing_slash(true)
}

/// What the router reports for `method path`, as (number, template).
fn seen(router: &mut Router<()>, method: Method, path: &str) -> Observed<(RouteKey, String)> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(())
        .unwrap();
    observe(
        || router.call(req),
        |key, template| (key, template.to_owned()),
    )
    .1
}

#[test]
fn routes_are_reported_by_key_and_template_and_fallbacks_as_unmatched() {
    let mut router = api().build().unwrap();
    let templates: Vec<String> = router.routes().map(|(t, _)| t.to_owned()).collect();
    assert_eq!(
        templates,
        ["/health", "/v1/users/{id}", "/v1/files/{*path}"]
    );
    let keys: Vec<RouteKey> = router.route_keys().collect();
    let cases = [
        (Method::GET, "/health", Some(0)),
        (Method::GET, "/v1/users/%34%32", Some(1)),
        // A method the route lacks (405) and HEAD (from GET) are still the route's.
        (Method::DELETE, "/v1/users/42", Some(1)),
        (Method::HEAD, "/v1/users/42", Some(1)),
        (Method::POST, "/v1/files/a/b.txt", Some(2)),
        // The nested fallback, the root fallback, a trailing-slash redirect, bad encoding.
        (Method::GET, "/v1/nothing", None),
        (Method::GET, "/nothing", None),
        (Method::GET, "/health/", None),
        (Method::GET, "/v1/users/%zz", None),
    ];
    for (method, path, number) in cases {
        let expected = match number {
            Some(n) => Observed::Route((keys[n], templates[n].clone())),
            None => Observed::Unmatched,
        };
        assert_eq!(
            seen(&mut router, method.clone(), path),
            expected,
            "{method} {path}"
        );
        assert_eq!(
            router.route_key(path),
            number.map(|n| keys[n]),
            "route_key({path})"
        );
    }
}

#[test]
fn a_router_nested_as_a_service_does_not_overwrite_the_outer_report() {
    let inner = Router::builder()
        .route("/{*rest}", get(|_r: Request<()>| async { "inner" }))
        .build()
        .unwrap();
    let mut outer = Router::builder()
        .route("/health", get(|_r: Request<()>| async { "ok" }))
        .route("/inner/{*rest}", on_service(Method::GET, inner))
        .build()
        .unwrap();
    let inner_number = 1;
    match seen(&mut outer, Method::GET, "/inner/x") {
        Observed::Route((key, template)) => {
            assert_eq!(
                (key.number(), template.as_str()),
                (inner_number, "/inner/{*rest}")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn routers_built_alike_share_keys_and_others_do_not() {
    let a = api().build().unwrap();
    let more = api()
        .route("/metrics", get(|_r: Request<()>| async { "" }))
        .build()
        .unwrap();
    let reordered = Router::<()>::builder()
        .route("/v1/users/{id}", get(|_r: Request<()>| async { "" }))
        .route("/health", get(|_r: Request<()>| async { "" }))
        .build()
        .unwrap();
    let a_keys: Vec<_> = a.route_keys().collect();
    let more_keys: Vec<_> = more.route_keys().collect();
    assert_eq!(a_keys[..], more_keys[..3]);
    assert!(reordered.route_keys().all(|k| !a_keys.contains(&k)));
}
