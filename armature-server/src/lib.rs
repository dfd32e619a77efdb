//! Serves any tower [`Service`](tower::Service) over HTTP/1.1 and HTTP/2,
//! in cleartext or TLS, and over HTTP/3 (QUIC) beside them, with limits on
//! by default and graceful shutdown.
//!
//! The server turns bytes into `http::Request<`[`RequestBody`]`>` and calls
//! your service, whichever protocol carried the request, so one service and
//! one stack of layers serves all three; it knows nothing of routing or
//! middleware. Any
//! cloneable service whose response body is an
//! [`http_body::Body`]`<Data = Bytes>` works, for example a `tower::service_fn`,
//! a router, or a `tower::ServiceBuilder` stack.
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use armature_server::Server;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use armature_server::RequestBody;
//!
//! async fn hello(req: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     let body = format!("hello from {} over {:?}\n", req.uri().path(), req.version());
//!     Ok(Response::new(Full::new(Bytes::from(body))))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), armature_server::ServerError> {
//!     Server::bind(([0, 0, 0, 0], 8080))?
//!         .header_read_timeout(Duration::from_secs(5))
//!         .shutdown_timeout(Duration::from_secs(20))
//!         // Also stops on SIGINT / SIGTERM.
//!         .serve(tower::service_fn(hello))
//!         .await
//! }
//! ```
//!
//! Without a runtime of your own, [`Server::run`] builds its own (by default
//! one current-thread runtime per core, each with its own `SO_REUSEPORT`
//! listener; or a shared multi-thread runtime with
//! [`RuntimeMode::MultiThread`]) and blocks until shutdown.
//!
//! # Protocols
//!
//! * **HTTP/1.1 and HTTP/2 on one port.** A cleartext connection that opens
//!   with the HTTP/2 preface is served as HTTP/2 (h2c with prior knowledge),
//!   anything else as HTTP/1.x. Over TLS ([`Server::tls_pem`],
//!   [`Server::tls_config`]) the protocol is the one negotiated by ALPN
//!   (`h2`, else `http/1.1`). Each is handed to hyper's own per-protocol
//!   connection builder.
//! * **HTTP/3 beside them** ([`Server::http3`]): QUIC on UDP at the same
//!   address and port, calling the same service, with request and response
//!   bodies streaming both ways and trailers passed through. It needs TLS;
//!   [`Server::dev_cert`] makes a self-signed certificate for development.
//!   HTTP/1.1 and HTTP/2 responses then advertise it with
//!   `Alt-Svc: h3=":PORT"; ma=86400`, the server's own refusals and error
//!   answers included.
//! * **A service error is an answer, on every protocol.** A service whose
//!   future (or `poll_ready`) returns an error gets its client a `500` (the
//!   error logged at error level), or a `400` when the error is a
//!   [`BodyError`], the request body being unreadable (a handler reading it
//!   with `?` returns that): never a connection dropped without a word, which
//!   is what hyper does. Over HTTP/1 the connection is closed after it (the
//!   request body may be unread); over HTTP/2 and HTTP/3 only that stream is
//!   answered so, and the connection goes on.
//! * **Upgrades (WebSockets) over HTTP/1.1.** A service takes the connection
//!   with `hyper::upgrade::on(&mut request)` and answers `101 Switching
//!   Protocols`; axum's `WebSocketUpgrade` works unchanged. From then on the
//!   connection is the service's: the header-read timeout no longer applies,
//!   and graceful shutdown does not wait for it (as with `axum::serve`): close
//!   long-lived sockets from your own shutdown signal. (HTTP/2's extended
//!   `CONNECT` is not enabled: browsers open an HTTP/1.1 connection for a
//!   WebSocket then.)
//! * **RFC 9112 `Host` rules.** An HTTP/1.1 request without `Host`, or any
//!   HTTP/1 request with two `Host` headers or an invalid one, is answered
//!   `400 Bad Request` with `Connection: close` and never reaches your
//!   service. HTTP/1.0 may omit `Host`. A request target in absolute form
//!   (`GET http://a.example/ HTTP/1.1`) names the host itself: its authority
//!   must be a valid host (`400` otherwise), and the service sees it as `Host`
//!   whatever `Host` said (RFC 9112 §3.2.2). HTTP/2 and HTTP/3 use `:authority`,
//!   and a `Host` sent beside it must be one, valid, and agree with it; an
//!   `:authority` that is not a valid host (userinfo, a bad port) gets `400` too.
//!   Over HTTP/3 the server also answers `400` to an `:authority` with
//!   userinfo, connection-specific fields, `TE` other than `trailers`, and an
//!   invalid or conflicting `Content-Length` (RFC 9114 §4.2, §4.3.1), and a
//!   body that does not match its `Content-Length` fails to read (its
//!   stream stopped with `H3_MESSAGE_ERROR`); h3 itself resets the streams of
//!   heads missing a pseudo-header or with `Host` and `:authority` at odds.
//! * **Malformed requests** get hyper's `400` (or `431`/`414`) and the
//!   connection is closed. A request target that does not fit within
//!   `max_header_size` gets `431` (the whole head is over the limit; hyper's
//!   `414` only answers targets past its own 64 KiB buffer). On a connection's first request the answer says
//!   what was wrong in a `text/plain` body (`Request Header Fields Too Large:
//!   the request head is over 16384 bytes or 100 header fields`); after a
//!   served request on a keep-alive connection it keeps hyper's empty body.
//!   Ambiguous framing such as `Content-Length` with
//!   `Transfer-Encoding` is read as chunked and the connection closed after
//!   the response (RFC 9112 §6.3), so nothing can be smuggled after it. A
//!   chunked body with another transfer coding before `chunked` gets `501`
//!   (the server applies none), `chunked` twice `400` (RFC 9112 §6.1).
//! * **One `Cookie` field.** HTTP/2 and HTTP/3 clients, browsers among them,
//!   may send each cookie in a `Cookie` field of its own; the server joins
//!   them into one with `"; "` before your service sees the request (RFC 9113
//!   §8.2.3, RFC 9114 §4.2.1), so `req.headers().get(COOKIE)` holds every
//!   cookie on every protocol.
//! * **Client address.** Every request carries the client's address as a
//!   `std::net::SocketAddr` in its extensions; Armature's logger and rate
//!   limiter read it from there. A service that needs it nowhere can turn
//!   it off with [`Server::peer_addr_extension`].
//! * **A client that closes its side is gone.** An HTTP/1 client that shuts its
//!   sending side while its request is being served (`nc -N`, some health
//!   checkers do) is taken to have left, as nginx takes it: the request is
//!   dropped, which is how a service learns that a client went away (the
//!   bindings' `req.signal` / `is_disconnected()`). Such a client gets an
//!   answer only if it was ready at once. (hyper's `half_close` would keep the
//!   exchange open instead, and lose that signal.)
//! * **Limits that cannot work** (a zero size, count or timeout, a header size
//!   past [`MAX_HEADER_SIZE_LIMIT`]) are a [`ServerError::Config`] naming the
//!   limit when serving starts ([`Limits::check`]), not a server that refuses
//!   everything or a panic.
//! * Accepted sockets get `TCP_NODELAY`. Flushing the responses to
//!   pipelined HTTP/1 requests together is available but off by default,
//!   because hyper 1.12 then loses error responses
//!   (see [`Server::http1_pipeline_flush`]).
//! * HTTP/1 responses go out as one vectored write of the head and the body's
//!   buffers as they are. An API whose answers are all small saves 4–5% of
//!   the server's work by having them copied into one buffer instead
//!   ([`Server::http1_writev`]); large bodies are cheaper uncopied.
//!
//! # Limits and their defaults
//!
//! All live in [`Limits`] and have builder methods on [`Server`].
//!
//! | limit | default | why |
//! |---|---|---|
//! | [`header_read_timeout`](Server::header_read_timeout) | 10 s | Slowloris protection: a client must send its whole request head in this time. Also bounds the TLS handshake and the first bytes, and is the idle timeout of HTTP/1 keep-alive connections and of HTTP/2 and HTTP/3 connections (`GOAWAY`, then closed). |
//! | [`max_header_size`](Server::max_header_size) | 16 KiB | Bounds what one HTTP/1 client makes the server buffer; larger heads get `431`. Node.js uses the same. |
//! | [`http2_max_concurrent_streams`](Server::http2_max_concurrent_streams) | 200 | Bounds the work one HTTP/2 connection can start at once (hyper's default; RFC 9113 suggests at least 100). |
//! | [`http2_max_header_list_size`](Server::http2_max_header_list_size) | 16 KiB | The HTTP/2 twin of `max_header_size`. |
//! | [`http3_max_concurrent_streams`](Server::http3_max_concurrent_streams) | 200 | The HTTP/3 twin (the QUIC bidirectional stream limit). |
//! | [`http3_idle_timeout`](Server::http3_idle_timeout) | 30 s | Closes QUIC connections whose client fell silent (quinn's default). |
//! | HTTP/3 receive windows | 1 MiB a stream, 4 MiB a connection | What a client can make the server hold of bodies its handlers have not read yet (hyper's HTTP/2 windows are 1 MiB); quinn's own connection window is unlimited. |
//! | HTTP/3 frames other than DATA | twice `max_header_size`, at least 16 KiB | h3 reads such frames whole into memory; a longer one resets its request stream, or closes the connection if on the control stream (`H3_EXCESSIVE_LOAD`). |
//! | [`shutdown_timeout`](Server::shutdown_timeout) | 10 s | How long in-flight requests may run after shutdown begins; well inside the 30 s supervisors such as Kubernetes wait before killing. |
//! | [`keep_alive`](Server::keep_alive) | on | Reusing connections is much cheaper than opening new ones. |
//! | HTTP/1 headers per request | 100 | hyper's fixed default; more get `431`. |
//! | lingering close | 3 s / 64 MiB | After an error response (or any answer that closes the connection, such as a body limit's `413` to an upload not read) the server reads and discards what the client is still sending, so the client's upload ends normally and it sees the response instead of a reset. |
//!
//! Not bounded by the server, so add a layer if you need them: the time a
//! client may take to send a request *body* (for example tower-http's
//! `RequestBodyTimeoutLayer`) and the time a handler may run
//! (`armature_layers::timeout::TimeoutLayer`). An idle connection is bounded on every protocol by
//! `header_read_timeout` (above).
//!
//! # Shutdown
//!
//! SIGINT, SIGTERM (switch off with [`Server::shutdown_on_signals`]) or the
//! future given to [`Server::with_graceful_shutdown`] begins it. Then:
//!
//! * The listener is closed, so new connections are refused. Connections the
//!   kernel had already completed and queued are accepted first and treated as
//!   the open ones below (closing the listener would reset them, with whatever
//!   request they carry).
//! * What a client has sent is answered, not dropped. The server first reads
//!   what has arrived on a connection, then serves an HTTP/1 request that is in
//!   flight or whose head has begun arriving (all of it or part, first request
//!   or a later one on a keep-alive connection), and one that came with the last
//!   flight of a TLS handshake. Its response says `Connection: close`, and the
//!   connection is closed after it.
//! * A connection on which nothing of a request has come (an idle keep-alive
//!   connection, a TLS handshake still under way, a silent one) is closed at once.
//! * HTTP/2 clients get `GOAWAY`; the streams they opened before seeing it are
//!   served. HTTP/3 connections get `GOAWAY`, then `CONNECTION_CLOSE` once their
//!   requests are done.
//! * In-flight requests run to completion within
//!   [`shutdown_timeout`](Server::shutdown_timeout); then the remaining connections
//!   are closed and `serve`/`run` returns.
//!
//! A head that has begun arriving is waited for under its usual
//! [`header_read_timeout`](Server::header_read_timeout): a client that stops
//! mid-head holds shutdown up to that long (never past the deadline). One case
//! is out of reach: part of a next request head that a pipelining HTTP/1
//! client sent together with the previous request. hyper holds such bytes in
//! its own buffer and does not tell whether it holds any (not through the
//! connection type that supports upgrades), so after the previous response the
//! connection looks idle and is closed; RFC 9112 §9.3.2 has a pipelining
//! client retry requests left unanswered when a connection closes. And a
//! request of which no byte has reached the server when it looks is not seen:
//! its connection is closed as an idle one, the race every server that closes
//! keep-alive connections runs (clients retry idempotent requests on a fresh
//! connection, RFC 9110 §9.2.2).
//!
//! # Logging
//!
//! Problems on one connection (garbage, resets, timeouts) are logged with
//! `tracing` at debug level; start, stop and accept failures at info, warn
//! or error. Nothing a client sends can make the server panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accept;
mod body;
mod bounds;
mod connection;
mod cookie;
mod dev_cert;
mod drain;
mod error;
mod forward;
mod head_timeout;
mod host;
mod http3;
mod limits;
mod linger;
mod listener;
mod parse_errors;
mod rewind;
mod runtime;
mod serve;
mod server;
mod signal;
mod sniff;
mod timer;
mod tls;

pub use body::{BodyError, RequestBody};
pub use dev_cert::DevCert;
pub use error::ServerError;
pub use limits::{Limits, MAX_HEADER_SIZE_LIMIT};
pub use runtime::RuntimeMode;
pub use server::Server;

/// The rustls version [`Server::tls_config`] takes, re-exported so your
/// `ServerConfig` is built with the same one.
pub use rustls;
