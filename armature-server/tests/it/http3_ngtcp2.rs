//! HTTP/3 judged by a client not built on h3 or quinn: ngtcp2's
//! `gtlsclient` (ngtcp2 + nghttp3 + GnuTLS). It must be installed
//! (`apt-get install -y ngtcp2-client` on Debian); a missing client fails
//! these tests rather than skipping them.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::h3::{dev_cert, h3_server, pattern, service};
use common::{Running, GUARD};
use tokio::sync::mpsc;

const CLIENT: &str = "gtlsclient";

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "armature-ngtcp2-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs gtlsclient against `port` on 127.0.0.1 (the IP in the certificate)
/// with `args`, killing it if it outlives the guard.
/// `args` are the options, then the URIs: `https://…` arguments go after
/// the host and port, as gtlsclient wants.
fn gtlsclient(port: u16, args: &[String]) -> Output {
    let (uris, options): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| a.starts_with("https://"));
    let mut command = Command::new(CLIENT);
    command
        .args(options)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .args(uris)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap_or_else(|error| {
        panic!(
            "could not run `{CLIENT}` ({error}): this test needs ngtcp2's client; \
             install it with `apt-get install -y ngtcp2-client`"
        )
    });
    // Read its output while it runs (a full pipe would block it), on a thread, so that a
    // hang is cut off after the guard.
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(GUARD) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("{CLIENT} hung");
        }
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("no download {name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtlsclient_gets_the_three_endpoints_over_h3() {
    let cert = dev_cert();
    let (started, _rx) = mpsc::unbounded_channel();
    let server = Running::start_with(h3_server(&cert), service(1, started));
    let port = server.addr.port();
    let dir = TempDir::new("get");
    let args = vec![
        "--exit-on-all-streams-close".to_owned(),
        "--no-quic-dump".to_owned(),
        format!("--download={}", dir.0.display()),
        format!("https://127.0.0.1:{port}/plaintext"),
        format!("https://127.0.0.1:{port}/json"),
        format!("https://127.0.0.1:{port}/users/42"),
    ];
    let out = tokio::task::spawn_blocking(move || gtlsclient(port, &args))
        .await
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{CLIENT} failed: {log}");
    assert!(log.contains("Negotiated ALPN is h3"), "{log}");
    assert_eq!(log.matches(":status: 200").count(), 3, "{log}");
    assert_eq!(read(&dir.0, "plaintext"), b"Hello, World!");
    assert_eq!(read(&dir.0, "json"), br#"{"message":"Hello, World!"}"#);
    assert_eq!(read(&dir.0, "42"), br#"{"id":"42","name":"Alice"}"#);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtlsclient_posts_4_mib_and_gets_it_back_byte_exact() {
    let cert = dev_cert();
    let (started, _rx) = mpsc::unbounded_channel();
    let server = Running::start_with(h3_server(&cert), service(1, started));
    let port = server.addr.port();
    let dir = TempDir::new("post");
    let body = pattern(4 * 1024 * 1024);
    let upload = dir.0.join("upload.bin");
    std::fs::write(&upload, &body).unwrap();
    let download = dir.0.join("dl");
    std::fs::create_dir_all(&download).unwrap();
    let args = vec![
        "--quiet".to_owned(),
        "--exit-on-all-streams-close".to_owned(),
        format!("--data={}", upload.display()),
        format!("--download={}", download.display()),
        format!("https://127.0.0.1:{port}/echo"),
    ];
    let out = tokio::task::spawn_blocking(move || gtlsclient(port, &args))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{CLIENT} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let echoed = read(&download, "echo");
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body[..], "echoed body differs");
    server.stop().await.unwrap();
}
