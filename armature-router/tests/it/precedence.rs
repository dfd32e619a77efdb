//! Which route a path reaches: `static > {param} > {*catch_all}` at every segment, whatever the
//! insertion order, with backtracking, strict trailing slashes and per-route parameter names.
//!
//! Every table is built in several insertion orders (as written, reversed, sorted, interleaved
//! and every rotation); each order must give exactly the expected answer for every case.

use crate::support;

use armature_router::{get, Router};
use http::StatusCode;
use support::{echo, pairs};

/// What a path should reach.
#[derive(Clone, Copy, Debug)]
enum Expected {
    /// The route with this template, with these parameters in pattern order.
    Route(&'static str, &'static [(&'static str, &'static str)]),
    /// No route: the default fallback answers 404.
    NotFound,
}

use Expected::{NotFound, Route};

struct Case {
    path: &'static str,
    expected: Expected,
}

/// What a path actually reached, comparable across routers.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Route(String, Vec<(String, String)>),
    Status(StatusCode),
}

impl Expected {
    fn outcome(self) -> Outcome {
        match self {
            Route(template, params) => Outcome::Route(template.to_owned(), pairs(params)),
            NotFound => Outcome::Status(StatusCode::NOT_FOUND),
        }
    }
}

/// The same route table in several insertion orders, each with a name for messages.
fn insertion_orders<'a>(routes: &[&'a str]) -> Vec<(String, Vec<&'a str>)> {
    let mut orders = vec![
        ("as written".to_owned(), routes.to_vec()),
        (
            "reversed".to_owned(),
            routes.iter().rev().copied().collect(),
        ),
    ];
    let mut sorted = routes.to_vec();
    sorted.sort_unstable();
    orders.push(("sorted".to_owned(), sorted.clone()));
    sorted.reverse();
    orders.push(("reverse sorted".to_owned(), sorted));
    let (even, odd): (Vec<_>, Vec<_>) = routes.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let interleaved = odd.iter().chain(&even).map(|&(_, r)| *r).collect();
    orders.push(("odd indices first".to_owned(), interleaved));
    for k in 1..routes.len() {
        let mut rotated = routes.to_vec();
        rotated.rotate_left(k);
        orders.push((format!("rotated by {k}"), rotated));
    }
    orders
}

fn build(routes: &[&str]) -> Router<()> {
    routes
        .iter()
        .fold(Router::builder(), |b, route| b.route(route, get(echo)))
        .build()
        .unwrap_or_else(|err| panic!("routes {routes:?} should build: {err}"))
}

async fn outcome(router: &Router<()>, path: &str) -> Outcome {
    let answer = support::get(router, path).await;
    match answer.seen {
        Some(seen) => {
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            Outcome::Route(seen.matched.expect("matched route in request"), seen.params)
        }
        None => Outcome::Status(answer.status),
    }
}

/// Checks every case against `routes` inserted in every order of [`insertion_orders`].
async fn check(routes: &[&str], cases: &[Case]) {
    let mut first: Option<(String, Vec<Outcome>)> = None;
    for (order_name, order) in insertion_orders(routes) {
        let router = build(&order);
        let mut outcomes = Vec::new();
        for case in cases {
            let got = outcome(&router, case.path).await;
            assert_eq!(
                got,
                case.expected.outcome(),
                "case `{}` with routes inserted {order_name}: {order:?}",
                case.path
            );
            outcomes.push(got);
        }
        match &first {
            None => first = Some((order_name, outcomes)),
            Some((first_name, first_outcomes)) => assert_eq!(
                first_outcomes, &outcomes,
                "routes inserted {first_name} and {order_name} disagree"
            ),
        }
    }
}

#[tokio::test]
async fn static_beats_param_beats_catch_all_at_every_segment() {
    let routes = [
        "/users/new",
        "/users/{id}",
        "/users/{*rest}",
        "/users/{id}/posts",
        "/users/{id}/{tab}",
        "/users/{id}/{*rest}",
        "/files/{*path}",
        "/files/readme",
        "/{section}",
        "/about",
    ];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users/new", expected: Route("/users/new", &[]) },
        Case { path: "/users/42", expected: Route("/users/{id}", &[("id", "42")]) },
        Case { path: "/users/42/posts", expected: Route("/users/{id}/posts", &[("id", "42")]) },
        Case {
            path: "/users/42/likes",
            expected: Route("/users/{id}/{tab}", &[("id", "42"), ("tab", "likes")]),
        },
        Case {
            path: "/users/42/likes/7",
            expected: Route("/users/{id}/{*rest}", &[("id", "42"), ("rest", "likes/7")]),
        },
        // `{id}` dead-ends on the empty last segment; the shallower catch-all takes it.
        Case { path: "/users/42/", expected: Route("/users/{*rest}", &[("rest", "42/")]) },
        // Neither a parameter nor a catch-all matches an empty rest.
        Case { path: "/users/", expected: NotFound },
        // Static `users` has no route of its own, so the parameter at segment one answers.
        Case { path: "/users", expected: Route("/{section}", &[("section", "users")]) },
        Case { path: "/files/readme", expected: Route("/files/readme", &[]) },
        Case {
            path: "/files/readme/old",
            expected: Route("/files/{*path}", &[("path", "readme/old")]),
        },
        Case { path: "/files/a/b.txt", expected: Route("/files/{*path}", &[("path", "a/b.txt")]) },
        Case { path: "/files", expected: Route("/{section}", &[("section", "files")]) },
        Case { path: "/about", expected: Route("/about", &[]) },
        Case { path: "/abouts", expected: Route("/{section}", &[("section", "abouts")]) },
        Case { path: "/", expected: NotFound },
        Case { path: "/about/more", expected: NotFound },
    ];
    check(&routes, &cases).await;
}

