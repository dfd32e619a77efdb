//! Slowloris protection: clients that trickle or withhold their request
//! head are disconnected once `header_read_timeout` runs out, while other
//! clients are served meanwhile. No durations are asserted: only that the
//! slow connection gets closed and that the others get `200`.
//!
//! This also proves the hyper trap is avoided: hyper's
//! `header_read_timeout` does nothing unless a timer is set on its builder.

use crate::common;

use std::time::Duration;

use common::{Running, GUARD};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn server_with_short_timeout() -> Running {
    Running::start(common::local_server().header_read_timeout(Duration::from_secs(1)))
}

/// Waits for the server to close `read`; returns what it sent first.
async fn closed_by_server(mut read: impl AsyncReadExt + Unpin) -> Vec<u8> {
    let closed = async {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(GUARD, closed)
        .await
        .expect("the slow connection was never closed")
}

/// Anything the server may send a client it cuts off: nothing, or a 408.
fn assert_cut_off(sent: &[u8]) {
    assert!(
        sent.is_empty() || sent.starts_with(b"HTTP/1.1 408"),
        "unexpected response to a slow client: {:?}",
        String::from_utf8_lossy(sent)
    );
}

#[tokio::test]
async fn the_first_head_is_due_a_timeout_after_the_connection_opened() {
    // Protocol detection waits for the first bytes under the same timeout; the head is due
    // one timeout after the connection opened, not one more after those bytes. Here the
    // first bytes come 0.9 s in and the rest 0.7 s later: inside a second of each other,
    // but not of the opening, so the connection is cut off and the request never served.
    let server = server_with_short_timeout();
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(900)).await;
        write.write_all(b"GET /late HTTP/1.1\r\n").await.ok()?;
        tokio::time::sleep(Duration::from_millis(700)).await;
        write.write_all(b"Host: x\r\n\r\n").await.ok()?;
        Some(write)
    });
    assert_cut_off(&closed_by_server(read).await);
    drop(slow.await.unwrap());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn trickled_headers_are_cut_off_while_others_are_served() {
    let server = server_with_short_timeout();
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    write
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // One header byte every 100 ms, for at most 200 bytes; stops as soon as
    // the server has closed the connection.
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if write.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // Meanwhile, other clients are served.
    for i in 0..20 {
        let (status, body) = common::get_once(server.addr, &format!("/{i}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("GET /{i} 0"));
    }

    assert_cut_off(&closed_by_server(read).await);
    trickle.abort();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn silent_connections_are_closed() {
    let server = server_with_short_timeout();
    // Says nothing at all, stops in the middle of the HTTP/2 preface
    // (before the server knows which protocol it speaks), stops right after
    // the preface (hyper's HTTP/2 handshake has no timeout of its own), or
    // stops in the middle of an HTTP/1 request line.
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let mut half_preface = TcpStream::connect(server.addr).await.unwrap();
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut preface_only = TcpStream::connect(server.addr).await.unwrap();
    preface_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut half_request = TcpStream::connect(server.addr).await.unwrap();
    half_request.write_all(b"GET / HTT").await.unwrap();

    assert_eq!(common::get_once(server.addr, "/").await.0, StatusCode::OK);

    assert_cut_off(&closed_by_server(silent).await);
    assert_cut_off(&closed_by_server(half_preface).await);
    assert_cut_off(&closed_by_server(preface_only).await);
    assert_cut_off(&closed_by_server(half_request).await);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    // hyper restarts the header timer while waiting for the next request,
    // so the timeout doubles as the HTTP/1 keep-alive idle timeout.
    let server = server_with_short_timeout();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let sent = closed_by_server(&mut stream).await;
    assert!(sent.starts_with(b"HTTP/1.1 200 OK"));
    server.stop().await.unwrap();
}

/// A response body of `chunks` one-byte chunks, one every `every`.
struct Drip {
    chunks: u32,
    every: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Drip {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.chunks == 0 {
            return std::task::Poll::Ready(None);
        }
        std::task::ready!(std::future::Future::poll(self.sleep.as_mut(), cx));
        self.chunks -= 1;
        let next = tokio::time::Instant::now() + self.every;
        self.sleep.as_mut().reset(next);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
            b"x",
        )))))
    }
}

/// Longer than the 1 s timeout (plus up to two of the timer's 50 ms ticks), in every phase of a
/// request.
const LONGER: Duration = Duration::from_millis(1500);

