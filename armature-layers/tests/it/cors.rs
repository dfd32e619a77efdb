//! The CORS layer, driven with `oneshot` over a `service_fn` that counts its calls.
//!
//! One test per promise of the module docs (`armature_layers::cors`).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armature_layers::cors::{Cors, CorsError, CorsLayer};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use tower::{service_fn, ServiceBuilder, ServiceExt};

const APP: &str = "https://app.example";
const OTHER: &str = "https://other.example";

/// What the inner service saw and how it answers.
#[derive(Clone, Default)]
struct Inner {
    calls: Arc<AtomicUsize>,
    /// Headers the inner service puts on its response.
    headers: Vec<(&'static str, &'static str)>,
}

impl Inner {
    fn with_headers(headers: &[(&'static str, &'static str)]) -> Self {
        Inner {
            headers: headers.to_vec(),
            ..Inner::default()
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn send(&self, layer: &CorsLayer, req: Request<()>) -> Response<String> {
        let inner = self.clone();
        let svc = service_fn(move |req: Request<()>| {
            inner.calls.fetch_add(1, Ordering::SeqCst);
            let mut res = Response::new(format!("inner {}", req.method()));
            for (name, value) in &inner.headers {
                res.headers_mut()
                    .append(*name, HeaderValue::from_static(value));
            }
            async move { Ok::<_, Infallible>(res) }
        });
        ServiceBuilder::new()
            .layer(layer.clone())
            .service(svc)
            .oneshot(req)
            .await
            .unwrap()
    }
}

async fn send(layer: &CorsLayer, req: Request<()>) -> (Response<String>, usize) {
    let inner = Inner::default();
    let res = inner.send(layer, req).await;
    (res, inner.calls())
}

fn get(origin: &str) -> Request<()> {
    Request::get("/r")
        .header(header::ORIGIN, origin)
        .body(())
        .unwrap()
}

fn preflight(origin: &str, method: &str, headers: Option<&str>) -> Request<()> {
    let mut req = Request::options("/r")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method);
    if let Some(headers) = headers {
        req = req.header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers);
    }
    req.body(()).unwrap()
}

fn h<'a>(res: &'a Response<String>, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

fn all(res: &Response<String>, name: &str) -> Vec<String> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The names of every `access-control-*` header on the response.
fn cors_headers(headers: &HeaderMap) -> Vec<&str> {
    headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| n.starts_with("access-control-"))
        .collect()
}

fn vary_tokens(res: &Response<String>) -> Vec<String> {
    all(res, "vary")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// The configuration most tests use.
fn app_layer() -> CorsLayer {
    Cors::builder()
        .allow_origins([APP])
        .allow_methods([Method::GET, Method::PUT, Method::DELETE])
        .allow_headers(["x-api-key", "content-type"])
        .expose_headers(["x-request-id"])
        .max_age(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn credentials_layer() -> CorsLayer {
    Cors::builder()
        .allow_origins([APP])
        .allow_methods([Method::PUT])
        .allow_headers(["x-api-key"])
        .expose_headers(["x-request-id"])
        .allow_credentials(true)
        .build()
        .unwrap()
}

const PREFLIGHT_VARY: [&str; 3] = [
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
];

// ---------------------------------------------------------------- simple requests

#[tokio::test]
async fn simple_request_from_allowed_origin_gets_its_origin_reflected() {
    let (res, calls) = send(&app_layer(), get(APP)).await;
    assert_eq!(calls, 1);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "inner GET");
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        h(&res, "access-control-expose-headers"),
        Some("x-request-id")
    );
    assert_eq!(h(&res, "access-control-allow-credentials"), None);
    assert_eq!(vary_tokens(&res), ["origin"]);
    // Preflight-only headers never appear on actual responses.
    assert_eq!(h(&res, "access-control-allow-methods"), None);
    assert_eq!(h(&res, "access-control-max-age"), None);
}

#[tokio::test]
async fn simple_request_from_disallowed_origin_gets_no_cors_headers() {
    let (res, calls) = send(&app_layer(), get(OTHER)).await;
    assert_eq!(calls, 1, "a simple request is not the layer's to block");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        cors_headers(res.headers()).is_empty(),
        "{:?}",
        res.headers()
    );
    assert_eq!(
        vary_tokens(&res),
        ["origin"],
        "the answer still depends on Origin"
    );
}

#[tokio::test]
async fn request_without_origin_gets_vary_but_no_cors_headers() {
    let req = Request::get("/r").body(()).unwrap();
    let (res, calls) = send(&app_layer(), req).await;
    assert_eq!(calls, 1);
    assert!(cors_headers(res.headers()).is_empty());
    // Without it a cache could serve this response to an allowed origin, or the reverse.
    assert_eq!(vary_tokens(&res), ["origin"]);
}

