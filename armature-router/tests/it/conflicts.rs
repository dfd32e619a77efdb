//! Build errors: every `RouteError` variant, from `build()`, from `try_route` and through `nest`.

use crate::support;

use armature_router::{any, get, on, post, RouteError, Router, RouterBuilder};
use http::{Method, StatusCode};
use support::echo;

fn builder() -> RouterBuilder<()> {
    Router::builder()
}

#[test]
fn malformed_patterns() {
    struct Case {
        pattern: &'static str,
        /// A word the reason must contain, so the message says what to change.
        reason_mentions: &'static str,
    }
    #[rustfmt::skip]
    let cases = [
        Case { pattern: "users", reason_mentions: "start with `/`" },
        Case { pattern: "", reason_mentions: "start with `/`" },
        Case { pattern: "/{}", reason_mentions: "name" },
        Case { pattern: "/{*}", reason_mentions: "name" },
        Case { pattern: "/:", reason_mentions: "name" },
        Case { pattern: "/users/:", reason_mentions: "name" },
        Case { pattern: "/{id", reason_mentions: "whole segment" },
        Case { pattern: "/id}", reason_mentions: "whole segment" },
        Case { pattern: "/img-{id}.png", reason_mentions: "whole segment" },
        Case { pattern: "/{id}.png", reason_mentions: "whole segment" },
        Case { pattern: "/v{version}/x", reason_mentions: "whole segment" },
        Case { pattern: "/{*rest}/more", reason_mentions: "last" },
        Case { pattern: "/{*rest}/", reason_mentions: "last" },
        Case { pattern: "/{*a}/{b}", reason_mentions: "last" },
        Case { pattern: "/{a}/{a}", reason_mentions: "twice" },
        Case { pattern: "/:a/{a}", reason_mentions: "twice" },
        Case { pattern: "/{a}/{*a}", reason_mentions: "twice" },
        Case { pattern: "/{a b}", reason_mentions: "ASCII letters" },
        Case { pattern: "/{:id}", reason_mentions: "ASCII letters" },
        Case { pattern: "/{**rest}", reason_mentions: "ASCII letters" },
        Case { pattern: "/:id.json", reason_mentions: "whole segment" },
        // Other routers' parameter forms (Fastify's, Express's) are named for what they are.
        Case { pattern: "/:lat-:lng", reason_mentions: "whole segment" },
        Case { pattern: "/users/:id(^\\d+)", reason_mentions: "regular expression" },
        Case { pattern: "/archive/:year?", reason_mentions: "optional" },
        // axum 0.7's (matchit 0.7's) catch-all: not a static segment named `*path`.
        Case { pattern: "/files/*path", reason_mentions: "{*name}" },
        Case { pattern: "/*rest", reason_mentions: "{*name}" },
        Case { pattern: "/:a b", reason_mentions: "ASCII letters" },
        Case { pattern: "/%zz", reason_mentions: "percent" },
        Case { pattern: "/a%", reason_mentions: "percent" },
        Case { pattern: "/a%4", reason_mentions: "percent" },
        Case { pattern: "/search?q", reason_mentions: "query" },
        Case { pattern: "/search?q={q}", reason_mentions: "query" },
        Case { pattern: "/docs#intro", reason_mentions: "fragment" },
        Case { pattern: "/a?/b", reason_mentions: "%3F" },
    ];
    for case in &cases {
        let err = builder()
            .route(case.pattern, get(echo))
            .build()
            .expect_err(case.pattern);
        match &err {
            RouteError::MalformedPattern { pattern, reason } => {
                assert_eq!(pattern, case.pattern, "case `{}`", case.pattern);
                assert!(
                    reason.contains(case.reason_mentions),
                    "case `{}`: reason {reason:?} should mention {:?}",
                    case.pattern,
                    case.reason_mentions
                );
            }
            other => panic!(
                "case `{}`: expected MalformedPattern, got {other:?}",
                case.pattern
            ),
        }
        assert!(
            err.to_string().contains(&format!("`{}`", case.pattern)),
            "case `{}`: message {err} should quote the pattern",
            case.pattern
        );
    }
}

