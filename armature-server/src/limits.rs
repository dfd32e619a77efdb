//! The limits a server enforces on every connection, with their defaults.

use std::time::Duration;

/// Limits applied to every connection, with defaults chosen for a server
/// exposed to the internet.
///
/// Each field can be set on the [`Server`](crate::Server) builder directly
/// (`.max_header_size(..)`, ...) or all at once with
/// [`Server::limits`](crate::Server::limits).
///
/// ```
/// use std::time::Duration;
/// use armature_server::Limits;
///
/// let mut limits = Limits::default();
/// assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
/// assert_eq!(limits.max_header_size, 16 * 1024);
/// limits.max_header_size = 64 * 1024;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How long a client may take to send a complete request head (request
    /// line and headers). Default: **10 s**.
    ///
    /// This is the slowloris protection: a client trickling header bytes is
    /// disconnected when it runs out. The same deadline bounds the TLS
    /// handshake and the first bytes of a connection, and, because the clock
    /// starts again whenever an HTTP/1 connection waits for its next request,
    /// it is also the idle timeout of HTTP/1 keep-alive connections. An
    /// HTTP/2 connection that serves no stream for this long (idle, or
    /// holding half a header block) gets `GOAWAY`, and is closed if still
    /// open after as long again; an HTTP/3 one gets `GOAWAY` and is closed
    /// (it bounds the QUIC handshake and each HTTP/3 request head too). It does
    /// not limit a request once its head has arrived: a slow handler, a
    /// request body sent slowly or a long response stream are not cut off.
    /// One exception: the clock starts again once the server has taken the
    /// last bytes of a response into its buffers, so an HTTP/1 client that
    /// then stops reading for longer than the timeout loses the rest.
    /// Over HTTP/1 it is kept by a coarse timer: a connection is cut off after
    /// the timeout, never before, and at most 100 ms after.
    pub header_read_timeout: Duration,

    /// The largest HTTP/1 request head (request line plus headers) accepted,
    /// in bytes. Larger heads are answered with
    /// `431 Request Header Fields Too Large` and the connection is closed.
    /// Default: **16 KiB** (what Node.js uses; browsers' requests with
    /// cookies fit, and a client cannot make the server buffer much).
    pub max_header_size: usize,

    /// How many requests an HTTP/2 client may have in flight at once on one
    /// connection. Default: **200** (hyper's default; RFC 9113 recommends at
    /// least 100).
    pub http2_max_concurrent_streams: u32,

    /// The largest HTTP/2 header list (decoded, per RFC 9113 §6.5.2
    /// accounting) a client may send, in bytes. Default: **16 KiB**, the
    /// same bound as HTTP/1.
    pub http2_max_header_list_size: u32,

    /// How many requests an HTTP/3 client may have in flight at once on one
    /// connection (the QUIC bidirectional stream limit). Default: **200**,
    /// as for HTTP/2 (RFC 9114 §6.1 asks for at least 100).
    pub http3_max_concurrent_streams: u32,

    /// How long an HTTP/3 (QUIC) connection may go without receiving a
    /// packet before it is closed (the QUIC idle timeout, which also bounds
    /// a stalled handshake). A connection that receives packets (a client's
    /// keep-alive PINGs) but serves no request is closed after
    /// [`header_read_timeout`](Self::header_read_timeout) instead. Default: **30 s**, quinn's own. QUIC has no
    /// packets of its own while a handler thinks: a request whose handler
    /// stays silent longer than this is cut off with its connection unless
    /// the client sends keep-alive pings, so raise it for long polling.
    pub http3_idle_timeout: Duration,

    /// After shutdown begins, how long in-flight requests get to finish
    /// before their connections are closed anyway. Default: **10 s**, well
    /// inside the 30 s most process supervisors (Kubernetes, Docker) wait
    /// before they kill the process.
    pub shutdown_timeout: Duration,
}

/// The largest [`Limits::max_header_size`] accepted: hyper reads a request head into one buffer
/// of about this size, and no real client sends a head of more than a few hundred kilobytes.
pub const MAX_HEADER_SIZE_LIMIT: usize = 64 * 1024 * 1024;

impl Limits {
    /// Checks that every limit can work: a zero that would refuse every request (or, for the
    /// QUIC idle timeout, mean "never"), or a header size past [`MAX_HEADER_SIZE_LIMIT`], is a
    /// [`ServerError::Config`](crate::ServerError::Config) naming the limit. Serving calls it.
    ///
    /// ```
    /// use armature_server::Limits;
    ///
    /// assert!(Limits::default().check().is_ok());
    /// let mut limits = Limits::default();
    /// limits.http2_max_concurrent_streams = 0;
    /// let err = limits.check().unwrap_err();
    /// assert!(err.to_string().contains("http2_max_concurrent_streams"), "{err}");
    /// ```
    pub fn check(&self) -> Result<(), crate::ServerError> {
        use crate::ServerError::Config;
        if self.header_read_timeout.is_zero() {
            return Err(Config(
                "header_read_timeout is zero: every connection would be cut off",
            ));
        }
        if self.max_header_size == 0 {
            return Err(Config(
                "max_header_size is zero: every request would be refused",
            ));
        }
        if self.max_header_size > MAX_HEADER_SIZE_LIMIT {
            return Err(Config(
                "max_header_size is over 64 MiB (MAX_HEADER_SIZE_LIMIT)",
            ));
        }
        if self.http2_max_concurrent_streams == 0 {
            return Err(Config(
                "http2_max_concurrent_streams is zero: no HTTP/2 request could be made",
            ));
        }
        if self.http2_max_header_list_size == 0 {
            return Err(Config(
                "http2_max_header_list_size is zero: every HTTP/2 request would be refused",
            ));
        }
        if self.http3_max_concurrent_streams == 0 {
            return Err(Config(
                "http3_max_concurrent_streams is zero: no HTTP/3 request could be made",
            ));
        }
        if self.http3_idle_timeout.is_zero() {
            return Err(Config(
                "http3_idle_timeout is zero, which QUIC reads as no idle timeout at all",
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_size: 16 * 1024,
            http2_max_concurrent_streams: 200,
            http2_max_header_list_size: 16 * 1024,
            http3_max_concurrent_streams: 200,
            http3_idle_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}