#[tokio::test]
async fn every_method_reaches_the_inner_service_as_an_actual_request() {
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let req = Request::builder()
            .method(method.clone())
            .uri("/r")
            .header(header::ORIGIN, APP)
            .body(())
            .unwrap();
        let (res, calls) = send(&app_layer(), req).await;
        assert_eq!(calls, 1, "{method}");
        assert_eq!(res.body(), &format!("inner {method}"));
        assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    }
}

// ---------------------------------------------------------------- preflights

#[tokio::test]
async fn allowed_preflight_is_answered_by_the_layer() {
    let (res, calls) = send(
        &app_layer(),
        preflight(APP, "PUT", Some("x-api-key,content-type")),
    )
    .await;
    assert_eq!(calls, 0, "a preflight never reaches the inner service");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.body(), "");
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-api-key, content-type")
    );
    assert_eq!(h(&res, "access-control-max-age"), Some("600"));
    assert_eq!(h(&res, "access-control-allow-credentials"), None);
    assert_eq!(
        h(&res, "access-control-expose-headers"),
        None,
        "expose is for actual responses"
    );
    assert_eq!(vary_tokens(&res), PREFLIGHT_VARY);
}

#[tokio::test]
async fn preflight_from_disallowed_origin_is_answered_without_cors_headers() {
    for origin in [OTHER, "null", "https://app.example.evil.com"] {
        let (res, calls) = send(&app_layer(), preflight(origin, "PUT", Some("x-api-key"))).await;
        assert_eq!(calls, 0, "{origin}: never forwarded");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(
            cors_headers(res.headers()).is_empty(),
            "{origin}: {:?}",
            res.headers()
        );
        assert_eq!(vary_tokens(&res), PREFLIGHT_VARY);
    }
}

#[tokio::test]
async fn preflight_for_a_method_not_allowed_gets_no_allow_headers() {
    let (res, calls) = send(&app_layer(), preflight(APP, "PATCH", Some("x-api-key"))).await;
    assert_eq!(calls, 0);
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // The origin and headers are allowed, so the browser's console names the method.
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-allow-methods"), None);
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-api-key, content-type")
    );
    assert_eq!(
        h(&res, "access-control-max-age"),
        None,
        "only a full approval may be cached"
    );
    assert_eq!(vary_tokens(&res), PREFLIGHT_VARY);
}

#[tokio::test]
async fn preflight_for_a_header_not_allowed_gets_no_allow_headers() {
    let (res, calls) = send(
        &app_layer(),
        preflight(APP, "PUT", Some("x-api-key,x-unlisted")),
    )
    .await;
    assert_eq!(calls, 0);
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    assert_eq!(h(&res, "access-control-allow-headers"), None);
    assert_eq!(h(&res, "access-control-max-age"), None);

    // Both refused: neither allow header.
    let (res, _) = send(&app_layer(), preflight(APP, "PATCH", Some("x-unlisted"))).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-allow-methods"), None);
    assert_eq!(h(&res, "access-control-allow-headers"), None);
}

#[tokio::test]
async fn preflight_header_names_are_case_insensitive_and_may_span_fields() {
    let req = Request::options("/r")
        .header(header::ORIGIN, APP)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, " X-Api-Key ,, ")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "CONTENT-TYPE")
        .body(())
        .unwrap();
    let (res, _) = send(&app_layer(), req).await;
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-api-key, content-type")
    );
}

#[tokio::test]
async fn preflight_without_request_headers_is_judged_on_its_method() {
    let (res, _) = send(&app_layer(), preflight(APP, "DELETE", None)).await;
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    // The list is constant, so it is sent even when nothing was asked for.
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-api-key, content-type")
    );
}

#[tokio::test]
async fn safelisted_methods_need_no_listing() {
    // A POST with a custom header is preflighted; Fetch lets GET, HEAD and POST through the
    // method check whatever Access-Control-Allow-Methods says.
    let layer = Cors::builder()
        .allow_origins([APP])
        .allow_methods([Method::PUT])
        .allow_headers(["x-api-key"])
        .build()
        .unwrap();
    for method in ["GET", "HEAD", "POST"] {
        let (res, _) = send(&layer, preflight(APP, method, Some("x-api-key"))).await;
        assert_eq!(
            h(&res, "access-control-allow-methods"),
            Some("PUT"),
            "{method}"
        );
        assert_eq!(
            h(&res, "access-control-allow-headers"),
            Some("x-api-key"),
            "{method}"
        );
    }
}