#[tokio::test]
async fn backtracking_out_of_dead_ends() {
    let routes = [
        "/a/b/c",
        "/a/{x}/d",
        "/{y}/b/e",
        "/{y}/{z}/f",
        "/s/{*rest}",
        "/{p}/{q}/x",
        "/{p}/{*tail}",
    ];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/a/b/c", expected: Route("/a/b/c", &[]) },
        // static `b` dead-ends at `d`: back to `{x}`
        Case { path: "/a/b/d", expected: Route("/a/{x}/d", &[("x", "b")]) },
        // both branches under static `a` dead-end: back to `{y}` at segment one
        Case { path: "/a/b/e", expected: Route("/{y}/b/e", &[("y", "a")]) },
        Case { path: "/a/b/f", expected: Route("/{y}/{z}/f", &[("y", "a"), ("z", "b")]) },
        Case { path: "/a/c/f", expected: Route("/{y}/{z}/f", &[("y", "a"), ("z", "c")]) },
        Case { path: "/q/b/e", expected: Route("/{y}/b/e", &[("y", "q")]) },
        // static `s` wins at segment one, so its catch-all answers even where `{p}/{q}/x` fits
        Case { path: "/s/2/x", expected: Route("/s/{*rest}", &[("rest", "2/x")]) },
        Case { path: "/t/2/x", expected: Route("/{p}/{q}/x", &[("p", "t"), ("q", "2")]) },
        // `{q}` was tried and abandoned: its value must not leak into the answer
        Case { path: "/t/2/y", expected: Route("/{p}/{*tail}", &[("p", "t"), ("tail", "2/y")]) },
        Case { path: "/a/b/g", expected: Route("/{p}/{*tail}", &[("p", "a"), ("tail", "b/g")]) },
        Case { path: "/a", expected: NotFound },
        Case { path: "/a/", expected: NotFound },
        Case { path: "//b/e", expected: NotFound },
    ];
    check(&routes, &cases).await;
}

#[tokio::test]
async fn trailing_slash_is_strict() {
    let routes = [
        "/users",
        "/posts/",
        "/users/{id}",
        "/files/{*path}",
        "/dir/{name}/",
    ];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users", expected: Route("/users", &[]) },
        Case { path: "/users/", expected: NotFound },
        Case { path: "/users//", expected: NotFound },
        Case { path: "/posts/", expected: Route("/posts/", &[]) },
        Case { path: "/posts", expected: NotFound },
        Case { path: "/users/1", expected: Route("/users/{id}", &[("id", "1")]) },
        Case { path: "/users/1/", expected: NotFound },
        Case { path: "/files/a/", expected: Route("/files/{*path}", &[("path", "a/")]) },
        Case { path: "/files/", expected: NotFound },
        Case { path: "/files", expected: NotFound },
        Case { path: "/dir/x/", expected: Route("/dir/{name}/", &[("name", "x")]) },
        Case { path: "/dir/x", expected: NotFound },
        Case { path: "/dir//", expected: NotFound },
    ];
    check(&routes, &cases).await;
}

#[tokio::test]
async fn root() {
    let routes = ["/", "/{page}", "/{page}/"];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/", expected: Route("/", &[]) },
        Case { path: "/home", expected: Route("/{page}", &[("page", "home")]) },
        Case { path: "/home/", expected: Route("/{page}/", &[("page", "home")]) },
        Case { path: "//", expected: NotFound },
        Case { path: "/?q=1", expected: Route("/", &[]) },
    ];
    check(&routes, &cases).await;

    // A catch-all at the root never matches `/` itself: its value would be empty.
    let routes = ["/{*rest}", "/static"];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/", expected: NotFound },
        Case { path: "/static", expected: Route("/static", &[]) },
        Case { path: "/x", expected: Route("/{*rest}", &[("rest", "x")]) },
        Case { path: "/static/", expected: Route("/{*rest}", &[("rest", "static/")]) },
        Case { path: "//", expected: Route("/{*rest}", &[("rest", "/")]) },
    ];
    check(&routes, &cases).await;

    // Without a `/` route, `/` is a 404, even next to parameters.
    check(
        &["/{page}"],
        &[Case {
            path: "/",
            expected: NotFound,
        }],
    )
    .await;
}

