//! HTTP/3 with a real HTTP/3 client (h3 + quinn): the benchmark endpoints,
//! streaming bodies and trailers both ways, 100 streams at once on one
//! connection, a handler error on one stream, body limits in the service,
//! graceful shutdown, and `Alt-Svc` on the TCP side (the server's own answers included).
//! `http3_ngtcp2.rs` checks the same server with a client not built on h3.

use crate::common;

use std::sync::Arc;

use armature_server::{rustls, ServerError};
use bytes::Bytes;
use common::h3::{dev_cert, h3_connect, h3_server, pattern, service, LIMIT};
use common::{Running, GUARD};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

fn start(cert: &armature_server::DevCert) -> (Running, mpsc::UnboundedReceiver<String>) {
    let (started, started_rx) = mpsc::unbounded_channel();
    let server = Running::start_with(h3_server(cert), service(100, started));
    (server, started_rx)
}

#[tokio::test]
async fn serves_the_three_benchmark_endpoints() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = h3_connect(server.addr, cert.cert_der()).await;
    for (path, content_type, body) in [
        ("/plaintext", "text/plain", "Hello, World!"),
        (
            "/json",
            "application/json",
            r#"{"message":"Hello, World!"}"#,
        ),
        (
            "/users/42",
            "application/json",
            r#"{"id":"42","name":"Alice"}"#,
        ),
    ] {
        let res = client.get(server.addr, path).await.unwrap();
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.headers["content-type"], content_type, "{path}");
        assert_eq!(res.headers["x-version"], "HTTP/3.0", "{path}");
        assert_eq!(res.text(), body, "{path}");
    }
    server.stop().await.unwrap();
}