#[tokio::test]
async fn method_comparison_is_byte_for_byte_like_browsers() {
    let layer = Cors::builder()
        .allow_origins([APP])
        .allow_methods([Method::PATCH, Method::from_bytes(b"purge").unwrap()])
        .build()
        .unwrap();
    let (res, _) = send(&layer, preflight(APP, "PATCH", None)).await;
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("PATCH, purge")
    );
    // `fetch(url, {method: "patch"})` is not normalized, so browsers ask for `patch`.
    let (res, _) = send(&layer, preflight(APP, "patch", None)).await;
    assert_eq!(h(&res, "access-control-allow-methods"), None);
    let (res, _) = send(&layer, preflight(APP, "PURGE", None)).await;
    assert_eq!(h(&res, "access-control-allow-methods"), None);
    let (res, _) = send(&layer, preflight(APP, "purge", None)).await;
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("PATCH, purge")
    );
}

#[tokio::test]
async fn options_without_request_method_is_not_a_preflight() {
    let req = Request::options("/r")
        .header(header::ORIGIN, APP)
        .body(())
        .unwrap();
    let (res, calls) = send(&app_layer(), req).await;
    assert_eq!(calls, 1, "reaches the inner service");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "inner OPTIONS");
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some(APP),
        "with CORS headers"
    );
    assert_eq!(h(&res, "access-control-allow-methods"), None);

    let req = Request::options("/r")
        .header(header::ORIGIN, OTHER)
        .body(())
        .unwrap();
    let (res, calls) = send(&app_layer(), req).await;
    assert_eq!(calls, 1);
    assert!(cors_headers(res.headers()).is_empty());

    // `Access-Control-Request-Method` without `Origin` is not a preflight either.
    let req = Request::options("/r")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .body(())
        .unwrap();
    let (res, calls) = send(&app_layer(), req).await;
    assert_eq!(calls, 1);
    assert_eq!(res.body(), "inner OPTIONS");
}

#[tokio::test]
async fn max_age_is_sent_only_when_configured() {
    let layer = Cors::builder().allow_origins([APP]).build().unwrap();
    let (res, _) = send(&layer, preflight(APP, "GET", None)).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-max-age"), None);
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        None,
        "nothing listed"
    );

    let layer = Cors::builder()
        .allow_origins([APP])
        .max_age(Duration::from_millis(90_999))
        .build()
        .unwrap();
    let (res, _) = send(&layer, preflight(APP, "GET", None)).await;
    assert_eq!(
        h(&res, "access-control-max-age"),
        Some("90"),
        "whole seconds"
    );
}

// ---------------------------------------------------------------- credentials

#[tokio::test]
async fn credentials_are_allowed_only_for_allowed_origins() {
    let layer = credentials_layer();
    let (res, _) = send(&layer, get(APP)).await;
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some(APP),
        "never `*` with credentials"
    );
    assert_eq!(h(&res, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        h(&res, "access-control-expose-headers"),
        Some("x-request-id")
    );

    let (res, _) = send(&layer, preflight(APP, "PUT", Some("x-api-key"))).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-allow-credentials"), Some("true"));
    assert_eq!(h(&res, "access-control-allow-methods"), Some("PUT"));

    let (res, _) = send(&layer, get(OTHER)).await;
    assert!(cors_headers(res.headers()).is_empty());
    let (res, _) = send(&layer, preflight(OTHER, "PUT", None)).await;
    assert!(cors_headers(res.headers()).is_empty());
}

#[tokio::test]
async fn mirrored_request_headers_work_with_credentials_for_listed_origins_only() {
    let layer = Cors::builder()
        .allow_origins([APP])
        .allow_methods([Method::PUT])
        .mirror_request_headers()
        .allow_credentials(true)
        .build()
        .unwrap();
    let (res, _) = send(
        &layer,
        preflight(APP, "PUT", Some("x-token, Authorization")),
    )
    .await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-allow-credentials"), Some("true"));
    // Echoed as asked, never `*` (read literally on credentialed requests).
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-token, Authorization")
    );
    let (res, _) = send(&layer, preflight(OTHER, "PUT", Some("x-token"))).await;
    assert!(cors_headers(res.headers()).is_empty());
}

#[tokio::test]
async fn no_credentials_header_without_credentials() {
    for req in [get(APP), preflight(APP, "PUT", None)] {
        let (res, _) = send(&app_layer(), req).await;
        assert_eq!(h(&res, "access-control-allow-credentials"), None);
    }
}

#[tokio::test]
async fn credentials_with_a_predicate_are_allowed() {
    let layer = Cors::builder()
        .allow_origin_predicate(|origin, _| origin == APP)
        .allow_credentials(true)
        .build()
        .unwrap();
    let (res, _) = send(&layer, get(APP)).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
    assert_eq!(h(&res, "access-control-allow-credentials"), Some("true"));
}

// ---------------------------------------------------------------- origins

