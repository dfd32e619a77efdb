//! Request ids: generated, trusted only when asked, visible to handlers, echoed.

use std::convert::Infallible;

use armature_layers::request_id::{RequestId, RequestIdError, RequestIdLayer};
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
async fn the_echoed_id_is_kept_out_of_http2_header_compression() {
    // Unique to each response, an indexed id would only churn HPACK's table: it is marked
    // never-indexed (`set_sensitive`), fresh or trusted alike. The handler's copy in the
    // request stays plain, so it reads (and `Debug`s) as itself.
    let handler = service_fn(|req: Request<()>| async move {
        let plain = !req.headers()["x-request-id"].is_sensitive();
        Ok::<_, Infallible>(Response::new(plain.to_string()))
    });
    for layer in [
        RequestIdLayer::new(),
        RequestIdLayer::new().trust_incoming(true),
    ] {
        let req = Request::builder()
            .header("x-request-id", "from-the-client")
            .body(())
            .unwrap();
        let res = layer.layer(handler).oneshot(req).await.unwrap();
        assert!(res.headers()["x-request-id"].is_sensitive());
        assert_eq!(res.body(), "true");
    }
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
        .unwrap()
        .layer(echo_id())
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert!(res.headers().get("x-request-id").is_none());
    assert_eq!(res.headers()[&header], res.body().as_str());
}

/// Hostile incoming ids, even from a trusted client: empty, a tab, a space, obs-text bytes,
/// 129 characters, or two fields. Each is replaced by a fresh id, and the inner service,
/// the extension and the response all see that one id, in exactly one header field.
#[tokio::test]
async fn hostile_incoming_ids_are_replaced_and_never_duplicated() {
    let seen = service_fn(|req: Request<()>| async move {
        let fields: Vec<String> = req
            .headers()
            .get_all("x-request-id")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let ext = req.extensions().get::<RequestId>().unwrap().to_string();
        assert_eq!(
            fields,
            std::slice::from_ref(&ext),
            "the inner service sees one field, the id"
        );
        Ok::<_, Infallible>(Response::new(ext))
    });
    let svc = RequestIdLayer::new().trust_incoming(true).layer(seen);
    let long = "x".repeat(129);
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b""],
        vec![b"a\tb"],
        vec![b"a b"],
        vec![b"caf\xc3\xa9"],
        vec![b"\x80\xff"],
        vec![long.as_bytes()],
        // Two fields: the first decides; a valid second one is not picked instead.
        vec![b"bad id", b"good-id"],
    ];
    for fields in cases {
        let mut req = Request::new(());
        for field in &fields {
            req.headers_mut().append(
                "x-request-id",
                http::HeaderValue::from_bytes(field).unwrap(),
            );
        }
        let res = svc.clone().oneshot(req).await.unwrap();
        let echoed: Vec<_> = res.headers().get_all("x-request-id").iter().collect();
        assert_eq!(echoed.len(), 1, "{fields:?}");
        assert_eq!(echoed[0].len(), 36, "a generated id for {fields:?}");
        assert_eq!(echoed[0], res.body().as_str());
    }
    // Two valid fields: the first is kept, and only it is passed on and echoed.
    let mut req = Request::new(());
    req.headers_mut()
        .append("x-request-id", "first".parse().unwrap());
    req.headers_mut()
        .append("x-request-id", "second".parse().unwrap());
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.body(), "first");
    let echoed: Vec<_> = res.headers().get_all("x-request-id").iter().collect();
    assert_eq!(echoed, ["first"]);
}

/// A header HTTP gives a meaning of its own cannot carry the id: the builder says which one,
/// whatever case it was written in, and a custom name still works.
#[test]
fn headers_with_a_meaning_to_http_are_refused() {
    for name in [
        "content-length",
        "Transfer-Encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "HOST",
        "content-type",
        "content-encoding",
        "Authorization",
        "cookie",
        "set-cookie",
        "location",
        "cache-control",
        "www-authenticate",
        "x-forwarded-for",
    ] {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        let err = RequestIdLayer::new().header(header.clone()).unwrap_err();
        assert_eq!(err, RequestIdError::ReservedHeader { name: header });
        assert!(
            err.to_string().contains(&name.to_ascii_lowercase()),
            "{err}"
        );
    }
    for name in [
        "x-trace-id",
        "x-correlation-id",
        "request-id",
        "x-amzn-trace-id",
    ] {
        assert!(
            RequestIdLayer::new()
                .header(HeaderName::from_static(name))
                .is_ok(),
            "{name}"
        );
    }
}