#[tokio::test]
async fn many_and_long_static_siblings() {
    // Enough siblings for a node to search rather than scan, and long segments that share
    // their first bytes, so only the full text tells them apart. Each also has a child with
    // a parameter, which the trie (not the exact-path table of fully static routes) answers.
    let names = [
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "j",
        "k",
        "l",
        "m",
        "n",
        "abcdefgh",
        "abcdefgh1",
        "abcdefgh2",
        "abcdefghij",
        "abcdefgh10",
        "abcdefgi1",
        "very-long-segment-name",
        "very-long-segment-nam3",
    ];
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut routes = vec!["/{other}", "/{other}/{id}"];
    let mut cases = Vec::new();
    for name in names {
        let (route, child) = (leak(format!("/{name}")), leak(format!("/{name}/{{id}}")));
        routes.extend([route, child]);
        cases.push(Case {
            path: route,
            expected: Route(route, &[]),
        });
        cases.push(Case {
            path: leak(format!("/{name}/7")),
            expected: Route(child, &[("id", "7")]),
        });
    }
    for other in [
        "o",
        "abcdefg",
        "abcdefgh3",
        "abcdefgh1x",
        "abcdefgh11",
        "abcdefghi",
        "very-long-segment-nam",
    ] {
        let params: &[(&str, &str)] = Box::leak(Box::new([("other", other)]));
        cases.push(Case {
            path: leak(format!("/{other}")),
            expected: Route("/{other}", params),
        });
        let params: &[(&str, &str)] = Box::leak(Box::new([("other", other), ("id", "7")]));
        cases.push(Case {
            path: leak(format!("/{other}/7")),
            expected: Route("/{other}/{id}", params),
        });
    }
    cases.push(Case {
        path: "/abcdefgh2/7/8",
        expected: NotFound,
    });
    cases.push(Case {
        path: "/a%62cdefgh2/7",
        expected: Route("/abcdefgh2/{id}", &[("id", "7")]),
    });
    check(&routes, &cases).await;
}

#[tokio::test]
async fn colon_and_brace_params_are_equivalent() {
    let colon = [
        "/users/:id",
        "/users/:id/posts/:post",
        "/orgs/:org/{repo}",
        "/f/{*rest}",
    ];
    let brace = [
        "/users/{id}",
        "/users/{id}/posts/{post}",
        "/orgs/{org}/{repo}",
        "/f/{*rest}",
    ];
    // Templates are always reported in `{name}` syntax.
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users/7", expected: Route("/users/{id}", &[("id", "7")]) },
        Case {
            path: "/users/7/posts/9",
            expected: Route("/users/{id}/posts/{post}", &[("id", "7"), ("post", "9")]),
        },
        Case {
            path: "/orgs/rust/tokio",
            expected: Route("/orgs/{org}/{repo}", &[("org", "rust"), ("repo", "tokio")]),
        },
        Case { path: "/f/a/b", expected: Route("/f/{*rest}", &[("rest", "a/b")]) },
        Case { path: "/users/7/posts", expected: NotFound },
        // `:` is syntax only at the start of a pattern segment, never in a path
        Case { path: "/users/:id", expected: Route("/users/{id}", &[("id", ":id")]) },
    ];
    check(&colon, &cases).await;
    check(&brace, &cases).await;
}

#[tokio::test]
async fn param_names_are_per_route() {
    let routes = [
        "/users/{id}/posts",
        "/users/{user_id}/likes",
        "/users/{uid}",
        "/users/:name/{*rest}",
        "/users/{a}/{b}/c",
        "/users/{b}/{a}/d",
    ];
    #[rustfmt::skip]
    let cases = [
        Case { path: "/users/1/posts", expected: Route("/users/{id}/posts", &[("id", "1")]) },
        Case {
            path: "/users/2/likes",
            expected: Route("/users/{user_id}/likes", &[("user_id", "2")]),
        },
        Case { path: "/users/3", expected: Route("/users/{uid}", &[("uid", "3")]) },
        Case {
            path: "/users/4/other/x",
            expected: Route(
                "/users/{name}/{*rest}",
                &[("name", "4"), ("rest", "other/x")],
            ),
        },
        Case {
            path: "/users/5/6/c",
            expected: Route("/users/{a}/{b}/c", &[("a", "5"), ("b", "6")]),
        },
        Case {
            path: "/users/5/6/d",
            expected: Route("/users/{b}/{a}/d", &[("b", "5"), ("a", "6")]),
        },
    ];
    check(&routes, &cases).await;
}