#[tokio::test]
async fn only_exact_origins_are_reflected() {
    let layer = Cors::builder()
        .allow_origins([APP, "http://127.0.0.1:8080"])
        .build()
        .unwrap();
    let attacks = [
        "https://app.example.evil.com",
        "https://evil-app.example",
        "https://evilapp.example",
        "https://app.exampl",
        "https://app.example.",
        "https://sub.app.example",
        "http://app.example",
        "https://app.example:443",
        "https://app.example:8443",
        "https://app.example/",
        "https://app.example/path",
        "https://APP.example",
        "HTTPS://app.example",
        "https://app.example%2eevil.com",
        "https://app.example\u{0009}",
        "https://app.example ",
        " https://app.example",
        "https://app.example, https://other.example",
        "app.example",
        "http://127.0.0.1:80800",
        "http://127.0.0.1:808",
        "http://127.0.0.1",
        "*",
        "",
    ];
    for origin in attacks {
        let Ok(value) = HeaderValue::from_str(origin) else {
            continue;
        };
        let req = Request::get("/r")
            .header(header::ORIGIN, value)
            .body(())
            .unwrap();
        let (res, _) = send(&layer, req).await;
        assert!(
            cors_headers(res.headers()).is_empty(),
            "{origin:?} must not be allowed"
        );
        let mut req = preflight(APP, "GET", None);
        req.headers_mut()
            .insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        let (res, _) = send(&layer, req).await;
        assert!(
            cors_headers(res.headers()).is_empty(),
            "{origin:?} preflight"
        );
    }
    let (res, _) = send(&layer, get("http://127.0.0.1:8080")).await;
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
}

#[tokio::test]
async fn many_exact_origins_are_looked_up_in_a_set() {
    let origins: Vec<String> = (0..50).map(|i| format!("https://app{i}.example")).collect();
    let layer = Cors::builder().allow_origins(&origins).build().unwrap();
    for origin in &origins {
        let (res, _) = send(&layer, get(origin)).await;
        assert_eq!(
            h(&res, "access-control-allow-origin"),
            Some(origin.as_str())
        );
    }
    let (res, _) = send(&layer, get("https://app50.example")).await;
    assert!(cors_headers(res.headers()).is_empty());
}

#[tokio::test]
async fn origins_accept_strings_and_header_values() {
    let layer = Cors::builder()
        .allow_origins(vec![String::from(APP)])
        .allow_origins([HeaderValue::from_static(OTHER)])
        .build()
        .unwrap();
    for origin in [APP, OTHER] {
        let (res, _) = send(&layer, get(origin)).await;
        assert_eq!(h(&res, "access-control-allow-origin"), Some(origin));
    }
}

#[tokio::test]
async fn null_is_never_allowed_unless_explicitly() {
    let listed = app_layer();
    let mirrored = Cors::builder().mirror_any_origin().build().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let predicate = Cors::builder()
        .allow_origin_predicate(move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            true
        })
        .build()
        .unwrap();
    for layer in [&listed, &mirrored, &predicate] {
        let (res, _) = send(layer, get("null")).await;
        assert!(cors_headers(res.headers()).is_empty(), "{layer:?}");
        let (res, _) = send(layer, preflight("null", "GET", None)).await;
        assert!(cors_headers(res.headers()).is_empty(), "{layer:?}");
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "predicates are never asked about null"
    );

    let layer = Cors::builder()
        .allow_origins([APP])
        .allow_null_origin()
        .build()
        .unwrap();
    let (res, _) = send(&layer, get("null")).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some("null"));
    assert_eq!(vary_tokens(&res), ["origin"]);
    let (res, _) = send(&layer, get(APP)).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn two_origin_fields_are_not_an_allowed_origin() {
    let req = Request::get("/r")
        .header(header::ORIGIN, APP)
        .header(header::ORIGIN, APP)
        .body(())
        .unwrap();
    let (res, _) = send(&app_layer(), req).await;
    assert!(cors_headers(res.headers()).is_empty());
}

