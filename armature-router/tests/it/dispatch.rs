//! What the router answers once a path is matched (or not): 405 and `Allow`, `HEAD`, fallbacks,
//! nesting, layers, the request/response extensions, trailing-slash redirects, JSON, service
//! errors and request body types.

use crate::support;

use std::time::Duration;

use armature_router::{
    any, get, head, on, on_service, options, post, put, BoxError, IntoResponse, Json, MatchedRoute,
    PathParams, ReportMatchedRoute, Response, Router,
};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use support::{call, echo, echo_as, pairs, send};
use tower::util::MapResponseLayer;
use tower::{Service, ServiceExt};

/// A response mapper appending `x-tag: name`, to see which layers a request went through.
fn tag(name: &'static str) -> impl Fn(Response) -> Response + Clone + Send + Sync + 'static {
    move |mut res: Response| {
        res.headers_mut()
            .append("x-tag", HeaderValue::from_static(name));
        res
    }
}

/// The `x-tag` values of an answer, in order.
fn tags(headers: &http::HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    enum Expected {
        Allowed,
        NotAllowed(&'static str),
    }
    use Expected::{Allowed, NotAllowed};
    struct Case {
        path: &'static str,
        method: Method,
        expected: Expected,
    }
    let purge = Method::from_bytes(b"PURGE").unwrap();
    let router = Router::builder()
        .route("/get", get(echo))
        .route("/post", post(echo))
        .route("/get-post", post(echo).get(echo))
        .route("/get-head", get(echo).head(echo))
        .route("/head", head(echo))
        .route("/put-delete-patch", put(echo).patch(echo).delete(echo))
        .route("/purge-get", on(purge.clone(), echo).get(echo))
        .route("/options-trace", options(echo).trace(echo))
        .route("/any", any(echo))
        .route("/any-get", get(echo).any(echo))
        .route("/users/{id}", get(echo))
        .nest("/api", Router::builder().route("/x", get(echo)))
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case { path: "/get", method: Method::GET, expected: Allowed },
        Case { path: "/get", method: Method::HEAD, expected: Allowed },
        Case { path: "/get", method: Method::POST, expected: NotAllowed("GET,HEAD") },
        Case { path: "/get", method: purge.clone(), expected: NotAllowed("GET,HEAD") },
        Case { path: "/post", method: Method::GET, expected: NotAllowed("POST") },
        // no GET, so no implicit HEAD
        Case { path: "/post", method: Method::HEAD, expected: NotAllowed("POST") },
        Case { path: "/get-post", method: Method::DELETE, expected: NotAllowed("GET,HEAD,POST") },
        Case { path: "/get-head", method: Method::PUT, expected: NotAllowed("GET,HEAD") },
        Case { path: "/head", method: Method::GET, expected: NotAllowed("HEAD") },
        Case { path: "/head", method: Method::HEAD, expected: Allowed },
        Case {
            path: "/put-delete-patch",
            method: Method::GET,
            expected: NotAllowed("PUT,DELETE,PATCH"),
        },
        Case { path: "/put-delete-patch", method: Method::DELETE, expected: Allowed },
        Case { path: "/purge-get", method: Method::POST, expected: NotAllowed("GET,HEAD,PURGE") },
        Case { path: "/purge-get", method: purge.clone(), expected: Allowed },
        Case { path: "/options-trace", method: Method::GET, expected: NotAllowed("OPTIONS,TRACE") },
        Case { path: "/options-trace", method: Method::OPTIONS, expected: Allowed },
        // `any` answers every method without an endpoint of its own: never 405
        Case { path: "/any", method: Method::DELETE, expected: Allowed },
        Case { path: "/any", method: purge.clone(), expected: Allowed },
        Case { path: "/any-get", method: Method::POST, expected: Allowed },
        Case { path: "/any-get", method: Method::HEAD, expected: Allowed },
        Case { path: "/users/7", method: Method::DELETE, expected: NotAllowed("GET,HEAD") },
        Case { path: "/api/x", method: Method::POST, expected: NotAllowed("GET,HEAD") },
    ];
    for case in &cases {
        let answer = call(&router, case.method.clone(), case.path).await;
        let name = format!("case {} {}", case.method, case.path);
        match case.expected {
            Allowed => {
                assert_eq!(answer.status, StatusCode::OK, "{name}");
                assert!(answer.seen.is_some(), "{name}: the handler was not called");
                assert!(
                    answer.headers.get(ALLOW).is_none(),
                    "{name}: Allow on a 200"
                );
            }
            NotAllowed(allow) => {
                assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{name}");
                assert!(answer.seen.is_none(), "{name}: a handler was called");
                let values: Vec<_> = answer.headers.get_all(ALLOW).iter().collect();
                assert_eq!(values, [allow], "{name}");
                assert_eq!(answer.body, "Method Not Allowed", "{name}");
            }
        }
    }
    // Unknown paths are 404, not 405.
    let answer = call(&router, Method::POST, "/nowhere").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.headers.get(ALLOW).is_none());
}

