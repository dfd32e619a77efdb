//! Malformed input: garbage gets `400` and a closed connection, random and
//! mutated requests never hang a connection or panic the server, and other
//! clients keep being served throughout.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use common::{raw_exchange, Running, GUARD};
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics on any thread (connection tasks included), still printing
/// them as usual.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

#[tokio::test]
async fn garbage_gets_400_and_a_closed_connection() {
    count_panics();
    let server = Running::start(common::local_server());
    let payloads: [&[u8]; 6] = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // a TLS hello
        b"\x00\x00\x00\x00\r\n\r\n",
        b"hello world\r\n\r\n",
        b"GET\r\n\r\n",
        b"\xff\xfe\xfd / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\xff\xff: y\r\n\r\n",
    ];
    for payload in payloads {
        let good = common::get_once(server.addr, "/");
        let bad = raw_exchange(server.addr, payload);
        let (good, bad) = tokio::join!(good, bad);
        assert_eq!(good.0, StatusCode::OK);
        // hyper's own answer, with the server's message added.
        assert_eq!(
            bad.responses(),
            vec![(
                400,
                "Bad Request: the request is not valid HTTP/1.1\n".to_owned()
            )],
            "payload {payload:?}"
        );
    }
    server.stop().await.unwrap();
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// xorshift64*: deterministic, dependency-free noise.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VALID: &[u8] = b"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

fn random_input(noise: &mut Noise, round: usize) -> Vec<u8> {
    if round % 2 == 0 {
        let len = 1 + noise.below(2048);
        (0..len).map(|_| noise.next() as u8).collect()
    } else {
        let mut bytes = VALID.to_vec();
        for _ in 0..1 + noise.below(4) {
            let at = noise.below(bytes.len());
            match noise.below(3) {
                0 => bytes[at] = noise.next() as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"\r\n :\0,;"[noise.below(7)]),
            }
        }
        bytes
    }
}

/// Sends `input`, closes the write side (so a request still expecting body
/// bytes ends), and returns the first status line's code, if any.
async fn first_status(addr: std::net::SocketAddr, input: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(input).await;
    let _ = stream.shutdown().await;
    let bytes = tokio::time::timeout(GUARD, common::read_until_closed(&mut stream))
        .await
        .unwrap_or_else(|_| panic!("connection hung on input {input:?}"));
    let text = String::from_utf8_lossy(&bytes);
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    Some(status.parse().expect("status code"))
}

#[tokio::test]
async fn random_and_mutated_requests_never_hang_or_panic() {
    count_panics();
    let server = Running::start(common::local_server());
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let input = random_input(&mut noise, round);
        if let Some(status) = first_status(server.addr, &input).await {
            assert!(
                [200, 400, 414, 431].contains(&status),
                "status {status} for {input:?}"
            );
        }
        if round % 50 == 0 {
            assert_eq!(common::get_once(server.addr, "/").await.0, StatusCode::OK);
        }
    }
    assert_eq!(common::get_once(server.addr, "/").await.0, StatusCode::OK);
    server.stop().await.unwrap();
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// The message goes only into hyper's own answers: a handler's `400` that looks exactly like
/// one (`connection: close`, no body) is sent as the handler made it.
#[tokio::test]
async fn a_handlers_own_empty_400_is_left_alone() {
    let service = tower::service_fn(|_req: http::Request<armature_server::RequestBody>| async {
        let res = http::Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("connection", "close")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        Ok::<_, std::convert::Infallible>(res)
    });
    let server = Running::start_with(common::local_server(), service);
    let exchange = raw_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(exchange.responses(), vec![(400, String::new())]);
    server.stop().await.unwrap();
}

/// A bad head after a served request on a keep-alive connection still gets hyper's `400`
/// and a closed connection, without the message (see `src/parse_errors.rs`).
#[tokio::test]
async fn a_bad_head_after_a_served_request_gets_hypers_400() {
    let server = Running::start(common::local_server());
    let exchange = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n",
    )
    .await;
    assert_eq!(
        exchange.responses(),
        vec![(200, "GET / 0".to_owned()), (400, String::new())]
    );
    server.stop().await.unwrap();
}
