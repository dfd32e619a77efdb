//! Graceful shutdown: the listener closes at once, in-flight requests
//! finish, a request whose head has begun arriving is answered (with
//! `Connection: close`), connections that sent nothing of a request close
//! without waiting for the deadline, and the deadline closes what is left.

use crate::common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use armature_server::RequestBody;
use bytes::Bytes;
use common::{get, send_h1, send_h2, Running, GUARD};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Like the echo service, but reports each request's path when it starts,
/// so a test knows a request is in flight. `/slow` takes 500 ms, `/hang`
/// an hour.
fn reporting_service() -> (
    impl tower::Service<
            Request<RequestBody>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
            Future = impl Send,
        > + Clone
        + Send
        + 'static,
    mpsc::UnboundedReceiver<String>,
) {
    let (started, started_rx) = mpsc::unbounded_channel();
    let service = tower::service_fn(move |req: Request<RequestBody>| {
        let path = req.uri().path().to_owned();
        let _ = started.send(path.clone());
        async move {
            match path.as_str() {
                "/slow" => tokio::time::sleep(Duration::from_millis(500)).await,
                "/hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
                _ => {}
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(path))))
        }
    });
    (service, started_rx)
}

/// Tries to connect until the attempt is refused; panics if it never is.
async fn wait_until_refused(addr: SocketAddr) {
    for _ in 0..500 {
        match TcpStream::connect(addr).await {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return,
            // Queued in the backlog as the listener closed: reset, not
            // refused. The next attempt tells.
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(err) => panic!("unexpected connect error: {err}"),
            Ok(_accepted_before_close) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("new connections were still accepted after shutdown began");
}

async fn await_serve(server: Running) {
    tokio::time::timeout(GUARD, server.handle)
        .await
        .expect("serve did not return (hung)")
        .expect("serve task panicked")
        .expect("serve returned an error");
}

#[tokio::test]
async fn in_flight_request_finishes_and_new_connections_are_refused() {
    let (service, mut started) = reporting_service();
    let mut server = Running::start_with(common::local_server(), service);
    let addr = server.addr;
    let mut client = common::h1_client(addr).await;
    let slow = tokio::spawn(async move { send_h1(&mut client, get("/slow")).await });
    assert_eq!(started.recv().await.unwrap(), "/slow");

    server.trigger_shutdown();
    wait_until_refused(addr).await;

    assert_eq!(slow.await.unwrap(), (StatusCode::OK, "/slow".to_owned()));
    await_serve(server).await;
}

#[tokio::test]
async fn in_flight_http2_request_finishes() {
    let (service, mut started) = reporting_service();
    let mut server = Running::start_with(common::local_server(), service);
    let mut client = common::h2_client(server.addr).await;
    let req = Request::get("http://localhost/slow")
        .body(Full::default())
        .unwrap();
    let slow = tokio::spawn(async move { send_h2(&mut client, req).await });
    assert_eq!(started.recv().await.unwrap(), "/slow");

    server.trigger_shutdown();
    assert_eq!(slow.await.unwrap(), (StatusCode::OK, "/slow".to_owned()));
    await_serve(server).await;
}

#[tokio::test]
async fn idle_connections_close_without_waiting_for_the_deadline() {
    // A deadline far beyond the guard: if shutdown waited for it, the test
    // would fail on the guard instead of passing.
    let (service, _started) = reporting_service();
    let mut server = Running::start_with(common::patient_server(), service);
    // One keep-alive connection that has served a request and is idle...
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 17];
    tokio::io::AsyncReadExt::read_exact(&mut idle, &mut head)
        .await
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    // ...one that never sent a byte, and an idle HTTP/2 connection.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut h2 = common::h2_client(server.addr).await;
    let h2_req = Request::get("http://localhost/")
        .body(Full::default())
        .unwrap();
    assert_eq!(send_h2(&mut h2, h2_req).await.0, StatusCode::OK);

    server.trigger_shutdown();
    let rest = tokio::time::timeout(GUARD, common::read_until_closed(&mut idle))
        .await
        .expect("idle keep-alive connection was not closed");
    assert!(
        !rest.windows(4).any(|w| w == b"HTTP"),
        "no further response expected"
    );
    tokio::time::timeout(GUARD, common::read_until_closed(&mut silent))
        .await
        .expect("silent connection was not closed");
    await_serve(server).await;
}

/// A raw HTTP/1.1 connection that has been served one request and is idle.
async fn served_once(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let response = common::read_one_response(&mut stream).await;
    assert_eq!(
        common::parse_responses(&response),
        [(200, "GET /first 0".to_owned())]
    );
    stream
}

/// Sends `rest` on `stream`, then reads until the server closes it: exactly one response,
/// `200` with `body`, that says `Connection: close`.
async fn answered_then_closed(stream: &mut TcpStream, rest: &[u8], body: &str) {
    stream.write_all(rest).await.unwrap();
    let response = tokio::time::timeout(GUARD, common::read_until_closed(stream))
        .await
        .expect("neither answered nor closed (hung)");
    assert_eq!(
        common::parse_responses(&response),
        [(200, body.to_owned())],
        "{:?}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(
        common::response_header(&response, "connection").as_deref(),
        Some("close")
    );
}

#[tokio::test]
async fn requests_whose_head_has_begun_arriving_are_answered() {
    // Timeouts far beyond the guard: only an answer (or a hang) can end these connections.
    let mut server = Running::start(common::patient_server());
    // Half of a second request head on a keep-alive connection (hyper's own graceful
    // shutdown closes such a connection as idle), and half of a first one on a fresh
    // connection.
    let mut kept = served_once(server.addr).await;
    kept.write_all(b"GET /second HTTP/1.1\r\nHo").await.unwrap();
    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    fresh.write_all(b"GET /fresh HTTP/1.1\r\nHo").await.unwrap();
    // A round trip on another connection: the server has had its turn to read the halves
    // above, so hyper holds them in its buffer (the assertions hold either way).
    assert_eq!(
        common::get_once(server.addr, "/probe").await.0,
        StatusCode::OK
    );
    // A whole head (its body still to come) that reaches the server as shutdown begins:
    // written without yielding to the runtime, so the server has not read it yet.
    let mut unread = served_once(server.addr).await;
    unread
        .write_all(b"POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();

    server.trigger_shutdown();
    wait_until_refused(server.addr).await;

    answered_then_closed(&mut kept, b"st: x\r\n\r\n", "GET /second 0").await;
    answered_then_closed(&mut fresh, b"st: x\r\n\r\n", "GET /fresh 0").await;
    answered_then_closed(&mut unread, b"body", "POST /unread 4").await;
    await_serve(server).await;
}

#[tokio::test]
async fn a_connection_waiting_in_the_listen_queue_is_served() {
    let mut server = Running::start(common::patient_server());
    // The accept loop is running...
    assert_eq!(common::get_once(server.addr, "/").await.0, StatusCode::OK);
    // ...and this connection is completed by the kernel and its request sent, without
    // yielding to the runtime: it is still in the listen queue when shutdown begins.
    let mut queued = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut queued, b"GET /queued HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    queued.set_nonblocking(true).unwrap();
    let mut queued = TcpStream::from_std(queued).unwrap();

    server.trigger_shutdown();
    answered_then_closed(&mut queued, b"", "GET /queued 0").await;
    await_serve(server).await;
}

/// Reads HTTP/2 frames until the server closes the connection, acknowledging its PINGs
/// (the graceful shutdown waits for one); returns `(type, flags, stream, payload)` of each.
async fn h2_frames_until_closed(stream: &mut TcpStream) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    let read = async {
        loop {
            let mut header = [0u8; 9];
            if tokio::io::AsyncReadExt::read_exact(stream, &mut header)
                .await
                .is_err()
            {
                return;
            }
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let (kind, flags) = (header[3], header[4]);
            let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & !(1 << 31);
            let mut payload = vec![0u8; len];
            if tokio::io::AsyncReadExt::read_exact(stream, &mut payload)
                .await
                .is_err()
            {
                return;
            }
            if kind == 0x6 && flags & 0x1 == 0 {
                let mut ack = vec![0, 0, 8, 0x6, 0x1, 0, 0, 0, 0];
                ack.extend_from_slice(&payload);
                let _ = stream.write_all(&ack).await;
            }
            frames.push((kind, flags, id, payload));
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("HTTP/2 connection neither answered nor closed (hung)");
    frames
}

#[tokio::test]
async fn an_http2_stream_whose_headers_are_half_received_is_answered() {
    let mut server = Running::start(common::patient_server());
    let mut h2 = TcpStream::connect(server.addr).await.unwrap();
    // The preface and an empty SETTINGS frame, then the first 5 bytes of a HEADERS frame
    // (stream 1, END_STREAM | END_HEADERS) for `GET http://localhost/`.
    let block: &[u8] = b"\x82\x84\x86\x41\x09localhost";
    let mut headers = vec![0, 0, block.len() as u8, 0x1, 0x5, 0, 0, 0, 1];
    headers.extend_from_slice(block);
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    opening.extend_from_slice(&headers[..5]);
    h2.write_all(&opening).await.unwrap();
    // As above: the server has had its turn to read them.
    assert_eq!(
        common::get_once(server.addr, "/probe").await.0,
        StatusCode::OK
    );

    server.trigger_shutdown();
    wait_until_refused(server.addr).await;
    h2.write_all(&headers[5..]).await.unwrap();
    let frames = h2_frames_until_closed(&mut h2).await;
    let on_stream_1: Vec<_> = frames.iter().filter(|f| f.2 == 1).collect();
    // HEADERS with `:status: 200` (HPACK static index 8), then the body and END_STREAM.
    assert!(
        matches!(on_stream_1.first(), Some((0x1, _, _, block)) if block.first() == Some(&0x88)),
        "{frames:?}"
    );
    let body: Vec<u8> = on_stream_1
        .iter()
        .filter(|f| f.0 == 0x0)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(body, b"GET / 0");
    assert!(
        on_stream_1.last().is_some_and(|f| f.1 & 0x1 != 0),
        "{frames:?}"
    );
    assert!(frames.iter().any(|f| f.0 == 0x7), "no GOAWAY: {frames:?}");
    await_serve(server).await;
}

#[tokio::test]
async fn deadline_closes_requests_that_do_not_finish() {
    let (service, mut started) = reporting_service();
    let mut server = Running::start_with(
        common::local_server().shutdown_timeout(Duration::from_millis(300)),
        service,
    );
    let mut client = common::h1_client(server.addr).await;
    let hung = tokio::spawn(async move {
        client.ready().await.unwrap();
        client.send_request(get("/hang")).await
    });
    assert_eq!(started.recv().await.unwrap(), "/hang");

    server.trigger_shutdown();
    await_serve(server).await;
    let outcome = tokio::time::timeout(GUARD, hung)
        .await
        .expect("client still waiting after the server stopped")
        .unwrap();
    assert!(
        outcome.is_err(),
        "the hung request must be cut off, got {outcome:?}"
    );
}

#[tokio::test]
async fn a_connection_first_polled_after_the_server_was_dropped_is_closed() {
    let (service, mut started) = reporting_service();
    let server = common::patient_server();
    let addr = server.local_addr();
    // Completed by the kernel, with a request that would take an hour, before the server
    // runs.
    let mut queued = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut queued, b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    queued.set_nonblocking(true).unwrap();
    let mut queued = TcpStream::from_std(queued).unwrap();

    // `serve` is polled until it has accepted the connection (spawning its task), then
    // dropped in that same poll, before the connection's task first runs: a dropped server
    // is past its deadline, and its connections must not outlive it.
    let mut serve = Box::pin(server.serve(service));
    std::future::poll_fn(|cx| {
        let _ = std::future::Future::poll(serve.as_mut(), cx);
        std::task::Poll::Ready(())
    })
    .await;
    // The listener is registered now; the I/O driver sees the queued connection before
    // this task runs again.
    tokio::task::yield_now().await;
    std::future::poll_fn(|cx| {
        let _ = std::future::Future::poll(serve.as_mut(), cx);
        std::task::Poll::Ready(())
    })
    .await;
    drop(serve);

    let response = tokio::time::timeout(GUARD, common::read_until_closed(&mut queued))
        .await
        .expect("the connection outlived the dropped server (hung)");
    assert!(
        response.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
    assert!(started.try_recv().is_err(), "the request was served");
}