#[test]
fn well_formed_patterns_build() {
    let cases = [
        "/",
        "//",
        "/a/",
        "/users/{id}",
        "/users/:id/posts",
        "/{a}/{b}/{c}/{d}/{e}/{f}",
        "/f/{*rest}",
        "/{*rest}",
        "/:snake_case/{kebab-case}/{Digits123}",
        "/caf%C3%A9",
        "/a%2Fb",
        "/*",
        "/a:b",
        "/a*b",
    ];
    for pattern in cases {
        let built = builder().route(pattern, get(echo)).build();
        assert!(built.is_ok(), "case `{pattern}`: {:?}", built.err());
    }
}

#[test]
fn same_shape_conflicts_name_both_routes() {
    struct Case {
        existing: &'static str,
        route: &'static str,
    }
    #[rustfmt::skip]
    let cases = [
        Case { existing: "/users/{id}", route: "/users/:name" },
        Case { existing: "/users/:id", route: "/users/{name}" },
        Case { existing: "/f/{*a}", route: "/f/{*b}" },
        Case { existing: "/{a}/x/{b}", route: "/:c/x/:d" },
        Case { existing: "/{a}/{b}", route: "/{b}/{a}" },
        Case { existing: "/{*all}", route: "/{*rest}" },
        // percent-escapes of unreserved characters are normalized, so these are one shape
        Case { existing: "/%61bout/{id}", route: "/about/{name}" },
    ];
    for case in &cases {
        let err = builder()
            .route(case.existing, get(echo))
            .route(case.route, post(echo))
            .build()
            .expect_err(case.route);
        assert_eq!(
            err,
            RouteError::Conflict {
                route: case.route.to_owned(),
                existing: case.existing.to_owned(),
            },
            "case `{}` after `{}`",
            case.route,
            case.existing
        );
        let message = err.to_string();
        for name in [case.route, case.existing] {
            assert!(
                message.contains(&format!("`{name}`")),
                "case `{}` after `{}`: message {message:?} should name `{name}`",
                case.route,
                case.existing
            );
        }
    }
}

#[test]
fn different_shapes_do_not_conflict() {
    #[rustfmt::skip]
    let cases: &[&[&str]] = &[
        &["/users/{id}", "/users/{id}/posts", "/users/new", "/users/{*rest}"],
        &["/a/{x}/c", "/a/b/{y}", "/{z}/b/c"],
        &["/users", "/users/"],
        &["/{x}", "/{*x}"],
        &["/files/{*path}", "/files/{name}/{*rest}"],
    ];
    for routes in cases {
        let built = routes
            .iter()
            .fold(builder(), |b, r| b.route(r, get(echo)))
            .build();
        assert!(built.is_ok(), "case {routes:?}: {:?}", built.err());
    }
}

#[tokio::test]
async fn same_template_in_either_syntax_merges_methods() {
    let cases: &[(&str, &str, &str)] = &[
        ("/items/:id", "/items/{id}", "/items/1"),
        ("/items/{id}", "/items/:id", "/items/1"),
        ("/about", "/%61bout", "/about"),
        ("/caf%c3%a9", "/caf%C3%A9", "/caf%C3%A9"),
    ];
    for &(first, second, path) in cases {
        let router = builder()
            .route(first, get(echo))
            .route(second, post(echo))
            .build()
            .unwrap_or_else(|err| panic!("case `{first}` + `{second}`: {err}"));
        assert_eq!(router.routes().count(), 1, "case `{first}` + `{second}`");
        for method in [Method::GET, Method::POST] {
            let answer = support::call(&router, method.clone(), path).await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "case `{first}` + `{second}`: {method}"
            );
        }
    }
}

