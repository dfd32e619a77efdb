//! The three benchmark endpoints, served over HTTP/1.1 and HTTP/2 on one port.
//!
//! ```text
//! cargo run --release --example hello -- --port 3000 [--runtime per-core|multi-thread]
//! curl localhost:3000/plaintext          # Hello, World!
//! curl localhost:3000/json               # {"message":"Hello, World!"}
//! curl localhost:3000/users/42           # {"id":"42","name":"Alice"}
//! curl --http2-prior-knowledge localhost:3000/plaintext
//! ```

use std::process::ExitCode;

use armature_examples::{hello_routes, init_tracing, Args};
use armature_server::{RuntimeMode, Server};
use hyper::body::Incoming;

const USAGE: &str = "usage: hello [--port N] [--runtime per-core|multi-thread]";

fn main() -> ExitCode {
    init_tracing();
    let (args, runtime) = match Args::from_env().and_then(|args| {
        let runtime = runtime_mode(&args)?;
        Ok((args, runtime))
    }) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("hello: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let router = hello_routes::<Incoming>()
        .build()
        .expect("the hello routes are valid");
    let served = Server::bind(args.addr()).and_then(|server| {
        tracing::info!(?runtime, "listening on http://{}", server.local_addr());
        server.runtime(runtime).run(router)
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
