//! Helpers shared by the integration tests: a test service, a running
//! server handle, hyper clients and a raw-socket client.
#![allow(dead_code)]

pub mod h3;
pub mod h3raw;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use armature_server::RequestBody;
use armature_server::{Server, ServerError};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A guard against hangs: no test step should take anywhere near this long.
/// Exceeding it fails the test ("hung"); it is never a timing assertion.
pub const GUARD: Duration = Duration::from_secs(20);

/// The test service. Answers `200` with body `"{METHOD} {path} {body-len}"`
/// and an `x-version` header; `/slow` sleeps 500 ms first, `/hang` sleeps
/// an hour; `/cookies` answers the request's [`cookie_fields`]. A broken
/// request body makes it return the error, as a typical handler using `?` would.
pub fn echo() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = armature_server::BodyError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<RequestBody>| async move {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let version = format!("{:?}", req.version());
        match path.as_str() {
            "/slow" => tokio::time::sleep(Duration::from_millis(500)).await,
            "/hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
            _ => {}
        }
        let cookies = cookie_fields(req.headers());
        let body = req.into_body().collect().await?.to_bytes();
        let text = match path.as_str() {
            "/cookies" => cookies,
            _ => format!("{method} {path} {}", body.len()),
        };
        let mut res = Response::new(Full::new(Bytes::from(text)));
        res.headers_mut()
            .insert("x-version", version.parse().expect("header value"));
        Ok(res)
    })
}

/// The request's `Cookie` fields as the service sees them, joined by `|`.
pub fn cookie_fields(headers: &http::HeaderMap) -> String {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect::<Vec<_>>()
        .join("|")
}

/// A service that never fails and answers `ok`.
pub fn ok_service() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|_req: Request<RequestBody>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

/// A server on 127.0.0.1 with an OS-chosen port and signals off (tests
/// share one process).
///
/// The port is also free over UDP when it is chosen: HTTP/3 binds the same
/// port over UDP when serving starts, and the OS may hand out a TCP port
/// whose UDP twin another test's server still holds while it drains (its TCP
/// listener already closed). The HTTP/3 tests' clients then reached that
/// server, which refused them (CONNECTION_REFUSED), ~1 run in 90 with six
/// test processes side by side.
pub fn local_server() -> Server {
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP 127.0.0.1:0");
        let port = udp.local_addr().expect("UDP address").port();
        if let Ok(server) = Server::bind(([127, 0, 0, 1], port)) {
            return server.shutdown_on_signals(false);
        }
    }
    panic!("no port free over both TCP and UDP in 100 tries");
}

/// [`local_server`] whose shutdown deadline and header-read timeout are an hour, far beyond
/// any test's guard: only an answer (or a hang, which the guard reports) ends a connection.
pub fn patient_server() -> Server {
    local_server()
        .shutdown_timeout(Duration::from_secs(3600))
        .header_read_timeout(Duration::from_secs(3600))
}

/// A server running in a task, stoppable from the test.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    /// Starts `server` with the [`echo`] service.
    pub fn start(server: Server) -> Self {
        Self::start_with(server, echo())
    }

    /// Starts `server` with `service`.
    pub fn start_with<S, B>(server: Server, service: S) -> Self
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = server.with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        let handle = tokio::spawn(server.serve(service));
        Self {
            addr,
            stop: Some(stop),
            handle,
        }
    }

    /// Begins graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for `serve` to return.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.trigger_shutdown();
        tokio::time::timeout(GUARD, self.handle)
            .await
            .expect("serve did not return (hung)")
            .expect("serve task panicked")
    }
}

pub type H1 = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
pub type H2 = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// An HTTP/1.1 client connection (hyper's own client).
pub async fn h1_client(addr: SocketAddr) -> H1 {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http1 handshake");
    tokio::spawn(conn);
    send
}

/// An HTTP/2 prior-knowledge client connection (hyper's own client).
pub async fn h2_client(addr: SocketAddr) -> H2 {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("http2 handshake");
    tokio::spawn(conn);
    send
}

/// A GET request with a `Host` header, as HTTP/1.1 clients must send.
pub fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header(http::header::HOST, "localhost")
        .body(Full::default())
        .expect("request")
}

/// Sends `req` and returns the status and the body as text.
pub async fn send_h1(client: &mut H1, req: Request<Full<Bytes>>) -> (StatusCode, String) {
    client.ready().await.expect("connection ready");
    let res = tokio::time::timeout(GUARD, client.send_request(req))
        .await
        .expect("response (hung)")
        .expect("response");
    read_response(res).await
}

/// Sends `req` over HTTP/2 and returns the status and the body as text.
pub async fn send_h2(client: &mut H2, req: Request<Full<Bytes>>) -> (StatusCode, String) {
    client.ready().await.expect("connection ready");
    let res = tokio::time::timeout(GUARD, client.send_request(req))
        .await
        .expect("response (hung)")
        .expect("response");
    read_response(res).await
}

async fn read_response(res: Response<Incoming>) -> (StatusCode, String) {
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A one-shot GET over a fresh HTTP/1.1 connection.
pub async fn get_once(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    let mut client = h1_client(addr).await;
    send_h1(&mut client, get(path)).await
}

/// What the server sent back on a raw connection, up to the point it
/// closed the connection.
#[derive(Debug)]
pub struct RawExchange {
    pub bytes: Vec<u8>,
}

impl RawExchange {
    /// The status codes of the responses, in order, each with its body.
    pub fn responses(&self) -> Vec<(u16, String)> {
        parse_responses(&self.bytes)
    }

    /// Just the status codes.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses().into_iter().map(|(s, _)| s).collect()
    }
}

/// Writes `request` on a fresh connection (a failed write is ignored: the
/// server may legitimately close early), then reads until the server
/// closes the connection. Panics if the server neither answers nor closes
/// within [`GUARD`], i.e. if the connection hangs.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawExchange {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(request).await;
    let bytes = tokio::time::timeout(GUARD, read_until_closed(&mut stream))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "connection neither answered nor closed (hung) for {:?}",
                String::from_utf8_lossy(&request[..request.len().min(120)])
            )
        });
    RawExchange { bytes }
}

/// Reads until EOF or a reset, returning what arrived before.
pub async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Splits HTTP/1.x responses (framed by `content-length`, or by the end of
/// the stream) into `(status, body)` pairs.
pub fn parse_responses(mut data: &[u8]) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Some(head_end) = find(data, b"\r\n\r\n") else {
            panic!("truncated response: {:?}", String::from_utf8_lossy(data));
        };
        let head = std::str::from_utf8(&data[..head_end]).expect("utf-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let length = lines.find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().expect("content-length"))
        });
        let body_start = head_end + 4;
        let body_end = length.map_or(data.len(), |len| (body_start + len).min(data.len()));
        let body = String::from_utf8_lossy(&data[body_start..body_end]).into_owned();
        out.push((status, body));
        data = &data[body_end..];
    }
    out
}

/// The value of header `name` (any case) in the first HTTP/1.x response of `data`.
pub fn response_header(data: &[u8], name: &str) -> Option<String> {
    let head_end = find(data, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&data[..head_end]);
    head.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Reads one HTTP/1.x response framed by `content-length` off `stream`, leaving the
/// connection open; returns its bytes.
pub async fn read_one_response(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            if let Some(head_end) = find(&data, b"\r\n\r\n") {
                let length: usize = response_header(&data, "content-length")
                    .expect("content-length")
                    .parse()
                    .expect("content-length");
                if data.len() >= head_end + 4 + length {
                    return;
                }
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert_ne!(
                n,
                0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&data)
            );
            data.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("response (hung)");
    data
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
