//! The [`Server`] builder: where to listen and how to behave.

use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::connection::{Http1Settings, Protocols};
use crate::http3::Http3Listener;
use crate::listener;
use crate::signal::ShutdownFuture;
use crate::tls::{self, TlsSource};
use crate::{Limits, RuntimeMode, ServerError};

/// An HTTP/1.1, HTTP/2 and (optionally) HTTP/3 server for any tower `Service`.
///
/// Built in two steps: [`bind`](Server::bind) (or
/// [`from_listener`](Server::from_listener)) opens the socket, the builder
/// methods set limits, TLS and shutdown, then [`serve`](Server::serve)
/// (async, on your runtime) or [`run`](Server::run) (blocking, builds its
/// own runtime) serves a service until shutdown.
///
/// ```no_run
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use armature_server::Server;
/// use bytes::Bytes;
/// use http_body_util::Full;
///
/// # async fn demo() -> Result<(), armature_server::ServerError> {
/// let hello = tower::service_fn(|_req: http::Request<armature_server::RequestBody>| async {
///     Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hello\n"))))
/// });
/// Server::bind(([127, 0, 0, 1], 3000))?
///     .header_read_timeout(Duration::from_secs(5))
///     .max_header_size(32 * 1024)
///     .shutdown_timeout(Duration::from_secs(20))
///     .serve(hello)
///     .await
/// # }
/// ```
pub struct Server {
    pub(crate) listener: TcpListener,
    pub(crate) local_addr: SocketAddr,
    pub(crate) limits: Limits,
    pub(crate) http1: Http1Settings,
    pub(crate) tls: Option<TlsSource>,
    pub(crate) shutdown: Option<ShutdownFuture>,
    pub(crate) signals: bool,
    pub(crate) runtime: RuntimeMode,
    pub(crate) http3: bool,
    pub(crate) peer_addr: bool,
}

impl Server {
    /// Binds a listener on `addr` right away, so the port is yours (and
    /// [`local_addr`](Server::local_addr) known) before serving starts.
    ///
    /// On Unix the socket has `SO_REUSEADDR` and `SO_REUSEPORT` set; the
    /// latter lets [`RuntimeMode::PerCore`] bind one socket per worker. An
    /// address another socket already listens on is still refused with
    /// [`ServerError::Bind`], so a second server cannot silently share the
    /// port.
    ///
    /// ```
    /// use armature_server::Server;
    ///
    /// let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// ```
    pub fn bind(addr: impl Into<SocketAddr>) -> Result<Self, ServerError> {
        Self::from_listener(listener::bind(addr.into())?)
    }

    /// Serves on a listener you bound yourself (handy for tests with port 0
    /// or for sockets inherited from a supervisor).
    ///
    /// ```
    /// use armature_server::Server;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = Server::from_listener(listener).unwrap();
    /// assert_eq!(server.local_addr(), addr);
    /// ```
    pub fn from_listener(listener: TcpListener) -> Result<Self, ServerError> {
        listener
            .set_nonblocking(true)
            .map_err(ServerError::Listener)?;
        let local_addr = listener.local_addr().map_err(ServerError::Listener)?;
        Ok(Self {
            listener,
            local_addr,
            limits: Limits::default(),
            http1: Http1Settings {
                keep_alive: true,
                pipeline_flush: false,
                writev: None,
            },
            tls: None,
            shutdown: None,
            signals: true,
            runtime: RuntimeMode::default(),
            http3: false,
            peer_addr: true,
        })
    }

