//! HTTP/3 over QUIC (h3 + h3-quinn + quinn, TLS 1.3 by rustls with ring),
//! on a UDP socket at the same address and port as the TCP listener.
//!
//! It serves the very same service as the TCP side: requests arrive as
//! `Request<RequestBody>`, with bodies streaming in both directions and
//! trailers passed through. The limits of the TCP side apply in their
//! HTTP/3 form, and shutdown follows the same [`Drain`](crate::drain)
//! phases.

mod body;
mod connection;
mod guard;
mod request;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use quinn::crypto::rustls::QuicServerConfig;

use crate::bounds::{ResBody, UserService};
use crate::drain::Watch;
use crate::{Limits, ServerError};

pub(crate) use body::H3Body;

/// The ALPN id of HTTP/3.
const ALPN_H3: &[u8] = b"h3";

/// After the accept loop stops, how long to wait for closing connections
/// to get their CONNECTION_CLOSE out before the endpoint goes.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How much of one request body a client may send ahead of the service
/// reading it (the QUIC stream receive window), as hyper allows over HTTP/2.
const STREAM_WINDOW: u32 = 1024 * 1024;

/// How much a client may send ahead of the server reading it on all the
/// streams of one connection together (the QUIC connection receive window).
/// quinn's default is unlimited: with handlers that do not read their bodies
/// (yet), a client made the server buffer 1.25 MB per stream, 250 MB per
/// connection at 200 streams.
const CONNECTION_WINDOW: u32 = 4 * STREAM_WINDOW;

/// Per-connection settings shared by every HTTP/3 connection.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Bounds the QUIC handshake and each request head.
    pub(crate) opening_timeout: Duration,
    pub(crate) max_field_section_size: u64,
    /// Whether requests carry the client's `SocketAddr` extension.
    pub(crate) peer_addr: bool,
}

/// A bound UDP socket and the QUIC configuration, ready to serve.
pub(crate) struct Http3Listener {
    socket: UdpSocket,
    config: quinn::ServerConfig,
    settings: Arc<Settings>,
}

impl Http3Listener {
    /// Binds UDP on `addr` and builds the QUIC configuration from the
    /// server's TLS configuration (ALPN replaced by `h3`).
    pub(crate) fn bind(
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        limits: &Limits,
        peer_addr: bool,
    ) -> Result<Self, ServerError> {
        let mut tls = Arc::unwrap_or_clone(tls);
        tls.alpn_protocols = vec![ALPN_H3.to_vec()];
        // QUIC requires 0 or u32::MAX here; we do not accept 0-RTT data.
        tls.max_early_data_size = 0;
        let crypto = QuicServerConfig::try_from(Arc::new(tls)).map_err(|_| {
            ServerError::Config("HTTP/3 needs a TLS configuration that allows TLS 1.3")
        })?;
        let mut transport = quinn::TransportConfig::default();
        transport.max_concurrent_bidi_streams(limits.http3_max_concurrent_streams.into());
        let idle = quinn::IdleTimeout::try_from(limits.http3_idle_timeout)
            .map_err(|_| ServerError::Config("http3_idle_timeout is too large"))?;
        transport.max_idle_timeout(Some(idle));
        transport
            .stream_receive_window(STREAM_WINDOW.into())
            .receive_window(CONNECTION_WINDOW.into());
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport));

        let socket = UdpSocket::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            socket,
            config,
            settings: Arc::new(Settings {
                opening_timeout: limits.header_read_timeout,
                max_field_section_size: limits.max_header_size as u64,
                peer_addr,
            }),
        })
    }

    /// The `Alt-Svc` value the TCP side advertises this listener with.
    pub(crate) fn alt_svc(&self) -> Result<HeaderValue, ServerError> {
        let port = self
            .socket
            .local_addr()
            .map_err(ServerError::Listener)?
            .port();
        HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400"))
            .map_err(|_| ServerError::Config("unrepresentable Alt-Svc value"))
    }

    /// Starts the QUIC endpoint on the current Tokio runtime (its I/O
    /// driver runs there).
    pub(crate) fn start(self) -> Result<Http3Endpoint, ServerError> {
        let addr = self.socket.local_addr().map_err(ServerError::Listener)?;
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(self.config),
            self.socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(ServerError::Listener)?;
        tracing::info!(%addr, "serving HTTP/3");
        Ok(Http3Endpoint {
            endpoint,
            settings: self.settings,
        })
    }
}

/// A running QUIC endpoint.
pub(crate) struct Http3Endpoint {
    endpoint: quinn::Endpoint,
    settings: Arc<Settings>,
}

impl Http3Endpoint {
    /// Serves until the server stops running, one task per connection on
    /// the current runtime.
    pub(crate) async fn serve<S, B>(self, service: S, watch: Watch)
    where
        S: UserService<B>,
        B: ResBody,
    {
        let endpoint = self.endpoint;
        let mut changes = watch.changes();
        loop {
            let incoming = tokio::select! {
                biased;
                () = changes.stopping() => break,
                incoming = endpoint.accept() => incoming,
            };
            let Some(incoming) = incoming else { break };
            tokio::spawn(connection::serve_connection(
                incoming,
                self.settings.clone(),
                service.clone(),
                changes.watch(),
            ));
        }
        // New connection attempts are refused from now on (CONNECTION_REFUSED,
        // so clients learn of it at once: with no server configuration quinn
        // ignores them, and a client waited out its own handshake timeout);
        // established ones drain on their own (they hold watches).
        tracing::debug!("HTTP/3 listener closed");
        let refuse = async {
            while let Some(incoming) = endpoint.accept().await {
                incoming.refuse();
            }
        };
        // Keep this watch until the connections have closed, so their
        // CONNECTION_CLOSE frames go out before the runtime may stop.
        tokio::select! {
            () = endpoint.wait_idle() => {}
            () = refuse => {}
            () = closing(&mut changes) => {
                let _ = tokio::time::timeout(CLOSE_WAIT, endpoint.wait_idle()).await;
            }
        }
    }
}

/// Resolves at [`Phase::Closing`](crate::drain::Phase::Closing).
async fn closing(changes: &mut crate::drain::Changes) {
    while std::future::poll_fn(|cx| changes.poll_changed(cx)).await != crate::drain::Phase::Closing
    {
    }
}