#[tokio::test]
async fn head_is_answered_by_get_without_a_body() {
    struct Case {
        path: &'static str,
        /// Whether `HEAD` reuses the `GET` endpoint (else the route has its own `HEAD`).
        from_get: bool,
    }
    let router = Router::builder()
        .route(
            "/hello",
            get(|_req: Request<()>| async {
                (StatusCode::CREATED, [("x-custom", "yes")], "hello world")
            }),
        )
        .route(
            "/json",
            get(|_req: Request<()>| async { Json(serde_json::json!({ "a": [1, 2, 3] })) }),
        )
        .route(
            "/explicit",
            get(|_req: Request<()>| async { "from get" }).head(|_req: Request<()>| async {
                (StatusCode::ACCEPTED, [("x-head", "own")], ())
            }),
        )
        .route(
            "/sized",
            get(|_req: Request<()>| async { ([(CONTENT_LENGTH, "5")], "sized") }),
        )
        .route(
            "/layered",
            get(|_req: Request<()>| async { "layered" }).layer(MapResponseLayer::new(tag("route"))),
        )
        .route("/empty", get(|_req: Request<()>| async {}))
        .route(
            "/no-content",
            get(|_req: Request<()>| async { StatusCode::NO_CONTENT }),
        )
        .route(
            "/not-modified",
            get(|_req: Request<()>| async { StatusCode::NOT_MODIFIED }),
        )
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case { path: "/hello", from_get: true },
        Case { path: "/json", from_get: true },
        Case { path: "/explicit", from_get: false },
        Case { path: "/sized", from_get: true },
        Case { path: "/layered", from_get: true },
        Case { path: "/empty", from_get: true },
        Case { path: "/no-content", from_get: true },
        Case { path: "/not-modified", from_get: true },
    ];
    for case in &cases {
        let got = call(&router, Method::GET, case.path).await;
        let head = call(&router, Method::HEAD, case.path).await;
        let name = format!("case {}", case.path);
        assert!(head.body.is_empty(), "{name}: HEAD body {:?}", head.body);
        if !case.from_get {
            assert_ne!(
                head.status, got.status,
                "{name}: the route's own HEAD must answer"
            );
            continue;
        }
        assert_eq!(head.status, got.status, "{name}");
        for (header, value) in &got.headers {
            assert_eq!(
                head.headers.get(header),
                Some(value),
                "{name}: header {header}"
            );
        }
        // RFC 9110 §8.6: no Content-Length on 1xx and 204; on a 304 only the length a 200
        // would have had, which the router cannot know.
        let bodiless = matches!(
            got.status,
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        );
        let length = head
            .headers
            .get(CONTENT_LENGTH)
            .map(|v| v.to_str().unwrap().to_owned());
        if bodiless {
            assert_eq!(length, None, "{name}: content-length on a {}", head.status);
        } else {
            assert_eq!(
                length,
                Some(got.body.len().to_string()),
                "{name}: content-length"
            );
            let extra: Vec<_> = head
                .headers
                .keys()
                .filter(|h| !got.headers.contains_key(*h) && *h != CONTENT_LENGTH)
                .collect();
            assert!(extra.is_empty(), "{name}: HEAD has extra headers {extra:?}");
        }
    }
    let explicit = call(&router, Method::HEAD, "/explicit").await;
    assert_eq!(explicit.status, StatusCode::ACCEPTED);
    assert_eq!(explicit.headers["x-head"], "own");
    let layered = call(&router, Method::HEAD, "/layered").await;
    assert_eq!(
        tags(&layered.headers),
        ["route"],
        "HEAD goes through the GET route's layers"
    );
}

#[tokio::test]
async fn not_found_comes_from_the_fallback() {
    struct Case {
        name: &'static str,
        router: Router<()>,
        status: StatusCode,
        body: &'static str,
    }
    let routes = || Router::builder().route("/known", get(echo));
    let cases = [
        Case {
            name: "default fallback",
            router: routes().build().unwrap(),
            status: StatusCode::NOT_FOUND,
            body: "Not Found",
        },
        Case {
            name: "custom fallback",
            router: routes()
                .fallback(|req: Request<()>| async move {
                    (
                        StatusCode::NOT_FOUND,
                        format!("no route for {}", req.uri().path()),
                    )
                })
                .build()
                .unwrap(),
            status: StatusCode::NOT_FOUND,
            body: "no route for /unknown/path",
        },
        Case {
            name: "fallback service",
            router: routes()
                .fallback_service(tower::service_fn(|req: Request<()>| async move {
                    Ok::<_, BoxError>((StatusCode::GONE, format!("gone: {}", req.method())))
                }))
                .build()
                .unwrap(),
            status: StatusCode::GONE,
            body: "gone: GET",
        },
    ];
    for case in &cases {
        let answer = support::get(&case.router, "/unknown/path").await;
        assert_eq!(answer.status, case.status, "case {}", case.name);
        assert_eq!(answer.body, case.body, "case {}", case.name);
        assert_eq!(
            answer.matched, None,
            "case {}: fallback answers carry no route",
            case.name
        );
        // the fallback takes every method, and known routes still answer
        let answer = call(&case.router, Method::DELETE, "/unknown/path").await;
        assert_eq!(answer.status, case.status, "case {} DELETE", case.name);
        let answer = support::get(&case.router, "/known").await;
        assert_eq!(answer.status, StatusCode::OK, "case {}: /known", case.name);
    }
}