#[tokio::test]
async fn any_origin_answers_star_to_everyone_without_vary() {
    let layer = Cors::builder()
        .allow_any_origin()
        .allow_methods([Method::PUT])
        .build()
        .unwrap();
    for req in [get(APP), get("null"), Request::get("/r").body(()).unwrap()] {
        let (res, _) = send(&layer, req).await;
        assert_eq!(h(&res, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            all(&res, "vary"),
            Vec::<String>::new(),
            "the same answer for every origin"
        );
    }
    let (res, calls) = send(&layer, preflight(OTHER, "PUT", None)).await;
    assert_eq!(calls, 0);
    assert_eq!(h(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(h(&res, "access-control-allow-methods"), Some("PUT"));
}

#[tokio::test]
async fn mirror_any_origin_reflects_only_well_formed_origins() {
    let layer = Cors::builder().mirror_any_origin().build().unwrap();
    for origin in [APP, "http://localhost:3000", "http://[::1]:8080"] {
        let (res, _) = send(&layer, get(origin)).await;
        assert_eq!(h(&res, "access-control-allow-origin"), Some(origin));
        assert_eq!(vary_tokens(&res), ["origin"]);
    }
    for origin in [
        "https://app.example/",
        "https://APP.example",
        "javascript:alert(1)",
        "x",
    ] {
        let (res, _) = send(&layer, get(origin)).await;
        assert!(cors_headers(res.headers()).is_empty(), "{origin}");
    }
    let layer = Cors::builder()
        .mirror_any_origin()
        .allow_null_origin()
        .build()
        .unwrap();
    let (res, _) = send(&layer, get("null")).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some("null"));
}

#[tokio::test]
async fn predicates_see_the_origin_and_the_request_head() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let layer = Cors::builder()
        .allow_origins([APP])
        .allow_origin_predicate(move |origin, parts| {
            log.lock()
                .unwrap()
                .push(format!("{origin} {}", parts.uri.path()));
            // Whole-host suffix match: note the dot.
            origin
                .strip_prefix("https://")
                .is_some_and(|host| host.ends_with(".tenant.example"))
                && parts.uri.path().starts_with("/r")
        })
        .allow_origin_predicate(|origin, _| origin == "https://second.example")
        .build()
        .unwrap();
    let (res, _) = send(&layer, get("https://a.tenant.example")).await;
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some("https://a.tenant.example")
    );
    let (res, _) = send(&layer, get("https://eviltenant.example")).await;
    assert!(cors_headers(res.headers()).is_empty());
    let (res, _) = send(&layer, get("https://second.example")).await;
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some("https://second.example"),
        "predicates add up"
    );
    let (res, calls) = send(&layer, preflight("https://b.tenant.example", "GET", None)).await;
    assert_eq!(calls, 0);
    assert_eq!(
        h(&res, "access-control-allow-origin"),
        Some("https://b.tenant.example")
    );
    // An exact origin never reaches the predicate; a malformed one neither.
    let _ = send(&layer, get(APP)).await;
    let _ = send(&layer, get("https://a.tenant.example/")).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "https://a.tenant.example /r",
            "https://eviltenant.example /r",
            "https://second.example /r",
            "https://b.tenant.example /r"
        ]
    );
}

// ---------------------------------------------------------------- headers

#[tokio::test]
async fn any_header_does_not_cover_authorization() {
    let layer = Cors::builder()
        .allow_any_origin()
        .allow_any_header()
        .build()
        .unwrap();
    let (res, _) = send(&layer, preflight(APP, "GET", Some("x-anything,x-else"))).await;
    assert_eq!(h(&res, "access-control-allow-headers"), Some("*"));
    let (res, _) = send(
        &layer,
        preflight(APP, "GET", Some("x-anything,authorization")),
    )
    .await;
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        None,
        "browsers would block it anyway"
    );

    let layer = Cors::builder()
        .allow_any_origin()
        .allow_any_header()
        .allow_headers([header::AUTHORIZATION])
        .build()
        .unwrap();
    let (res, _) = send(
        &layer,
        preflight(APP, "GET", Some("x-anything,authorization")),
    )
    .await;
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("*, authorization")
    );
}

