//! A real browser is the judge: headless Chromium (Debian's) opens `/docs` of a live server with
//! every request to any other origin blocked, expands `GET /api/users/{id}`, runs try-it-out
//! against the server and reads the response Swagger UI shows. A screenshot is kept at
//! `$CARGO_TARGET_TMPDIR/docs-browser/docs.png`.
//!
//! Needs Node.js, Debian's `chromium` and `npm ci` in `tests/js/`; without them this test fails
//! saying what to install. `CHROMIUM` overrides the browser path, `NODE` the node binary.

use crate::common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armature_openapi::DocsLayer;
use armature_server::RequestBody;
use common::{app, Live};
use http::Request;
use serde_json::{json, Value};
use tower::ServiceBuilder;

#[test]
fn chromium_runs_try_it_out_from_the_offline_docs_page() {
    let node = common::node();
    let chromium = common::chromium();
    let router = app::router::<RequestBody>();
    let spec = app::spec(&router);
    let hits: app::Hits = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&hits);
    let service = ServiceBuilder::new()
        .map_request(move |req: Request<RequestBody>| {
            let hit = format!("{} {}", req.method(), req.uri().path());
            recorder.lock().unwrap().push(hit);
            req
        })
        .layer(DocsLayer::new(&spec))
        .service(router);
    let live = Live::serve(service);

    let dir = common::scratch("docs-browser");
    let screenshot = dir.join("docs.png");
    let config = json!({
        "page": format!("{}/docs", live.url),
        "origin": live.url,
        "steps": [{"operation": "operations-users-get_user", "params": {"id": "42"}}],
        "screenshot": screenshot,
    });
    let config_path = dir.join("config.json");
    let out_path = dir.join("out.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut command = Command::new(node);
    command
        .arg(common::tests_dir().join("js/docs.mjs"))
        .arg(&config_path)
        .arg(&out_path)
        .env("CHROMIUM", chromium);
    let output = common::run(command, Duration::from_secs(180));
    let out: Value = std::fs::read(&out_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| {
            panic!(
                "the browser driver wrote no results ({:?}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    drop(live);
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    assert!(
        output.status.success() && out["failure"].is_null(),
        "the browser driver failed: {}\n{}",
        out["failure"],
        String::from_utf8_lossy(&output.stderr)
    );
    // Nothing but the server was asked for anything: the page works with no network.
    assert_eq!(out["blocked"], json!([]), "requests to other origins");
    let shown = &out["results"][0];
    let status = shown["status"].as_str().unwrap_or_default();
    assert_eq!(status, "200", "the status Swagger UI shows");
    let body: Value = serde_json::from_str(shown["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|err| panic!("the body Swagger UI shows is not JSON ({err}): {out}"));
    assert_eq!(body, json!({"id": 42, "name": "Alice"}));
    // The request really reached the live server, after the page and its spec.
    let hits = hits.lock().unwrap();
    for expected in ["GET /docs/", "GET /openapi.json", "GET /api/users/42"] {
        assert!(
            hits.iter().any(|h| h == expected),
            "{expected} missing: {hits:?}"
        );
    }
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    println!("screenshot: {}", screenshot.display());
}