#[tokio::test]
async fn nesting() {
    enum Expected {
        Route(&'static str, &'static [(&'static str, &'static str)]),
        /// Answered by the fallback whose body is this.
        Fallback(&'static str),
    }
    use Expected::{Fallback, Route};
    struct Case {
        path: &'static str,
        expected: Expected,
    }
    async fn check(router: &Router<()>, cases: &[Case]) {
        for case in cases {
            let answer = support::get(router, case.path).await;
            let name = format!("case {}", case.path);
            let seen = answer.seen.expect(&name);
            match case.expected {
                Route(template, params) => {
                    assert_eq!(answer.status, StatusCode::OK, "{name}");
                    assert_eq!(answer.body, "echo", "{name}");
                    assert_eq!(seen.matched.as_deref(), Some(template), "{name}: request");
                    assert_eq!(
                        answer.matched.as_deref(),
                        Some(template),
                        "{name}: response"
                    );
                    assert_eq!(seen.params, pairs(params), "{name}");
                }
                Fallback(body) => {
                    assert_eq!(answer.body, body, "{name}");
                    assert_eq!(seen.matched, None, "{name}: fallback request");
                    assert_eq!(answer.matched, None, "{name}: fallback response");
                }
            }
        }
    }
    let api = Router::builder()
        .route("/", get(echo))
        .route("/users/{id}", get(echo))
        .route("/users/:id/posts", get(echo))
        .fallback(echo_as("api fallback"));
    let repos = Router::builder()
        .route("/", get(echo))
        .route("/repos/{repo}", get(echo));
    let router = Router::builder()
        .route("/", get(echo))
        .route("/api/v1/health", get(echo))
        .nest("/api/v1", api)
        .nest("/orgs/{org}", repos)
        .fallback(echo_as("root fallback"))
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case { path: "/", expected: Route("/", &[]) },
        // a nested `/` becomes the prefix itself
        Case { path: "/api/v1", expected: Route("/api/v1", &[]) },
        Case { path: "/api/v1/users/7", expected: Route("/api/v1/users/{id}", &[("id", "7")]) },
        Case {
            path: "/api/v1/users/7/posts",
            expected: Route("/api/v1/users/{id}/posts", &[("id", "7")]),
        },
        Case { path: "/api/v1/health", expected: Route("/api/v1/health", &[]) },
        // the nested fallback answers under the prefix ...
        Case { path: "/api/v1/nope", expected: Fallback("api fallback") },
        Case { path: "/api/v1/users/7/likes", expected: Fallback("api fallback") },
        Case { path: "/api/v1/users", expected: Fallback("api fallback") },
        // ... and only there
        Case { path: "/api", expected: Fallback("root fallback") },
        Case { path: "/api/v2/users/7", expected: Fallback("root fallback") },
        Case { path: "/api/v1x/nope", expected: Fallback("root fallback") },
        Case { path: "/nope", expected: Fallback("root fallback") },
        // parameters in the prefix
        Case { path: "/orgs/rust", expected: Route("/orgs/{org}", &[("org", "rust")]) },
        Case {
            path: "/orgs/rust/repos/tokio",
            expected: Route(
                "/orgs/{org}/repos/{repo}",
                &[("org", "rust"), ("repo", "tokio")],
            ),
        },
        Case { path: "/orgs/rust/repos", expected: Fallback("root fallback") },
        Case { path: "/orgs", expected: Fallback("root fallback") },
    ];
    check(&router, &cases).await;
    // A nested fallback is not a route of the table.
    let templates: Vec<_> = router.routes().map(|(t, _)| t.to_owned()).collect();
    assert_eq!(
        templates,
        [
            "/",
            "/api/v1/health",
            "/api/v1",
            "/api/v1/users/{id}",
            "/api/v1/users/{id}/posts",
            "/orgs/{org}",
            "/orgs/{org}/repos/{repo}",
        ]
    );

    // Fallbacks of deeper scopes and under parameters named like the fallback's catch-all.
    let router = Router::builder()
        .nest(
            "/{path}",
            Router::builder()
                .route("/x", get(echo))
                .nest(
                    "/in",
                    Router::builder()
                        .route("/y", get(echo))
                        .fallback(echo_as("inner fallback")),
                )
                .fallback(echo_as("outer fallback")),
        )
        .nest(
            "/all",
            Router::builder()
                .route("/{*rest}", get(echo))
                .fallback(echo),
        )
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case { path: "/p/x", expected: Route("/{path}/x", &[("path", "p")]) },
        Case { path: "/p/in/y", expected: Route("/{path}/in/y", &[("path", "p")]) },
        Case { path: "/p/in/z", expected: Fallback("inner fallback") },
        Case { path: "/p/in", expected: Fallback("outer fallback") },
        Case { path: "/p/z/z", expected: Fallback("outer fallback") },
        Case { path: "/all/a/b", expected: Route("/all/{*rest}", &[("rest", "a/b")]) },
    ];
    check(&router, &cases).await;
    let answer = support::get(&router, "/p").await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "/p: the root's default fallback"
    );

    let templates: Vec<_> = router.routes().map(|(t, _)| t.to_owned()).collect();
    assert_eq!(templates, ["/{path}/x", "/{path}/in/y", "/all/{*rest}"]);
}

#[tokio::test]
async fn per_route_layers() {
    let router = Router::builder()
        .route(
            "/tagged",
            get(echo)
                .post(echo)
                .layer(MapResponseLayer::new(tag("route"))),
        )
        .route(
            "/twice",
            get(echo)
                .layer(MapResponseLayer::new(tag("inner")))
                .layer(MapResponseLayer::new(tag("outer"))),
        )
        .route(
            "/slow",
            get(|_req: Request<()>| std::future::pending::<&'static str>())
                .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(1))),
        )
        .route(
            "/quick",
            // the inner future is polled before the timer, so a ready handler always wins
            get(echo).layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(1))),
        )
        .route("/plain", get(echo))
        .build()
        .unwrap();
    struct Case {
        method: Method,
        path: &'static str,
        status: StatusCode,
        tags: &'static [&'static str],
    }
    #[rustfmt::skip]
    let cases = [
        Case { method: Method::GET, path: "/tagged", status: StatusCode::OK, tags: &["route"] },
        Case { method: Method::POST, path: "/tagged", status: StatusCode::OK, tags: &["route"] },
        Case { method: Method::HEAD, path: "/tagged", status: StatusCode::OK, tags: &["route"] },
        // the router's own 405 is not a route endpoint
        Case {
            method: Method::PUT,
            path: "/tagged",
            status: StatusCode::METHOD_NOT_ALLOWED,
            tags: &[],
        },
        Case {
            method: Method::GET,
            path: "/twice",
            status: StatusCode::OK,
            tags: &["inner", "outer"],
        },
        Case {
            method: Method::GET,
            path: "/slow",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            tags: &[],
        },
        Case { method: Method::GET, path: "/quick", status: StatusCode::OK, tags: &[] },
        Case { method: Method::GET, path: "/plain", status: StatusCode::OK, tags: &[] },
    ];
    for case in &cases {
        let answer = call(&router, case.method.clone(), case.path).await;
        let name = format!("case {} {}", case.method, case.path);
        assert_eq!(answer.status, case.status, "{name}");
        assert_eq!(tags(&answer.headers), case.tags, "{name}");
    }
}