/// `/sleep` answers after [`LONGER`], `/drip` streams its body over [`LONGER`]; anything else
/// reads the whole request body and answers its length.
fn slow_phases() -> impl tower::Service<
    http::Request<armature_server::RequestBody>,
    Response = http::Response<http_body_util::Either<Drip, http_body_util::Full<bytes::Bytes>>>,
    Error = armature_server::BodyError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    use http_body_util::{BodyExt, Either, Full};
    tower::service_fn(
        |req: http::Request<armature_server::RequestBody>| async move {
            let body = match req.uri().path() {
                "/sleep" => {
                    tokio::time::sleep(LONGER).await;
                    Either::Right(Full::from("slept"))
                }
                "/drip" => Either::Left(Drip {
                    chunks: 6,
                    every: LONGER / 6,
                    sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
                }),
                _ => {
                    let len = req.into_body().collect().await?.to_bytes().len();
                    Either::Right(Full::from(format!("read {len}")))
                }
            };
            Ok(http::Response::new(body))
        },
    )
}

#[tokio::test]
async fn requests_that_take_longer_than_the_timeout_are_not_cut_off() {
    // The timeout covers reading a head only: not a handler at work, not a request body
    // arriving slowly, not a response body still streaming.
    let server = Running::start_with(
        common::local_server().header_read_timeout(Duration::from_secs(1)),
        slow_phases(),
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for (request, body) in [
        (&b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n"[..], "slept"),
        (b"GET /drip HTTP/1.1\r\nHost: x\r\n\r\n", "xxxxxx"),
    ] {
        stream.write_all(request).await.unwrap();
        assert_eq!(read_one_response(&mut stream).await, body);
    }
    // The body of this one trickles in over LONGER.
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..6 {
        tokio::time::sleep(LONGER / 6).await;
        stream.write_all(b"y").await.unwrap();
    }
    assert_eq!(read_one_response(&mut stream).await, "read 6");
    // All on one connection, which is then idle, and closed for it.
    assert_cut_off(&closed_by_server(&mut stream).await);
    server.stop().await.unwrap();
}

/// Reads one `200` response with a `content-length` or chunked body; returns the body.
async fn read_one_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            if let Some(body) = complete_body(&seen) {
                return body;
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed mid-response: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("no response")
}

/// The body of the `200` response in `data`, once all of it has arrived.
fn complete_body(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).expect("ASCII response");
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().expect("content-length");
        return (body.len() >= len).then(|| body[..len].to_owned());
    }
    assert_eq!(header("transfer-encoding").as_deref(), Some("chunked"));
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size, 16).expect("chunk size");
        if size == 0 {
            return after.starts_with("\r\n").then_some(out);
        }
        if after.len() < size + 2 {
            return None;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// HTTP/2 clients that open a connection and then serve nothing (send no request, or half a
/// header block, or finish a request and stay) are closed too: `GOAWAY`, then dropped. hyper
/// has no such timeout of its own. A served connection meanwhile keeps working.
#[tokio::test]
async fn idle_and_half_sent_http2_connections_are_closed() {
    let server = server_with_short_timeout();
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let settings = h2_frame(0x4, 0, 0, &[]);
    // HEADERS for stream 1 (:method GET, :scheme http, :path /, indexed) without END_HEADERS.
    let half_headers = h2_frame(0x1, 0x1, 1, &[0x82, 0x86, 0x84]);
    let openings: [Vec<u8>; 3] = [
        [PREFACE, &settings].concat(),
        [PREFACE, &settings, &half_headers].concat(),
        // A whole GET (END_STREAM | END_HEADERS with :authority), answered; then silence.
        [
            PREFACE,
            &settings,
            &h2_frame(0x1, 0x5, 1, &[0x82, 0x86, 0x84, 0x41, 0x01, b'x']),
        ]
        .concat(),
    ];
    let mut waits = Vec::new();
    for opening in openings {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(&opening).await.unwrap();
        waits.push(tokio::spawn(closed_by_server(stream)));
    }
    // Served meanwhile, over both protocols.
    let mut h2 = common::h2_client(server.addr).await;
    let req = http::Request::get("http://localhost/ok")
        .body(http_body_util::Full::<bytes::Bytes>::default())
        .unwrap();
    assert_eq!(common::send_h2(&mut h2, req).await.0, StatusCode::OK);
    assert_eq!(common::get_once(server.addr, "/ok").await.0, StatusCode::OK);
    for wait in waits {
        let sent = wait.await.unwrap();
        // What the server sent before closing: its SETTINGS, maybe a response, and a GOAWAY
        // (frame type 0x7), or nothing at all if it was dropped outright.
        assert!(
            sent.is_empty() || sent.windows(4).any(|w| w[3] == 0x7),
            "no GOAWAY among {} bytes",
            sent.len()
        );
    }
    server.stop().await.unwrap();
}
