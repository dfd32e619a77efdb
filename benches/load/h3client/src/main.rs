//! Load client for the HTTP/3 benchmark: drives one URL over HTTP/3, HTTP/2
//! or HTTP/1.1 (all three over TLS, so the only difference is the protocol)
//! for a fixed time and prints requests/s. One implementation for all three
//! protocols, on one current-thread runtime (pin it to one core).
//!
//! ```text
//! h3client --proto h3|h2|h1 --url https://127.0.0.1:3443/plaintext --cacert cert.pem \
//!          [--connections 32] [--streams 10] [--duration 5] [--warmup 2]
//! ```
//!
//! `--streams` is requests in flight per connection (HTTP/1.1: always 1).
//! Prints one line: `proto=… url=… connections=… streams=… requests=… errors=… seconds=… rps=…`.
//! A response that is not 200 or whose body is empty counts as an error.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
struct Options {
    proto: String,
    url: Uri,
    cacert: String,
    connections: usize,
    streams: usize,
    duration: Duration,
    warmup: Duration,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        proto: "h3".into(),
        url: Uri::from_static("https://127.0.0.1:3443/plaintext"),
        cacert: String::new(),
        connections: 32,
        streams: 10,
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(2),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("bad number {value}"))
        };
        match flag.as_str() {
            "--proto" => o.proto = value.clone(),
            "--url" => o.url = value.parse().map_err(|_| format!("bad url {value}"))?,
            "--cacert" => o.cacert = value.clone(),
            "--connections" => o.connections = num()? as usize,
            "--streams" => o.streams = num()? as usize,
            "--duration" => o.duration = Duration::from_secs(num()?),
            "--warmup" => o.warmup = Duration::from_secs(num()?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.cacert.is_empty() {
        return Err("--cacert is required".into());
    }
    if o.proto == "h1" {
        o.streams = 1;
    }
    Ok(o)
}

fn tls_config(
    cacert: &str,
    alpn: &[u8],
    tls13_only: bool,
) -> Result<rustls::ClientConfig, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cacert)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    let builder = if tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])?
    } else {
        builder.with_safe_default_protocol_versions()?
    };
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// Counters shared by the workers of this (single-threaded) runtime.
#[derive(Default)]
struct Counts {
    ok: Cell<u64>,
    errors: Cell<u64>,
    measuring: Cell<bool>,
}

impl Counts {
    fn record(&self, ok: bool) {
        if !self.measuring.get() {
            return;
        }
        if ok {
            self.ok.set(self.ok.get() + 1);
        } else {
            self.errors.set(self.errors.get() + 1);
        }
    }
}

fn addr_of(url: &Uri) -> Result<SocketAddr, BoxError> {
    let host = url.host().ok_or("url without host")?;
    let port = url.port_u16().unwrap_or(443);
    Ok(format!("{host}:{port}").parse()?)
}

fn main() {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("h3client: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    if let Err(e) = local.block_on(&runtime, run(options)) {
        eprintln!("h3client: {e}");
        std::process::exit(1);
    }
}

async fn run(o: Options) -> Result<(), BoxError> {
    let counts = Rc::new(Counts::default());
    let stop = Instant::now() + o.warmup + o.duration + Duration::from_secs(3600);
    let stop_at = Rc::new(Cell::new(stop));
    let addr = addr_of(&o.url)?;
    let mut workers = Vec::new();
    for _ in 0..o.connections {
        match o.proto.as_str() {
            "h3" => workers.extend(h3_connection(&o, addr, &counts, &stop_at).await?),
            "h2" => workers.extend(h2_connection(&o, addr, &counts, &stop_at).await?),
            "h1" => workers.extend(h1_connection(&o, addr, &counts, &stop_at).await?),
            other => return Err(format!("unknown protocol {other}").into()),
        }
    }
    tokio::time::sleep(o.warmup).await;
    counts.measuring.set(true);
    let started = Instant::now();
    tokio::time::sleep(o.duration).await;
    counts.measuring.set(false);
    let seconds = started.elapsed().as_secs_f64();
    // Workers stop at their next request; the process exits without
    // waiting for them.
    stop_at.set(Instant::now());
    drop(workers);
    let requests = counts.ok.get();
    println!(
        "proto={} url={} connections={} streams={} requests={} errors={} seconds={:.3} rps={:.0}",
        o.proto,
        o.url,
        o.connections,
        o.streams,
        requests,
        counts.errors.get(),
        seconds,
        requests as f64 / seconds
    );
    Ok(())
}

