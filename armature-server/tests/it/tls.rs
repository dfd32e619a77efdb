//! HTTPS with a self-signed certificate made at test time (rcgen): ALPN
//! picks HTTP/2 or HTTP/1.1, PEM files load, and broken or stalled TLS
//! clients are dropped without disturbing the others.

use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use armature_server::{rustls, ServerError};
use bytes::Bytes;
use common::{Running, GUARD};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

struct TestCert {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn test_cert() -> TestCert {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    TestCert {
        cert: certified.cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(cert: &TestCert) -> Arc<rustls::ServerConfig> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.clone()], cert.key.clone_key())
        .unwrap();
    Arc::new(config)
}

/// Connects with TLS, trusting only `cert`, offering `alpn`.
async fn tls_connect(addr: SocketAddr, cert: &TestCert, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

fn request() -> Request<Full<Bytes>> {
    Request::get("https://localhost/tls")
        .header(http::header::HOST, "localhost")
        .body(Full::default())
        .unwrap()
}

/// One request over HTTP/2 on `tls`; returns status and `x-version`.
async fn over_h2(tls: TlsStream<TcpStream>) -> (StatusCode, String) {
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let res = send.send_request(request()).await.unwrap();
    (
        res.status(),
        res.headers()["x-version"].to_str().unwrap().to_owned(),
    )
}

/// One request over HTTP/1.1 on `tls`; returns status and `x-version`.
async fn over_h1(tls: TlsStream<TcpStream>) -> (StatusCode, String) {
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let res = send.send_request(request()).await.unwrap();
    let version = res.headers()["x-version"].to_str().unwrap().to_owned();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"GET /tls 0");
    (StatusCode::OK, version)
}

#[tokio::test]
async fn alpn_h2_gets_http2() {
    let cert = test_cert();
    let server = Running::start(common::local_server().tls_config(server_config(&cert)));
    let tls = tls_connect(server.addr, &cert, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(over_h2(tls).await, (StatusCode::OK, "HTTP/2.0".to_owned()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn alpn_http11_gets_http11() {
    let cert = test_cert();
    let server = Running::start(common::local_server().tls_config(server_config(&cert)));
    let tls = tls_connect(server.addr, &cert, &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(over_h1(tls).await, (StatusCode::OK, "HTTP/1.1".to_owned()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_alpn_gets_http11() {
    let cert = test_cert();
    let server = Running::start(common::local_server().tls_config(server_config(&cert)));
    let tls = tls_connect(server.addr, &cert, &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(over_h1(tls).await, (StatusCode::OK, "HTTP/1.1".to_owned()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_sent_with_the_last_handshake_flight_as_shutdown_begins_is_answered() {
    let cert = test_cert();
    let mut server = Running::start(common::patient_server().tls_config(server_config(&cert)));
    // The client's last handshake flight went out in the poll that completed the handshake,
    // and the request goes out now, without yielding to the runtime: when shutdown begins,
    // the server has read neither and is still handshaking.
    let mut tls = tls_connect(server.addr, &cert, &[b"http/1.1"]).await;
    tls.write_all(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    server.trigger_shutdown();

    let response = tokio::time::timeout(GUARD, common::read_until_closed(&mut tls))
        .await
        .expect("neither answered nor closed (hung)");
    assert_eq!(
        common::parse_responses(&response),
        [(200, "GET /tls 0".to_owned())],
        "{:?}",
        String::from_utf8_lossy(&response)
    );
    assert_eq!(
        common::response_header(&response, "connection").as_deref(),
        Some("close")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_http2_connection_closes_at_shutdown() {
    let cert = test_cert();
    let mut server = Running::start(common::patient_server().tls_config(server_config(&cert)));
    // The TLS handshake is done (whether or not the server has read the client's last
    // flight when shutdown begins); the HTTP/2 preface never comes.
    let mut tls = tls_connect(server.addr, &cert, &[b"h2"]).await;
    server.trigger_shutdown();
    tokio::time::timeout(GUARD, common::read_until_closed(&mut tls))
        .await
        .expect("a silent HTTP/2 connection was not closed (hung)");
    tokio::time::timeout(GUARD, server.handle)
        .await
        .expect("serve did not return (hung)")
        .unwrap()
        .unwrap();
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let unique = format!(
            "armature-tls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn pem_files_are_loaded_and_offer_both_protocols() {
    let cert = test_cert();
    let dir = TempDir::new();
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();

    let server = Running::start(common::local_server().tls_pem(&cert_path, &key_path));
    let h2 = tls_connect(server.addr, &cert, &[b"h2", b"http/1.1"]).await;
    assert_eq!(over_h2(h2).await.1, "HTTP/2.0");
    let h1 = tls_connect(server.addr, &cert, &[b"http/1.1"]).await;
    assert_eq!(over_h1(h1).await.1, "HTTP/1.1");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn missing_or_bad_pem_files_fail_serve() {
    let dir = TempDir::new();
    let missing = common::local_server()
        .tls_pem(dir.0.join("nope.pem"), dir.0.join("nope.key"))
        .serve(common::echo())
        .await;
    assert!(matches!(
        missing,
        Err(ServerError::Pem {
            what: "certificate chain",
            ..
        })
    ));

    let cert = test_cert();
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("empty.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, "not a key").unwrap();
    let no_key = common::local_server()
        .tls_pem(&cert_path, &key_path)
        .serve(common::echo())
        .await;
    assert!(matches!(
        no_key,
        Err(ServerError::Pem {
            what: "private key",
            ..
        })
    ));

    let other = test_cert();
    std::fs::write(&key_path, &other.key_pem).unwrap();
    let mismatched = common::local_server()
        .tls_pem(&cert_path, &key_path)
        .serve(common::echo())
        .await;
    assert!(
        matches!(mismatched, Err(ServerError::Tls(_))),
        "{mismatched:?}"
    );
}

#[tokio::test]
async fn broken_and_stalled_tls_clients_are_dropped() {
    let cert = test_cert();
    let server = Running::start(
        common::local_server()
            .tls_config(server_config(&cert))
            .header_read_timeout(Duration::from_secs(1)),
    );
    // Plain HTTP on the TLS port.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // A TCP connection that never starts the handshake.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();

    let tls = tls_connect(server.addr, &cert, &[b"h2"]).await;
    assert_eq!(over_h2(tls).await.0, StatusCode::OK);

    for stream in [&mut plain, &mut stalled] {
        let sent = tokio::time::timeout(GUARD, common::read_until_closed(stream))
            .await
            .expect("connection was not closed");
        assert!(!sent.starts_with(b"HTTP/1.1 200"));
    }
    server.stop().await.unwrap();
}