#[test]
fn duplicate_methods() {
    struct Case {
        name: &'static str,
        builder: RouterBuilder<()>,
        route: &'static str,
        existing: &'static str,
        method: Method,
    }
    let purge = Method::from_bytes(b"PURGE").unwrap();
    let cases = [
        Case {
            name: "chained get(a).get(b)",
            builder: builder().route("/a", get(echo).get(echo)),
            route: "/a",
            existing: "/a",
            method: Method::GET,
        },
        Case {
            name: "chained post(a).get(b).post(c)",
            builder: builder().route("/a", post(echo).get(echo).post(echo)),
            route: "/a",
            existing: "/a",
            method: Method::POST,
        },
        Case {
            name: "same route twice with GET",
            builder: builder().route("/a", get(echo)).route("/a", get(echo)),
            route: "/a",
            existing: "/a",
            method: Method::GET,
        },
        Case {
            name: "same template in both syntaxes",
            builder: builder()
                .route("/u/:id", get(echo).post(echo))
                .route("/u/{id}", post(echo)),
            route: "/u/{id}",
            existing: "/u/:id",
            method: Method::POST,
        },
        Case {
            name: "extension method twice",
            builder: builder()
                .route("/c", on(purge.clone(), echo))
                .route("/c", on(purge.clone(), echo)),
            route: "/c",
            existing: "/c",
            method: purge.clone(),
        },
        Case {
            name: "any twice, chained",
            builder: builder().route("/any", any(echo).any(echo)),
            route: "/any",
            existing: "/any",
            method: Method::from_bytes(b"ANY").unwrap(),
        },
        Case {
            name: "any twice, on two routes",
            builder: builder().route("/any", any(echo)).route("/any", any(echo)),
            route: "/any",
            existing: "/any",
            method: Method::from_bytes(b"ANY").unwrap(),
        },
        // With exclusive_any, `any` declares every method: a single method beside it is one
        // registered twice, whatever the order, on one route or two, nested or not.
        Case {
            name: "exclusive any, then get",
            builder: builder()
                .exclusive_any(true)
                .route("/x", any(echo))
                .route("/x", get(echo)),
            route: "/x",
            existing: "/x",
            method: Method::GET,
        },
        Case {
            name: "exclusive any, after post",
            builder: builder()
                .exclusive_any(true)
                .route("/x", post(echo))
                .route("/x", any(echo)),
            route: "/x",
            existing: "/x",
            method: Method::POST,
        },
        Case {
            name: "exclusive any, chained with an extension method",
            builder: builder()
                .exclusive_any(true)
                .route("/x", any(echo).on(purge.clone(), echo)),
            route: "/x",
            existing: "/x",
            method: purge.clone(),
        },
        Case {
            name: "exclusive any, nested beside an outer get",
            builder: builder()
                .exclusive_any(true)
                .route("/api", get(echo))
                .nest("/api", builder().route("/", any(echo))),
            route: "/api",
            existing: "/api",
            method: Method::GET,
        },
    ];
    for case in cases {
        let err = case.builder.build().expect_err(case.name);
        assert_eq!(
            err,
            RouteError::DuplicateMethod {
                route: case.route.to_owned(),
                existing: case.existing.to_owned(),
                method: case.method.clone(),
            },
            "case {}",
            case.name
        );
        let message = err.to_string();
        assert!(
            message.contains(case.method.as_str()) && message.contains(case.route),
            "case {}: message {message:?} should name the method and the route",
            case.name
        );
    }
}

#[test]
fn any_beside_single_methods_merges_unless_exclusive() {
    // Off (the default), `any` answers the methods without an endpoint of their own.
    let router = builder()
        .route("/x", any(echo))
        .route("/x", get(echo))
        .build();
    assert!(router.is_ok());
    // On, only `any` beside `any` or methods beside methods are checked as before.
    assert!(builder()
        .exclusive_any(true)
        .route("/x", any(echo))
        .route("/y", get(echo).post(echo))
        .route("/y", on(Method::DELETE, echo))
        .build()
        .is_ok());
}

#[test]
fn nest_rejects_prefixes_that_are_not_plain_prefixes() {
    for prefix in [
        "/",
        "",
        "api",
        "api/v1",
        "/api/",
        "//",
        "/{*x}",
        "/api/{*rest}",
    ] {
        let err = builder()
            .nest(prefix, builder().route("/x", get(echo)))
            .build()
            .expect_err(prefix);
        assert!(
            matches!(&err, RouteError::InvalidPrefix { prefix: p, .. } if p == prefix),
            "case `{prefix}`: expected InvalidPrefix, got {err:?}"
        );
        assert!(
            err.to_string().contains(&format!("`{prefix}`")),
            "case `{prefix}`: message {err} should quote the prefix"
        );
    }
    for prefix in ["/api", "/api/v1", "/orgs/{org}", "/orgs/:org/teams"] {
        let built = builder()
            .nest(prefix, builder().route("/x", get(echo)))
            .build();
        assert!(built.is_ok(), "case `{prefix}`: {:?}", built.err());
    }
    // A malformed prefix is reported as such.
    let err = builder()
        .nest("/img-{id}", builder().route("/x", get(echo)))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, RouteError::MalformedPattern { ref pattern, .. } if pattern == "/img-{id}"),
        "{err:?}"
    );
}

