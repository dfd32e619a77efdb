//! Serving one accepted connection: TLS or protocol detection, then
//! hyper's own HTTP/1 or HTTP/2 connection, watched for shutdown.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::body::FromIncoming;
use crate::bounds::{ResBody, UserService};
use crate::drain::{Changes, Phase, Watch};
use crate::head_timeout::{Counts, HeadTimeout};
use crate::host::HostCheck;
use crate::linger::Linger;
use crate::parse_errors::ParseErrors;
use crate::rewind::Rewind;
use crate::sniff::{begins_head, sniff, Protocol, Sniff};
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
    /// The `Alt-Svc` of HTTP/3, for hyper's own error answers too (`ParseErrors`).
    alt_svc: Option<HeaderValue>,
}

impl Protocols {
    pub(crate) fn new(
        limits: &Limits,
        http1: Http1Settings,
        tls: Option<TlsAcceptor>,
        alt_svc: Option<HeaderValue>,
    ) -> Self {
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
            alt_svc,
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
    let opened = Opened {
        peer,
        at: tokio::time::Instant::now(),
        counts: Arc::default(),
    };
    let mut changes = watch.changes();
    let service = service.for_peer(peer);
    let io = Linger::new(stream, Arc::clone(&opened.counts));
    match &protocols.tls {
        None => {
            let Some((protocol, head, io)) = detect(io, &protocols, &mut changes, &opened).await
            else {
                return;
            };
            serve_protocol(protocol, io, &protocols, service, changes, opened, head).await;
        }
        Some(acceptor) => {
            // A TLS client sends no request before its handshake is done (TLS 1.3 early data
            // is not accepted): one still handshaking when shutdown begins has sent nothing
            // to lose.
            let never_begun = |_: &_| false;
            let step = acceptor.accept(io);
            let Some(tls) = opening(step, never_begun, &protocols, &mut changes, &opened).await
            else {
                return;
            };
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                // Not sniffed: whether a first head hyper cannot parse is a `HEAD` is unknown.
                let head = false;
                serve_protocol(
                    Protocol::Http1,
                    tls,
                    &protocols,
                    service,
                    changes,
                    opened,
                    head,
                )
                .await;
                return;
            }
            // HTTP/2: its preface is awaited here, as on a cleartext connection. hyper, told to
            // shut down before the preface has come, waits for it (to send `GOAWAY`), so a
            // client silent after its TLS handshake would hold shutdown until the deadline.
            // ALPN has chosen: what the bytes look like is hyper's to judge.
            let Some((_, _, io)) = detect(tls, &protocols, &mut changes, &opened).await else {
                return;
            };
            serve_protocol(
                Protocol::Http2,
                io,
                &protocols,
                service,
                changes,
                opened,
                false,
            )
            .await;
        }
    }
}

/// Reads the connection's first bytes, as an opening step (see [`opening`]), to tell an
/// HTTP/2 preface from HTTP/1, and whether they begin a `HEAD` request (for [`ParseErrors`]);
/// `io` comes back with them put back in front. `None`: the connection ended, failed or timed
/// out first, or shutdown closed it.
async fn detect<I: AsyncRead + Unpin>(
    mut io: I,
    protocols: &Protocols,
    changes: &mut Changes,
    opened: &Opened,
) -> Option<(Protocol, bool, Rewind<I>)> {
    let step = sniff(&mut io);
    let sniffed = opening(step, Sniff::has_bytes, protocols, changes, opened).await?;
    let Some((protocol, prefix)) = sniffed else {
        let peer = opened.peer;
        tracing::debug!(%peer, "client closed the connection before sending a request");
        return None;
    };
    let head = protocol == Protocol::Http1 && begins_head(&prefix);
    Some((protocol, head, Rewind::new(prefix, io)))
}

/// A connection as accepted.
struct Opened {
    peer: SocketAddr,
    /// When: the first request head is due `header_read_timeout` after the connection opened,
    /// TLS handshake and protocol detection included, not that long after each of them.
    at: tokio::time::Instant,
    /// Shared by the connection's task, its transport and its requests.
    counts: Arc<Counts>,
}

/// Runs a step that comes before the first request (TLS handshake or
/// protocol detection) under the opening timeout and the shutdown signal.
///
/// When shutdown begins, the step is polled once more, reading what is in the socket
/// ([`Counts::look_in_socket`]): a step that then completes goes on to serve its request,
/// one whose client has sent part of what it needs (`begun`) is finished (under the same
/// timeout, within the deadline), and the rest are closed.
async fn opening<F, T>(
    step: F,
    begun: impl Fn(&F) -> bool,
    protocols: &Protocols,
    changes: &mut Changes,
    opened: &Opened,
) -> Option<T>
where
    F: Future<Output = io::Result<T>>,
{
    let peer = opened.peer;
    // Due `header_read_timeout` after the connection opened, however many steps it takes.
    let due = opened.at + protocols.header_read_timeout;
    let mut step = pin!(tokio::time::timeout_at(due, step));
    let result = tokio::select! {
        biased;
        () = changes.stopping() => None,
        result = step.as_mut() => Some(result),
    };
    let result = match result {
        Some(result) => result,
        // Past the deadline already (the task first ran after it, or the server was
        // dropped): `drive` would not see it again, so nothing more is served.
        None if changes.is_closing() => {
            tracing::debug!(%peer, "closing connection: shutdown deadline passed");
            return None;
        }
        None => {
            // Left on for `drive`, which decides after reading in turn.
            opened.counts.look_in_socket(true);
            match poll_fn(|cx| Poll::Ready(step.as_mut().poll(cx))).await {
                Poll::Ready(result) => result,
                Poll::Pending if begun(step.as_ref().get_ref().get_ref()) => {
                    opened.counts.look_in_socket(false);
                    tokio::select! {
                        biased;
                        () = changes.closing() => return None,
                        result = step => result,
                    }
                }
                Poll::Pending => {
                    tracing::debug!(%peer, "closing connection that sent no request: shutting down");
                    return None;
                }
            }
        }
    };
    match result {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "connection failed before its first request");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "closing connection: nothing usable within header_read_timeout");
            None
        }
    }
}

