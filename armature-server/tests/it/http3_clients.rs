//! HTTP/3 clients that go away or misbehave at the transport level:
//! garbage datagrams, streams reset mid-request and mid-response,
//! connections dropped without a word, connections held open doing
//! nothing; and what a client is told at graceful shutdown. After each, the
//! server must go on serving other clients.

use crate::common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use armature_server::RequestBody;
use bytes::{Bytes, BytesMut};
use common::h3::{dev_cert, h3_server};
use common::h3raw::{self, Outcome, Raw};
use common::{Running, GUARD};
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Either, Full};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body of 64 KiB chunks that never ends.
struct Endless;

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; 64 * 1024])))))
    }
}

/// `/` answers `ok`; `/echo` reads the body and answers its length;
/// `/endless` streams a body that never ends; `/slow` reports on `started`,
/// then answers after 500 ms; `/slower` answers after 1.5 s.
fn service(
    started: mpsc::UnboundedSender<()>,
) -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Either<Full<Bytes>, Endless>>,
    Error = BoxError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |req: Request<RequestBody>| {
        let started = started.clone();
        async move {
            let body = match req.uri().path() {
                "/echo" => {
                    let body = req.into_body().collect().await?.to_bytes();
                    Either::Left(Full::new(Bytes::from(body.len().to_string())))
                }
                "/endless" => Either::Right(Endless),
                "/slow" => {
                    let _ = started.send(());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Either::Left(Full::new(Bytes::from_static(b"slow done")))
                }
                "/slower" => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    Either::Left(Full::new(Bytes::from_static(b"slower done")))
                }
                _ => Either::Left(Full::new(Bytes::from_static(b"ok"))),
            };
            Ok::<_, BoxError>(Response::new(body))
        }
    })
}

fn start() -> (
    Running,
    mpsc::UnboundedReceiver<()>,
    armature_server::DevCert,
) {
    let cert = dev_cert();
    let (started, started_rx) = mpsc::unbounded_channel();
    let server = Running::start_with(h3_server(&cert), service(started));
    (server, started_rx, cert)
}

fn request(method: &[u8], path: &str) -> Bytes {
    let mut head = h3raw::get_head(path);
    head[0].1 = method.to_vec();
    let refs: Vec<(&[u8], &[u8])> = head.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    h3raw::headers(&refs)
}

/// A GET of `/` on a new connection answers `200 ok`.
async fn serves(server: &Running, cert: &armature_server::DevCert) {
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    serves_on(&raw).await;
}

async fn serves_on(raw: &Raw) {
    let outcome = h3raw::exchange(raw, &request(b"GET", "/")).await;
    assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    let Outcome::Answered(bytes) = outcome else {
        unreachable!()
    };
    assert_eq!(h3raw::body_of(&bytes), b"ok");
}