#[test]
fn errors_inside_nested_builders_propagate() {
    struct Case {
        name: &'static str,
        builder: RouterBuilder<()>,
        expected: RouteError,
    }
    let cases = [
        Case {
            name: "malformed nested pattern",
            builder: builder().nest("/api", builder().route("/{id", get(echo))),
            expected: RouteError::MalformedPattern {
                pattern: "/{id".to_owned(),
                reason: "a parameter must span a whole segment, like `/{id}`",
            },
        },
        Case {
            name: "conflict inside the nested builder",
            builder: builder().nest(
                "/api",
                builder().route("/{a}", get(echo)).route("/{b}", post(echo)),
            ),
            expected: RouteError::Conflict {
                route: "/{b}".to_owned(),
                existing: "/{a}".to_owned(),
            },
        },
        Case {
            name: "duplicate method inside the nested builder",
            builder: builder().nest("/api", builder().route("/x", get(echo).get(echo))),
            expected: RouteError::DuplicateMethod {
                route: "/x".to_owned(),
                existing: "/x".to_owned(),
                method: Method::GET,
            },
        },
        Case {
            name: "nested route conflicts with an outer route",
            builder: builder()
                .route("/api/{id}", get(echo))
                .nest("/api", builder().route("/:name", get(echo))),
            expected: RouteError::Conflict {
                route: "/api/:name".to_owned(),
                existing: "/api/{id}".to_owned(),
            },
        },
        Case {
            name: "nested route registers a method the outer route has",
            builder: builder()
                .route("/api", get(echo))
                .nest("/api", builder().route("/", get(echo))),
            expected: RouteError::DuplicateMethod {
                route: "/api".to_owned(),
                existing: "/api".to_owned(),
                method: Method::GET,
            },
        },
        Case {
            name: "nested parameter repeats a prefix parameter",
            builder: builder().nest("/orgs/{id}", builder().route("/repos/{id}", get(echo))),
            expected: RouteError::MalformedPattern {
                pattern: "/orgs/{id}/repos/{id}".to_owned(),
                reason: "a parameter name is used twice",
            },
        },
        Case {
            name: "two levels of nesting",
            builder: builder().nest(
                "/a",
                builder().nest("/b", builder().route("/:x/{*x}", get(echo))),
            ),
            expected: RouteError::MalformedPattern {
                pattern: "/:x/{*x}".to_owned(),
                reason: "a parameter name is used twice",
            },
        },
        Case {
            name: "first error wins",
            builder: builder().route("nope", get(echo)).nest(
                "/api",
                builder().route("/{a}", get(echo)).route("/{b}", get(echo)),
            ),
            expected: RouteError::MalformedPattern {
                pattern: "nope".to_owned(),
                reason: "a pattern must start with `/`",
            },
        },
    ];
    for case in cases {
        assert_eq!(
            case.builder.build().err(),
            Some(case.expected),
            "case {}",
            case.name
        );
    }
}

#[test]
fn nested_fallbacks_never_cause_build_errors() {
    let fallback = || builder().route("/x", get(echo)).fallback(echo);
    #[rustfmt::skip]
    let cases = [
        // the fallback's own catch-all must not clash with a prefix parameter's name
        ("prefix parameter named `path`", builder().nest("/{path}", fallback())),
        (
            "two levels of prefix parameters",
            builder().nest("/{path}", builder().nest("/{path_}", fallback())),
        ),
        (
            "deeper scope's fallback re-mounted under a `path` parameter",
            builder().nest("/:path", builder().nest("/inner", fallback())),
        ),
        // a catch-all route leaves the scope's fallback nothing to answer, as at the root
        (
            "scope with a catch-all route",
            builder().nest(
                "/api",
                builder().route("/{*rest}", get(echo)).fallback(echo),
            ),
        ),
        ("two scopes with fallbacks", builder().nest("/a", fallback()).nest("/b", fallback())),
        // a catch-all route at the scope's place, added before or after it, leaves the scope's
        // fallback nothing to answer, as one inside the scope does
        (
            "catch-all route at the prefix, added first",
            builder().route("/a/{*rest}", get(echo)).nest("/a", fallback()),
        ),
        (
            "catch-all route at the prefix, added last",
            builder().nest("/a", fallback()).route("/a/{*rest}", get(echo)),
        ),
        (
            "catch-all of a deeper scope at the prefix",
            builder().nest("/a", fallback()).nest("/a", builder().route("/{*rest}", get(echo))),
        ),
        (
            "service mounted at the prefix",
            builder().nest("/a", builder().fallback(echo)).nest_service("/a", tower::service_fn(
                |_req: http::Request<()>| async { Ok::<_, std::convert::Infallible>("svc") },
            )),
        ),
    ];
    for (name, builder) in cases {
        let built = builder.build();
        assert!(built.is_ok(), "case {name}: {:?}", built.err());
    }
}

