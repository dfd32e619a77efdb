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