/// RFC 9114 §4.2.1: `Cookie` fields sent apart reach the service joined into one.
#[tokio::test]
async fn cookie_fields_reach_the_service_as_one() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = h3_connect(server.addr, cert.cert_der()).await;
    let req = Request::get(format!("https://localhost:{}/cookies", server.addr.port()))
        .header(http::header::COOKIE, "a=1")
        .header(http::header::COOKIE, "b=2")
        .body(())
        .unwrap();
    let res = client.request(req, Bytes::new(), None).await.unwrap();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "a=1; b=2");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_4_mib_body_and_its_trailers_echo_back_byte_exact() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = h3_connect(server.addr, cert.cert_der()).await;
    let body = pattern(4 * 1024 * 1024);
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc123".parse().unwrap());
    let req = Request::post(format!("https://localhost:{}/echo", server.addr.port()))
        .body(())
        .unwrap();
    let res = client
        .request(req, body.clone(), Some(trailers))
        .await
        .unwrap();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.len(), body.len());
    assert!(res.body == body, "echoed body differs");
    let trailers = res
        .trailers
        .expect("request trailers echoed as response trailers");
    assert_eq!(trailers["x-checksum"], "abc123");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_limit_in_the_service_applies_over_http3() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = h3_connect(server.addr, cert.cert_der()).await;
    let url = format!("https://localhost:{}/limited", server.addr.port());
    let small = Request::post(&url).body(()).unwrap();
    let res = client.request(small, pattern(LIMIT), None).await.unwrap();
    assert_eq!(
        (res.status, res.text()),
        (StatusCode::OK, LIMIT.to_string())
    );
    let big = Request::post(&url).body(()).unwrap();
    let res = client.request(big, pattern(LIMIT + 1), None).await.unwrap();
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_hundred_streams_run_at_once_on_one_connection() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = Arc::new(h3_connect(server.addr, cert.cert_der()).await);
    // `/barrier` answers only once 100 requests are in flight together, so
    // this passes only if the server runs 100 streams of one connection
    // concurrently (a serializing server hangs on the first and fails).
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = client.clone();
        let addr = server.addr;
        tasks.push(tokio::spawn(
            async move { client.get(addr, "/barrier").await },
        ));
    }
    for task in tasks {
        let res = task
            .await
            .unwrap()
            .expect("request on the shared connection");
        assert_eq!(
            (res.status, res.text()),
            (StatusCode::OK, "together".to_owned())
        );
    }
    assert!(
        !client.driver.is_finished(),
        "one connection carried them all"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_more_streams_run_at_once_than_the_limit_allows() {
    // 30 requests at once on one connection, limit 10: each waits at a barrier of 10, so they
    // complete in waves, and the service sees at most (and, once, exactly) 10 in flight. A
    // server ignoring the limit would let all 30 in at once.
    const LIMIT: u32 = 10;
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(LIMIT as usize));
    let svc = {
        let (in_flight, most) = (in_flight.clone(), most.clone());
        tower::service_fn(move |_req: Request<armature_server::RequestBody>| {
            use std::sync::atomic::Ordering::SeqCst;
            let (in_flight, most, barrier) = (in_flight.clone(), most.clone(), barrier.clone());
            async move {
                let now = in_flight.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                barrier.wait().await;
                in_flight.fetch_sub(1, SeqCst);
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                    "wave",
                ))))
            }
        })
    };
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert).http3_max_concurrent_streams(LIMIT), svc);
    let client = Arc::new(h3_connect(server.addr, cert.cert_der()).await);
    let tasks: Vec<_> = (0..3 * LIMIT)
        .map(|_| {
            let (client, addr) = (client.clone(), server.addr);
            tokio::spawn(async move { client.get(addr, "/").await })
        })
        .collect();
    for task in tasks {
        let res = task.await.unwrap().expect("every request completes");
        assert_eq!(
            (res.status, res.text()),
            (StatusCode::OK, "wave".to_owned())
        );
    }
    assert_eq!(
        most.load(std::sync::atomic::Ordering::SeqCst),
        LIMIT as usize
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_error_is_a_500_on_its_stream_only() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let client = Arc::new(h3_connect(server.addr, cert.cert_der()).await);
    let mut tasks = Vec::new();
    for path in [
        "/plaintext",
        "/fail",
        "/json",
        "/users/7",
        "/fail",
        "/plaintext",
    ] {
        let client = client.clone();
        let addr = server.addr;
        tasks.push(tokio::spawn(
            async move { (path, client.get(addr, path).await) },
        ));
    }
    for task in tasks {
        let (path, res) = task.await.unwrap();
        let res = res.unwrap_or_else(|e| panic!("{path}: {e}"));
        let expected = if path == "/fail" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        assert_eq!(res.status, expected, "{path}");
    }
    // The connection survived the errors.
    let after = client.get(server.addr, "/plaintext").await.unwrap();
    assert_eq!(after.text(), "Hello, World!");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_completes_the_in_flight_stream_then_closes() {
    let cert = dev_cert();
    let (mut server, mut started) = start(&cert);
    let client = Arc::new(h3_connect(server.addr, cert.cert_der()).await);
    let slow = {
        let client = client.clone();
        let addr = server.addr;
        tokio::spawn(async move { client.get(addr, "/slow").await })
    };
    assert_eq!(started.recv().await.unwrap(), "/slow");
    server.trigger_shutdown();

    let res = slow.await.unwrap().expect("in-flight request completes");
    assert_eq!(
        (res.status, res.text()),
        (StatusCode::OK, "slow done".to_owned())
    );
    tokio::time::timeout(GUARD, server.handle)
        .await
        .expect("serve did not return (hung)")
        .unwrap()
        .unwrap();
    // The server closed the connection (GOAWAY, then CONNECTION_CLOSE).
    let closed = tokio::time::timeout(GUARD, async { client.get(server.addr, "/plaintext").await })
        .await
        .expect("request after shutdown hung");
    assert!(
        closed.is_err(),
        "no request is served after shutdown: {closed:?}"
    );
}

/// A TLS connection to the TCP port, offering ALPN `alpn`.
async fn tls_over_tcp(
    addr: std::net::SocketAddr,
    cert: &armature_server::DevCert,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// One request for `path` over TLS on the TCP port with ALPN `alpn`; its status and
/// `alt-svc`.
async fn alt_svc_over_tcp(
    addr: std::net::SocketAddr,
    cert: &armature_server::DevCert,
    alpn: &[u8],
    path: &str,
) -> (StatusCode, Option<String>) {
    let tls = tls_over_tcp(addr, cert, alpn).await;
    let req = Request::get(format!("https://localhost{path}"))
        .header(http::header::HOST, "localhost")
        .body(Full::<Bytes>::default())
        .unwrap();
    let res = if alpn == b"h2" {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await.unwrap()
    };
    if res.status() == StatusCode::OK {
        let expected_version = if alpn == b"h2" {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(res.headers()["x-version"], expected_version);
    }
    let alt_svc = res
        .headers()
        .get("alt-svc")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), alt_svc)
}

#[tokio::test]
async fn http1_and_http2_responses_advertise_http3_with_alt_svc() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let expected = format!("h3=\":{}\"; ma=86400", server.addr.port());
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let (status, alt_svc) = alt_svc_over_tcp(server.addr, &cert, alpn, "/plaintext").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(alt_svc.as_deref(), Some(expected.as_str()), "{alpn:?}");
    }
    server.stop().await.unwrap();

    // Without HTTP/3 there is nothing to advertise.
    let (started, _rx) = mpsc::unbounded_channel();
    let plain = Running::start_with(
        common::local_server().tls_pem(cert.cert_path(), cert.key_path()),
        service(1, started),
    );
    for alpn in [&b"http/1.1"[..], b"h2"] {
        assert_eq!(
            alt_svc_over_tcp(plain.addr, &cert, alpn, "/plaintext").await,
            (StatusCode::OK, None)
        );
    }
    plain.stop().await.unwrap();
}