#[tokio::test]
async fn a_catch_all_route_at_a_scopes_prefix_answers_instead_of_its_fallback() {
    let scope = || builder().route("/x", get(echo)).fallback(echo);
    let routers = [
        builder().route("/a/{*rest}", get(echo)).nest("/a", scope()),
        builder().nest("/a", scope()).route("/a/{*rest}", get(echo)),
    ];
    for router in routers.map(|b| b.build().unwrap()) {
        let answer = support::call(&router, Method::GET, "/a/other").await;
        assert_eq!(answer.matched.as_deref(), Some("/a/{*rest}"));
        let answer = support::call(&router, Method::GET, "/a/x").await;
        assert_eq!(answer.matched.as_deref(), Some("/a/x"));
        assert_eq!(router.routes().count(), 2);
    }
}

#[test]
fn try_route_returns_the_error_at_once() {
    struct Case {
        name: &'static str,
        first: &'static str,
        second: &'static str,
        expected: Result<(), RouteError>,
    }
    #[rustfmt::skip]
    let cases = [
        Case { name: "distinct routes", first: "/a", second: "/b", expected: Ok(()) },
        Case {
            name: "conflict",
            first: "/u/{id}",
            second: "/u/{name}",
            expected: Err(RouteError::Conflict {
                route: "/u/{name}".to_owned(),
                existing: "/u/{id}".to_owned(),
            }),
        },
        Case {
            name: "malformed",
            first: "/a",
            second: "/{",
            expected: Err(RouteError::MalformedPattern {
                pattern: "/{".to_owned(),
                reason: "a parameter must span a whole segment, like `/{id}`",
            }),
        },
        Case {
            name: "duplicate",
            first: "/a",
            second: "/a",
            expected: Err(RouteError::DuplicateMethod {
                route: "/a".to_owned(),
                existing: "/a".to_owned(),
                method: Method::GET,
            }),
        },
    ];
    for case in cases {
        let result = builder()
            .try_route(case.first, get(echo))
            .and_then(|b| b.try_route(case.second, get(echo)))
            .map(drop);
        assert_eq!(result, case.expected, "case {}", case.name);
    }
    // `route` keeps the error for `build`; `try_route` surfaces the same error.
    let kept = builder()
        .route("/a", get(echo))
        .route("/{", get(echo))
        .build()
        .err();
    let immediate = builder()
        .route("/a", get(echo))
        .try_route("/{", get(echo))
        .err();
    assert_eq!(kept, immediate);
}

#[test]
fn try_nest_returns_the_error_nest_keeps_for_build() {
    let scope = || builder().route("/users/{id}", get(echo));
    let base = || builder().route("/api/users/{name}", get(echo));
    let expected = RouteError::Conflict {
        route: "/api/users/{id}".to_owned(),
        existing: "/api/users/{name}".to_owned(),
    };
    assert_eq!(
        base().try_nest("/api", scope()).err(),
        Some(expected.clone())
    );
    assert_eq!(base().nest("/api", scope()).build().err(), Some(expected));
    // A bad prefix, and an error the scope itself holds, surface the same way.
    assert!(matches!(
        builder().try_nest("/api/", scope()),
        Err(RouteError::InvalidPrefix { .. })
    ));
    let broken = builder().route("/{", get(echo));
    assert!(matches!(
        builder().try_nest("/api", broken),
        Err(RouteError::MalformedPattern { .. })
    ));
    // Fine routes go in, and the table builds.
    let router = builder()
        .try_nest("/api", scope())
        .and_then(|b| b.try_nest("/v2", scope()))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(router.routes().count(), 2);
}
