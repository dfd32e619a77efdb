//! Serving one accepted connection: TLS or protocol detection, then
//! hyper's own HTTP/1 or HTTP/2 connection, watched for shutdown.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::body::FromIncoming;
use crate::bounds::{ResBody, UserService};
use crate::drain::{Changes, Phase, Watch};
use crate::head_timeout::HeadTimeout;
use crate::host::HostCheck;
use crate::linger::Linger;
use crate::parse_errors::ParseErrors;
use crate::rewind::Rewind;
use crate::sniff::{sniff, Protocol};
use crate::Limits;

/// hyper's default HTTP/1 buffer limit (`8192 + 4096 * 100`).
const HYPER_DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// HTTP/1 switches that are not limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Http1Settings {
    pub(crate) keep_alive: bool,
    pub(crate) pipeline_flush: bool,
    /// `None`: hyper's choice (vectored when the transport says it writes vectors well).
    pub(crate) writev: Option<bool>,
}

/// Per-server connection settings, built once and shared by every
/// connection.
pub(crate) struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    /// `Limits::header_read_timeout`: bounds the TLS handshake and protocol detection, then
    /// each HTTP/1 request head (`HeadTimeout`).
    header_read_timeout: Duration,
    /// `Limits::max_header_size`, which the message of hyper's `431` names (`ParseErrors`).
    max_header_size: usize,
}

impl Protocols {
    pub(crate) fn new(limits: &Limits, http1: Http1Settings, tls: Option<TlsAcceptor>) -> Self {
        let mut h1 = http1::Builder::new();
        // The header-read timeout is the connection's own (`HeadTimeout`, far cheaper a
        // request); hyper's is turned off. It would do nothing anyway without a timer on the
        // builder, which is the trap `tests/it/slowloris.rs` guards against.
        h1.header_read_timeout(None::<Duration>)
            // hyper's own HTTP/1 cap is exact; the one reached through
            // hyper-util's auto builder was measured not to be.
            .max_header_size(limits.max_header_size)
            .keep_alive(http1.keep_alive)
            .pipeline_flush(http1.pipeline_flush);
        if let Some(writev) = http1.writev {
            h1.writev(writev);
        }
        if limits.max_header_size >= HYPER_DEFAULT_MAX_BUF {
            // Otherwise the buffer limit would cut in before the header cap.
            h1.max_buf_size(limits.max_header_size.saturating_add(8192));
        }

        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(limits.http2_max_concurrent_streams)
            .max_header_list_size(limits.http2_max_header_list_size);

        Self {
            http1: h1,
            http2: h2,
            tls,
            header_read_timeout: limits.header_read_timeout,
            max_header_size: limits.max_header_size,
        }
    }
}

/// Serves `stream` until the client leaves, an error occurs, or shutdown.
/// Never panics on client behaviour; every failure is logged at debug level.
pub(crate) async fn serve_connection<S, B>(
    stream: TcpStream,
    peer: SocketAddr,
    protocols: Arc<Protocols>,
    service: HostCheck<FromIncoming<S>>,
    watch: Watch,
) where
    S: UserService<B>,
    B: ResBody,
{
    // The first request head is due `header_read_timeout` after the connection opened, TLS
    // handshake and protocol detection included: not that long after each of them.
    let opened = tokio::time::Instant::now();
    let mut changes = watch.changes();
    let service = service.for_peer(peer);
    let io = Linger::new(stream);
    match &protocols.tls {
        None => {
            let mut io = io;
            let Some(sniffed) = opening(sniff(&mut io), &protocols, &mut changes, peer).await
            else {
                return;
            };
            let Some((protocol, prefix)) = sniffed else {
                tracing::debug!(%peer, "client closed the connection before sending a request");
                return;
            };
            let io = Rewind::new(prefix, io);
            serve_protocol(protocol, io, &protocols, service, changes, peer, opened).await;
        }
        Some(acceptor) => {
            let Some(tls) = opening(acceptor.accept(io), &protocols, &mut changes, peer).await
            else {
                return;
            };
            let protocol = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => Protocol::Http2,
                _ => Protocol::Http1,
            };
            serve_protocol(protocol, tls, &protocols, service, changes, peer, opened).await;
        }
    }
}

/// Runs a step that comes before the first request (TLS handshake or
/// protocol detection) under the opening timeout and the shutdown signal.
async fn opening<T>(
    step: impl Future<Output = io::Result<T>>,
    protocols: &Protocols,
    changes: &mut Changes,
    peer: SocketAddr,
) -> Option<T> {
    let step = tokio::time::timeout(protocols.header_read_timeout, step);
    tokio::select! {
        biased;
        () = changes.stopping() => {
            tracing::debug!(%peer, "closing connection that sent no request: shutting down");
            None
        }
        result = step => match result {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "connection failed before its first request");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "closing connection: nothing usable within header_read_timeout");
                None
            }
        },
    }
}