#[tokio::test]
async fn per_scope_layers_wrap_only_the_routes_added_before() {
    let inner = Router::builder()
        .route("/x", get(echo))
        .layer(MapResponseLayer::new(tag("inner")))
        .route("/y", get(echo))
        .fallback(echo);
    let router = Router::builder()
        .route("/before", get(echo))
        .route("/merged", get(echo))
        .layer(MapResponseLayer::new(tag("first")))
        .route("/after", get(echo))
        // merging a method into a wrapped route adds an unwrapped endpoint
        .route("/merged", post(echo))
        .nest("/nested", inner)
        .layer(MapResponseLayer::new(tag("second")))
        .route("/last", get(echo))
        .fallback(echo)
        .build()
        .unwrap();
    struct Case {
        method: Method,
        path: &'static str,
        tags: &'static [&'static str],
    }
    #[rustfmt::skip]
    let cases = [
        Case { method: Method::GET, path: "/before", tags: &["first", "second"] },
        Case { method: Method::GET, path: "/merged", tags: &["first", "second"] },
        Case { method: Method::POST, path: "/merged", tags: &["second"] },
        Case { method: Method::GET, path: "/after", tags: &["second"] },
        Case { method: Method::GET, path: "/nested/x", tags: &["inner", "second"] },
        Case { method: Method::GET, path: "/nested/y", tags: &["second"] },
        Case { method: Method::GET, path: "/last", tags: &[] },
        // fallbacks, the root one and the nested one, are not wrapped by scope layers
        Case { method: Method::GET, path: "/nowhere", tags: &[] },
        Case { method: Method::GET, path: "/nested/nowhere", tags: &[] },
    ];
    for case in &cases {
        let answer = call(&router, case.method.clone(), case.path).await;
        let name = format!("case {} {}", case.method, case.path);
        assert!(answer.seen.is_some(), "{name}: not answered by a handler");
        assert_eq!(tags(&answer.headers), case.tags, "{name}");
    }
}

#[tokio::test]
async fn matched_route_in_request_and_response_extensions() {
    struct Case {
        path: &'static str,
        matched: Option<&'static str>,
    }
    let router = Router::builder()
        .route("/users/:id", get(echo))
        .route("/static", get(echo))
        .route("/files/:dir/{*rest}", get(echo))
        .nest(
            "/api/:version",
            Router::builder()
                .route("/", get(echo))
                .route("/items/:item", get(echo))
                .fallback(echo),
        )
        .fallback(echo)
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users/42", matched: Some("/users/{id}") },
        Case { path: "/static", matched: Some("/static") },
        Case { path: "/files/a/b/c", matched: Some("/files/{dir}/{*rest}") },
        Case { path: "/api/v1", matched: Some("/api/{version}") },
        Case { path: "/api/v1/items/3", matched: Some("/api/{version}/items/{item}") },
        Case { path: "/api/v1/other", matched: None },
        Case { path: "/other", matched: None },
    ];
    for case in &cases {
        let answer = support::get(&router, case.path).await;
        let seen = answer.seen.expect("a handler answers every path");
        assert_eq!(
            seen.matched.as_deref(),
            case.matched,
            "case {}: request",
            case.path
        );
        assert_eq!(
            answer.matched.as_deref(),
            case.matched,
            "case {}: response",
            case.path
        );
    }
    // Also on the default 404 and when the route's service itself fails.
    let router = Router::builder()
        .route(
            "/fails/{id}",
            on_service(
                Method::GET,
                tower::service_fn(|_req: Request<()>| async { Err::<(), _>(BoxError::from("no")) }),
            ),
        )
        .build()
        .unwrap();
    let answer = support::get(&router, "/nope").await;
    assert_eq!(
        (answer.status, answer.matched),
        (StatusCode::NOT_FOUND, None)
    );
    let answer = support::get(&router, "/fails/1").await;
    assert_eq!(
        (answer.status, answer.matched.as_deref()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("/fails/{id}"))
    );
}

#[tokio::test]
async fn path_params_iterate_in_pattern_order() {
    struct Case {
        path: &'static str,
        params: &'static [(&'static str, &'static str)],
    }
    // Reports `get` for every name (and one missing), checking `iter`, `len` and `Index` agree.
    async fn lookup(req: Request<()>) -> String {
        let params = req.extensions().get::<PathParams>().expect("params");
        for (name, value) in params.iter() {
            assert_eq!(params.get(name), Some(value));
            assert_eq!(&params[name], value);
        }
        assert_eq!(params.len(), params.iter().count());
        assert!(!params.is_empty());
        ["z", "a", "m", "b", "y", "rest", "missing"]
            .iter()
            .map(|n| format!("{n}={:?}", params.get(n)))
            .collect::<Vec<_>>()
            .join(" ")
    }
    let router = Router::builder()
        .route("/{z}/{a}/{m}/{b}/{y}/{*rest}", get(echo))
        .route("/one/{z}", get(echo))
        .route("/get/{z}/{a}/{m}/{b}/{y}/{*rest}", get(lookup))
        .build()
        .unwrap();
    #[rustfmt::skip]
    let cases = [
        Case {
            path: "/1/2/3/4/5/6/7",
            params: &[
                ("z", "1"),
                ("a", "2"),
                ("m", "3"),
                ("b", "4"),
                ("y", "5"),
                ("rest", "6/7"),
            ],
        },
        Case {
            path: "/x/x/x/x/x/x",
            params: &[
                ("z", "x"),
                ("a", "x"),
                ("m", "x"),
                ("b", "x"),
                ("y", "x"),
                ("rest", "x"),
            ],
        },
        Case {
            path: "/caf%C3%A9/%2F/long-value-here/b/%25/r%2Fs/t",
            params: &[
                ("z", "café"),
                ("a", "/"),
                ("m", "long-value-here"),
                ("b", "b"),
                ("y", "%"),
                ("rest", "r/s/t"),
            ],
        },
        Case { path: "/one/1", params: &[("z", "1")] },
    ];
    for case in &cases {
        let seen = support::get(&router, case.path)
            .await
            .seen
            .expect(case.path);
        assert_eq!(seen.params, pairs(case.params), "case {}", case.path);
    }
    let answer = support::get(&router, "/get/1/2/3/4/5/6/7").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        r#"z=Some("1") a=Some("2") m=Some("3") b=Some("4") y=Some("5") rest=Some("6/7") missing=None"#
    );
}