type Workers = Vec<tokio::task::JoinHandle<()>>;

async fn h3_connection(
    o: &Options,
    addr: SocketAddr,
    counts: &Rc<Counts>,
    stop_at: &Rc<Cell<Instant>>,
) -> Result<Workers, BoxError> {
    let tls = tls_config(&o.cacert, b"h3", true)?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut endpoint = quinn::Endpoint::client("0.0.0.0:0".parse()?)?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let host = o.url.host().unwrap_or("localhost");
    let connection = endpoint.connect(addr, host)?.await?;
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection)).await?;
    let mut workers = vec![tokio::task::spawn_local(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        drop(endpoint);
    })];
    for _ in 0..o.streams {
        let mut send = send.clone();
        let (counts, stop_at, url) = (counts.clone(), stop_at.clone(), o.url.clone());
        workers.push(tokio::task::spawn_local(async move {
            while Instant::now() < stop_at.get() {
                let req = Request::get(url.clone()).body(()).expect("request");
                let result: Result<bool, BoxError> = async {
                    let mut stream = send.send_request(req).await?;
                    stream.finish().await?;
                    let res = stream.recv_response().await?;
                    let mut len = 0;
                    while let Some(chunk) = stream.recv_data().await? {
                        len += chunk.remaining();
                    }
                    Ok(res.status() == 200 && len > 0)
                }
                .await;
                let ok = matches!(result, Ok(true));
                counts.record(ok);
                if result.is_err() {
                    return;
                }
            }
        }));
    }
    Ok(workers)
}

async fn tls_stream(
    o: &Options,
    addr: SocketAddr,
    alpn: &[u8],
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, BoxError> {
    let tls = tls_config(&o.cacert, alpn, false)?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let host = o.url.host().unwrap_or("localhost").to_owned();
    let name = ServerName::try_from(host)?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await?)
}

async fn h2_connection(
    o: &Options,
    addr: SocketAddr,
    counts: &Rc<Counts>,
    stop_at: &Rc<Cell<Instant>>,
) -> Result<Workers, BoxError> {
    let tls = tls_stream(o, addr, b"h2").await?;
    let (send, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tls),
    )
    .await?;
    let mut workers = vec![tokio::task::spawn_local(async move {
        let _ = conn.await;
    })];
    for _ in 0..o.streams {
        let mut send = send.clone();
        let (counts, stop_at, url) = (counts.clone(), stop_at.clone(), o.url.clone());
        workers.push(tokio::task::spawn_local(async move {
            while Instant::now() < stop_at.get() {
                let req = Request::get(url.clone())
                    .body(Empty::new())
                    .expect("request");
                let result: Result<bool, BoxError> = async {
                    let res = send.send_request(req).await?;
                    let status = res.status();
                    let body = res.into_body().collect().await?.to_bytes();
                    Ok(status == 200 && !body.is_empty())
                }
                .await;
                counts.record(matches!(result, Ok(true)));
                if result.is_err() {
                    return;
                }
            }
        }));
    }
    Ok(workers)
}

async fn h1_connection(
    o: &Options,
    addr: SocketAddr,
    counts: &Rc<Counts>,
    stop_at: &Rc<Cell<Instant>>,
) -> Result<Workers, BoxError> {
    let tls = tls_stream(o, addr, b"http/1.1").await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tls)).await?;
    let conn_task = tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    let (counts, stop_at, url) = (counts.clone(), stop_at.clone(), o.url.clone());
    let authority = url.authority().map(|a| a.to_string()).unwrap_or_default();
    let path = url
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or("/".into());
    let worker = tokio::task::spawn_local(async move {
        while Instant::now() < stop_at.get() {
            let req = Request::get(path.as_str())
                .header(http::header::HOST, authority.as_str())
                .body(Empty::new())
                .expect("request");
            let result: Result<bool, BoxError> = async {
                send.ready().await?;
                let res = send.send_request(req).await?;
                let status = res.status();
                let body = res.into_body().collect().await?.to_bytes();
                Ok(status == 200 && !body.is_empty())
            }
            .await;
            counts.record(matches!(result, Ok(true)));
            if result.is_err() {
                return;
            }
        }
    });
    Ok(vec![conn_task, worker])
}
