//! The percent-decoding policy of the README, over real `oneshot` calls.

use crate::support;

use armature_router::{get, Router};
use http::StatusCode;
use support::{echo, pairs};

#[derive(Clone, Copy, Debug)]
enum Expected {
    /// Reaches this route with these decoded parameters.
    Route(&'static str, &'static [(&'static str, &'static str)]),
    /// Answered by the router itself with this status.
    Status(StatusCode),
}

use Expected::{Route, Status};

const BAD_REQUEST: Expected = Status(StatusCode::BAD_REQUEST);
const NOT_FOUND: Expected = Status(StatusCode::NOT_FOUND);

struct Case {
    path: &'static str,
    expected: Expected,
}

fn router() -> Router<()> {
    Router::builder()
        .route("/about", get(echo))
        .route("/p/{p}", get(echo))
        .route("/p/{p}/{q}", get(echo))
        .route("/files/{*path}", get(echo))
        .route("/caf%C3%A9", get(echo))
        .route("/a%2fb", get(echo))
        .route("/~user", get(echo))
        .build()
        .unwrap()
}

#[tokio::test]
async fn percent_decoding_policy() {
    #[rustfmt::skip]
    let cases = [
        // Unreserved escapes are the characters themselves, before matching.
        Case { path: "/%61bout", expected: Route("/about", &[]) },
        Case { path: "/%61%62%6F%75%74", expected: Route("/about", &[]) },
        Case { path: "/%7euser", expected: Route("/~user", &[]) },
        Case { path: "/%7Euser", expected: Route("/~user", &[]) },
        Case { path: "/%70/x", expected: Route("/p/{p}", &[("p", "x")]) },
        // `%2F` decodes to `/` in a parameter but does not split segments.
        Case { path: "/p/a%2Fb", expected: Route("/p/{p}", &[("p", "a/b")]) },
        Case { path: "/p/a%2fb", expected: Route("/p/{p}", &[("p", "a/b")]) },
        Case { path: "/p/a%2Fb/c", expected: Route("/p/{p}/{q}", &[("p", "a/b"), ("q", "c")]) },
        Case { path: "/p/%2F", expected: Route("/p/{p}", &[("p", "/")]) },
        Case { path: "/files/a%2Fb/c", expected: Route("/files/{*path}", &[("path", "a/b/c")]) },
        // A static route with `%2F` is one segment, matched in either hex case.
        Case { path: "/a%2Fb", expected: Route("/a%2Fb", &[]) },
        Case { path: "/a%2fb", expected: Route("/a%2Fb", &[]) },
        Case { path: "/a/b", expected: NOT_FOUND },
        // Parameters are fully decoded, UTF-8 included; `%25` is a literal percent sign.
        Case { path: "/p/caf%C3%A9", expected: Route("/p/{p}", &[("p", "café")]) },
        Case { path: "/p/caf%c3%a9", expected: Route("/p/{p}", &[("p", "café")]) },
        Case { path: "/p/100%25", expected: Route("/p/{p}", &[("p", "100%")]) },
        Case { path: "/p/%2541", expected: Route("/p/{p}", &[("p", "%41")]) },
        Case { path: "/p/a%20b", expected: Route("/p/{p}", &[("p", "a b")]) },
        // `+` is kept: it means a space only in query strings.
        Case { path: "/p/a+b", expected: Route("/p/{p}", &[("p", "a+b")]) },
        Case { path: "/p/a%2Bb", expected: Route("/p/{p}", &[("p", "a+b")]) },
        // A static route holding an escape matches it in either hex case.
        Case { path: "/caf%C3%A9", expected: Route("/caf%C3%A9", &[]) },
        Case { path: "/caf%c3%a9", expected: Route("/caf%C3%A9", &[]) },
        Case { path: "/caf%C3%a9", expected: Route("/caf%C3%A9", &[]) },
        // Invalid escapes anywhere in the path: 400 before routing, even where no route is.
        Case { path: "/p/%zz", expected: BAD_REQUEST },
        Case { path: "/p/%+1", expected: BAD_REQUEST },
        Case { path: "/p/%-1", expected: BAD_REQUEST },
        Case { path: "/p/a%", expected: BAD_REQUEST },
        Case { path: "/p/a%4", expected: BAD_REQUEST },
        Case { path: "/p/%4/x", expected: BAD_REQUEST },
        Case { path: "/p/%%41", expected: BAD_REQUEST },
        Case { path: "/about%", expected: BAD_REQUEST },
        Case { path: "/nowhere/%zz", expected: BAD_REQUEST },
        Case { path: "/%", expected: BAD_REQUEST },
        // Escapes that are not UTF-8 in a parameter: 400.
        Case { path: "/p/%FF", expected: BAD_REQUEST },
        Case { path: "/p/%C3", expected: BAD_REQUEST },
        Case { path: "/p/ok/%C3%28", expected: BAD_REQUEST },
        Case { path: "/files/a/%FF", expected: BAD_REQUEST },
        // ... but outside any parameter they only fail to match.
        Case { path: "/%FF", expected: NOT_FOUND },
        // The query string is not part of the path.
        Case { path: "/p/x?q=%zz", expected: Route("/p/{p}", &[("p", "x")]) },
    ];
    let router = router();
    for case in &cases {
        let answer = support::get(&router, case.path).await;
        match case.expected {
            Route(template, params) => {
                assert_eq!(answer.status, StatusCode::OK, "case `{}`", case.path);
                let seen = answer
                    .seen
                    .unwrap_or_else(|| panic!("case `{}`: no route", case.path));
                assert_eq!(
                    seen.matched.as_deref(),
                    Some(template),
                    "case `{}`",
                    case.path
                );
                assert_eq!(seen.params, pairs(params), "case `{}`", case.path);
            }
            Status(status) => {
                assert_eq!(answer.status, status, "case `{}`", case.path);
                assert!(
                    answer.seen.is_none(),
                    "case `{}`: reached a route",
                    case.path
                );
                assert!(
                    answer.matched.is_none(),
                    "case `{}`: answered with a matched route",
                    case.path
                );
                if status == StatusCode::BAD_REQUEST {
                    // A short plain-text reason, not an echo of the path.
                    let body = std::str::from_utf8(&answer.body).expect("text body");
                    assert!(
                        !body.is_empty() && body.len() <= 64,
                        "case `{}`: body {body:?}",
                        case.path
                    );
                    assert_eq!(
                        answer.headers["content-type"], "text/plain; charset=utf-8",
                        "case `{}`",
                        case.path
                    );
                }
            }
        }
    }
}