#[tokio::test]
async fn trailing_slash_redirect() {
    struct Case {
        method: Method,
        uri: &'static str,
        /// `Some(location)` for a 308 when redirecting; otherwise the status is `fallback`.
        location: Option<&'static str>,
        fallback: StatusCode,
    }
    let routes = || {
        Router::builder()
            .route("/users", get(echo).post(echo))
            .route("/posts/", get(echo))
            .route("/users/{id}", get(echo))
            .route("/files/{*path}", get(echo))
            .nest(
                "/api",
                Router::builder()
                    .route("/items", get(echo))
                    .fallback(|_req: Request<()>| async { (StatusCode::NOT_FOUND, "api") }),
            )
    };
    let found = StatusCode::OK;
    let not_found = StatusCode::NOT_FOUND;
    #[rustfmt::skip]
    let cases = [
        Case { method: Method::GET, uri: "/users/", location: Some("/users"), fallback: not_found },
        Case {
            method: Method::GET,
            uri: "/users/?page=2&sort=name",
            location: Some("/users?page=2&sort=name"),
            fallback: not_found,
        },
        Case {
            method: Method::POST,
            uri: "/users/",
            location: Some("/users"),
            fallback: not_found,
        },
        Case { method: Method::GET, uri: "/posts", location: Some("/posts/"), fallback: not_found },
        Case {
            method: Method::GET,
            uri: "/posts?a=1",
            location: Some("/posts/?a=1"),
            fallback: not_found,
        },
        Case {
            method: Method::GET,
            uri: "/users/42/",
            location: Some("/users/42"),
            fallback: not_found,
        },
        // under a nested fallback too: the redirect comes before any fallback
        Case {
            method: Method::GET,
            uri: "/api/items/",
            location: Some("/api/items"),
            fallback: not_found,
        },
        // ... and never to a path only a fallback would answer
        Case { method: Method::GET, uri: "/api/nothing/", location: None, fallback: not_found },
        Case { method: Method::GET, uri: "/users", location: None, fallback: found },
        Case { method: Method::GET, uri: "/posts/", location: None, fallback: found },
        Case { method: Method::GET, uri: "/nothing/", location: None, fallback: not_found },
        Case { method: Method::GET, uri: "/nothing", location: None, fallback: not_found },
        Case { method: Method::GET, uri: "/files/", location: None, fallback: not_found },
        Case { method: Method::GET, uri: "/", location: None, fallback: not_found },
    ];
    let redirecting = routes().redirect_trailing_slash(true).build().unwrap();
    let strict = routes().build().unwrap();
    let strict_explicit = routes().redirect_trailing_slash(false).build().unwrap();
    for case in &cases {
        let name = format!("case {} {}", case.method, case.uri);
        let answer = call(&redirecting, case.method.clone(), case.uri).await;
        match case.location {
            Some(location) => {
                assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT, "{name}");
                assert_eq!(
                    answer.headers.get(LOCATION).map(|v| v.to_str().unwrap()),
                    Some(location),
                    "{name}"
                );
            }
            None => {
                assert_eq!(answer.status, case.fallback, "{name}");
                assert!(answer.headers.get(LOCATION).is_none(), "{name}");
            }
        }
        for router in [&strict, &strict_explicit] {
            let answer = call(router, case.method.clone(), case.uri).await;
            assert_eq!(answer.status, case.fallback, "{name}, strict");
            assert!(answer.headers.get(LOCATION).is_none(), "{name}, strict");
        }
    }
}

