//! Property tests: arbitrary route tables and paths against a reference matcher, and the
//! percent-decoding policy against the `percent-encoding` crate.

use crate::support;

use std::future::Future;

use armature_router::{get, PathParams, Router};
use http::{Method, Request, StatusCode};
use percent_encoding::{percent_encode, utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use support::{echo, Answer};

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn answer(router: &Router<()>, method: Method, uri: &str) -> Answer {
    block_on(support::call(router, method, uri))
}

/// Builds a router from as many of `patterns` as can coexist: each pattern is kept when the
/// table built so far plus it still builds. Errors are fine; panics are not.
fn build_accepting(patterns: &[String]) -> (Router<()>, Vec<&str>) {
    let build = |routes: &[&str]| {
        routes
            .iter()
            .fold(Router::builder(), |b, r| b.route(r, get(echo)))
            .build()
    };
    let mut accepted: Vec<&str> = Vec::new();
    for pattern in patterns {
        accepted.push(pattern);
        if build(&accepted).is_err() {
            accepted.pop();
        }
    }
    let router = build(&accepted).expect("every accepted route builds");
    (router, accepted)
}

/// One segment of a generated, well-formed pattern.
#[derive(Clone, Debug)]
enum Seg {
    Static(&'static str),
    /// Name, and whether it is written `:name` rather than `{name}`.
    Param(&'static str, bool),
    CatchAll(&'static str),
}

impl Seg {
    /// Precedence at one segment: static > param > catch-all.
    fn rank(&self) -> u8 {
        match self {
            Seg::Static(_) => 2,
            Seg::Param(..) => 1,
            Seg::CatchAll(_) => 0,
        }
    }
}

// Long statics share their first eight bytes, so only their full text tells them apart.
const STATICS: [&str; 8] = [
    "",
    "a",
    "b",
    "ab",
    "~x.y-z_",
    "abcdefgh",
    "abcdefgh1",
    "abcdefgh2",
];
const NAMES: [&str; 4] = ["x", "y", "id", "rest"];

fn seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        3 => prop::sample::select(&STATICS[..]).prop_map(Seg::Static),
        2 => (prop::sample::select(&NAMES[..]), any::<bool>()).prop_map(|(n, c)| Seg::Param(n, c)),
    ]
}

/// A pattern: one to four segments, the last possibly a catch-all.
fn pattern() -> impl Strategy<Value = Vec<Seg>> {
    (
        prop::collection::vec(seg(), 0..4),
        prop::option::weighted(0.3, prop::sample::select(&NAMES[..])),
    )
        .prop_filter_map(
            "a pattern has at least one segment",
            |(mut segs, catch_all)| {
                segs.extend(catch_all.map(Seg::CatchAll));
                (!segs.is_empty()).then_some(segs)
            },
        )
}

fn written(segs: &[Seg]) -> String {
    segs.iter()
        .map(|s| match s {
            Seg::Static(t) => format!("/{t}"),
            Seg::Param(n, true) => format!("/:{n}"),
            Seg::Param(n, false) => format!("/{{{n}}}"),
            Seg::CatchAll(n) => format!("/{{*{n}}}"),
        })
        .collect()
}

fn template(segs: &[Seg]) -> String {
    segs.iter()
        .map(|s| match s {
            Seg::Static(t) => format!("/{t}"),
            Seg::Param(n, _) => format!("/{{{n}}}"),
            Seg::CatchAll(n) => format!("/{{*{n}}}"),
        })
        .collect()
}

/// A path `segs` matches, taking parameter values from `values` in turn.
fn instance(segs: &[Seg], values: &[String], tail: &str) -> String {
    let mut values = values.iter().cycle();
    segs.iter()
        .map(|s| match s {
            Seg::Static(t) => format!("/{t}"),
            Seg::Param(..) => format!("/{}", values.next().expect("non-empty pool")),
            Seg::CatchAll(_) => format!("/{tail}"),
        })
        .collect()
}

/// The reference matcher: the parameters `segs` captures from `path`, if it matches.
fn reference_match(segs: &[Seg], path: &str) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut params = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Seg::CatchAll(name) => {
                let rest = parts.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.push((name.to_string(), rest));
                return Some(params);
            }
            Seg::Static(text) => {
                if parts.get(i)? != text {
                    return None;
                }
            }
            Seg::Param(name, _) => {
                let part = parts.get(i)?;
                if part.is_empty() {
                    return None;
                }
                params.push((name.to_string(), part.to_string()));
            }
        }
    }
    (parts.len() == segs.len()).then_some(params)
}

