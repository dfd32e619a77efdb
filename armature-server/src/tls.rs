//! TLS settings: loading PEM files and advertising HTTP/2 and HTTP/1.1
//! through ALPN.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::{DevCert, ServerError};

/// The ALPN protocol ids offered, in order of preference.
pub(crate) const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Where the TLS configuration comes from.
#[derive(Debug, Clone)]
pub(crate) enum TlsSource {
    /// PEM files, read when the server starts.
    Pem { cert: PathBuf, key: PathBuf },
    /// A configuration built by the user.
    Config(Arc<ServerConfig>),
    /// A self-signed certificate made when the server starts.
    DevCert,
}

impl TlsSource {
    /// The configuration as given, reading files or making the development
    /// certificate if needed; that certificate comes back too, for the
    /// server to keep (its files exist as long as it does).
    pub(crate) fn config(
        &self,
        local_addr: SocketAddr,
    ) -> Result<(Arc<ServerConfig>, Option<DevCert>), ServerError> {
        Ok(match self {
            TlsSource::Pem { cert, key } => (Arc::new(from_pem(cert, key)?), None),
            TlsSource::Config(config) => (config.clone(), None),
            TlsSource::DevCert => {
                let dev = DevCert::generate(DevCert::names_for(local_addr))?;
                tracing::warn!(
                    cert = %dev.cert_path().display(),
                    key = %dev.key_path().display(),
                    "serving with a self-signed development certificate; trust the cert file in test clients, never use it in production"
                );
                (Arc::new(dev.server_config()?), Some(dev))
            }
        })
    }
}

/// The TCP side's acceptor: `config` offering `h2` and `http/1.1`.
pub(crate) fn acceptor(config: Arc<ServerConfig>) -> TlsAcceptor {
    TlsAcceptor::from(with_alpn(config))
}

/// Reads a certificate chain and a private key from PEM files.
fn from_pem(cert: &Path, key: &Path) -> Result<ServerConfig, ServerError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| ServerError::Pem {
            what: "certificate chain",
            path: cert.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(ServerError::Pem {
            what: "certificate chain",
            path: cert.to_path_buf(),
            source: rustls::pki_types::pem::Error::NoItemsFound,
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|source| ServerError::Pem {
        what: "private key",
        path: key.to_path_buf(),
        source,
    })?;
    single_cert(chain, key_der)
}

/// A ring-backed configuration for one certificate chain and key, safe
/// default protocol versions (TLS 1.2 and 1.3), and no client auth.
pub(crate) fn single_cert(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(config)
}

/// Offers `h2` and `http/1.1` unless the user already chose protocols.
fn with_alpn(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if !config.alpn_protocols.is_empty() {
        return config;
    }
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}
