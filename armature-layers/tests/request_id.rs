//! Request ids: generated, trusted only when asked, visible to handlers, echoed.

use std::convert::Infallible;

use armature_layers::request_id::{RequestId, RequestIdLayer};
use http::{HeaderName, Request, Response};
use tower::{service_fn, Layer, ServiceExt};

fn echo_id(
) -> impl tower::Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
    service_fn(|req: Request<()>| async move {
        let ext = req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        Ok(Response::new(ext))
    })
}

#[tokio::test]
async fn generates_a_fresh_id_per_request_and_echoes_it() {
    let svc = RequestIdLayer::new().layer(echo_id());
    let a = svc.clone().oneshot(Request::new(())).await.unwrap();
    let b = svc.oneshot(Request::new(())).await.unwrap();
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
    assert_eq!(a.headers()["x-request-id"], a.body().as_str());
    // The header is the response's copy; no extension map is allocated for it.
    assert!(a.extensions().get::<RequestId>().is_none());
}

#[tokio::test]
async fn incoming_ids_are_ignored_unless_trusted() {
    let req = || {
        Request::builder()
            .header("x-request-id", "client-chosen")
            .body(())
            .unwrap()
    };
    let untrusted = RequestIdLayer::new()
        .layer(echo_id())
        .oneshot(req())
        .await
        .unwrap();
    assert_ne!(untrusted.headers()["x-request-id"], "client-chosen");
    assert_ne!(untrusted.body(), "client-chosen");
    let trusted = RequestIdLayer::new()
        .trust_incoming(true)
        .layer(echo_id())
        .oneshot(req())
        .await
        .unwrap();
    assert_eq!(trusted.headers()["x-request-id"], "client-chosen");
    assert_eq!(trusted.body(), "client-chosen");
}

#[tokio::test]
async fn invalid_incoming_ids_are_replaced_even_when_trusted() {
    let long = "x".repeat(200);
    let req = Request::builder()
        .header("x-request-id", long.as_str())
        .body(())
        .unwrap();
    let res = RequestIdLayer::new()
        .trust_incoming(true)
        .layer(echo_id())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn a_custom_header_name_is_used_everywhere() {
    let header = HeaderName::from_static("x-correlation-id");
    let res = RequestIdLayer::new()
        .header(header.clone())
        .layer(echo_id())
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert!(res.headers().get("x-request-id").is_none());
    assert_eq!(res.headers()[&header], res.body().as_str());
}
