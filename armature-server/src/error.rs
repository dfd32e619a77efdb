//! The one error type a server returns.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a [`Server`](crate::Server) could not start or stopped abnormally.
///
/// Errors inside one connection (a client sending garbage, a reset, a
/// timeout) never surface here: they are logged with `tracing` at debug
/// level and the server keeps serving everyone else.
///
/// ```
/// use armature_server::{Server, ServerError};
///
/// // Binding a port that is already in use fails with a typed error.
/// let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let taken = first.local_addr().unwrap();
/// let err = Server::bind(taken).unwrap_err();
/// assert!(matches!(err, ServerError::Bind { .. }));
/// assert!(err.to_string().contains(&taken.to_string()));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listening socket could not be created or bound to the address.
    #[error("could not bind {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The listening socket could not be prepared (non-blocking mode, local
    /// address, registration with the runtime).
    #[error("could not prepare the listener: {0}")]
    Listener(#[source] io::Error),

    /// A PEM file given to [`Server::tls_pem`](crate::Server::tls_pem) could
    /// not be read or parsed.
    #[error("could not load {what} from {path}: {source}")]
    Pem {
        /// `"certificate chain"` or `"private key"`.
        what: &'static str,
        /// The file that was read.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: rustls::pki_types::pem::Error,
    },

    /// rustls rejected the certificate and key (for example, the key does
    /// not match the certificate).
    #[error("invalid TLS configuration: {0}")]
    Tls(#[from] rustls::Error),

    /// The SIGINT/SIGTERM handlers could not be installed. Disable them with
    /// [`Server::shutdown_on_signals(false)`](crate::Server::shutdown_on_signals)
    /// if the host application owns signals.
    #[error("could not install signal handlers: {0}")]
    Signal(#[source] io::Error),

    /// A Tokio runtime could not be built by [`Server::run`](crate::Server::run).
    #[error("could not build the runtime: {0}")]
    Runtime(#[source] io::Error),

    /// [`Server::run`](crate::Server::run) was called from inside a Tokio
    /// runtime; use [`Server::serve`](crate::Server::serve) there instead.
    #[error("Server::run builds its own runtime and cannot be called from inside one; use `serve(..).await`")]
    NestedRuntime,

    /// A worker thread of [`RuntimeMode::PerCore`](crate::RuntimeMode::PerCore)
    /// panicked.
    #[error("a server worker thread panicked")]
    WorkerPanicked,

    /// A [`DevCert`](crate::DevCert) could not be generated or written.
    #[error("could not make the development certificate: {0}")]
    DevCert(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The configuration cannot work, for example zero workers, or HTTP/3
    /// without TLS.
    #[error("invalid server configuration: {0}")]
    Config(&'static str),
}
