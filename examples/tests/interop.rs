//! The interop promise: Armature's layers work unchanged inside axum and tonic apps. These
//! tests drive the very code of `examples/axum_interop.rs` and `examples/tonic_interop.rs`
//! over real sockets.

#[path = "../axum_interop.rs"]
mod axum_interop;
#[path = "../tonic_interop.rs"]
mod tonic_interop;

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt;

/// Access events (their `route` and `request_id` fields) seen by the global subscriber.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != armature_layers::logger::TARGET {
            return;
        }
        #[derive(Default)]
        struct V(String, String);
        impl Visit for V {
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "route" => self.0 = value.to_owned(),
                    "request_id" => self.1 = value.to_owned(),
                    _ => {}
                }
            }
        }
        let mut v = V::default();
        event.record(&mut v);
        self.0.lock().unwrap().push((v.0, v.1));
    }
}

fn events() -> Events {
    static EVENTS: std::sync::OnceLock<Events> = std::sync::OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let events = Events::default();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(events.clone()),
            )
            .expect("one global subscriber per test binary");
            events
        })
        .clone()
}

fn logged(events: &Events, request_id: &str) -> Vec<String> {
    events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, id)| id == request_id)
        .map(|(route, _)| route.clone())
        .collect()
}

/// `examples/tonic_interop.rs` on a free port, a client connected to it, and how to stop it.
async fn start_tonic() -> (
    HealthClient<tonic::transport::Channel>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tonic_interop::serve(listener, async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (HealthClient::new(channel), stop, server)
}

#[tokio::test]
async fn tonic_server_with_armature_layers_sets_request_id_and_logs() {
    let events = events();
    let (mut client, stop, server) = start_tonic().await;
    let res = client
        .check(HealthCheckRequest {
            service: "armature.Demo".into(),
        })
        .await
        .unwrap();
    let request_id = res
        .metadata()
        .get("x-request-id")
        .expect("request id echoed")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(request_id.len(), 36);
    assert_eq!(res.into_inner().status(), ServingStatus::Serving);

    // An unknown service is a gRPC error, still with an id and a log event.
    let err = client
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err_id = err
        .metadata()
        .get("x-request-id")
        .expect("request id on errors too")
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(err_id, request_id);

    drop(client);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // The log event is emitted when the response body ends; the server has finished by now.
    assert_eq!(
        logged(&events, &request_id),
        ["/grpc.health.v1.Health/Check"]
    );
    assert_eq!(logged(&events, &err_id).len(), 1);
}

#[tokio::test]
async fn tonic_calls_over_their_quota_get_resource_exhausted() {
    let (mut client, stop, server) = start_tonic().await;
    let call = |key: &'static str| {
        let mut req = tonic::Request::new(HealthCheckRequest {
            service: "armature.Demo".into(),
        });
        req.metadata_mut().insert("x-api-key", key.parse().unwrap());
        req
    };
    for i in 0..tonic_interop::CALLS_PER_MINUTE {
        let res = client.check(call("team-a")).await;
        assert!(res.is_ok(), "call {i} within the quota: {res:?}");
    }
    let err = client.check(call("team-a")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Another key has its own quota, and calls without a key are not limited.
    assert!(client.check(call("team-b")).await.is_ok());
    let unkeyed = client
        .check(HealthCheckRequest {
            service: "armature.Demo".into(),
        })
        .await;
    assert!(unkeyed.is_ok());

    drop(client);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Serves `app` with axum on a free local port.
async fn serve_axum(
    app: axum::Router,
) -> (
    tokio::task::JoinHandle<std::io::Result<()>>,
    std::net::SocketAddr,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (
        tokio::spawn(async move { axum::serve(listener, app).await }),
        addr,
    )
}

/// Sends `request` (one that closes the connection) and reads the whole answer.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    raw
}

#[tokio::test]
async fn axum_app_with_armature_layers_sets_request_id_and_logs() {
    let events = events();
    let (server, addr) = serve_axum(axum_interop::app()).await;
    let raw = exchange(
        addr,
        "GET /users/42 HTTP/1.1\r\nhost: x\r\norigin: https://a.example\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let request_id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("request id echoed")
        .to_owned();
    assert!(
        head.contains("access-control-allow-origin: *"),
        "CORS layer inside axum: {head}"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["id"], "42");
    assert_eq!(
        json["request_id"],
        request_id.as_str(),
        "the handler saw the same id"
    );
    // Labelled with axum's route template (`route_label` reading `MatchedPath`).
    for _ in 0..100 {
        if !logged(&events, &request_id).is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(logged(&events, &request_id), ["/users/{id}"]);
    server.abort();
}

/// Analytics inside axum counts each request under axum's route template (`route_label`
/// reading `MatchedPath`), not as `unmatched`; a path axum does not route stays `unmatched`.
#[tokio::test]
async fn analytics_inside_axum_labels_requests_with_axums_routes() {
    let analytics = axum_interop::analytics();
    let app = axum_interop::app_with(std::time::Duration::from_secs(30), analytics.clone());
    let (server, addr) = serve_axum(app).await;
    for path in ["/users/1", "/users/2", "/nowhere"] {
        let raw = exchange(
            addr,
            &format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 "), "{raw}");
    }
    // The JSON service, mounted in the same axum app, reads the same counters.
    let raw = exchange(
        addr,
        "GET /analytics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let summary: serde_json::Value = serde_json::from_str(body).unwrap();
    let requests = |route: &str| {
        summary["routes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["route"] == route)
            .map(|r| r["requests"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(requests("/users/{id}"), 2, "{summary}");
    assert_eq!(requests("unmatched"), 1, "{summary}");
    server.abort();
}

#[tokio::test]
async fn armature_timeout_inside_axum_answers_503_with_its_message() {
    let app = axum_interop::app_timing_out_after(std::time::Duration::from_millis(100));
    let (server, addr) = serve_axum(app).await;
    let raw = exchange(
        addr,
        "GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(
        head.contains("x-request-id: "),
        "the outer layers still ran: {head}"
    );
    assert_eq!(
        body,
        "Service Unavailable: the request took longer than the server's time limit\n"
    );
    server.abort();
}
