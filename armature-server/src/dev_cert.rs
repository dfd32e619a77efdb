//! [`DevCert`]: a self-signed certificate for development.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::ServerError;

/// A freshly generated self-signed certificate and key (ECDSA P-256, by
/// `rcgen`), written as PEM files to a new directory under the system
/// temporary directory so that clients can be pointed at the certificate.
///
/// For development and tests only: no client trusts it unless told to.
/// [`Server::dev_cert`](crate::Server::dev_cert) makes one when the server
/// starts and logs where it is; make one yourself to know the path (or the
/// certificate) in advance.
///
/// The directory is removed when the last clone of the `DevCert` is
/// dropped (a server started with [`Server::dev_cert`](crate::Server::dev_cert)
/// keeps its own until serving ends); [`keep`](DevCert::keep) leaves it on
/// disk instead.
///
/// ```
/// use armature_server::{DevCert, Server};
///
/// let cert = DevCert::generate(["localhost", "127.0.0.1"]).unwrap();
/// println!("curl --cacert {} https://localhost:3000/", cert.cert_path().display());
/// let server = Server::bind(([127, 0, 0, 1], 0))
///     .unwrap()
///     .tls_pem(cert.cert_path(), cert.key_path())
///     .http3(true);
/// # drop(server);
/// ```
#[derive(Debug, Clone)]
pub struct DevCert {
    cert: CertificateDer<'static>,
    /// PKCS #8 DER.
    key: Vec<u8>,
    dir: Arc<CertDir>,
}

/// The directory of the PEM files, removed on drop unless kept.
#[derive(Debug)]
struct CertDir {
    path: PathBuf,
    keep: std::sync::atomic::AtomicBool,
}

impl Drop for CertDir {
    fn drop(&mut self) {
        if !self.keep.load(std::sync::atomic::Ordering::Relaxed) {
            // Best effort: a directory someone else removed is no error.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl DevCert {
    /// Generates a certificate valid for `names` (DNS names, or IP
    /// addresses such as `"127.0.0.1"`, which become IP subject alternative
    /// names) and writes `cert.pem` and `key.pem` (the latter readable by
    /// the owner only, on Unix) to a new directory.
    ///
    /// Fails with [`ServerError::DevCert`] if no name is usable or the
    /// files cannot be written.
    pub fn generate<I, N>(names: I) -> Result<Self, ServerError>
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|error| ServerError::DevCert(Box::new(error)))?;
        let dir = unique_dir()
            .and_then(|path| {
                // Owned at once, so the directory is removed if writing fails.
                let dir = Arc::new(CertDir {
                    path,
                    keep: false.into(),
                });
                write_files(
                    &dir.path,
                    &certified.cert.pem(),
                    &certified.signing_key.serialize_pem(),
                )?;
                Ok(dir)
            })
            .map_err(|error| ServerError::DevCert(Box::new(error)))?;
        Ok(Self {
            cert: certified.cert.der().clone(),
            key: certified.signing_key.serialize_der(),
            dir,
        })
    }

    /// The names [`Server::dev_cert`](crate::Server::dev_cert) certifies for
    /// a server on `addr`: `localhost`, `127.0.0.1`, `::1`, and the IP of
    /// `addr` when it is a specific address.
    pub(crate) fn names_for(addr: SocketAddr) -> Vec<String> {
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let ip = addr.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            names.push(ip.to_string());
        }
        names
    }

    /// The PEM certificate file: the one to trust in clients
    /// (`curl --cacert`, `SSL_CERT_FILE`, a test's root store).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path.join("cert.pem")
    }

    /// The PEM private key file (PKCS #8).
    pub fn key_path(&self) -> PathBuf {
        self.dir.path.join("key.pem")
    }

    /// Leaves the files on disk when the last clone is dropped (by default
    /// they are removed), and returns their directory: for a development
    /// server whose clients should keep trusting the certificate file after
    /// it exits.
    ///
    /// ```
    /// use armature_server::DevCert;
    ///
    /// let dir = DevCert::generate(["localhost"]).unwrap().keep();
    /// assert!(dir.join("cert.pem").exists());
    /// # std::fs::remove_dir_all(dir).unwrap();
    /// ```
    pub fn keep(self) -> PathBuf {
        self.dir
            .keep
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.dir.path.clone()
    }

    /// The certificate in DER, for a rustls `RootCertStore`.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// A ring-backed rustls configuration serving this certificate, as
    /// [`Server::tls_pem`](crate::Server::tls_pem) would build it.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, ServerError> {
        crate::tls::single_cert(
            vec![self.cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
        )
    }
}

/// A directory of its own under the system temp dir, created here. The name has the process
/// id, the time and a counter; a name that exists already (another process, a clock that
/// repeats itself) is skipped, never shared.
fn unique_dir() -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "armature-dev-cert-{}-{nanos}-{n}",
            std::process::id()
        ));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

fn write_files(dir: &Path, cert_pem: &str, key_pem: &str) -> std::io::Result<()> {
    std::fs::write(dir.join("cert.pem"), cert_pem)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut key = options.open(dir.join("key.pem"))?;
    std::io::Write::write_all(&mut key, key_pem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Certificates made at the same moment on several threads (as parallel tests do) each
    /// get a directory of their own; two once shared one when the clock repeated itself.
    #[test]
    fn concurrent_certificates_get_directories_of_their_own() {
        let certs: Vec<DevCert> = std::thread::scope(|scope| {
            let makers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| DevCert::generate(["localhost"]).expect("dev cert")))
                .collect();
            makers.into_iter().map(|m| m.join().unwrap()).collect()
        });
        let dirs: std::collections::HashSet<PathBuf> =
            certs.iter().map(|c| c.dir.path.clone()).collect();
        assert_eq!(dirs.len(), certs.len());
        for cert in &certs {
            let pem = std::fs::read_to_string(cert.cert_path()).unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(cert.key_path().is_file());
        }
        let paths: Vec<PathBuf> = certs.iter().map(|c| c.dir.path.clone()).collect();
        drop(certs);
        assert!(
            paths.iter().all(|p| !p.exists()),
            "removed with their certificate"
        );
    }

    #[test]
    fn each_call_creates_a_new_directory() {
        let first = unique_dir().unwrap();
        let second = unique_dir().unwrap();
        assert_ne!(first, second);
        assert!(first.is_dir() && second.is_dir());
        std::fs::remove_dir(first).unwrap();
        std::fs::remove_dir(second).unwrap();
    }
}
