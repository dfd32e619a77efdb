//! A mock server for any OpenAPI 3 document (JSON): every operation answers with its example
//! (or one generated from its schema) after checking parameters and JSON bodies against the
//! document (`422` naming the failing field), with the docs beside it.
//!
//! ```text
//! cargo run --release --example mock -- path/to/openapi.json --port 4010
//! open http://localhost:4010/docs          # Swagger UI, try-it-out calls the mock
//! curl localhost:4010/openapi.json
//! curl -i localhost:4010/api/v3/pet/abc    # (Petstore) 422: path parameter petId
//! ```
//!
//! Operations are mounted under the path of the document's first `servers` URL (`/api/v3` for
//! the Petstore), as the real backend would serve them.

use std::process::ExitCode;

use armature_examples::{init_tracing, Args};
use armature_server::{RequestBody, Server};

const USAGE: &str = "usage: mock <openapi.json> [--port N]";

fn main() -> ExitCode {
    init_tracing();
    let (args, path) = Args::from_env_or_exit("mock", USAGE, |args| match args.rest.as_slice() {
        [help] if help == "--help" || help == "-h" => Err("help".to_owned()),
        [option] if option.starts_with('-') => Err(format!("unknown option `{option}`")),
        [path] => {
            let path = path.clone();
            Ok((args, path))
        }
        _ => Err("expected one OpenAPI document (JSON)".to_owned()),
    });
    let doc: serde_json::Value = match std::fs::read(&path)
        .map_err(|err| err.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|err| err.to_string()))
    {
        Ok(doc) => doc,
        Err(err) => {
            eprintln!("mock: cannot read {path} as JSON: {err}");
            return ExitCode::from(2);
        }
    };
    let mock = match armature_openapi::mock::<RequestBody>(&doc) {
        Ok(mock) => mock,
        Err(err) => {
            eprintln!("mock: {path}: {err}");
            return ExitCode::from(2);
        }
    };
    let served = Server::bind(args.addr()).and_then(|server| {
        tracing::info!(
            "mock of {path} on http://{0}, docs at http://{0}/docs",
            server.local_addr()
        );
        server.run(mock)
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mock: {err}");
            ExitCode::FAILURE
        }
    }
}
