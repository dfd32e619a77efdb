//! HTTP/1.1 over a real socket with hyper's own client: keep-alive,
//! bodies, pipelining, and `keep_alive(false)`.

use crate::common;

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

/// A response body of `chunks` chunks, each a different run of bytes, so a chunk lost,
/// repeated or reordered changes what the client reads.
struct Chunks(std::collections::VecDeque<Bytes>);

impl Chunks {
    fn new(chunks: usize, len: usize) -> (Self, Vec<u8>) {
        let parts: std::collections::VecDeque<Bytes> = (0..chunks)
            .map(|i| Bytes::from((0..len).map(|j| (i * 31 + j) as u8).collect::<Vec<u8>>()))
            .collect();
        let whole = parts.iter().flat_map(|b| b.iter().copied()).collect();
        (Chunks(parts), whole)
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[tokio::test]
async fn both_write_strategies_deliver_small_and_large_bodies_intact() {
    use http_body_util::BodyExt;
    // (chunks, bytes each): a small answer, and 3 MiB in 48 chunks, past hyper's write
    // buffer limit (~400 KiB), so the connection has to wait for the socket mid-body.
    for writev in [false, true] {
        for (chunks, len) in [(1, 13), (48, 64 * 1024)] {
            let service = tower::service_fn(move |_req: Request<armature_server::RequestBody>| {
                let (body, _) = Chunks::new(chunks, len);
                async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
            });
            let server = Running::start_with(common::local_server().http1_writev(writev), service);
            let mut client = common::h1_client(server.addr).await;
            let (_, whole) = Chunks::new(chunks, len);
            for _ in 0..2 {
                client.ready().await.unwrap();
                let res = client.send_request(get("/")).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                let got = res.into_body().collect().await.unwrap().to_bytes();
                assert!(
                    got == whole,
                    "writev({writev}), {chunks} x {len} B: got {} B",
                    got.len()
                );
            }
            server.stop().await.unwrap();
        }
    }
}

/// A service that answers before reading a large upload (a body limit's `413`, say): the
/// server reads and discards the rest while it closes, so the client's upload ends normally
/// and it reads the answer. With a 1 MiB budget for that, a 48 MiB upload met a reset: the
/// client's write failed (`EPIPE`), and clients that stop there (Node's `http`, `fetch`)
/// never saw the `413`.
#[tokio::test]
async fn an_early_answer_to_a_large_upload_reaches_the_client() {
    use tokio::io::AsyncWriteExt;
    let refuse = tower::service_fn(|_req: Request<armature_server::RequestBody>| async {
        let mut res = http::Response::new(Full::new(Bytes::from_static(b"too large")));
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        // As a body limit says it: the connection ends after this answer.
        res.headers_mut()
            .insert(http::header::CONNECTION, "close".parse().unwrap());
        Ok::<_, std::convert::Infallible>(res)
    });
    let server = Running::start_with(common::local_server(), refuse);
    let body = vec![b'x'; 48 << 20];
    for attempt in 0..3 {
        let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        // The answer is read while the upload goes on, as a client reading its socket does.
        let answer = tokio::spawn(async move {
            let mut read = read;
            common::read_until_closed(&mut read).await
        });
        let head = format!(
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let sent = async {
            write.write_all(head.as_bytes()).await?;
            write.write_all(&body).await?;
            write.shutdown().await
        };
        let sent = tokio::time::timeout(common::GUARD, sent)
            .await
            .expect("upload hung");
        assert!(sent.is_ok(), "attempt {attempt}: the upload met {sent:?}");
        let answer = tokio::time::timeout(common::GUARD, answer)
            .await
            .expect("answer hung")
            .unwrap();
        let exchange = common::RawExchange { bytes: answer };
        assert_eq!(
            exchange.responses(),
            vec![(413, "too large".to_owned())],
            "attempt {attempt}"
        );
    }
    server.stop().await.unwrap();
}
