//! The generated TypeScript client compiles with `tsc --strict`, its types reject a wrong call,
//! and it talks to the Petstore mock server over a real socket.
//!
//! Needs Node.js and `npm ci` in `tests/js/` (for `tsc`); fails saying so without them.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use armature_server::RequestBody;
use common::Live;
use serde_json::{json, Value};

fn petstore() -> Value {
    let path = common::tests_dir().join("fixtures/petstore3.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn tsc(node: &Path, dir: &Path, files: &[&str]) -> Output {
    let mut command = Command::new(node);
    command
        .arg(common::tests_dir().join("js/node_modules/typescript/bin/tsc"))
        .args([
            "--strict",
            "--noEmitOnError",
            "--target",
            "es2022",
            "--module",
            "commonjs",
            "--lib",
            "es2022,dom",
            "--outDir",
            "out",
        ])
        .args(files)
        .current_dir(dir);
    common::run(command, Duration::from_secs(120))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_typescript_client_compiles_and_calls_the_mock_server() {
    let node = common::node();
    let doc = petstore();
    let dir = common::scratch("ts-client");
    std::fs::write(
        dir.join("client.ts"),
        armature_openapi::typescript_client(&doc),
    )
    .unwrap();
    for file in ["main.ts", "bad.ts"] {
        std::fs::copy(common::tests_dir().join("ts").join(file), dir.join(file)).unwrap();
    }

    let out = tsc(&node, &dir, &["client.ts", "main.ts"]);
    assert!(
        out.status.success(),
        "tsc rejected the client:\n{}",
        text(&out)
    );
    let out = tsc(&node, &dir, &["client.ts", "bad.ts"]);
    assert!(!out.status.success(), "tsc accepted a wrongly typed call");
    assert!(
        text(&out).contains("bad.ts") && text(&out).contains("TS2322"),
        "{}",
        text(&out)
    );

    let live = Live::serve(armature_openapi::mock::<RequestBody>(&doc).unwrap());
    let mut command = Command::new(&node);
    command
        .arg(dir.join("out/main.js"))
        .arg(format!("{}/api/v3", live.url));
    let out = common::run(command, Duration::from_secs(60));
    drop(live);
    assert!(out.status.success(), "the client failed:\n{}", text(&out));
    let got: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("not JSON ({err}):\n{}", text(&out)));
    assert_eq!(got["pet"]["name"], "doggie");
    assert_eq!(got["pet"]["id"], 10);
    assert_eq!(got["found"][0]["name"], "doggie");
    assert_eq!(
        got["added"]["name"], "doggie",
        "the mock answers its example"
    );
    assert_eq!(got["inventory"], json!({"additionalProp1": 0}));
    assert_eq!(got["token"], "string");
    assert_eq!(got["rejected"]["status"], 422);
    assert_eq!(got["rejected"]["body"]["field"], "name");
}