#[tokio::test]
async fn the_servers_own_answers_advertise_http3_too() {
    let cert = dev_cert();
    let (server, _started) = start(&cert);
    let expected = format!("h3=\":{}\"; ma=86400", server.addr.port());
    let big = "x".repeat(20 * 1024);
    for (request, status) in [
        // The server's refusals: no `Host`, a transfer coding it does not apply.
        ("GET /plaintext HTTP/1.1\r\n\r\n".to_owned(), 400),
        (
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
                .to_owned(),
            501,
        ),
        // Its answer to a service error.
        ("GET /fail HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(), 500),
        // hyper's own answers to a head it cannot parse (on a connection's first request,
        // the ones the server rewrites): too large, not HTTP.
        (
            format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n"),
            431,
        ),
        ("NOT HTTP\r\n\r\n".to_owned(), 400),
    ] {
        let mut tls = tls_over_tcp(server.addr, &cert, b"http/1.1").await;
        tls.write_all(request.as_bytes()).await.unwrap();
        let response = tokio::time::timeout(GUARD, common::read_until_closed(&mut tls))
            .await
            .expect("neither answered nor closed (hung)");
        let shown = String::from_utf8_lossy(&response);
        assert_eq!(common::parse_responses(&response)[0].0, status, "{shown}");
        assert_eq!(
            common::response_header(&response, "alt-svc").as_deref(),
            Some(expected.as_str()),
            "{shown}"
        );
    }
    // Over HTTP/2 as well.
    let (status, alt_svc) = alt_svc_over_tcp(server.addr, &cert, b"h2", "/fail").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(alt_svc.as_deref(), Some(expected.as_str()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http3_without_tls_is_a_configuration_error() {
    let (started, _rx) = mpsc::unbounded_channel();
    let result = common::local_server()
        .http3(true)
        .serve(service(1, started))
        .await;
    assert!(matches!(result, Err(ServerError::Config(_))), "{result:?}");
}

/// A `header_read_timeout` of `Duration::MAX` (no timeout to speak of) passes
/// `Limits::check`, so it must serve: the connection's idle clock, re-armed
/// each time it falls idle, once overflowed the `Instant` and panicked the
/// connection's task after its first request, so the second one failed.
#[tokio::test]
async fn a_header_read_timeout_of_duration_max_serves_request_after_request() {
    let cert = dev_cert();
    let (started, _started) = mpsc::unbounded_channel();
    let server = Running::start_with(
        h3_server(&cert).header_read_timeout(std::time::Duration::MAX),
        service(1, started),
    );
    let client = h3_connect(server.addr, cert.cert_der()).await;
    for round in 0..3 {
        let res = client.get(server.addr, "/plaintext").await;
        let res = res.unwrap_or_else(|error| panic!("request {round}: {error}"));
        assert_eq!(res.status, StatusCode::OK, "request {round}");
        assert_eq!(res.text(), "Hello, World!", "request {round}");
    }
    server.stop().await.unwrap();
}