#[tokio::test]
async fn garbage_datagrams_do_not_disturb_the_server() {
    let (server, _started, cert) = start();
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..2000usize {
        let len = [1, 20, 1200, 1500, 65_000][i % 5];
        let mut datagram = Vec::with_capacity(len);
        while datagram.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            datagram.extend_from_slice(&state.to_le_bytes());
        }
        datagram.truncate(len);
        // Long-header (Initial-looking) and short-header first bytes too.
        datagram[0] = [0xc0, 0x40, 0xff, 0x00][i % 4] | (datagram[0] & 0x0f);
        let _ = socket.send_to(&datagram, server.addr).await;
    }
    // The connection made before, and new ones, are served.
    serves_on(&raw).await;
    serves(&server, &cert).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn streams_reset_mid_request_and_mid_response_leave_the_connection_serving() {
    let (server, _started, cert) = start();
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    // Mid-request: a head and part of a body, then a reset.
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    send.write_all(&request(b"POST", "/echo")).await.unwrap();
    let mut data = BytesMut::new();
    h3raw::frame_header(&mut data, h3raw::DATA, 1000);
    data.extend_from_slice(&[b'a'; 400]);
    send.write_all(&data).await.unwrap();
    send.reset(0x10c_u32.into()).unwrap(); // H3_REQUEST_CANCELLED
    let outcome = h3raw::read_outcome(&mut recv).await;
    assert!(!matches!(outcome, Outcome::Other(_)), "{outcome:?}");
    // Mid-response: read some of an endless body, then stop reading.
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    send.write_all(&request(b"GET", "/endless")).await.unwrap();
    send.finish().unwrap();
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    while got < 1024 * 1024 {
        got += tokio::time::timeout(GUARD, recv.read(&mut buf))
            .await
            .expect("response stalled")
            .unwrap()
            .expect("the endless body ended");
    }
    recv.stop(0x10c_u32.into()).unwrap();
    // The server learns of it and stops sending: the stream ends.
    let stopped = tokio::time::timeout(GUARD, send.stopped()).await;
    assert!(stopped.is_ok(), "stream still open");
    serves_on(&raw).await;
    serves(&server, &cert).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connections_dropped_mid_exchange_leave_the_server_serving() {
    let (server, _started, cert) = start();
    for _ in 0..5 {
        let raw = h3raw::connect(server.addr, cert.cert_der()).await;
        let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
        send.write_all(&request(b"GET", "/endless")).await.unwrap();
        send.finish().unwrap();
        let mut buf = vec![0; 64 * 1024];
        let _ = tokio::time::timeout(GUARD, recv.read(&mut buf))
            .await
            .expect("response stalled");
        let (mut upload, _answer) = raw.conn.open_bi().await.unwrap();
        upload.write_all(&request(b"POST", "/echo")).await.unwrap();
        // Gone without a CONNECTION_CLOSE: the endpoint is dropped whole.
        drop((send, recv, upload, raw));
    }
    serves(&server, &cert).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_goaway_of_a_graceful_shutdown_covers_the_requests_in_flight() {
    // RFC 9114 §5.2: requests on streams at or above the GOAWAY ID were not
    // processed, and a client may retry them elsewhere. The request in
    // flight on stream 0 is being processed, so the ID must be above it.
    let (mut server, mut started, cert) = start();
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    assert_eq!(u64::from(send.id()), 0);
    send.write_all(&request(b"GET", "/slow")).await.unwrap();
    send.finish().unwrap();
    started.recv().await.unwrap();
    server.trigger_shutdown();
    assert_eq!(h3raw::goaway(&raw).await, 4);
    let outcome = h3raw::read_outcome(&mut recv).await;
    let Outcome::Answered(bytes) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(h3raw::body_of(bytes), b"slow done");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_connection_that_serves_nothing_is_closed_after_the_header_read_timeout() {
    // As an HTTP/2 connection is: GOAWAY, then closed. The client keeps the
    // QUIC connection alive with pings, so the QUIC idle timeout (30 s)
    // never fires on its own.
    let cert = dev_cert();
    let (started, _started) = mpsc::unbounded_channel();
    let server = Running::start_with(
        h3_server(&cert).header_read_timeout(Duration::from_secs(1)),
        service(started),
    );
    let raw =
        h3raw::connect_with_keep_alive(server.addr, cert.cert_der(), Duration::from_millis(100))
            .await;
    serves_on(&raw).await;
    // A request that runs longer than the timeout is not cut off: the
    // clock runs only while nothing is served.
    let slow = h3raw::exchange(&raw, &request(b"GET", "/slower")).await;
    let Outcome::Answered(bytes) = &slow else {
        panic!("{slow:?}")
    };
    assert_eq!(h3raw::body_of(bytes), b"slower done");
    let closed = tokio::time::timeout(GUARD, raw.conn.closed())
        .await
        .expect("an idle connection was held open");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code.into_inner(), h3raw::H3_NO_ERROR)
        }
        other => panic!("closed with {other}"),
    }
    serves(&server, &cert).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn during_graceful_shutdown_in_flight_requests_finish_and_new_connections_are_refused() {
    let (mut server, mut started, cert) = start();
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    send.write_all(&request(b"GET", "/slow")).await.unwrap();
    send.finish().unwrap();
    started.recv().await.unwrap();
    server.trigger_shutdown();
    // A new connection is refused (the listener is closed). Until the
    // server has seen the shutdown one may still get in; it is then served
    // and closed like the others, so try until one is refused.
    let mut refused = false;
    for _ in 0..200 {
        match h3raw::try_connect(server.addr, cert.cert_der()).await {
            // Refused outright: with quinn's default (no answer at all) the
            // handshake hung until the guard.
            Err(quinn::ConnectionError::ConnectionClosed(close))
                if close.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
            {
                refused = true;
                break;
            }
            Err(other) => panic!("connection attempt failed with {other}"),
            Ok(late) => {
                drop(late);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    assert!(refused, "new connections still accepted during shutdown");
    // The request in flight completes.
    let outcome = h3raw::read_outcome(&mut recv).await;
    let Outcome::Answered(bytes) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(h3raw::body_of(bytes), b"slow done");
    tokio::time::timeout(GUARD, server.handle)
        .await
        .expect("serve did not return (hung)")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn streams_that_never_send_or_never_read_do_not_hold_up_shutdown_past_its_deadline() {
    let cert = dev_cert();
    let (started, _started) = mpsc::unbounded_channel();
    let mut server = Running::start_with(
        h3_server(&cert).shutdown_timeout(Duration::from_millis(500)),
        service(started),
    );
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    // Streams opened with nothing sent on them (a byte of a frame header,
    // so the server sees them), and responses nobody reads.
    let mut held = Vec::new();
    for _ in 0..50 {
        let (mut send, recv) = raw.conn.open_bi().await.unwrap();
        send.write_all(&[0x01]).await.unwrap();
        held.push((send, recv));
    }
    for _ in 0..5 {
        let (mut send, recv) = raw.conn.open_bi().await.unwrap();
        send.write_all(&request(b"GET", "/endless")).await.unwrap();
        send.finish().unwrap();
        held.push((send, recv));
    }
    // Others are still served meanwhile.
    serves(&server, &cert).await;
    server.trigger_shutdown();
    tokio::time::timeout(GUARD, server.handle)
        .await
        .expect("serve did not return (hung)")
        .unwrap()
        .unwrap();
    let closed = tokio::time::timeout(GUARD, raw.conn.closed())
        .await
        .expect("connection left open");
    assert!(
        matches!(closed, quinn::ConnectionError::ApplicationClosed(_)),
        "{closed}"
    );
}
