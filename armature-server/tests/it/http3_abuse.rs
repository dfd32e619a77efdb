//! HTTP/3 clients that try to make the server buffer without bound: frames
//! declaring huge lengths (which h3 would read whole into memory), and
//! bodies sent ahead of handlers that do not read them. Each is written
//! byte by byte with a raw QUIC client (`common::h3raw`), and each test
//! ends by showing that the server still serves.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use armature_server::RequestBody;
use bytes::{Bytes, BytesMut};
use common::h3::{dev_cert, h3_server};
use common::h3raw::{self, Outcome, Raw};
use common::{Running, GUARD};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};

/// `GET /` answers `ok`; `POST /echo` answers with the length of the body;
/// `/stall` never reads its body and never answers.
fn service() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = armature_server::BodyError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<RequestBody>| async move {
        match req.uri().path() {
            "/stall" => std::future::pending::<()>().await,
            "/echo" => {
                let body = req.into_body().collect().await?.to_bytes();
                return Ok(Response::new(Full::new(Bytes::from(
                    body.len().to_string(),
                ))));
            }
            _ => {}
        }
        Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

fn fields(head: &[(&'static [u8], Vec<u8>)]) -> Vec<(&'static [u8], Vec<u8>)> {
    head.to_vec()
}

fn encode(head: &[(&'static [u8], Vec<u8>)]) -> Bytes {
    let refs: Vec<(&[u8], &[u8])> = head.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    h3raw::headers(&refs)
}

fn post(path: &str) -> Vec<(&'static [u8], Vec<u8>)> {
    let mut head = h3raw::get_head(path);
    head[0].1 = b"POST".to_vec();
    fields(&head)
}

/// A GET of `/` on `raw` answers `200 ok`.
async fn serves(raw: &Raw) {
    let outcome = h3raw::exchange(raw, &encode(&h3raw::get_head("/"))).await;
    assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    let Outcome::Answered(bytes) = outcome else {
        unreachable!()
    };
    assert_eq!(h3raw::body_of(&bytes), b"ok");
}

/// Writes zeros to `send` until `total` bytes are written or the write
/// fails; the bytes written.
async fn pump(send: &mut quinn::SendStream, total: usize) -> usize {
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        match tokio::time::timeout(GUARD, send.write(&chunk)).await {
            Ok(Ok(n)) => sent += n,
            Ok(Err(_)) => break,
            Err(_) => panic!("write hung after {sent} bytes"),
        }
    }
    sent
}

/// What a client could push through a frame the server must not buffer:
/// 64 MiB. The server refuses the frame at its header; what it took before
/// is bounded by QUIC's flow-control windows.
const FLOOD: usize = 64 * 1024 * 1024;
const BOUND: usize = 8 * 1024 * 1024;

#[tokio::test]
async fn a_huge_frame_on_the_control_stream_closes_the_connection() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let mut raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let mut header = BytesMut::new();
    // A reserved frame type, which the server must skip, declaring 1 TiB.
    h3raw::frame_header(&mut header, h3raw::RESERVED, 1 << 40);
    raw.control.write_all(&header).await.unwrap();
    let sent = pump(&mut raw.control, FLOOD).await;
    assert!(sent < BOUND, "the server took {sent} bytes of one frame");
    let closed = tokio::time::timeout(GUARD, raw.conn.closed())
        .await
        .expect("connection not closed");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code.into_inner(), h3raw::H3_EXCESSIVE_LOAD)
        }
        other => panic!("closed with {other}"),
    }
    // Other clients are served.
    serves(&h3raw::connect(server.addr, cert.cert_der()).await).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_huge_headers_frame_resets_its_stream_only() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    let mut header = BytesMut::new();
    h3raw::frame_header(&mut header, h3raw::HEADERS, 1 << 40);
    send.write_all(&header).await.unwrap();
    let sent = pump(&mut send, FLOOD).await;
    assert!(
        sent < BOUND,
        "the server took {sent} bytes of one HEADERS frame"
    );
    assert_eq!(
        h3raw::read_outcome(&mut recv).await,
        Outcome::Reset(h3raw::H3_EXCESSIVE_LOAD)
    );
    // The same connection goes on serving.
    serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_huge_unknown_frame_inside_a_body_resets_its_stream_only() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    send.write_all(&encode(&post("/echo"))).await.unwrap();
    send.write_all(&h3raw::frame(h3raw::DATA, b"hello"))
        .await
        .unwrap();
    let mut header = BytesMut::new();
    h3raw::frame_header(&mut header, h3raw::RESERVED, 1 << 40);
    send.write_all(&header).await.unwrap();
    let sent = pump(&mut send, FLOOD).await;
    assert!(sent < BOUND, "the server took {sent} bytes of one frame");
    // The handler's body read fails; whatever it answers, the stream ends.
    let outcome = h3raw::read_outcome(&mut recv).await;
    assert!(
        !matches!(outcome, Outcome::Other(_) | Outcome::ConnectionClosed(_)),
        "{outcome:?}"
    );
    serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reserved_frames_of_ordinary_size_are_still_skipped() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let mut raw = h3raw::connect(server.addr, cert.cert_der()).await;
    raw.control
        .write_all(&h3raw::frame(h3raw::RESERVED, &[7; 1000]))
        .await
        .unwrap();
    let mut request = BytesMut::new();
    request.extend_from_slice(&h3raw::frame(h3raw::RESERVED, &[1; 100]));
    request.extend_from_slice(&encode(&post("/echo")));
    request.extend_from_slice(&h3raw::frame(h3raw::DATA, &[b'a'; 3000]));
    request.extend_from_slice(&h3raw::frame(h3raw::RESERVED, &[2; 10_000]));
    request.extend_from_slice(&h3raw::frame(h3raw::DATA, &[b'b'; 4000]));
    let outcome = h3raw::exchange(&raw, &request).await;
    assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    let Outcome::Answered(bytes) = outcome else {
        unreachable!()
    };
    assert_eq!(h3raw::body_of(&bytes), b"7000");
    server.stop().await.unwrap();
}

