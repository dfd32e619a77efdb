//! `Server::run` in both runtime modes: one multi-thread runtime, and one
//! current-thread runtime per worker with `SO_REUSEPORT` listeners. Each
//! serves HTTP/1.1 and HTTP/2 and stops on the shutdown future.

use crate::common;

use std::convert::Infallible;
use std::time::Duration;

use armature_server::RequestBody;
use armature_server::{Limits, RuntimeMode, Server, ServerError, MAX_HEADER_SIZE_LIMIT};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;

/// Answers with the name of the thread that ran the handler.
fn thread_name_service() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|_req: Request<RequestBody>| async {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(name))))
    })
}

/// Runs `server` with `run` on its own thread, makes HTTP/1.1 and HTTP/2
/// requests from a separate client runtime, then stops it. Returns the
/// thread names that served the requests.
fn exercise(server: Server) -> Vec<String> {
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = server
        .shutdown_on_signals(false)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let running = std::thread::spawn(move || server.run(thread_name_service()));

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = client.block_on(async {
        let mut names = Vec::new();
        for _ in 0..8 {
            let (status, name) = common::get_once(addr, "/").await;
            assert_eq!(status, StatusCode::OK);
            names.push(name);
        }
        let mut h2 = common::h2_client(addr).await;
        let req = Request::get("http://localhost/")
            .body(Full::default())
            .unwrap();
        let (status, name) = common::send_h2(&mut h2, req).await;
        assert_eq!(status, StatusCode::OK);
        names.push(name);
        names
    });
    // Close the client connections first: a client runtime that is no
    // longer polled could not answer HTTP/2's graceful GOAWAY/PING, and
    // the server would wait for its shutdown deadline.
    drop(client);
    stop.send(()).unwrap();
    running.join().expect("run panicked").expect("run failed");
    names
}

#[test]
fn multi_thread_runtime_serves_and_stops() {
    let server = Server::bind(([127, 0, 0, 1], 0))
        .unwrap()
        .runtime(RuntimeMode::MultiThread { workers: 2 });
    for name in exercise(server) {
        assert_eq!(name, "armature-worker");
    }
}

#[test]
fn per_core_runtimes_serve_and_stop() {
    let server = Server::bind(([127, 0, 0, 1], 0))
        .unwrap()
        .runtime(RuntimeMode::PerCore { workers: 2 });
    for name in exercise(server) {
        assert!(name.starts_with("armature-worker-"), "{name}");
    }
}

#[test]
fn per_core_works_with_a_plain_listener() {
    // No SO_REUSEPORT on this one: the workers share it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::from_listener(listener)
        .unwrap()
        .runtime(RuntimeMode::PerCore { workers: 2 });
    for name in exercise(server) {
        assert!(name.starts_with("armature-worker-"), "{name}");
    }
}

#[test]
fn zero_workers_is_a_configuration_error() {
    for mode in [
        RuntimeMode::MultiThread { workers: 0 },
        RuntimeMode::PerCore { workers: 0 },
    ] {
        let server = Server::bind(([127, 0, 0, 1], 0)).unwrap().runtime(mode);
        assert!(matches!(
            server.run(common::echo()),
            Err(ServerError::Config(_))
        ));
    }
}

/// A limit that cannot work is refused by name before anything is served, by `run` and by
/// `serve` alike (a header size near `usize::MAX` used to overflow an addition and panic).
#[test]
fn unworkable_limits_are_configuration_errors() {
    type Set = fn(Server) -> Server;
    let cases: [(Set, &str); 7] = [
        (|s| s.max_header_size(0), "max_header_size"),
        (|s| s.max_header_size(usize::MAX), "max_header_size"),
        (
            |s| s.header_read_timeout(Duration::ZERO),
            "header_read_timeout",
        ),
        (
            |s| s.http2_max_concurrent_streams(0),
            "http2_max_concurrent_streams",
        ),
        (
            |s| s.http2_max_header_list_size(0),
            "http2_max_header_list_size",
        ),
        (
            |s| s.http3_max_concurrent_streams(0),
            "http3_max_concurrent_streams",
        ),
        (
            |s| s.http3_idle_timeout(Duration::ZERO),
            "http3_idle_timeout",
        ),
    ];
    for (set, name) in cases {
        let server = set(Server::bind(([127, 0, 0, 1], 0)).unwrap());
        match server.run(common::echo()) {
            Err(ServerError::Config(message)) => assert!(message.contains(name), "{message}"),
            other => panic!("{name}: {other:?}"),
        }
        let server = set(Server::bind(([127, 0, 0, 1], 0)).unwrap());
        let served = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(server.serve(common::echo()));
        assert!(
            matches!(served, Err(ServerError::Config(_))),
            "{name}: {served:?}"
        );
    }
    // The largest header size is accepted.
    let mut limits = Limits::default();
    limits.max_header_size = MAX_HEADER_SIZE_LIMIT;
    assert!(limits.check().is_ok());
}

#[tokio::test]
async fn run_inside_a_runtime_is_an_error() {
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    assert!(matches!(
        server.run(common::echo()),
        Err(ServerError::NestedRuntime)
    ));
}
