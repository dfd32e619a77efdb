//! `Server::dev_cert` and `DevCert`: PEM files written, and a server using
//! its own development certificate speaks HTTP/3. In its own test binary,
//! because it finds the server's certificate among the files this process
//! wrote.

mod common;

use armature_server::rustls;
use common::h3::{dev_cert, service};
use common::Running;
use tokio::sync::mpsc;

/// The certificates of every development certificate this test process
/// has written so far.
fn dev_certs_of_this_process() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    let prefix = format!("armature-dev-cert-{}-", std::process::id());
    let mut certs = Vec::new();
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let path = entry.path().join("cert.pem");
            if let Ok(cert) = rustls::pki_types::CertificateDer::from_pem_file(path) {
                certs.push(cert);
            }
        }
    }
    certs
}

#[tokio::test]
async fn dev_cert_writes_pem_files_and_server_dev_cert_serves_http3() {
    let before = dev_certs_of_this_process().len();
    let cert = dev_cert();
    assert_eq!(dev_certs_of_this_process().len(), before + 1);
    let pem = std::fs::read_to_string(cert.cert_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let key = std::fs::read_to_string(cert.key_path()).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));

    // Server::dev_cert makes its own when serving starts; find it among the
    // files this process wrote (trusting them all) and speak HTTP/3 to it.
    let before = dev_certs_of_this_process().len();
    let (started, _rx) = mpsc::unbounded_channel();
    let server = Running::start_with(
        common::local_server().dev_cert().http3(true),
        service(1, started),
    );
    let mut certs = dev_certs_of_this_process();
    for _ in 0..500 {
        if certs.len() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        certs = dev_certs_of_this_process();
    }
    let client = common::h3::h3_connect_trusting(server.addr, &certs).await;
    let res = client.get(server.addr, "/plaintext").await.unwrap();
    assert_eq!(res.text(), "Hello, World!");
    server.stop().await.unwrap();

    // Files live as long as their owner: the server's are gone once it
    // stopped, ours once the last clone is dropped, kept ones stay.
    assert_eq!(dev_certs_of_this_process().len(), before);
    let dir = cert.cert_path().parent().unwrap().to_path_buf();
    let clone = cert.clone();
    drop(cert);
    assert!(dir.exists(), "a clone still holds the files");
    drop(clone);
    assert!(!dir.exists(), "{} left behind", dir.display());
    let kept = dev_cert().keep();
    assert!(kept.join("cert.pem").exists());
    std::fs::remove_dir_all(kept).unwrap();
}
