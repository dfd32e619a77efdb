//! What the integration tests share: a documented sample app, live servers, and the external
//! tools (Python validators, Node, tsc, Chromium), each found or failed for with a message
//! saying how to install it.

#![allow(dead_code)] // each test file uses a different part

pub mod app;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use armature_router::{BoxError, IntoResponse};
use armature_server::{RequestBody, Server};
use bytes::Bytes;
use http::{Request, Response};

pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A scratch directory for one test, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server on 127.0.0.1 (own runtime, two workers) serving `service` until dropped.
pub struct Live {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    served: Option<tokio::task::JoinHandle<Result<(), armature_server::ServerError>>>,
}

impl Live {
    pub fn serve<S, B>(service: S) -> Live
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(async move {
            Server::from_listener(listener)?
                .shutdown_on_signals(false)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .serve(service)
                .await
        });
        Live {
            url,
            stop: Some(stop),
            runtime: Some(runtime),
            served: Some(served),
        }
    }

    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(fut)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some(rt), Some(served)) = (self.runtime.take(), self.served.take()) {
            let _ = rt.block_on(served);
        }
    }
}

/// Any response into a router response (for the `hits` recorder).
pub fn into_response<R: IntoResponse>(res: R) -> armature_router::Response {
    res.into_response()
}

/// The Python of the test venv, with openapi-spec-validator installed, or a panic saying how
/// to make it. `OPENAPI_PYTHON` overrides the path.
pub fn python() -> PathBuf {
    let venv = tests_dir().join("python/.venv/bin/python");
    let python = std::env::var_os("OPENAPI_PYTHON").map_or(venv, PathBuf::from);
    let ok = Command::new(&python)
        .args([
            "-c",
            "import openapi_spec_validator, openapi_schema_validator",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the OpenAPI validators are missing ({}); install them with\n  \
         python3 -m venv armature-openapi/tests/python/.venv && \
         armature-openapi/tests/python/.venv/bin/pip install -r armature-openapi/tests/python/requirements.txt\n\
         (or set OPENAPI_PYTHON to a python that has them)",
        python.display()
    );
    python
}

/// Runs `check.py` with `args`; panics with its output unless it succeeds.
pub fn check_py(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python())
        .arg(tests_dir().join("python/check.py"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "check.py {args:?} failed:\n{text}");
    text
}

/// Node, and the npm packages of `tests/js` (puppeteer-core, typescript).
pub fn node() -> PathBuf {
    let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    let ok = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need Node.js (>= 18) on PATH (or NODE=/path/to/node): `apt-get install -y nodejs npm`"
    );
    let js = tests_dir().join("js");
    assert!(
        js.join("node_modules/puppeteer-core/package.json").exists()
            && js.join("node_modules/typescript/bin/tsc").exists(),
        "these tests need their npm packages: run `npm ci` in {}",
        js.display()
    );
    node
}

/// Debian's Chromium (`CHROMIUM` overrides), or a panic saying how to install it.
pub fn chromium() -> PathBuf {
    let chromium =
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    assert!(
        chromium.exists(),
        "this test needs Chromium at {} (or CHROMIUM=/path/to/chromium): \
         `apt-get update && apt-get install -y chromium` (never a downloaded browser)",
        chromium.display()
    );
    chromium
}

/// Runs a command to completion in its own process group, killing the whole group (a
/// browser the script started included) after `limit`. Its output is read while it runs
/// (`wait_with_output` on a thread), so a chatty child never blocks on a full pipe.
pub fn run(mut command: Command, limit: Duration) -> Output {
    use std::os::unix::process::CommandExt;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("{command:?} does not start: {err}"));
    let group = format!("-{}", child.id());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &group]).status();
            let out = rx.recv().ok().and_then(Result::ok);
            panic!(
                "{command:?} did not finish within {limit:?}:\n{}",
                out.map_or_else(String::new, |o| String::from_utf8_lossy(&o.stderr)
                    .into_owned())
            );
        }
    }
}