#[tokio::test]
async fn trailing_slash_redirect_never_points_at_another_host() {
    // Browsers read `\` as `/` (WHATWG URL), so a `Location` starting `/\` is a
    // network-path reference, like `//`: `/\evil.com` sends the client to `evil.com`.
    let router = Router::builder()
        .route("/{slug}", get(echo))
        .route("/{a}/{b}/", get(echo))
        .route("//{host}", get(echo))
        .redirect_trailing_slash(true)
        .build()
        .unwrap();
    for uri in [
        "/\\evil.com/",
        "/\\evil.com/?next=1",
        "/\\evil.com/x",
        "//evil.com/",
    ] {
        let answer = call(&router, Method::GET, uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(answer.headers.get(LOCATION).is_none(), "{uri}");
    }
    // Same-site redirects are still made.
    let answer = call(&router, Method::GET, "/a\\b/").await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(answer.headers[LOCATION], "/a\\b");
}

#[tokio::test]
async fn trailing_slash_redirect_only_applies_to_paths() {
    // An authority-form target (`CONNECT host:port`) has an empty path: adding a slash to it
    // is not the same resource with its slash fixed, and `/` is not where it was sent.
    let router = Router::builder()
        .route("/", get(echo))
        .redirect_trailing_slash(true)
        .build()
        .unwrap();
    let answer = call(&router, Method::CONNECT, "example.com:443").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.headers.get(LOCATION).is_none());
    let answer = call(&router, Method::OPTIONS, "*").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct User {
    name: String,
    age: u8,
}

async fn create_user(req: Request<String>) -> Response {
    match Json::<User>::from_request(req).await {
        Ok(Json(user)) => (StatusCode::CREATED, Json(user)).into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// `{"name":"Ann","age":30}` is 23 bytes: exactly the limit.
const SMALL_LIMIT: usize = 23;

async fn create_small_user(req: Request<String>) -> Response {
    match Json::<User>::from_request_with_limit(req, SMALL_LIMIT).await {
        Ok(Json(user)) => (StatusCode::CREATED, Json(user)).into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

#[tokio::test]
async fn json_extraction() {
    enum Expected {
        Created,
        /// Refused with this status and a short message holding this word.
        Rejected(StatusCode, &'static str),
    }
    use Expected::{Created, Rejected};
    struct Case {
        path: &'static str,
        content_type: Option<&'static str>,
        body: &'static str,
        expected: Expected,
    }
    const OK: &str = r#"{"name":"Ann","age":30}"#;
    const JSON: Option<&str> = Some("application/json");
    const UNSUPPORTED: Expected = Rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type");
    const MALFORMED: Expected = Rejected(StatusCode::BAD_REQUEST, "malformed");
    const WRONG_SHAPE: Expected = Rejected(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    const TOO_LARGE: Expected = Rejected(StatusCode::PAYLOAD_TOO_LARGE, "23 bytes");
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users", content_type: JSON, body: OK, expected: Created },
        Case { path: "/users", content_type: Some("application/json; charset=utf-8"), body: OK, expected: Created },
        Case { path: "/users", content_type: Some("Application/JSON"), body: OK, expected: Created },
        Case { path: "/users", content_type: Some("application/vnd.api+json"), body: OK, expected: Created },
        Case { path: "/users", content_type: Some("application/problem+json"), body: OK, expected: Created },
        Case { path: "/users", content_type: None, body: OK, expected: UNSUPPORTED },
        Case { path: "/users", content_type: Some("text/plain"), body: OK, expected: UNSUPPORTED },
        Case { path: "/users", content_type: Some("application/xml"), body: OK, expected: UNSUPPORTED },
        Case { path: "/users", content_type: Some("json"), body: OK, expected: UNSUPPORTED },
        Case { path: "/users", content_type: Some("text/json+xml"), body: OK, expected: UNSUPPORTED },
        Case { path: "/users", content_type: JSON, body: r#"{"name":"#, expected: MALFORMED },
        Case { path: "/users", content_type: JSON, body: "", expected: MALFORMED },
        Case { path: "/users", content_type: JSON, body: "{name: 1}", expected: MALFORMED },
        Case { path: "/users", content_type: JSON, body: r#"{"name":"Ann","age":"old"}"#, expected: WRONG_SHAPE },
        Case { path: "/users", content_type: JSON, body: r#"{"name":"Ann"}"#, expected: WRONG_SHAPE },
        Case { path: "/users", content_type: JSON, body: r#"{"name":"Ann","age":300}"#, expected: WRONG_SHAPE },
        Case { path: "/users", content_type: JSON, body: "[1,2]", expected: WRONG_SHAPE },
        // `/small` reads at most 23 bytes: exactly the size of `OK`
        Case { path: "/small", content_type: JSON, body: OK, expected: Created },
        Case { path: "/small", content_type: JSON, body: r#"{"name":"Anna","age":30}"#, expected: TOO_LARGE },
        Case { path: "/small", content_type: JSON, body: r#"{"name":"Ann",  "age":30}"#, expected: TOO_LARGE },
    ];
    let router = Router::builder()
        .route("/users", post(create_user))
        .route("/small", post(create_small_user))
        .build()
        .unwrap();
    for case in &cases {
        let mut req = Request::post(case.path);
        if let Some(content_type) = case.content_type {
            req = req.header(CONTENT_TYPE, content_type);
        }
        let answer = send(&router, req.body(case.body.to_owned()).unwrap()).await;
        let name = format!("case {} {:?} {:?}", case.path, case.content_type, case.body);
        match case.expected {
            Created => {
                assert_eq!(
                    answer.status,
                    StatusCode::CREATED,
                    "{name}: body {:?}",
                    answer.body
                );
                assert_eq!(answer.headers[CONTENT_TYPE], "application/json", "{name}");
                let user: User = serde_json::from_slice(&answer.body).expect("JSON echo");
                let ann = User {
                    name: "Ann".to_owned(),
                    age: 30,
                };
                assert_eq!(user, ann, "{name}");
            }
            Rejected(status, word) => {
                assert_eq!(answer.status, status, "{name}: body {:?}", answer.body);
                let message = std::str::from_utf8(&answer.body).unwrap();
                assert!(message.contains(word), "{name}: message {message:?}");
                assert!(message.len() < 200, "{name}: message too long: {message:?}");
            }
        }
    }
}

#[tokio::test]
async fn json_responses_are_application_json() {
    let router = Router::builder()
        .route(
            "/one",
            get(|_req: Request<()>| async { Json(serde_json::json!({ "id": 1, "tags": ["a"] })) }),
        )
        .route(
            "/created",
            get(|_req: Request<()>| async { (StatusCode::CREATED, Json(vec![1, 2, 3])) }),
        )
        .route(
            "/headers",
            get(|_req: Request<()>| async { ([("x-extra", "1")], Json("text")) }),
        )
        .build()
        .unwrap();
    struct Case {
        path: &'static str,
        status: StatusCode,
        json: serde_json::Value,
    }
    #[rustfmt::skip]
    let cases = [
        Case {
            path: "/one",
            status: StatusCode::OK,
            json: serde_json::json!({ "id": 1, "tags": ["a"] }),
        },
        Case { path: "/created", status: StatusCode::CREATED, json: serde_json::json!([1, 2, 3]) },
        Case { path: "/headers", status: StatusCode::OK, json: serde_json::json!("text") },
    ];
    for case in &cases {
        let answer = support::get(&router, case.path).await;
        assert_eq!(answer.status, case.status, "case {}", case.path);
        assert_eq!(
            answer.headers[CONTENT_TYPE], "application/json",
            "case {}",
            case.path
        );
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(json, case.json, "case {}", case.path);
    }
}

#[tokio::test]
async fn failing_route_services_answer_500_and_the_router_keeps_serving() {
    let failing = tower::service_fn(|req: Request<()>| async move {
        if req.uri().query() == Some("ok") {
            Ok("fine")
        } else {
            Err(BoxError::from("boom"))
        }
    });
    let mut router = Router::builder()
        .route("/fail", on_service(Method::GET, failing))
        .route("/ok", get(echo))
        .build()
        .unwrap();
    let cases = [
        ("/fail", StatusCode::INTERNAL_SERVER_ERROR),
        ("/ok", StatusCode::OK),
        ("/fail", StatusCode::INTERNAL_SERVER_ERROR),
        ("/fail?ok", StatusCode::OK),
        ("/ok", StatusCode::OK),
        ("/fail", StatusCode::INTERNAL_SERVER_ERROR),
    ];
    // One router instance, called again and again as a server would.
    for (uri, status) in cases {
        let req = Request::get(uri).body(()).unwrap();
        let res = router.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), status, "case {uri}");
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let body = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            // the service's error text is logged, not sent to the client
            assert_eq!(body, "Internal Server Error", "case {uri}");
        }
    }
}

#[tokio::test]
async fn request_body_types_other_than_unit() {
    // `Full<Bytes>`
    let router = Router::builder()
        .route("/echo/{id}", get(echo::<Full<Bytes>>))
        .route(
            "/json",
            post(|req: Request<Full<Bytes>>| async move {
                Json::<User>::from_request(req)
                    .await
                    .map(|Json(user)| Json(user.age))
            }),
        )
        .build()
        .unwrap();
    let answer = send(
        &router,
        Request::get("/echo/1").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(
        answer.seen.unwrap().params,
        pairs(&[("id", "1")]),
        "Full<Bytes> echo"
    );
    let req = Request::post("/json")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(br#"{"name":"Bo","age":7}"#)))
        .unwrap();
    let answer = send(&router, req).await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (StatusCode::OK, &b"7"[..]),
        "Full<Bytes> JSON"
    );
    let answer = send(
        &router,
        Request::delete("/json").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "Full<Bytes> 405"
    );

    // `String`, with a body-reading handler and the fallback
    let router = Router::builder()
        .route(
            "/len",
            post(|req: Request<String>| async move { req.into_body().len().to_string() }),
        )
        .fallback(|req: Request<String>| async move { (StatusCode::NOT_FOUND, req.into_body()) })
        .build()
        .unwrap();
    let answer = send(
        &router,
        Request::post("/len").body("four".to_owned()).unwrap(),
    )
    .await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (StatusCode::OK, &b"4"[..]),
        "String body"
    );
    let answer = send(
        &router,
        Request::post("/x").body("lost".to_owned()).unwrap(),
    )
    .await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (StatusCode::NOT_FOUND, &b"lost"[..]),
        "String fallback"
    );
}

#[test]
fn router_and_its_future_can_be_shared_and_spawned() {
    // What a server (hyper, armature-server, a tokio task per connection) needs of a service.
    fn shareable<T: Clone + Send + Sync + 'static>(_: &T) {}
    fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
    let router = Router::builder().route("/", get(echo)).build().unwrap();
    shareable(&router);
    spawnable(&router.clone().call(Request::get("/").body(()).unwrap()));
    let router: Router<Full<Bytes>> = Router::builder().route("/", get(echo)).build().unwrap();
    shareable(&router);
    spawnable(
        &router
            .clone()
            .call(Request::get("/").body(Full::default()).unwrap()),
    );
}

#[tokio::test]
async fn the_matched_route_reaches_the_response_only_when_asked() {
    let router = Router::builder()
        .route("/users/{id}", get(echo))
        .build()
        .unwrap();
    for (method, status) in [
        (Method::GET, StatusCode::OK),
        (Method::POST, StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let plain = Request::builder()
            .method(method.clone())
            .uri("/users/7")
            .body(())
            .unwrap();
        let res = router.clone().oneshot(plain).await.unwrap();
        assert_eq!(res.status(), status);
        assert!(
            res.extensions().get::<MatchedRoute>().is_none(),
            "{method}: not asked for"
        );

        let mut asking = Request::builder()
            .method(method.clone())
            .uri("/users/7")
            .body(())
            .unwrap();
        asking.extensions_mut().insert(ReportMatchedRoute);
        let res = router.clone().oneshot(asking).await.unwrap();
        assert_eq!(res.status(), status);
        assert_eq!(
            res.extensions()
                .get::<MatchedRoute>()
                .map(MatchedRoute::as_str),
            Some("/users/{id}"),
            "{method}"
        );
    }
    // The handler sees it in the request whether or not anyone asked.
    let answer = call(&router, Method::GET, "/users/7").await;
    assert_eq!(answer.seen.unwrap().matched.as_deref(), Some("/users/{id}"));
}

#[tokio::test]
async fn the_matched_route_extension_can_be_turned_off() {
    let inner = Router::builder().route("/items/{id}", get(echo));
    let router = Router::builder()
        .route("/static", get(echo))
        .route("/users/{id}", get(echo))
        // The nested builder asks for the extension; the one that is built decides.
        .nest("/v1", inner.matched_route_extension(true))
        .matched_route_extension(false)
        .build()
        .unwrap();
    for (path, template, params) in [
        ("/static", "/static", vec![]),
        ("/users/7", "/users/{id}", vec![("id", "7")]),
        ("/v1/items/3", "/v1/items/{id}", vec![("id", "3")]),
    ] {
        let answer = call(&router, Method::GET, path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let seen = answer.seen.expect("reached the handler");
        assert_eq!(
            seen.matched, None,
            "{path}: no MatchedRoute for the handler"
        );
        // Path parameters are still there, and a layer that asks still learns the route.
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(seen.params, params, "{path}");
        assert_eq!(answer.matched.as_deref(), Some(template), "{path}");
    }
    // A 405 still reports its route to a layer that asks.
    let answer = call(&router, Method::POST, "/users/7").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.matched.as_deref(), Some("/users/{id}"));
}

/// Deeply nested JSON is refused before parsing: a deserializer recurses once a level, and a
/// few hundred bytes of `[[[[…` would overflow the stack of a debug build and abort the
/// process. `MAX_JSON_DEPTH` levels still parse (on a test thread's 2 MiB stack, debug or not);
/// brackets inside strings do not count.
#[test]
fn json_nesting_is_bounded() {
    use armature_router::{JsonRejection, MAX_JSON_DEPTH};
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(Json::<serde_json::Value>::from_bytes(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
    let objects = format!(
        "{}1{}",
        r#"{"a":"#.repeat(MAX_JSON_DEPTH),
        "}".repeat(MAX_JSON_DEPTH)
    );
    assert!(Json::<serde_json::Value>::from_bytes(objects.as_bytes()).is_ok());
    for depth in [MAX_JSON_DEPTH + 1, 150, 100_000] {
        let refused = Json::<serde_json::Value>::from_bytes(nested(depth).as_bytes()).unwrap_err();
        assert_eq!(
            refused,
            JsonRejection::TooDeep {
                limit: MAX_JSON_DEPTH
            }
        );
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.to_string(), "JSON nested more than 64 levels deep");
    }
    // Unclosed, as an attacker would send it.
    assert!(matches!(
        Json::<serde_json::Value>::from_bytes("[".repeat(10_000).as_bytes()),
        Err(JsonRejection::TooDeep { .. })
    ));
    // Brackets in strings (escaped quotes included) are text, not nesting.
    let text = format!(r#"["\"{}"]"#, "[".repeat(1000));
    let Json(value) = Json::<serde_json::Value>::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(value[0].as_str().unwrap().len(), 1001);
}

/// A custom `405`: its answer, with the route's `Allow` added (not replacing one it set), for
/// nested routes too, with the matched route reported; the default stays plain text.
#[tokio::test]
async fn method_not_allowed_fallback_answers_with_allow_added() {
    let json_405 = |req: Request<()>| async move {
        let body = format!(
            r#"{{"detail":"Method Not Allowed","method":"{}"}}"#,
            req.method()
        );
        let mut res = (StatusCode::METHOD_NOT_ALLOWED, body).into_response();
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if req.uri().path() == "/own-allow" {
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET"));
        }
        if req.uri().path() == "/private" {
            // Another status (a check in front of it refused): no `Allow` on it.
            *res.status_mut() = StatusCode::UNAUTHORIZED;
        }
        res
    };
    let router = Router::builder()
        .route("/users", get(echo).post(echo))
        .route("/own-allow", get(echo).put(echo))
        .route("/private", get(echo))
        .nest("/api", Router::builder().route("/items/{id}", post(echo)))
        .method_not_allowed_fallback(json_405)
        .build()
        .unwrap();
    let answer = send(&router, Request::delete("/users").body(()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers[ALLOW], "GET,HEAD,POST");
    assert_eq!(answer.headers[CONTENT_TYPE], "application/json");
    assert_eq!(
        answer.body,
        r#"{"detail":"Method Not Allowed","method":"DELETE"}"#
    );
    assert_eq!(answer.matched.as_deref(), Some("/users"));
    let nested = send(&router, Request::get("/api/items/7").body(()).unwrap()).await;
    assert_eq!(nested.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(nested.headers[ALLOW], "POST");
    assert!(nested.body.starts_with(br#"{"detail""#));
    let own = send(&router, Request::delete("/own-allow").body(()).unwrap()).await;
    assert_eq!(own.headers.get_all(ALLOW).iter().count(), 1);
    assert_eq!(own.headers[ALLOW], "GET");
    let private = send(&router, Request::delete("/private").body(()).unwrap()).await;
    assert_eq!(private.status, StatusCode::UNAUTHORIZED);
    assert!(private.headers.get(ALLOW).is_none());
    // Served methods and unknown paths are untouched.
    assert_eq!(
        send(&router, Request::post("/users").body(()).unwrap())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&router, Request::get("/nowhere").body(()).unwrap())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Without one, the router's own plain-text 405.
    let plain = Router::builder()
        .route("/users", get(echo))
        .build()
        .unwrap();
    let answer = send(&plain, Request::delete("/users").body(()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body, "Method Not Allowed");
}

/// The router's own error answers, written by `error_answer`: the 400s of bad paths, and the
/// 404 and 405 no fallback replaces (`Allow` still added); a fallback set beside it wins.
#[tokio::test]
async fn error_answer_writes_the_routers_own_errors() {
    fn json_error(status: StatusCode, message: &'static str) -> Response {
        let body = format!(r#"{{"status":{},"message":"{message}"}}"#, status.as_u16());
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
    let routes = || Router::builder().route("/files/{name}", get(echo));
    let router = routes().error_answer(json_error).build().unwrap();
    let cases = [
        (
            Method::GET,
            "/files/%zz",
            400,
            r#"{"status":400,"message":"invalid percent-encoding in path"}"#,
        ),
        (
            Method::GET,
            "/files/%FF",
            400,
            r#"{"status":400,"message":"path parameter is not valid UTF-8"}"#,
        ),
        (
            Method::GET,
            "/nope",
            404,
            r#"{"status":404,"message":"Not Found"}"#,
        ),
        (
            Method::DELETE,
            "/files/a",
            405,
            r#"{"status":405,"message":"Method Not Allowed"}"#,
        ),
    ];
    for (method, uri, status, body) in cases {
        let answer = call(&router, method, uri).await;
        assert_eq!(answer.status, status, "{uri}");
        assert_eq!(answer.headers[CONTENT_TYPE], "application/json", "{uri}");
        assert_eq!(answer.body, body, "{uri}");
    }
    assert_eq!(
        call(&router, Method::DELETE, "/files/a").await.headers[ALLOW],
        "GET,HEAD"
    );
    // A fallback beside it answers the 404 itself.
    let router = routes()
        .error_answer(json_error)
        .fallback(|_req: Request<()>| async { (StatusCode::NOT_FOUND, "mine") })
        .build()
        .unwrap();
    assert_eq!(call(&router, Method::GET, "/nope").await.body, "mine");
    // The default stays plain text.
    let plain = routes().build().unwrap();
    let answer = call(&plain, Method::GET, "/files/%zz").await;
    assert_eq!(
        (answer.status, &answer.body[..]),
        (
            StatusCode::BAD_REQUEST,
            &b"invalid percent-encoding in path"[..]
        )
    );
}