/// The connection receive window of the server (`CONNECTION_WINDOW`).
const CONNECTION_WINDOW: usize = 4 * 1024 * 1024;

#[tokio::test]
async fn bodies_nobody_reads_are_bounded_by_the_connection_window() {
    // 20 requests to a handler that never reads its body, each sending up to
    // 2 MiB. quinn's default windows let a client park 1.25 MB per stream
    // (25 MB here, 250 MB at 200 streams) in the server's memory; the
    // connection window caps all of them together.
    let cert = dev_cert();
    let server = Running::start_with(
        h3_server(&cert).shutdown_timeout(Duration::from_millis(500)),
        service(),
    );
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..20 {
        let (mut send, recv) = raw.conn.open_bi().await.unwrap();
        let head = encode(&post("/stall"));
        let accepted = accepted.clone();
        writers.push(tokio::spawn(async move {
            let _recv = recv;
            send.write_all(&head).await.unwrap();
            let mut data = BytesMut::new();
            h3raw::frame_header(&mut data, h3raw::DATA, 1 << 30);
            send.write_all(&data).await.unwrap();
            let chunk = vec![0u8; 16 * 1024];
            let mut sent = 0;
            while sent < 2 * 1024 * 1024 {
                let Ok(n) = send.write(&chunk).await else {
                    break;
                };
                sent += n;
                accepted.fetch_add(n, Ordering::SeqCst);
            }
        }));
    }
    // The writers block once the server's window is full (with the quinn
    // defaults they got 25 MB through well within this); how long they are
    // given does not decide the outcome, only how much got through.
    let all = futures_join(writers);
    assert!(
        tokio::time::timeout(Duration::from_secs(3), all)
            .await
            .is_err(),
        "the server took 40 MiB of bodies nobody reads"
    );
    let accepted = accepted.load(Ordering::SeqCst);
    assert!(
        accepted <= CONNECTION_WINDOW,
        "{accepted} bytes of unread bodies buffered on one connection"
    );
    // Shutdown is not held up by the stalled streams beyond its deadline.
    server.stop().await.unwrap();
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn heads_over_max_header_size_get_431_or_past_twice_that_a_reset() {
    // max_header_size is 16 KiB by default. A head somewhat over it is
    // decoded and refused with 431 by h3; one over twice it is not even
    // buffered: its stream is reset at the frame header.
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let head = |size: usize| {
        let mut head = h3raw::get_head("/");
        head.push((&b"x-big"[..], vec![b'a'; size]));
        encode(&head)
    };
    let outcome = h3raw::exchange(&raw, &head(15 * 1024)).await;
    assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    let outcome = h3raw::exchange(&raw, &head(20 * 1024)).await;
    assert_eq!(outcome.status(), Some(431), "{outcome:?}");
    let outcome = h3raw::exchange(&raw, &head(40 * 1024)).await;
    assert_eq!(outcome, Outcome::Reset(h3raw::H3_EXCESSIVE_LOAD));
    serves(&raw).await;
    server.stop().await.unwrap();
}
