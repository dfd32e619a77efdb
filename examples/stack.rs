//! The preset stack: request id → logger → CORS → router, serving the three benchmark
//! endpoints of `examples/hello.rs`.
//!
//! ```text
//! cargo run --release --example stack -- --port 3000 [--cors-origin https://app.example]...
//! curl -i localhost:3000/users/42 -H 'origin: https://app.example'
//! ```
//!
//! Without `--cors-origin` CORS is permissive (any origin, for development). With one or more,
//! only those exact origins get CORS headers; an invalid origin is refused at start-up.

use std::convert::Infallible;
use std::process::ExitCode;

use armature_examples::{hello_routes, init_tracing, Args};
use armature_layers::cors::{Cors, CorsError, CorsLayer};
use armature_layers::logger::Logger;
use armature_layers::request_id::RequestIdLayer;
use armature_server::Server;
use http::{Request, Response};
use hyper::body::Incoming;
use tower::{Service, ServiceBuilder};

const USAGE: &str = "usage: stack [--port N] [--cors-origin ORIGIN]...";

/// CORS for `origins`: permissive when there are none.
pub fn cors(origins: &[String]) -> Result<CorsLayer, CorsError> {
    if origins.is_empty() {
        return Ok(Cors::permissive());
    }
    Cors::builder()
        .allow_origins(origins.iter().map(String::as_str))
        .allow_any_method()
        .allow_any_header()
        .expose_headers([http::HeaderName::from_static("x-request-id")])
        .build()
}

/// The whole preset stack around the hello routes.
pub fn app(
    cors: CorsLayer,
) -> impl Service<
    Request<Incoming>,
    Response = Response<
        impl http_body::Body<
                Data = bytes::Bytes,
                Error = impl Into<Box<dyn std::error::Error + Send + Sync>>,
            > + Send
            + 'static,
    >,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + 'static {
    let router = hello_routes::<Incoming>()
        .build()
        .expect("the hello routes are valid");
    ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(Logger::default())
        .layer(cors)
        .service(router)
}

#[allow(dead_code)]
fn main() -> ExitCode {
    init_tracing();
    let args = match Args::from_env() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("stack: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cors = match cors(&args.values("--cors-origin")) {
        Ok(cors) => cors,
        Err(err) => {
            eprintln!("stack: invalid CORS configuration: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let served = Server::bind(args.addr()).and_then(|server| {
        tracing::info!("preset stack on http://{}", server.local_addr());
        server.run(app(cors))
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stack: {err}");
            ExitCode::FAILURE
        }
    }
}