/// Fills a `{name}` template back in with the matched parameters.
fn instantiate(template: &str, params: &[(String, String)]) -> String {
    let value = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("template {template} names `{name}` but it was not captured"))
    };
    template
        .split('/')
        .skip(1)
        .map(|part| {
            let filled = match part.strip_prefix("{*").or_else(|| part.strip_prefix('{')) {
                Some(name) => value(name.trim_end_matches('}')),
                None => part.to_owned(),
            };
            format!("/{filled}")
        })
        .collect()
}

/// Parameter values: short, unreserved (so decoding is the identity), often equal to a static.
fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[ab]{1,2}", "[a-zA-Z0-9._~-]{1,5}", "abcdefgh[0-3]?"]
}

/// Catch-all values: non-empty, possibly with slashes (even empty segments).
fn tail() -> impl Strategy<Value = String> {
    "[ab/~]{1,6}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every accepted route is reachable through a path built from it, and the route that
    /// answers is the one the reference matcher ranks highest (static > param > catch-all,
    /// segment by segment); its template filled with the captured values gives the path back.
    #[test]
    fn generated_routes_match_what_they_should(
        patterns in prop::collection::vec(pattern(), 1..10),
        values in prop::collection::vec(value(), 1..5),
        tail in tail(),
    ) {
        let written: Vec<String> = patterns.iter().map(|p| written(p)).collect();
        let (router, accepted) = build_accepting(&written);
        let accepted: Vec<&Vec<Seg>> = patterns
            .iter()
            .zip(&written)
            .filter(|(_, w)| accepted.contains(&w.as_str()))
            .map(|(p, _)| p)
            .collect();
        for segs in &accepted {
            let path = instance(segs, &values, &tail);
            let best = accepted
                .iter()
                .filter_map(|other| reference_match(other, &path).map(|params| (other, params)))
                .max_by_key(|(other, _)| other.iter().map(Seg::rank).collect::<Vec<_>>())
                .expect("a route matches a path built from it");
            let got = answer(&router, Method::GET, &path);
            prop_assert_eq!(got.status, StatusCode::OK, "path {} from {}", path, template(segs));
            let seen = got.seen.expect("answered by a route");
            let matched = seen.matched.expect("matched route");
            prop_assert_eq!(&matched, &template(best.0), "path {} from {}", path, template(segs));
            prop_assert_eq!(&seen.params, &best.1, "path {}", path);
            prop_assert_eq!(instantiate(&matched, &seen.params), path.clone(), "path {}", path);
            if segs.iter().all(|s| matches!(s, Seg::Static(_))) {
                prop_assert_eq!(&matched, &template(segs), "static route {}", template(segs));
            }
        }
    }

    /// A guarded route that refuses a path's values behaves as if it were not there: the
    /// router with guards answers every path as a router built without the routes whose
    /// guards refuse that path's captures (here: refusing values that start with `a`).
    #[test]
    fn a_refused_route_is_as_if_it_were_not_there(
        patterns in prop::collection::vec(pattern(), 1..10),
        guarded in prop::collection::vec(any::<bool>(), 10),
        values in prop::collection::vec(value(), 1..5),
        tail in tail(),
    ) {
        let written: Vec<String> = patterns.iter().map(|p| written(p)).collect();
        let (_, accepted) = build_accepting(&written);
        // Each accepted pattern once (a pattern written twice merges; a guarded one may not).
        let mut routes: Vec<(&Vec<Seg>, &str, bool)> = Vec::new();
        for ((segs, w), &g) in patterns.iter().zip(&written).zip(&guarded) {
            if accepted.contains(&w.as_str()) && !routes.iter().any(|(_, seen, _)| seen == w) {
                routes.push((segs, w, g));
            }
        }
        let refuses = |params: &[(String, String)]| params.iter().any(|(_, v)| v.starts_with('a'));
        let with_guards = routes
            .iter()
            .fold(Router::builder(), |b, &(_, w, g)| match g {
                true => b.route_if(w, |p: &PathParams| !p.iter().any(|(_, v)| v.starts_with('a')), get(echo)),
                false => b.route(w, get(echo)),
            })
            .build()
            .expect("the accepted routes build, guarded or not");
        for (segs, _, _) in &routes {
            let path = instance(segs, &values, &tail);
            let without = routes
                .iter()
                .filter(|(other, _, g)| !(*g && reference_match(other, &path).is_some_and(|p| refuses(&p))))
                .fold(Router::builder(), |b, &(_, w, _)| b.route(w, get(echo)))
                .build()
                .expect("a subset of the accepted routes builds");
            let (got, want) = (
                answer(&with_guards, Method::GET, &path),
                answer(&without, Method::GET, &path),
            );
            prop_assert_eq!(got.status, want.status, "path {}", path);
            prop_assert_eq!(got.seen, want.seen, "path {}", path);
        }
    }

    /// A node with many static children (some long, sharing their first bytes) finds exactly
    /// the child named by the segment, and falls back to the parameter for every other name;
    /// both for fully static routes and for routes with a parameter below the static segment.
    #[test]
    fn wide_nodes_find_the_right_static_child(
        names in prop::collection::btree_set("[a-c]{1,3}|abcdefgh[a-c]{0,3}|[a-c]{9,12}", 1..40),
        probes in prop::collection::vec("[a-c]{1,3}|abcdefgh[a-c]{0,3}|[a-c]{9,12}", 1..20),
    ) {
        let router = names
            .iter()
            .fold(Router::builder(), |b, n| {
                b.route(&format!("/{n}"), get(echo)).route(&format!("/{n}/{{id}}"), get(echo))
            })
            .route("/{other}", get(echo))
            .route("/{other}/{id}", get(echo))
            .build()
            .expect("distinct statics and one parameter build");
        for probe in names.iter().chain(&probes) {
            for (suffix, template_suffix) in [("", ""), ("/1", "/{id}")] {
                let got = answer(&router, Method::GET, &format!("/{probe}{suffix}"));
                let seen = got.seen.expect("a route");
                if names.contains(probe) {
                    prop_assert_eq!(seen.matched, Some(format!("/{probe}{template_suffix}")));
                } else {
                    prop_assert_eq!(seen.matched, Some(format!("/{{other}}{template_suffix}")));
                    prop_assert_eq!(&seen.params[0], &("other".to_owned(), probe.clone()));
                }
            }
        }
    }

    /// Arbitrary patterns never make building panic, and arbitrary request paths never make
    /// the router panic or answer anything but 200, 400, 404 or 405.
    #[test]
    fn arbitrary_patterns_and_paths_never_panic(
        patterns in prop::collection::vec(
            prop_oneof!["\\PC{0,16}", "/[a-z{}:*%/0-9]{0,12}", "[/{}:*]{0,8}"],
            0..8,
        ),
        paths in prop::collection::vec(
            prop_oneof!["/[ -~]{0,24}", "/[a-z{}:*%/0-9+]{0,16}", "[/%0-9a-fA-F]{0,10}"],
            1..8,
        ),
        post in any::<bool>(),
    ) {
        // Everything at once: fine to fail, not to panic.
        let _ = patterns
            .iter()
            .fold(Router::<()>::builder(), |b, p| b.route(p, get(echo)))
            .build();
        let (router, _) = build_accepting(&patterns);
        let method = if post { Method::POST } else { Method::GET };
        for path in &paths {
            let Ok(req) = Request::builder().method(method.clone()).uri(path.as_str()).body(()) else {
                continue;
            };
            let got = block_on(support::send(&router, req));
            prop_assert!(
                [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED]
                    .contains(&got.status),
                "path {:?} answered {}", path, got.status
            );
        }
    }

    /// A `{p}` parameter (and a catch-all) decodes back to what `utf8_percent_encode` encoded.
    #[test]
    fn utf8_params_round_trip_through_percent_encoding(text in "\\PC{1,12}") {
        let router = decoding_router();
        let encoded = utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string();
        for (uri, name) in [(format!("/p/{encoded}"), "p"), (format!("/c/x/{encoded}"), "rest")] {
            let got = answer(&router, Method::GET, &uri);
            prop_assert_eq!(got.status, StatusCode::OK, "{}", uri);
            let seen = got.seen.expect("answered by a route");
            prop_assert_eq!(seen.params.last(), Some(&(name.to_owned(), text.clone())), "{}", uri);
        }
    }

    /// Arbitrary bytes, percent-encoded: decoded back when they are UTF-8, else `400`.
    #[test]
    fn byte_params_decode_or_are_rejected(bytes in prop::collection::vec(any::<u8>(), 1..12)) {
        let router = decoding_router();
        let uri = format!("/p/{}", percent_encode(&bytes, NON_ALPHANUMERIC));
        let got = answer(&router, Method::GET, &uri);
        match String::from_utf8(bytes) {
            Ok(text) => {
                prop_assert_eq!(got.status, StatusCode::OK, "{}", uri);
                prop_assert_eq!(got.seen.expect("a route").params, vec![("p".to_owned(), text)]);
            }
            Err(_) => prop_assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", uri),
        }
    }

    /// A `%` not followed by two hex digits is rejected with `400`, wherever it is.
    #[test]
    fn invalid_escapes_are_rejected(
        before in "\\PC{0,6}",
        after in "\\PC{0,6}",
        bad in invalid_escape(),
        route in prop::sample::select(&["/p/", "/c/x/", "/nowhere/", "/"][..]),
    ) {
        let router = decoding_router();
        let (bad, followed) = bad;
        let before = utf8_percent_encode(&before, NON_ALPHANUMERIC);
        let after = if followed { utf8_percent_encode(&after, NON_ALPHANUMERIC).to_string() } else { String::new() };
        let uri = format!("{route}{before}{bad}{after}");
        let got = answer(&router, Method::GET, &uri);
        prop_assert_eq!(got.status, StatusCode::BAD_REQUEST, "{}", uri);
        prop_assert!(got.seen.is_none(), "{} reached a route", uri);
    }
}

fn decoding_router() -> Router<()> {
    Router::builder()
        .route("/p/{p}", get(echo))
        .route("/c/{x}/{*rest}", get(echo))
        .route("/{*all}", get(echo))
        .build()
        .expect("builds")
}

/// An invalid escape, and whether anything may follow it (a lone `%` or `%A` may not: the next
/// characters could complete it).
fn invalid_escape() -> impl Strategy<Value = (String, bool)> {
    // characters a URI path may hold that are not hex digits
    const NOT_HEX: &str = "[g-zG-Z+!$&'()*,;=:@._~%-]";
    prop_oneof![
        Just(("%".to_owned(), false)),
        "%[0-9a-fA-F]".prop_map(|s| (s, false)),
        NOT_HEX.prop_map(|c| (format!("%{c}"), true)),
        ("[0-9a-fA-F]", NOT_HEX).prop_map(|(h, c)| (format!("%{h}{c}"), true)),
    ]
}
