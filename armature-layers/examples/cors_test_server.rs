//! One origin of the CORS browser test (`tests/it/cors_browser.rs`), run by hand: the page origin,
//! or an API origin behind the CORS layer with one of the presets of `tests/browser/server.rs`.
//!
//! ```text
//! cargo run -p armature-layers --example cors_test_server -- --page --port 8000
//! cargo run -p armature-layers --example cors_test_server -- --port 8001 --preset app \
//!     --page-origin http://127.0.0.1:8000
//! ```
//!
//! Then open <http://127.0.0.1:8000/> and, in the console,
//! `await (await fetch("http://127.0.0.1:8001/x", { method: "PUT", headers: { "x-custom": "1" } })).text()`.
//! Presets: app, credentials, other, permissive, null. Stops on Ctrl-C.

#[path = "../tests/browser/server.rs"]
mod server;

use std::net::TcpListener;
use std::process::ExitCode;

struct Args {
    port: u16,
    page: bool,
    preset: String,
    page_origin: Option<String>,
}

const USAGE: &str = "usage: cors_test_server --port N (--page | --preset NAME [--page-origin URL])";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        page: false,
        preset: "app".into(),
        page_origin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                args.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--page" => args.page = true,
            "--preset" => args.preset = value("--preset")?,
            "--page-origin" => args.page_origin = Some(value("--page-origin")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("cors_test_server: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "cors_test_server: cannot listen on port {}: {err}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().expect("bound");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let served = if args.page {
        println!("page origin on http://{addr}/");
        server::serve_page(listener, ctrl_c).await
    } else {
        let page_origin = args
            .page_origin
            .unwrap_or_else(|| "http://127.0.0.1:8000".into());
        let layer = match server::preset(&args.preset, &page_origin) {
            Ok(layer) => layer,
            Err(err) => {
                eprintln!("cors_test_server: {err}");
                return ExitCode::from(2);
            }
        };
        println!(
            "API origin on http://{addr}/ with preset {:?} for page {page_origin}",
            args.preset
        );
        server::serve_api(listener, layer, server::Hits::default(), ctrl_c).await
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cors_test_server: {err}");
            ExitCode::FAILURE
        }
    }
}
