//! Route metadata: opaque values attached per method, read back from the built route table
//! by type (armature-openapi keeps each operation's description there).

use armature_router::{get, post, Router};
use http::{Method, Request};
use tower::ServiceExt;

#[derive(Debug, PartialEq)]
struct Doc(&'static str);

#[derive(Debug, PartialEq)]
struct Other(u32);

fn ok(_req: Request<()>) -> std::future::Ready<&'static str> {
    std::future::ready("ok")
}

fn docs(router: &Router<()>, template: &str) -> Vec<(Method, &'static str)> {
    router
        .metadata::<Doc>(template)
        .map(|(m, d)| (m.clone(), d.0))
        .collect()
}

#[test]
fn metadata_is_found_by_route_method_and_type() {
    let router = Router::builder()
        .route(
            "/users",
            get(ok)
                .post(ok)
                .metadata(Method::GET, Doc("list"))
                .metadata(Method::POST, Doc("create"))
                .metadata(Method::GET, Other(7)),
        )
        .route("/plain", get(ok))
        .build()
        .unwrap();
    assert_eq!(
        docs(&router, "/users"),
        [(Method::GET, "list"), (Method::POST, "create")]
    );
    let other: Vec<_> = router.metadata::<Other>("/users").collect();
    assert_eq!(other, [(&Method::GET, &Other(7))]);
    assert!(docs(&router, "/plain").is_empty());
    assert!(docs(&router, "/nope").is_empty());
}

#[test]
fn a_second_value_of_the_same_type_replaces_the_first() {
    let router = Router::builder()
        .route(
            "/a",
            get(ok)
                .metadata(Method::GET, Doc("old"))
                .metadata(Method::GET, Doc("new")),
        )
        .build()
        .unwrap();
    assert_eq!(docs(&router, "/a"), [(Method::GET, "new")]);
}

#[test]
fn metadata_survives_merging_nesting_and_layers() {
    let users = Router::builder()
        .route("/{id}", get(ok).metadata(Method::GET, Doc("one")))
        .route("/{id}", post(ok).metadata(Method::POST, Doc("update")))
        .layer(tower::layer::util::Identity::new());
    let router = Router::builder()
        .nest("/api/users", users)
        .fallback(ok)
        .build()
        .unwrap();
    assert_eq!(
        docs(&router, "/api/users/{id}"),
        [(Method::GET, "one"), (Method::POST, "update")]
    );
}

#[test]
fn metadata_for_a_method_the_route_does_not_serve_is_still_listed() {
    let router = Router::builder()
        .route("/a", get(ok).metadata(Method::DELETE, Doc("ghost")))
        .build()
        .unwrap();
    assert_eq!(docs(&router, "/a"), [(Method::DELETE, "ghost")]);
    let (_, methods) = router.routes().next().unwrap();
    assert_eq!(methods, [Method::GET]);
}

#[tokio::test]
async fn metadata_does_not_change_dispatch() {
    let router = Router::builder()
        .route("/a", get(ok).metadata(Method::GET, Doc("a")))
        .build()
        .unwrap();
    let res = router
        .clone()
        .oneshot(Request::get("/a").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = router
        .oneshot(Request::post("/a").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}
