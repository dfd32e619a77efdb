//! SIGTERM and SIGINT begin a graceful shutdown. Signals are process-wide,
//! so this file holds a single test that checks both in turn.

mod common;

use std::process::Command;

use armature_server::Server;
use common::{get_once, GUARD};
use http::StatusCode;

fn send_signal(name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s {name} failed");
}

#[tokio::test]
async fn sigterm_and_sigint_stop_the_server() {
    for signal in ["TERM", "INT"] {
        // Signal handling is on by default.
        let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = server.local_addr();
        let serving = tokio::spawn(server.serve(common::echo()));
        // A response proves `serve` is running, and it installs its signal
        // handlers before it accepts anything.
        assert_eq!(get_once(addr, "/").await.0, StatusCode::OK);

        send_signal(signal);
        tokio::time::timeout(GUARD, serving)
            .await
            .unwrap_or_else(|_| panic!("SIG{signal} did not stop the server"))
            .expect("serve task panicked")
            .expect("serve returned an error");
    }
}