#[tokio::test]
async fn permissive_allows_everything_but_credentials() {
    let layer = Cors::permissive();
    let (res, calls) = send(
        &layer,
        preflight(OTHER, "PURGE", Some("authorization,x-custom")),
    )
    .await;
    assert_eq!(calls, 0);
    assert_eq!(h(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(h(&res, "access-control-allow-methods"), Some("*"));
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("authorization,x-custom")
    );
    assert_eq!(h(&res, "access-control-allow-credentials"), None);
    assert_eq!(h(&res, "access-control-max-age"), None);

    let (res, _) = send(&layer, get(OTHER)).await;
    assert_eq!(h(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(h(&res, "access-control-expose-headers"), Some("*"));
    assert_eq!(h(&res, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn lists_are_deduplicated_and_lowercased() {
    let layer = Cors::builder()
        .allow_origins([APP, APP])
        .allow_methods(["PUT", "PUT"])
        .allow_methods([Method::PUT])
        .allow_headers(["X-Api-Key", "x-api-key"])
        .expose_headers(["X-Request-Id"])
        .build()
        .unwrap();
    let (res, _) = send(&layer, preflight(APP, "PUT", Some("x-api-key"))).await;
    assert_eq!(h(&res, "access-control-allow-methods"), Some("PUT"));
    assert_eq!(h(&res, "access-control-allow-headers"), Some("x-api-key"));
    let (res, _) = send(&layer, get(APP)).await;
    assert_eq!(
        h(&res, "access-control-expose-headers"),
        Some("x-request-id")
    );
}

// ---------------------------------------------------------------- Vary

#[tokio::test]
async fn vary_from_the_inner_service_is_kept_and_never_duplicated() {
    let cases: [(&'static [&'static str], &[&str]); 6] = [
        (&["accept-encoding"], &["accept-encoding, origin"]),
        (
            &["accept-encoding", "accept-language"],
            &["accept-encoding, accept-language, origin"],
        ),
        (&["Origin"], &["Origin"]),
        (&["accept-encoding, ORIGIN"], &["accept-encoding, ORIGIN"]),
        (&["cookie", "origin"], &["cookie", "origin"]),
        (&["*"], &["*"]),
    ];
    for (from_inner, expected) in cases {
        let pairs: Vec<(&'static str, &'static str)> =
            from_inner.iter().map(|v| ("vary", *v)).collect();
        let inner = Inner::with_headers(&pairs);
        for req in [get(APP), get(OTHER), Request::get("/r").body(()).unwrap()] {
            let res = inner.send(&app_layer(), req).await;
            assert_eq!(all(&res, "vary"), expected, "inner sent {from_inner:?}");
        }
    }
}

#[tokio::test]
async fn preflight_vary_names_all_three_request_headers() {
    for layer in [app_layer(), credentials_layer(), Cors::permissive()] {
        for req in [
            preflight(APP, "PUT", Some("x-api-key")),
            preflight(OTHER, "PUT", None),
        ] {
            let (res, _) = send(&layer, req).await;
            assert_eq!(vary_tokens(&res), PREFLIGHT_VARY);
            assert_eq!(all(&res, "vary").len(), 1);
        }
    }
}

// ---------------------------------------------------------------- the inner service's CORS headers

#[tokio::test]
async fn cors_headers_from_the_inner_service_are_overwritten() {
    let inner = Inner::with_headers(&[
        ("access-control-allow-origin", "*"),
        ("access-control-allow-origin", "https://evil.example"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-secret"),
    ]);
    // Allowed origin: exactly one ACAO, the layer's; the layer's credentials and expose.
    let res = inner.send(&app_layer(), get(APP)).await;
    assert_eq!(all(&res, "access-control-allow-origin"), [APP]);
    assert_eq!(
        all(&res, "access-control-allow-credentials"),
        Vec::<String>::new()
    );
    assert_eq!(all(&res, "access-control-expose-headers"), ["x-request-id"]);

    // Disallowed origin: all removed.
    let res = inner.send(&credentials_layer(), get(OTHER)).await;
    assert!(
        cors_headers(res.headers()).is_empty(),
        "{:?}",
        res.headers()
    );

    let res = inner.send(&credentials_layer(), get(APP)).await;
    assert_eq!(all(&res, "access-control-allow-origin"), [APP]);
    assert_eq!(all(&res, "access-control-allow-credentials"), ["true"]);
}

// ---------------------------------------------------------------- services and bodies

#[tokio::test]
async fn errors_of_the_inner_service_pass_through() {
    let svc =
        ServiceBuilder::new()
            .layer(app_layer())
            .service(service_fn(|_req: Request<()>| async {
                Err::<Response<String>, _>("down")
            }));
    assert_eq!(svc.oneshot(get(APP)).await.unwrap_err(), "down");
}

#[tokio::test]
async fn works_in_front_of_an_armature_router() {
    use armature_router::{get as route_get, Router};
    let router = Router::builder()
        .route("/r", route_get(|_req: Request<String>| async { "routed" }))
        .build()
        .unwrap();
    let app = ServiceBuilder::new().layer(app_layer()).service(router);
    let req = Request::get("/r")
        .header(header::ORIGIN, APP)
        .body(String::new())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    // The router would answer this OPTIONS with 405; the layer answers the preflight.
    let req = Request::options("/r")
        .header(header::ORIGIN, APP)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .body(String::new())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["access-control-allow-methods"],
        "GET, PUT, DELETE"
    );
}

#[tokio::test]
async fn generic_over_request_and_response_bodies() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    let svc = ServiceBuilder::new().layer(app_layer()).service(service_fn(
        |req: Request<Full<Bytes>>| async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(body)))
        },
    ));
    let req = Request::post("/r")
        .header(header::ORIGIN, APP)
        .body(Full::new(Bytes::from_static(b"echo")))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "echo");
    let req = preflight(APP, "PUT", None).map(|()| Full::default());
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[test]
fn layer_is_cheap_to_clone_and_debug_prints() {
    let layer = app_layer();
    let copy = layer.clone();
    let debug = format!("{copy:?}");
    assert!(debug.contains("https://app.example"), "{debug}");
    let debug = format!("{:?}", Cors::builder().allow_origin_predicate(|_, _| true));
    assert!(debug.contains("predicates: 1"), "{debug}");
}

// ---------------------------------------------------------------- build errors

#[test]
fn unsafe_combinations_with_credentials_are_build_errors() {
    let creds = || Cors::builder().allow_credentials(true);
    let cases = [
        (
            creds().allow_any_origin(),
            CorsError::AnyOriginWithCredentials,
        ),
        (
            creds().mirror_any_origin(),
            CorsError::MirrorOriginWithCredentials,
        ),
        (
            creds().allow_origins([APP]).allow_null_origin(),
            CorsError::NullOriginWithCredentials,
        ),
        (
            creds().allow_origins([APP]).allow_any_method(),
            CorsError::AnyMethodWithCredentials,
        ),
        (
            creds().allow_origins([APP]).allow_any_header(),
            CorsError::AnyHeaderWithCredentials,
        ),
        (
            creds().allow_origins([APP]).expose_any_header(),
            CorsError::AnyExposedHeaderWithCredentials,
        ),
    ];
    for (builder, expected) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err, expected);
        let message = err.to_string();
        assert!(message.contains("allow_credentials(true)"), "{message}");
    }
    // The same settings without credentials are fine.
    let _ = Cors::builder()
        .allow_any_origin()
        .allow_null_origin()
        .allow_any_method()
        .allow_any_header()
        .expose_any_header()
        .build()
        .unwrap();
    let _ = Cors::builder()
        .mirror_any_origin()
        .mirror_request_headers()
        .build()
        .unwrap();
}

