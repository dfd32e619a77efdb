//! The three benchmark endpoints, served over HTTP/1.1 and HTTP/2 on one port.
//!
//! ```text
//! cargo run --release --example hello -- --port 3000 [--runtime per-core|multi-thread]
//! curl localhost:3000/plaintext          # Hello, World!
//! curl localhost:3000/json               # {"message":"Hello, World!"}
//! curl localhost:3000/users/42           # {"id":"42","name":"Alice"}
//! curl --http2-prior-knowledge localhost:3000/plaintext
//! ```
//!
//! With `--http3` it serves HTTPS (HTTP/1.1 and HTTP/2 over TLS) on the TCP port and HTTP/3 on
//! the same UDP port, advertised with `Alt-Svc`. The certificate is `--cert PATH --key PATH`
//! (PEM), or else a self-signed development certificate whose path is printed:
//!
//! ```text
//! cargo run --release --example hello -- --http3
//! curl --cacert /tmp/armature-dev-cert-…/cert.pem --http3-only https://localhost:3000/plaintext
//! ```

use std::process::ExitCode;

use armature_examples::{hello_routes, init_tracing, Args};
use armature_server::{DevCert, RequestBody, RuntimeMode, Server, ServerError};

const USAGE: &str =
    "usage: hello [--port N] [--runtime per-core|multi-thread] [--http3 [--cert PATH --key PATH]]";

fn main() -> ExitCode {
    init_tracing();
    let (args, runtime) = Args::from_env_or_exit("hello", USAGE, |args| {
        args.only(&["--http3"], &["--runtime", "--cert", "--key"])?;
        let runtime = runtime_mode(&args)?;
        Ok((args, runtime))
    });
    let router = hello_routes::<RequestBody>()
        .build()
        .expect("the hello routes are valid");
    // The development certificate, if one is made, lives (and its files
    // with it) until the server stops.
    let mut dev_cert = None;
    let served = Server::bind(args.addr())
        .and_then(|server| with_http3(server, &args, &mut dev_cert))
        .and_then(|server| {
            tracing::info!(?runtime, "listening on {}", server.local_addr());
            // No handler here asks for the client's address: skip the `SocketAddr`
            // extension, and the allocation of each request's extension map with it.
            server
                .runtime(runtime)
                .peer_addr_extension(false)
                .run(router)
        });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--runtime per-core|multi-thread`; the server's default when absent.
fn runtime_mode(args: &Args) -> Result<RuntimeMode, String> {
    match args.values("--runtime").last().map(String::as_str) {
        None => Ok(RuntimeMode::default()),
        Some("per-core") => Ok(RuntimeMode::per_core()),
        Some("multi-thread") => Ok(RuntimeMode::multi_thread()),
        Some(other) => Err(format!("unknown runtime `{other}`")),
    }
}

/// `--http3 [--cert PATH --key PATH]`: TLS on TCP plus HTTP/3 on UDP, with the given
/// certificate or a fresh development one (its path printed on stderr).
fn with_http3(
    server: Server,
    args: &Args,
    dev_cert: &mut Option<DevCert>,
) -> Result<Server, ServerError> {
    if !args.flag("--http3") {
        return Ok(server);
    }
    let (cert, key): (std::path::PathBuf, std::path::PathBuf) =
        match (args.values("--cert").pop(), args.values("--key").pop()) {
            (Some(cert), Some(key)) => (cert.into(), key.into()),
            (None, None) => {
                let dev = DevCert::generate(["localhost", "127.0.0.1", "::1"])?;
                eprintln!(
                    "hello: self-signed development certificate: {} (key {})",
                    dev.cert_path().display(),
                    dev.key_path().display()
                );
                let paths = (dev.cert_path(), dev.key_path());
                *dev_cert = Some(dev);
                paths
            }
            _ => return Err(ServerError::Config("--cert and --key go together")),
        };
    Ok(server.tls_pem(cert, key).http3(true))
}
