//! RFC 9112 §3.2 `Host` rules over real sockets: a bad request gets a short
//! `400`, the connection is closed, the user's service is never called, and
//! the server keeps serving everyone else.

use crate::common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use armature_server::RequestBody;
use bytes::Bytes;
use common::raw_exchange;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts a server whose service counts its calls.
fn counting_server() -> (
    std::net::SocketAddr,
    Arc<AtomicUsize>,
    tokio::sync::oneshot::Sender<()>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = tower::service_fn(move |_req: Request<RequestBody>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = common::local_server().with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let addr = server.local_addr();
    tokio::spawn(server.serve(service));
    (addr, calls, stop)
}

#[tokio::test]
async fn bad_host_requests_are_rejected_before_the_service() {
    let (addr, calls, _stop) = counting_server();
    for (request, reason) in [
        ("GET / HTTP/1.1\r\n\r\n", "missing Host header"),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "more than one Host header",
        ),
        (
            "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
            "invalid Host header",
        ),
        ("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", "invalid Host header"),
        (
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "more than one Host header",
        ),
    ] {
        let exchange = raw_exchange(addr, request.as_bytes()).await;
        assert_eq!(
            exchange.responses(),
            vec![(400, format!("Bad Request: {reason}\n"))],
            "{request:?}"
        );
        let head = String::from_utf8_lossy(&exchange.bytes).to_ascii_lowercase();
        assert!(head.contains("connection: close"), "{head}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn connection_is_closed_even_if_the_client_keeps_it_open() {
    let (addr, _calls, _stop) = counting_server();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    // The client neither closes nor sends more: the server must close.
    let bytes = tokio::time::timeout(common::GUARD, common::read_until_closed(&mut stream))
        .await
        .expect("server kept the connection open (hung)");
    assert!(bytes.starts_with(b"HTTP/1.1 400 "));
    let mut one = [0u8; 1];
    assert_eq!(stream.read(&mut one).await.unwrap_or(0), 0);
}

#[tokio::test]
async fn good_requests_are_served_alongside() {
    let (addr, calls, _stop) = counting_server();
    let bad = raw_exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    let good = common::get_once(addr, "/");
    let old = raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n");
    let (bad, good, old) = tokio::join!(bad, good, old);
    assert_eq!(bad.statuses(), vec![400]);
    assert_eq!(good.0, StatusCode::OK);
    assert_eq!(old.statuses(), vec![200], "HTTP/1.0 may omit Host");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn http2_needs_no_host_header() {
    let (addr, calls, _stop) = counting_server();
    let mut client = common::h2_client(addr).await;
    let req = Request::get("http://localhost/")
        .body(Full::default())
        .unwrap();
    assert!(req.headers().get(http::header::HOST).is_none());
    assert_eq!(common::send_h2(&mut client, req).await.0, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// RFC 9112 §3.2.2: for a request target in absolute form, the server "MUST ignore the
/// received Host header field (if any) and instead use the host information of the
/// request-target". The service sees the target's host as `Host`, so a `Host` that
/// disagrees with the target cannot steer what reads it (virtual hosts, redirects, CORS);
/// a target authority that is not a valid host (userinfo, a bad port) is refused, as
/// `:authority` is over HTTP/2.
#[tokio::test]
async fn an_absolute_form_target_is_the_host_the_service_sees() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = tower::service_fn(move |req: Request<RequestBody>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let host = req.headers().get_all(http::header::HOST).iter();
        let host: Vec<_> = host.map(|h| h.to_str().unwrap().to_owned()).collect();
        let text = format!("{} host={}", req.uri(), host.join("|"));
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text)))) }
    });
    let server = common::Running::start_with(common::local_server(), service);
    for (request, seen) in [
        (
            "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
            "http://a.example/x host=a.example",
        ),
        (
            "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\nConnection: close\r\n\r\n",
            "http://a.example:8080/x host=a.example:8080",
        ),
        (
            "GET http://a.example/x HTTP/1.0\r\n\r\n",
            "http://a.example/x host=a.example",
        ),
        ("GET /x HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n", "/x host=b.example"),
    ] {
        let exchange = raw_exchange(server.addr, request.as_bytes()).await;
        assert_eq!(exchange.responses(), vec![(200, seen.to_owned())], "{request:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    for request in [
        "GET http://user@a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
        "GET http://user:pw@a.example/x HTTP/1.0\r\n\r\n",
    ] {
        let exchange = raw_exchange(server.addr, request.as_bytes()).await;
        assert_eq!(
            exchange.responses(),
            vec![(
                400,
                "Bad Request: invalid authority in the request target\n".to_owned()
            )],
            "{request:?}"
        );
    }
    // Host is still required over HTTP/1.1 (RFC 9112 §3.2), whatever the target.
    let exchange = raw_exchange(server.addr, b"GET http://a.example/ HTTP/1.1\r\n\r\n").await;
    assert_eq!(exchange.statuses(), vec![400]);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    server.stop().await.unwrap();
}
