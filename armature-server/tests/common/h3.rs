//! HTTP/3 test helpers: a certificate, the test service served over all
//! protocols, and an HTTP/3 client built on h3 + quinn.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use armature_server::{rustls, DevCert, RequestBody, Server};
use bytes::{Buf, Bytes};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use rustls::pki_types::CertificateDer;
use tokio::sync::{mpsc, Barrier};

use super::GUARD;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The largest body `/limited` accepts: a body limit applied in the
/// service, as a layer would.
pub const LIMIT: usize = 1024 * 1024;

/// A development certificate for `localhost` and `127.0.0.1`.
pub fn dev_cert() -> DevCert {
    DevCert::generate(["localhost", "127.0.0.1"]).expect("dev cert")
}

/// A TLS server on 127.0.0.1 (port chosen by the OS) with HTTP/3 on.
pub fn h3_server(cert: &DevCert) -> Server {
    super::local_server()
        .tls_pem(cert.cert_path(), cert.key_path())
        .http3(true)
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    res
}

/// The service of the HTTP/3 tests, the same for every protocol:
///
/// * `GET /plaintext`, `/json`, `/users/{id}`: the three benchmark endpoints;
/// * `POST /echo`: streams the request body (and its trailers) back;
/// * `/limited`: `413` for a body over [`LIMIT`], else its length;
/// * `/fail`: the service returns an error;
/// * `/barrier`: waits until `barrier` requests are in flight at once;
/// * `/slow`: reports its start on `started`, then takes 500 ms.
///
/// Every response carries `x-version` (the request's HTTP version).
pub fn service(
    barrier: usize,
    started: mpsc::UnboundedSender<String>,
) -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Either<Full<Bytes>, RequestBody>>,
    Error = BoxError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    let barrier = Arc::new(Barrier::new(barrier));
    tower::service_fn(move |req: Request<RequestBody>| {
        let barrier = barrier.clone();
        let started = started.clone();
        async move {
            let version = format!("{:?}", req.version());
            let path = req.uri().path().to_owned();
            let mut res = match path.as_str() {
                "/plaintext" => {
                    text(StatusCode::OK, "text/plain", "Hello, World!").map(Either::Left)
                }
                "/json" => text(
                    StatusCode::OK,
                    "application/json",
                    r#"{"message":"Hello, World!"}"#,
                )
                .map(Either::Left),
                "/echo" => Response::new(Either::Right(req.into_body())),
                "/cookies" => text(
                    StatusCode::OK,
                    "text/plain",
                    super::cookie_fields(req.headers()),
                )
                .map(Either::Left),
                "/limited" => match Limited::new(req.into_body(), LIMIT).collect().await {
                    Ok(body) => text(
                        StatusCode::OK,
                        "text/plain",
                        body.to_bytes().len().to_string(),
                    )
                    .map(Either::Left),
                    Err(_) => text(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "too large")
                        .map(Either::Left),
                },
                "/fail" => return Err(BoxError::from("the handler failed")),
                "/barrier" => {
                    barrier.wait().await;
                    text(StatusCode::OK, "text/plain", "together").map(Either::Left)
                }
                "/slow" => {
                    let _ = started.send(path.clone());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    text(StatusCode::OK, "text/plain", "slow done").map(Either::Left)
                }
                _ => match path.strip_prefix("/users/") {
                    Some(id) => text(
                        StatusCode::OK,
                        "application/json",
                        format!(r#"{{"id":"{id}","name":"Alice"}}"#),
                    )
                    .map(Either::Left),
                    None => text(StatusCode::NOT_FOUND, "text/plain", "").map(Either::Left),
                },
            };
            res.headers_mut()
                .insert("x-version", version.parse().expect("header value"));
            Ok(res)
        }
    })
}

/// An HTTP/3 client connection (h3 + quinn) trusting only `cert`.
pub struct H3Client {
    pub send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    pub driver: tokio::task::JoinHandle<h3::error::ConnectionError>,
    pub endpoint: quinn::Endpoint,
}

/// A finished HTTP/3 exchange.
#[derive(Debug)]
pub struct H3Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl H3Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn h3_connect(addr: SocketAddr, cert: &CertificateDer<'static>) -> H3Client {
    h3_connect_trusting(addr, std::slice::from_ref(cert)).await
}

/// The TLS side of an HTTP/3 client: TLS 1.3, ALPN `h3`, trusting exactly `certs`.
pub fn h3_client_crypto(
    certs: &[CertificateDer<'static>],
) -> quinn::crypto::rustls::QuicClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert.clone()).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls")
}

/// An HTTP/3 client connection trusting exactly `certs`.
pub async fn h3_connect_trusting(addr: SocketAddr, certs: &[CertificateDer<'static>]) -> H3Client {
    let quic = h3_client_crypto(certs);
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("udp");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let connecting = endpoint.connect(addr, "localhost").expect("connect");
    let connection = tokio::time::timeout(GUARD, connecting)
        .await
        .expect("QUIC handshake (hung)")
        .expect("QUIC handshake");
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection))
        .await
        .expect("h3 client");
    let driver =
        tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
    H3Client {
        send,
        driver,
        endpoint,
    }
}

impl H3Client {
    /// Sends `req` with `body` (in 64 KiB DATA frames) and `trailers`,
    /// reading the response at the same time, and returns it whole.
    pub async fn request(
        &self,
        req: Request<()>,
        body: Bytes,
        trailers: Option<HeaderMap>,
    ) -> Result<H3Response, BoxError> {
        let mut send = self.send.clone();
        let stream = send.send_request(req).await?;
        let (mut tx, mut rx) = stream.split();
        let sending = async move {
            let mut rest = body;
            while !rest.is_empty() {
                let chunk = rest.split_to(rest.len().min(64 * 1024));
                tx.send_data(chunk).await?;
            }
            if let Some(trailers) = trailers {
                tx.send_trailers(trailers).await?;
            }
            tx.finish().await?;
            Ok::<_, BoxError>(())
        };
        let receiving = async move {
            let res = rx.recv_response().await?;
            let mut body = Vec::new();
            while let Some(mut chunk) = rx.recv_data().await? {
                while chunk.has_remaining() {
                    let piece = chunk.chunk();
                    body.extend_from_slice(piece);
                    let n = piece.len();
                    chunk.advance(n);
                }
            }
            let trailers = rx.recv_trailers().await?;
            Ok::<_, BoxError>(H3Response {
                status: res.status(),
                headers: res.headers().clone(),
                body: Bytes::from(body),
                trailers,
            })
        };
        let exchange = async {
            let (sent, received) = tokio::join!(sending, receiving);
            let received = received?;
            // The server may answer before reading everything (an error
            // status); only a failed send with a successful answer is fine then.
            if received.status.is_success() {
                sent?;
            }
            Ok(received)
        };
        tokio::time::timeout(GUARD, exchange)
            .await
            .map_err(|_| BoxError::from("HTTP/3 exchange hung"))?
    }

    /// A GET of `path`.
    pub async fn get(&self, addr: SocketAddr, path: &str) -> Result<H3Response, BoxError> {
        let req = Request::get(format!("https://localhost:{}{path}", addr.port()))
            .body(())
            .unwrap();
        self.request(req, Bytes::new(), None).await
    }
}

/// `len` bytes of a fixed pseudo-random pattern (xorshift), so that a
/// reordered or dropped chunk cannot go unnoticed.
pub fn pattern(len: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}