    /// The address the server listens on (with the real port if bound to 0).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// println!("listening on http://{}", server.local_addr());
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces all limits at once.
    ///
    /// ```
    /// use armature_server::{Limits, Server};
    ///
    /// let mut limits = Limits::default();
    /// limits.max_header_size = 8 * 1024;
    /// let server = Server::bind(([127, 0, 0, 1], 0)).unwrap().limits(limits);
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long a client may take to send a request head; see
    /// [`Limits::header_read_timeout`] (default 10 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.header_read_timeout(Duration::from_secs(5));
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// The largest HTTP/1 request head accepted, in bytes; larger ones get
    /// `431`. See [`Limits::max_header_size`] (default 16 KiB).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.max_header_size(64 * 1024);
    /// ```
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.limits.max_header_size = bytes;
        self
    }

    /// Whether HTTP/1 connections may carry more than one request
    /// (default `true`).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.keep_alive(false);
    /// ```
    pub fn keep_alive(mut self, enabled: bool) -> Self {
        self.http1.keep_alive = enabled;
        self
    }

    /// Whether HTTP/1 responses to pipelined requests are written with one
    /// flush instead of one each (hyper's `pipeline_flush`; default `false`).
    ///
    /// **Off by default because of a hyper 1.12 bug:** with it on, when a
    /// connection closes while unparsed bytes are still buffered, the last
    /// response is never written. That loses the `400` for a malformed
    /// request, the `431` for an oversized head, and any response carrying
    /// `Connection: close` that has pipelined bytes behind it (hyper's
    /// buffered IO skips the flush while its read buffer is non-empty, and
    /// its shutdown path flushes that way). The test
    /// `framing::pipeline_flush_loses_error_responses` pins this down, so
    /// it will show when the default can change.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// // Only for trusted, well-behaved pipelining clients (benchmarks).
    /// let server = server.http1_pipeline_flush(true);
    /// ```
    pub fn http1_pipeline_flush(mut self, enabled: bool) -> Self {
        self.http1.pipeline_flush = enabled;
        self
    }

    /// How HTTP/1 responses are written: `true`, the head and each body chunk as they are, in
    /// one vectored write (`writev`); `false`, copied into one buffer first, then written with
    /// one plain write (hyper's `writev`). Unset, vectored writes are used where the transport
    /// supports them (TCP does).
    ///
    /// Which is cheaper depends on the responses (BENCHMARKS.md, "HTTP/1 write strategy"):
    /// copying small bodies saves the bookkeeping of a queue of buffers, ~400 instructions per
    /// request on a 13-byte body, 4–5% of the server's work; copying large ones costs more,
    /// ~40% more CPU per request on a 1.5 MB file. An API whose answers are a few kilobytes
    /// at most gains from `false`; one that also serves files or large downloads had better
    /// keep the default.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// // Every response is a small JSON document.
    /// let server = server.http1_writev(false);
    /// ```
    pub fn http1_writev(mut self, enabled: bool) -> Self {
        self.http1.writev = Some(enabled);
        self
    }

    /// Requests in flight at once on one HTTP/2 connection; see
    /// [`Limits::http2_max_concurrent_streams`] (default 200).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.http2_max_concurrent_streams(100);
    /// ```
    pub fn http2_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.limits.http2_max_concurrent_streams = streams;
        self
    }

    /// The largest HTTP/2 header list accepted, in bytes; see
    /// [`Limits::http2_max_header_list_size`] (default 16 KiB).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.http2_max_header_list_size(32 * 1024);
    /// ```
    pub fn http2_max_header_list_size(mut self, bytes: u32) -> Self {
        self.limits.http2_max_header_list_size = bytes;
        self
    }

    /// The deadline for in-flight requests once shutdown begins; see
    /// [`Limits::shutdown_timeout`] (default 10 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.shutdown_timeout(Duration::from_secs(25));
    /// ```
    pub fn shutdown_timeout(mut self, deadline: Duration) -> Self {
        self.limits.shutdown_timeout = deadline;
        self
    }

    /// Serves HTTPS with the certificate chain and private key in these PEM
    /// files, offering HTTP/2 and HTTP/1.1 through ALPN. The files are read
    /// when serving starts; errors come back from `serve`/`run` as
    /// [`ServerError::Pem`] or [`ServerError::Tls`].
    ///
    /// ```no_run
    /// # let server = armature_server::Server::bind(([0, 0, 0, 0], 443)).unwrap();
    /// let server = server.tls_pem("/etc/tls/fullchain.pem", "/etc/tls/key.pem");
    /// ```
    pub fn tls_pem(
        mut self,
        cert_chain: impl Into<PathBuf>,
        private_key: impl Into<PathBuf>,
    ) -> Self {
        self.tls = Some(TlsSource::Pem {
            cert: cert_chain.into(),
            key: private_key.into(),
        });
        self
    }

    /// Serves HTTPS with a rustls configuration you built. If its
    /// `alpn_protocols` is empty, `h2` and `http/1.1` are offered; otherwise
    /// your list is kept (a client that negotiates `h2` gets HTTP/2,
    /// anything else HTTP/1.1). With [`http3`](Server::http3) on, the same
    /// configuration (with ALPN `h3`) secures QUIC; it must allow TLS 1.3.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use armature_server::{rustls, Server};
    ///
    /// # fn demo(certs: Vec<rustls::pki_types::CertificateDer<'static>>, key: rustls::pki_types::PrivateKeyDer<'static>) {
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ServerConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_no_client_auth()
    ///     .with_single_cert(certs, key)
    ///     .unwrap();
    /// let server = Server::bind(([0, 0, 0, 0], 443)).unwrap().tls_config(Arc::new(config));
    /// # }
    /// ```
    pub fn tls_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(TlsSource::Config(config));
        self
    }

    /// Serves HTTPS with a self-signed certificate made when serving starts,
    /// for development: a [`DevCert`](crate::DevCert) for `localhost`, `127.0.0.1`, `::1` and
    /// the bound IP. Where its files are is logged (`tracing` warn); they are
    /// removed when serving ends. Make a
    /// [`DevCert`](crate::DevCert) yourself and pass it to [`tls_pem`](Server::tls_pem) to
    /// know the path in advance.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.dev_cert().http3(true);
    /// ```
    pub fn dev_cert(mut self) -> Self {
        self.tls = Some(TlsSource::DevCert);
        self
    }

    /// Also serves HTTP/3 (QUIC) on UDP at the same address and port,
    /// calling the very same service as the TCP listener (default `false`).
    ///
    /// HTTP/3 runs only over TLS 1.3, so the server needs TLS
    /// ([`tls_pem`](Server::tls_pem), [`tls_config`](Server::tls_config) or
    /// [`dev_cert`](Server::dev_cert)); without it `serve`/`run` fail with
    /// [`ServerError::Config`]. The UDP port is bound when serving starts
    /// ([`ServerError::Bind`] if taken; with a server bound to port 0, the
    /// OS chose the TCP port without regard to UDP, so its UDP twin may be
    /// taken: choose a port free over both if that matters, as the tests
    /// do). HTTP/1.1 and HTTP/2 responses then
    /// carry `Alt-Svc: h3=":PORT"; ma=86400` (unless the service set its
    /// own), which is how browsers find the HTTP/3 endpoint. So do the
    /// server's own answers: its refusals (`400`, `501`), the `500` or `400`
    /// for a service error, and hyper's `400`/`414`/`431` for a first request
    /// head it cannot parse (not on a later request of a keep-alive
    /// connection, which keeps hyper's answer as it is).
    ///
    /// Limits: [`http3_max_concurrent_streams`](Server::http3_max_concurrent_streams),
    /// [`http3_idle_timeout`](Server::http3_idle_timeout);
    /// [`header_read_timeout`](Server::header_read_timeout) bounds the QUIC
    /// handshake and each request head; [`max_header_size`](Server::max_header_size)
    /// is the largest request field section (`SETTINGS_MAX_FIELD_SECTION_SIZE`).
    /// On shutdown each connection gets a GOAWAY, its in-flight requests
    /// finish, and it is then closed (CONNECTION_CLOSE with `H3_NO_ERROR`).
    ///
    /// With [`RuntimeMode::PerCore`], the HTTP/3 endpoint runs on the first
    /// worker.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server
    ///     .tls_pem("/etc/tls/fullchain.pem", "/etc/tls/key.pem")
    ///     .http3(true);
    /// ```
    pub fn http3(mut self, enabled: bool) -> Self {
        self.http3 = enabled;
        self
    }

    /// Requests in flight at once on one HTTP/3 connection; see
    /// [`Limits::http3_max_concurrent_streams`] (default 200).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.http3_max_concurrent_streams(100);
    /// ```
    pub fn http3_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.limits.http3_max_concurrent_streams = streams;
        self
    }

    /// How long an HTTP/3 connection may stay silent before it is closed;
    /// see [`Limits::http3_idle_timeout`] (default 30 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.http3_idle_timeout(Duration::from_secs(60));
    /// ```
    pub fn http3_idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.http3_idle_timeout = timeout;
        self
    }

    /// Begins a graceful shutdown when `signal` completes (in addition to
    /// SIGINT/SIGTERM, see [`shutdown_on_signals`](Server::shutdown_on_signals)).
    ///
    /// Shutdown closes the listener at once (new connections are refused),
    /// closes connections on which nothing of a request has come (idle
    /// keep-alive ones among them), answers the requests in flight and those
    /// whose head has begun arriving (over HTTP/1 with `Connection: close`)
    /// within [`shutdown_timeout`](Server::shutdown_timeout), then closes what
    /// remains and returns. The [crate docs](crate#shutdown) have the details.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = server.with_graceful_shutdown(async {
    ///     let _ = stopped.await;
    /// });
    /// // later: stop.send(()) begins the shutdown.
    /// # drop(stop);
    /// ```
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Whether SIGINT and SIGTERM (Ctrl-C on other platforms) begin a
    /// graceful shutdown (default `true`). Turn it off when the host
    /// application owns signal handling.
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// let server = server.shutdown_on_signals(false);
    /// ```
    pub fn shutdown_on_signals(mut self, enabled: bool) -> Self {
        self.signals = enabled;
        self
    }

    /// How [`run`](Server::run) lays out its runtime(s); ignored by
    /// [`serve`](Server::serve), which uses the runtime it is awaited on.
    ///
    /// ```
    /// use armature_server::{RuntimeMode, Server};
    ///
    /// let server = Server::bind(([127, 0, 0, 1], 0))
    ///     .unwrap()
    ///     .runtime(RuntimeMode::PerCore { workers: 2 });
    /// ```
    pub fn runtime(mut self, mode: RuntimeMode) -> Self {
        self.runtime = mode;
        self
    }

    /// Whether every request carries the client's address as a `std::net::SocketAddr`
    /// extension (default `true`).
    ///
    /// Armature's logger, rate limiter (keyed by client IP) and analytics consumers read it
    /// from there, as does any layer that looks for a `SocketAddr`. A service that needs
    /// none of them can turn it off and save each request the boxed address and its slot
    /// in the extension map; when nothing else inserts an extension, the map itself too.
    /// Behind Armature's router, which stores the matched route there anyway, that measured
    /// one allocation and ~290 instructions per HTTP/1.1 request (BENCHMARKS.md). axum makes
    /// the same choice the other way round (`into_make_service_with_connect_info` is opt-in).
    ///
    /// ```
    /// # let server = armature_server::Server::bind(([127, 0, 0, 1], 0)).unwrap();
    /// // A router whose handlers never ask who is calling.
    /// let server = server.peer_addr_extension(false);
    /// ```
    pub fn peer_addr_extension(mut self, enabled: bool) -> Self {
        self.peer_addr = enabled;
        self
    }

    /// Splits the server into what serving needs, reading TLS files and
    /// binding the HTTP/3 socket now.
    pub(crate) fn prepare(self) -> Result<Prepared, ServerError> {
        self.limits.check()?;
        let (tls, dev_cert) = match &self.tls {
            Some(source) => {
                let (config, dev_cert) = source.config(self.local_addr)?;
                (Some(config), dev_cert)
            }
            None => (None, None),
        };
        let http3 = match (self.http3, &tls) {
            (false, _) => None,
            (true, None) => {
                return Err(ServerError::Config(
                    "HTTP/3 needs TLS: call tls_pem, tls_config or dev_cert",
                ))
            }
            (true, Some(config)) => Some(Http3Listener::bind(
                self.local_addr,
                config.clone(),
                &self.limits,
                self.peer_addr,
            )?),
        };
        let alt_svc = http3.as_ref().map(Http3Listener::alt_svc).transpose()?;
        let tls = tls.map(tls::acceptor);
        let protocols = Protocols::new(&self.limits, self.http1, tls, alt_svc.clone());
        Ok(Prepared {
            http3,
            alt_svc,
            protocols: Arc::new(protocols),
            listener: self.listener,
            local_addr: self.local_addr,
            shutdown: self.shutdown,
            signals: self.signals,
            peer_addr: self.peer_addr,
            shutdown_timeout: self.limits.shutdown_timeout,
            _dev_cert: dev_cert,
        })
    }
}

/// A server ready to serve: configuration resolved, nothing running yet.
pub(crate) struct Prepared {
    pub(crate) http3: Option<Http3Listener>,
    /// What HTTP/1 and HTTP/2 responses advertise HTTP/3 with.
    pub(crate) alt_svc: Option<HeaderValue>,
    pub(crate) protocols: Arc<Protocols>,
    pub(crate) listener: TcpListener,
    pub(crate) local_addr: SocketAddr,
    pub(crate) shutdown: Option<ShutdownFuture>,
    pub(crate) signals: bool,
    /// Whether requests carry the client's `SocketAddr` extension.
    pub(crate) peer_addr: bool,
    pub(crate) shutdown_timeout: Duration,
    /// The development certificate served, if any: its files are removed
    /// when this is dropped, so it lives until serving ends.
    pub(crate) _dev_cert: Option<crate::DevCert>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("limits", &self.limits)
            .field("http1", &self.http1)
            .field("tls", &self.tls.is_some())
            .field("graceful_shutdown", &self.shutdown.is_some())
            .field("signals", &self.signals)
            .field("runtime", &self.runtime)
            .field("http3", &self.http3)
            .field("peer_addr", &self.peer_addr)
            .finish()
    }
}
