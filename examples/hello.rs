//! The three benchmark endpoints, served over HTTP/1.1 and HTTP/2 on one port.
//!
//! ```text
//! cargo run --release --example hello -- --port 3000
//! curl localhost:3000/plaintext          # Hello, World!
//! curl localhost:3000/json               # {"message":"Hello, World!"}
//! curl localhost:3000/users/42           # {"id":"42","name":"Alice"}
//! curl --http2-prior-knowledge localhost:3000/plaintext
//! ```

use std::process::ExitCode;

use armature_examples::{hello_routes, init_tracing, Args};
use armature_server::Server;
use hyper::body::Incoming;

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let args = match Args::from_env() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("hello: {err}\nusage: hello [--port N]");
            return ExitCode::from(2);
        }
    };
    let router = hello_routes::<Incoming>()
        .build()
        .expect("the hello routes are valid");
    let server = match Server::bind(args.addr()) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("hello: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{}", args.addr());
    match server.serve(router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hello: {err}");
            ExitCode::FAILURE
        }
    }
}
