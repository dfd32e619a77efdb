//! HTTP/1.1 over a real socket with hyper's own client: keep-alive,
//! bodies, pipelining, and `keep_alive(false)`.

mod common;

use bytes::Bytes;
use common::{get, raw_exchange, send_h1, Running};
use http::{Request, StatusCode};
use http_body_util::Full;

#[tokio::test]
async fn serves_several_requests_on_one_connection() {
    let server = Running::start(common::local_server());
    let mut client = common::h1_client(server.addr).await;
    for path in ["/a", "/b", "/c"] {
        let (status, body) = send_h1(&mut client, get(path)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("GET {path} 0"));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reports_http11_to_the_service() {
    let server = Running::start(common::local_server());
    let mut client = common::h1_client(server.addr).await;
    client.ready().await.unwrap();
    let res = client.send_request(get("/")).await.unwrap();
    assert_eq!(res.headers()["x-version"], "HTTP/1.1");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn delivers_request_bodies() {
    let server = Running::start(common::local_server());
    let mut client = common::h1_client(server.addr).await;
    let req = Request::post("/upload")
        .header(http::header::HOST, "localhost")
        .body(Full::new(Bytes::from(vec![b'x'; 100_000])))
        .unwrap();
    let (status, body) = send_h1(&mut client, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "POST /upload 100000");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn answers_pipelined_requests_in_order() {
    let server = Running::start(common::local_server());
    let requests: String = (0..10)
        .map(|i| format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n"))
        .chain(std::iter::once(
            "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned(),
        ))
        .collect();
    let responses = raw_exchange(server.addr, requests.as_bytes())
        .await
        .responses();
    let bodies: Vec<String> = responses.into_iter().map(|(_, body)| body).collect();
    let expected: Vec<String> = (0..10)
        .map(|i| format!("GET /{i} 0"))
        .chain(std::iter::once("GET /last 0".to_owned()))
        .collect();
    assert_eq!(bodies, expected);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn keep_alive_off_closes_after_each_response() {
    let server = Running::start(common::local_server().keep_alive(false));
    let exchange = raw_exchange(
        server.addr,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(exchange.responses(), vec![(200, "GET /1 0".to_owned())]);
    server.stop().await.unwrap();
}