#[test]
fn origins_that_browsers_never_send_are_build_errors() {
    let cases = [
        ("https://app.example/", "trailing slash"),
        ("https://app.example/api", "path"),
        ("https://App.example", "uppercase host"),
        ("HTTPS://app.example", "uppercase scheme"),
        ("https://app.example:443", "default port"),
        ("http://app.example:80", "default port"),
        ("https://app.example:08443", "leading zero"),
        ("https://app.example:99999", "port range"),
        ("https://*.app.example", "wildcard subdomain"),
        ("app.example", "no scheme"),
        ("https://", "no host"),
        ("https://user@app.example", "user info"),
        ("https://app.example?q", "query"),
        ("https://bücher.example", "not punycode"),
        ("null", "null"),
        (" https://app.example", "whitespace"),
    ];
    for (origin, why) in cases {
        match Cors::builder().allow_origins([origin]).build() {
            Err(CorsError::InvalidOrigin { origin: o, reason }) => {
                assert_eq!(o, origin);
                assert!(!reason.is_empty());
            }
            other => panic!("{origin:?} ({why}): {other:?}"),
        }
    }
    let err = Cors::builder().allow_origins(["null"]).build().unwrap_err();
    assert!(err.to_string().contains("allow_null_origin()"), "{err}");
}

#[test]
fn invalid_names_and_wildcards_in_lists_are_build_errors() {
    assert_eq!(
        Cors::builder().allow_methods(["GE T"]).build().unwrap_err(),
        CorsError::InvalidMethod {
            method: "GE T".into()
        }
    );
    assert_eq!(
        Cors::builder().allow_methods([""]).build().unwrap_err(),
        CorsError::InvalidMethod {
            method: String::new()
        }
    );
    for (builder, name) in [
        (Cors::builder().allow_headers(["x api"]), "x api"),
        (Cors::builder().allow_headers(["x-ok", "x:bad"]), "x:bad"),
        (Cors::builder().expose_headers(["é"]), "é"),
        (Cors::builder().expose_headers([""]), ""),
    ] {
        assert_eq!(
            builder.build().unwrap_err(),
            CorsError::InvalidHeaderName { name: name.into() }
        );
    }
    let wildcards = [
        (
            Cors::builder().allow_origins(["*"]),
            "allow_origins",
            "allow_any_origin()",
        ),
        (
            Cors::builder().allow_methods(["*"]),
            "allow_methods",
            "allow_any_method()",
        ),
        (
            Cors::builder().allow_headers(["*"]),
            "allow_headers",
            "allow_any_header()",
        ),
        (
            Cors::builder().expose_headers(["*"]),
            "expose_headers",
            "expose_any_header()",
        ),
    ];
    for (builder, list, use_instead) in wildcards {
        assert_eq!(
            builder.build().unwrap_err(),
            CorsError::WildcardInList { list, use_instead }
        );
    }
}