/// Serves `io` as `protocol` once its opening steps are done. `head`: its first bytes began a
/// `HEAD` request (HTTP/1, for [`ParseErrors`]; `false` when unknown or HTTP/2).
async fn serve_protocol<I, S, B>(
    protocol: Protocol,
    io: I,
    protocols: &Protocols,
    service: HostCheck<FromIncoming<S>>,
    changes: Changes,
    opened: Opened,
    head: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: UserService<B>,
    B: ResBody,
{
    let Opened { peer, at, counts } = opened;
    let timeout = protocols.header_read_timeout;
    let first = timeout.saturating_sub(at.elapsed());
    let head_timeout = HeadTimeout::new(Arc::clone(&counts), timeout, first);
    let service = service.counting(Arc::clone(&counts));
    match protocol {
        Protocol::Http1 => {
            let alt_svc = protocols.alt_svc.clone();
            let io = ParseErrors::new(io, counts, protocols.max_header_size, alt_svc, head);
            let conn = protocols
                .http1
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            drive(conn, Idle::Http1(head_timeout), changes, peer).await;
        }
        Protocol::Http2 => {
            // The same clock, run while no stream is being served: hyper has no idle timeout
            // for HTTP/2, so a client that opened a connection and sends nothing (or half a
            // header block) held it, and its memory, for good.
            let conn = protocols.http2.serve_connection(TokioIo::new(io), service);
            let idle = Idle::Http2 {
                idle: head_timeout,
                goaway_sent: false,
            };
            drive(conn, idle, changes, peer).await;
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

/// What an HTTP/1 connection does once shutdown has begun, decided after hyper has been
/// polled and has read what is in the socket ([`Counts::look_in_socket`]).
enum Draining {
    /// A request is being served: hyper's graceful shutdown (keep-alive off, so its response
    /// says `Connection: close` and the connection closes after it).
    Finish,
    /// No request is being served, but bytes of the next one's head have come: it is waited
    /// for (under the header-read timeout, within the deadline) and served; its response
    /// says `Connection: close`.
    AwaitHead,
    /// Nothing of a request came: close.
    Close,
}

impl Draining {
    fn decide(counts: &Counts) -> Self {
        if counts.in_flight() {
            Draining::Finish
        } else if counts.head_begun() {
            Draining::AwaitHead
        } else {
            Draining::Close
        }
    }
}

/// Polls `conn` to completion, turning shutdown phases into a graceful
/// shutdown and, at the deadline, into dropping it. A connection that serves
/// nothing for its `idle` timeout is closed too.
///
/// When shutdown begins (or had begun when the connection was handed over), hyper is polled
/// first, reading what is in the socket, and then:
///
/// * HTTP/1: see [`Draining`]. A request whose head has begun arriving is answered, not
///   lost; a connection on which nothing of a request has come is closed. (hyper's own
///   graceful shutdown closes a keep-alive connection that holds half a head, and does not
///   read what is in the socket first.)
/// * HTTP/2: hyper's graceful shutdown, a `GOAWAY` for the highest stream id and then, a
///   round trip later, one for the last stream received: every stream the client opened
///   before it saw the first is served.
async fn drive(conn: impl Graceful, mut idle: Idle, mut changes: Changes, peer: SocketAddr) {
    let mut conn = pin!(conn);
    // Shutdown has begun; hyper has been told (its graceful shutdown).
    let mut draining = changes.is_stopping();
    let mut told = false;
    let mut awaiting_head = false;
    if draining {
        begin_draining(&idle);
    }
    poll_fn(|cx| loop {
        match changes.poll_changed(cx) {
            Poll::Ready(Phase::Closing) => {
                tracing::debug!(%peer, "closing connection: shutdown deadline passed");
                return Poll::Ready(());
            }
            Poll::Ready(Phase::Draining) => {
                draining = true;
                begin_draining(&idle);
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
        if draining && !told {
            let tell = match &idle {
                Idle::Http1(head) => {
                    let counts = head.counts();
                    // What was in the socket has been read.
                    counts.look_in_socket(false);
                    match Draining::decide(counts) {
                        Draining::Finish => true,
                        Draining::AwaitHead => {
                            if !awaiting_head {
                                awaiting_head = true;
                                tracing::debug!(%peer, "shutting down: waiting for the request whose head is arriving");
                            }
                            false
                        }
                        Draining::Close if !counts.any_started() => {
                            tracing::debug!(%peer, "closing connection: shutdown before its first request");
                            return Poll::Ready(());
                        }
                        // hyper closes an idle connection at once.
                        Draining::Close => true,
                    }
                }
                Idle::Http2 { .. } => true,
            };
            if tell {
                told = true;
                conn.as_mut().begin_graceful_shutdown();
                // Polled again: hyper acts on it (closes an idle connection, sends GOAWAY).
                continue;
            }
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

/// Shutdown has begun: every HTTP/1 response from now on closes its connection, and the next
/// poll of hyper reads what is in the socket, for `Draining::decide`.
fn begin_draining(idle: &Idle) {
    match idle {
        Idle::Http1(head) => {
            head.counts().close_after_responses();
            head.counts().look_in_socket(true);
        }
        Idle::Http2 { idle, .. } => idle.counts().look_in_socket(false),
    }
}