async fn serve_protocol<I, S, B>(
    protocol: Protocol,
    io: I,
    protocols: &Protocols,
    service: HostCheck<FromIncoming<S>>,
    changes: Changes,
    peer: SocketAddr,
    opened: tokio::time::Instant,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: UserService<B>,
    B: ResBody,
{
    let timeout = protocols.header_read_timeout;
    let first = timeout.saturating_sub(opened.elapsed());
    match protocol {
        Protocol::Http1 => {
            let (head_timeout, counts) = HeadTimeout::start(timeout, first);
            let io = ParseErrors::new(io, Arc::clone(&counts), protocols.max_header_size);
            let conn = protocols
                .http1
                .serve_connection(TokioIo::new(io), service.counting(counts))
                .with_upgrades();
            drive(conn, Idle::Http1(head_timeout), changes, peer).await;
        }
        Protocol::Http2 => {
            // The same clock, run while no stream is being served: hyper has no idle timeout
            // for HTTP/2, so a client that opened a connection and sends nothing (or half a
            // header block) held it, and its memory, for good.
            let (idle, counts) = HeadTimeout::start(timeout, first);
            let conn = protocols
                .http2
                .serve_connection(TokioIo::new(io), service.counting(counts));
            drive(
                conn,
                Idle::Http2 {
                    idle,
                    goaway_sent: false,
                },
                changes,
                peer,
            )
            .await;
        }
    }
}

/// A hyper connection that can be asked to finish gracefully.
trait Graceful: Future<Output = hyper::Result<()>> {
    fn begin_graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<crate::bounds::BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + 'static,
    B::Error: Into<crate::bounds::BoxError>,
{
    fn begin_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> Graceful for http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<crate::bounds::BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<crate::bounds::BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn begin_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// When a connection that serves no request is closed: after `header_read_timeout`.
enum Idle {
    /// No request head for that long: dropped.
    Http1(HeadTimeout),
    /// No stream served for that long: `GOAWAY`, then, after as long again (a client that
    /// ignores it, or holds half a header block), dropped.
    Http2 {
        idle: HeadTimeout,
        goaway_sent: bool,
    },
}

/// Polls `conn` to completion, turning shutdown phases into a graceful
/// shutdown (HTTP/1: finish the in-flight response, close idle connections
/// at once; HTTP/2: GOAWAY) and, at the deadline, into dropping it. A
/// connection that serves nothing for its `idle` timeout is closed too.
async fn drive(conn: impl Graceful, mut idle: Idle, mut changes: Changes, peer: SocketAddr) {
    let mut conn = pin!(conn);
    poll_fn(|cx| loop {
        match changes.poll_changed(cx) {
            Poll::Ready(Phase::Closing) => {
                tracing::debug!(%peer, "closing connection: shutdown deadline passed");
                return Poll::Ready(());
            }
            Poll::Ready(Phase::Draining) => {
                // hyper treats a fresh HTTP/1 connection as busy once a byte of its first head
                // has come, and would wait for the rest until the deadline: with no request
                // given to the service yet, there is nothing to finish.
                if matches!(&idle, Idle::Http1(head) if !head.any_started()) {
                    tracing::debug!(%peer, "closing connection: shutdown before its first request");
                    return Poll::Ready(());
                }
                conn.as_mut().begin_graceful_shutdown();
                continue;
            }
            Poll::Ready(Phase::Running) => continue,
            Poll::Pending => {}
        }
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            return Poll::Ready(());
        }
        match &mut idle {
            Idle::Http1(head_timeout) => {
                if head_timeout.poll_expired(cx).is_ready() {
                    tracing::debug!(%peer, "closing connection: no request head within header_read_timeout");
                    return Poll::Ready(());
                }
            }
            Idle::Http2 { idle, goaway_sent } => {
                if idle.poll_expired(cx).is_ready() {
                    if *goaway_sent {
                        tracing::debug!(%peer, "closing HTTP/2 connection: still open after GOAWAY");
                        return Poll::Ready(());
                    }
                    tracing::debug!(%peer, "HTTP/2 connection idle for header_read_timeout: GOAWAY");
                    *goaway_sent = true;
                    idle.restart();
                    conn.as_mut().begin_graceful_shutdown();
                    // Polled again: hyper sends the GOAWAY, and ends an idle connection.
                    continue;
                }
            }
        }
        return Poll::Pending;
    })
    .await;
}
