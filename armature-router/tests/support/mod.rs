//! Helpers shared by the integration tests: a handler that echoes what the router gave it, and
//! a one-call helper that collects everything a test may assert on.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;

use armature_router::{Body, MatchedRoute, PathParams, ReportMatchedRoute, Response, Router};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// What a handler saw in its request extensions. [`echo`] returns it in the response extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The `MatchedRoute` of the request, if any.
    pub matched: Option<String>,
    /// The `PathParams` of the request, in iteration order (empty when absent).
    pub params: Vec<(String, String)>,
    /// Whether `PathParams` was present at all.
    pub has_params: bool,
}

/// A handler reporting what the router put in the request.
pub async fn echo<B>(req: Request<B>) -> Response {
    let params = req.extensions().get::<PathParams>();
    let seen = Seen {
        matched: req
            .extensions()
            .get::<MatchedRoute>()
            .map(|m| m.as_str().to_owned()),
        params: params
            .map(|p| {
                p.iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        has_params: params.is_some(),
    };
    let mut res = Response::new(Body::from("echo"));
    res.extensions_mut().insert(seen);
    res
}

/// Like [`echo`], answering with `body`: tells fallbacks apart.
pub fn echo_as(
    body: &'static str,
) -> impl Fn(Request<()>) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync + 'static
{
    move |req| {
        Box::pin(async move {
            let mut res = echo(req).await;
            *res.body_mut() = Body::from(body);
            res
        })
    }
}

/// Everything about one response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What [`echo`] saw, when the request reached it.
    pub seen: Option<Seen>,
    /// The `MatchedRoute` in the response extensions ([`send`] asks for it).
    pub matched: Option<String>,
}

/// Sends `req` through a clone of `router`, asking for the matched route on the response
/// ([`ReportMatchedRoute`]), and collects the answer.
pub async fn send<B: Send + 'static>(router: &Router<B>, mut req: Request<B>) -> Answer {
    req.extensions_mut().insert(ReportMatchedRoute);
    let res = router.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        seen: parts.extensions.get::<Seen>().cloned(),
        matched: parts
            .extensions
            .get::<MatchedRoute>()
            .map(|m| m.as_str().to_owned()),
    }
}

/// `method path` with an empty `()` body.
pub async fn call(router: &Router<()>, method: Method, uri: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .unwrap_or_else(|err| panic!("{uri}: not a valid request: {err}"));
    send(router, req).await
}

/// `GET path` with an empty `()` body.
pub async fn get(router: &Router<()>, uri: &str) -> Answer {
    call(router, Method::GET, uri).await
}

/// Owned `(name, value)` pairs, for comparing with [`Seen::params`].
pub fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}
