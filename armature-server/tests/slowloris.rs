//! Slowloris protection: clients that trickle or withhold their request
//! head are disconnected once `header_read_timeout` runs out, while other
//! clients are served meanwhile. No durations are asserted: only that the
//! slow connection gets closed and that the others get `200`.
//!
//! This also proves the hyper trap is avoided: hyper's
//! `header_read_timeout` does nothing unless a timer is set on its builder.

mod common;

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