#[test]
fn contradicting_settings_are_build_errors() {
    let cases = [
        (
            Cors::builder().allow_any_origin().allow_origins([APP]),
            "allow_any_origin()",
            "allow_origins(...)",
        ),
        (
            Cors::builder()
                .allow_any_origin()
                .allow_origin_predicate(|_, _| true),
            "allow_any_origin()",
            "allow_origin_predicate(...)",
        ),
        (
            Cors::builder().allow_any_origin().mirror_any_origin(),
            "allow_any_origin()",
            "mirror_any_origin()",
        ),
        (
            Cors::builder().mirror_any_origin().allow_origins([APP]),
            "mirror_any_origin()",
            "allow_origins(...)",
        ),
        (
            Cors::builder().allow_any_method().allow_methods(["PUT"]),
            "allow_any_method()",
            "allow_methods(...)",
        ),
        (
            Cors::builder().mirror_request_headers().allow_any_header(),
            "mirror_request_headers()",
            "allow_any_header()",
        ),
        (
            Cors::builder()
                .mirror_request_headers()
                .allow_headers(["x-a"]),
            "mirror_request_headers()",
            "allow_headers(...)",
        ),
        (
            Cors::builder().expose_any_header().expose_headers(["x-a"]),
            "expose_any_header()",
            "expose_headers(...)",
        ),
    ];
    for (builder, first, second) in cases {
        assert_eq!(
            builder.build().unwrap_err(),
            CorsError::Conflict { first, second }
        );
    }
}

#[test]
fn errors_are_std_errors_with_actionable_messages() {
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(
        Cors::builder()
            .allow_origins(["https://app.example/"])
            .build()
            .unwrap_err(),
    );
    assert_eq!(
        err.to_string(),
        "invalid CORS origin \"https://app.example/\": an origin has no path, not even a trailing slash"
    );
}

#[tokio::test]
async fn an_empty_configuration_allows_no_cross_origin_request() {
    let layer = Cors::builder().build().unwrap();
    let (res, calls) = send(&layer, preflight(APP, "GET", None)).await;
    assert_eq!(calls, 0);
    assert!(cors_headers(res.headers()).is_empty());
    let (res, calls) = send(&layer, get(APP)).await;
    assert_eq!(calls, 1);
    assert!(cors_headers(res.headers()).is_empty());
}

/// A hostile client's preflights: a method that is no token, an empty one, request headers
/// with bytes that are not text, odd spacing and empty items, and a list of 20,000 names.
/// Each is answered by the layer (never forwarded) with 204, no panic, and grants only what
/// the configuration allows: nothing for what is not listed, no `max-age` unless all passed.
#[tokio::test]
async fn hostile_preflights_are_answered_without_granting_anything_unlisted() {
    let layer = app_layer();
    let inner = Inner::default();
    let preflight_bytes = |method: &[u8], headers: Option<&[u8]>| {
        let mut req = Request::options("/r")
            .header(header::ORIGIN, APP)
            .body(())
            .unwrap();
        let h = req.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_bytes(method).unwrap(),
        );
        if let Some(headers) = headers {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                HeaderValue::from_bytes(headers).unwrap(),
            );
        }
        req
    };
    for method in [&b"PUT /r"[..], b"", b"put", b"\x80PUT", b"PUT, DELETE"] {
        let res = inner.send(&layer, preflight_bytes(method, None)).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{method:?}");
        assert_eq!(h(&res, "access-control-allow-origin"), Some(APP));
        assert_eq!(h(&res, "access-control-allow-methods"), None, "{method:?}");
        assert_eq!(h(&res, "access-control-max-age"), None, "{method:?}");
    }
    // Odd spacing, case and empty items around listed names: allowed.
    let res = inner
        .send(
            &layer,
            preflight_bytes(b"PUT", Some(b" X-Api-Key ,, ,\tcontent-type ,")),
        )
        .await;
    assert_eq!(
        h(&res, "access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    assert_eq!(
        h(&res, "access-control-allow-headers"),
        Some("x-api-key, content-type")
    );
    assert_eq!(h(&res, "access-control-max-age"), Some("600"));
    // A name that is not text, or one unlisted name among 20,000: the headers are refused.
    let many: String = (0..20_000).map(|i| format!("x-api-key, x-h{i},")).collect();
    for headers in [&b"x-api-key, \x80\xff"[..], many.as_bytes()] {
        let res = inner
            .send(&layer, preflight_bytes(b"PUT", Some(headers)))
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            h(&res, "access-control-allow-methods"),
            Some("GET, PUT, DELETE")
        );
        assert_eq!(h(&res, "access-control-allow-headers"), None);
        assert_eq!(h(&res, "access-control-max-age"), None);
    }
    assert_eq!(inner.calls(), 0, "no preflight was forwarded");
}
