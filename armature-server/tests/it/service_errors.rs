//! A service that fails (its future or its readiness returns an error) gets its client a
//! `500`, over HTTP/1.1 and HTTP/2 as over HTTP/3, instead of a connection dropped without a
//! word (what hyper does with a service error).

use crate::common;

use std::task::{Context, Poll};

use armature_server::RequestBody;
use bytes::Bytes;
use common::{raw_exchange, send_h2, Running};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

/// `/fail` fails; anything else answers `ok`.
fn failing_on_fail() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = std::io::Error,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<RequestBody>| async move {
        if req.uri().path() == "/fail" {
            return Err(std::io::Error::other("database gone"));
        }
        Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

/// A service whose readiness always fails.
#[derive(Clone)]
struct NeverReady;

impl tower::Service<Request<RequestBody>> for NeverReady {
    type Response = Response<Full<Bytes>>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Err(std::io::Error::other("pool closed")))
    }

    fn call(&mut self, _req: Request<RequestBody>) -> Self::Future {
        unreachable!("never ready, so never called")
    }
}

const FAILED: &str = "Internal Server Error: the service failed\n";

#[tokio::test]
async fn http1_a_failed_request_gets_a_500_then_the_connection_closes() {
    let server = Running::start_with(common::local_server(), failing_on_fail());
    // Pipelined: the 500 closes the connection (its request body might be unread), so the
    // request after it is not answered; the one before it is.
    let exchange = raw_exchange(
        server.addr,
        b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /fail HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await;
    assert_eq!(
        exchange.responses(),
        vec![(200, "ok".to_owned()), (500, FAILED.to_owned())]
    );
    // Other connections are served as before.
    assert_eq!(
        common::get_once(server.addr, "/ok").await,
        (StatusCode::OK, "ok".to_owned())
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http2_a_failed_request_gets_a_500_on_its_stream_only() {
    let server = Running::start_with(common::local_server(), failing_on_fail());
    let mut h2 = common::h2_client(server.addr).await;
    let get = |path: &str| {
        Request::get(format!("http://localhost{path}"))
            .body(Full::default())
            .unwrap()
    };
    assert_eq!(
        send_h2(&mut h2, get("/fail")).await,
        (StatusCode::INTERNAL_SERVER_ERROR, FAILED.to_owned())
    );
    // HEAD: the status, no body (a body would fail the stream on the client).
    let head = Request::head("http://localhost/fail")
        .body(Full::default())
        .unwrap();
    assert_eq!(
        send_h2(&mut h2, head).await,
        (StatusCode::INTERNAL_SERVER_ERROR, String::new())
    );
    // The connection survived.
    assert_eq!(
        send_h2(&mut h2, get("/ok")).await,
        (StatusCode::OK, "ok".to_owned())
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_service_whose_readiness_fails_gets_its_clients_500s() {
    let server = Running::start_with(common::local_server(), NeverReady);
    for _ in 0..2 {
        let exchange = raw_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(exchange.responses(), vec![(500, FAILED.to_owned())]);
    }
    let mut h2 = common::h2_client(server.addr).await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("http://localhost/")
        .body(Full::new(Bytes::from_static(b"unread")))
        .unwrap();
    assert_eq!(
        send_h2(&mut h2, req).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    server.stop().await.unwrap();
}
