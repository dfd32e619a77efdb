//! How the analytics layer finds a request's route: the router tells it as it matches
//! (`armature_router::observe`), whether it runs in the layer's `call` or later in its future's
//! `poll`; a request no router sees is looked up by path in the registered router; and routes
//! the registered router lacks are still labelled by their template.

use std::collections::BTreeMap;
use std::convert::Infallible;

use armature_layers::analytics::AnalyticsLayer;
use armature_router::{get, Router, RouterBuilder};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{service_fn, Layer, Service, ServiceExt};

fn api() -> RouterBuilder<()> {
    Router::builder()
        .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
        .route("/plaintext", get(|_r: Request<()>| async { "hi" }))
}

/// Sends `GET path` through `svc` and reads the response to its end.
async fn send<S, B>(svc: &S, path: &str) -> StatusCode
where
    S: Service<Request<()>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let res = svc
        .clone()
        .oneshot(Request::get(path).body(()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    res.into_body().collect().await.unwrap();
    status
}

/// `"METHOD route" -> requests`, for the routes with any.
fn counts(analytics: &AnalyticsLayer) -> BTreeMap<String, u64> {
    analytics
        .summary()
        .routes
        .into_iter()
        .filter(|r| r.requests > 0)
        .map(|r| (format!("{} {}", r.method, r.route), r.requests))
        .collect()
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn the_router_reports_its_route_from_call_or_from_poll() {
    let router = api().build().unwrap();
    for registered in [false, true] {
        let builder = AnalyticsLayer::builder();
        let analytics = if registered {
            builder.routes(&router).build()
        } else {
            builder.build()
        };
        // Called in the layer's `call`.
        let direct = analytics.layer(router.clone());
        // Called only when the layer polls: `oneshot` calls the router in its first poll.
        let late = {
            let router = router.clone();
            analytics.layer(service_fn(move |req| router.clone().oneshot(req)))
        };
        assert_eq!(send(&direct, "/users/1").await, StatusCode::OK);
        assert_eq!(send(&direct, "/users/%32").await, StatusCode::OK);
        assert_eq!(send(&late, "/users/3").await, StatusCode::OK);
        assert_eq!(send(&late, "/plaintext").await, StatusCode::OK);
        assert_eq!(send(&direct, "/nope").await, StatusCode::NOT_FOUND);
        assert_eq!(send(&late, "/users/%zz").await, StatusCode::BAD_REQUEST);
        assert_eq!(
            counts(&analytics),
            expect(&[
                ("GET /plaintext", 1),
                ("GET /users/{id}", 3),
                ("GET unmatched", 2)
            ]),
            "registered: {registered}"
        );
    }
}

#[tokio::test]
async fn a_request_no_router_sees_is_looked_up_by_path_in_the_registered_router() {
    let router = api().build().unwrap();
    let analytics = AnalyticsLayer::builder().routes(&router).build();
    // Refuses every request itself, as a rate limiter or an auth layer does.
    let refusing = analytics.layer(service_fn(|_req: Request<()>| async {
        let mut res = Response::new(String::from("no"));
        *res.status_mut() = StatusCode::FORBIDDEN;
        Ok::<_, Infallible>(res)
    }));
    // The router runs on another task: it reports to no observation of this thread.
    let spawned = {
        let router = router.clone();
        analytics.layer(service_fn(move |req| {
            let router = router.clone();
            async move { tokio::spawn(router.oneshot(req)).await.unwrap() }
        }))
    };
    let mid = format!("/users/{}", "7".repeat(100)); // copied on the stack, looked up after
    let long = format!("/users/{}", "7".repeat(200)); // too long to copy: looked up before
    for path in [
        "/users/1",
        "/users/%31%32",
        "/plaintext",
        "/missing",
        mid.as_str(),
        long.as_str(),
    ] {
        assert_eq!(send(&refusing, path).await, StatusCode::FORBIDDEN);
    }
    assert_eq!(send(&spawned, "/users/5").await, StatusCode::OK);
    assert_eq!(send(&spawned, &long).await, StatusCode::OK);
    assert_eq!(
        counts(&analytics),
        expect(&[
            ("GET /plaintext", 1),
            ("GET /users/{id}", 6),
            ("GET unmatched", 1)
        ])
    );
    let users = analytics.summary();
    let users = users
        .routes
        .iter()
        .find(|r| r.route == "/users/{id}")
        .unwrap();
    assert_eq!((users.status.client_error, users.status.ok), (4, 2));
}

#[tokio::test]
async fn routes_the_registered_router_lacks_are_labelled_by_their_template() {
    // Registered: the api alone; served: the api plus a route after it, and (another
    // service) the same routes in another order, whose route numbers differ.
    let analytics = AnalyticsLayer::builder()
        .routes(&api().build().unwrap())
        .build();
    let served = analytics.layer(
        api()
            .route("/metrics", get(|_r: Request<()>| async { "# EOF" }))
            .build()
            .unwrap(),
    );
    let reordered = analytics.layer(
        Router::builder()
            .route("/plaintext", get(|_r: Request<()>| async { "hi" }))
            .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
            .build()
            .unwrap(),
    );
    for path in ["/users/1", "/metrics", "/metrics", "/plaintext"] {
        assert_eq!(send(&served, path).await, StatusCode::OK);
    }
    for path in ["/users/2", "/plaintext"] {
        assert_eq!(send(&reordered, path).await, StatusCode::OK);
    }
    assert_eq!(
        counts(&analytics),
        expect(&[
            ("GET /metrics", 2),
            ("GET /plaintext", 2),
            ("GET /users/{id}", 2)
        ])
    );
}

#[tokio::test]
async fn without_a_registered_router_routes_are_counted_by_template_whatever_their_number() {
    // One layer around two routers whose route numbers name different templates, and a
    // router with more routes than get a numbered slot (the first 256).
    let analytics = AnalyticsLayer::new();
    let first = analytics.layer(api().build().unwrap());
    let second = analytics.layer(
        Router::builder()
            .route("/plaintext", get(|_r: Request<()>| async { "hi" }))
            .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
            .build()
            .unwrap(),
    );
    let mut many = Router::builder();
    for i in 0..300 {
        many = many.route(&format!("/r{i}"), get(|_r: Request<()>| async { "" }));
    }
    let many = analytics.layer(many.build().unwrap());
    for (svc, path) in [
        (&first, "/users/1"),
        (&second, "/users/2"),
        (&second, "/plaintext"),
        (&first, "/plaintext"),
        (&first, "/users/3"),
    ] {
        assert_eq!(send(svc, path).await, StatusCode::OK);
    }
    for path in ["/r0", "/r299", "/r299", "/nope"] {
        send(&many, path).await;
    }
    assert_eq!(
        counts(&analytics),
        expect(&[
            ("GET /plaintext", 2),
            ("GET /r0", 1),
            ("GET /r299", 2),
            ("GET /users/{id}", 3),
            ("GET unmatched", 1),
        ])
    );
}

#[tokio::test]
async fn routes_past_max_routes_are_counted_as_unmatched_however_they_are_found() {
    let analytics = AnalyticsLayer::builder().max_routes(1).build();
    let svc = analytics.layer(api().build().unwrap());
    for path in ["/users/1", "/plaintext", "/users/2", "/plaintext"] {
        assert_eq!(send(&svc, path).await, StatusCode::OK);
    }
    assert_eq!(
        counts(&analytics),
        expect(&[("GET /users/{id}", 2), ("GET unmatched", 2)])
    );
}
