//! `examples/stack.rs` over a real socket: every layer of the preset stack is visible.

#[path = "../../stack.rs"]
mod example;

use std::net::SocketAddr;

use armature_server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(origins: &[&str]) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    start_with(example::cors(&origins).unwrap(), None)
}

/// Serves the stack with `cors` and `rate_limit` on a free port until the sender is used.
fn start_with(
    cors: armature_layers::cors::CorsLayer,
    rate_limit: Option<armature_layers::rate_limit::RateLimitLayer>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_logging(
        cors,
        rate_limit,
        example::access_log(Some("tracing")).unwrap(),
    )
}

/// [`start_with`], logging with `logger`.
fn start_logging(
    cors: armature_layers::cors::CorsLayer,
    rate_limit: Option<armature_layers::rate_limit::RateLimitLayer>,
    logger: armature_layers::logger::Logger,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = server
        .shutdown_on_signals(false)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    tokio::spawn(server.serve(example::app(cors, rate_limit, logger)));
    (addr, stop)
}

/// Sends one HTTP/1.1 request with `extra` header lines; returns (head, body).
async fn exchange(addr: SocketAddr, method: &str, path: &str, extra: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test]
async fn permissive_stack_serves_the_three_endpoints_with_every_layer() {
    let (addr, stop) = start(&[]).await;
    for (path, body) in [
        ("/plaintext", "Hello, World!"),
        ("/json", r#"{"message":"Hello, World!"}"#),
        ("/users/42", r#"{"id":"42","name":"Alice"}"#),
    ] {
        let (head, got) = exchange(addr, "GET", path, "origin: https://anywhere.example\r\n").await;
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert_eq!(got, body, "{path}");
        assert_eq!(
            header(&head, "x-request-id").map(str::len),
            Some(36),
            "{path}: {head}"
        );
        assert_eq!(
            header(&head, "access-control-allow-origin"),
            Some("*"),
            "{path}: {head}"
        );
    }
    let (head, _) = exchange(addr, "GET", "/nope", "").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(
        header(&head, "x-request-id").is_some(),
        "ids on errors too: {head}"
    );
    let (head, _) = exchange(addr, "POST", "/json", "content-length: 0\r\n").await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert_eq!(header(&head, "allow"), Some("get,head"));
    stop.send(()).unwrap();
}

#[tokio::test]
async fn restricted_cors_reflects_only_the_configured_origins() {
    let (addr, stop) = start(&["https://app.example"]).await;
    let (head, _) = exchange(addr, "GET", "/json", "origin: https://app.example\r\n").await;
    assert_eq!(
        header(&head, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        header(&head, "access-control-expose-headers"),
        Some("x-request-id")
    );
    let (head, body) = exchange(addr, "GET", "/json", "origin: https://evil.example\r\n").await;
    assert!(
        head.starts_with("http/1.1 200"),
        "the server answers, the browser blocks: {head}"
    );
    assert_eq!(body, r#"{"message":"Hello, World!"}"#);
    assert_eq!(header(&head, "access-control-allow-origin"), None, "{head}");
    let preflight = "origin: https://app.example\r\naccess-control-request-method: PUT\r\n";
    let (head, _) = exchange(addr, "OPTIONS", "/users/1", preflight).await;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert_eq!(
        header(&head, "access-control-allow-origin"),
        Some("https://app.example")
    );
    stop.send(()).unwrap();
}

#[test]
fn an_invalid_origin_is_refused_at_start_up() {
    for bad in [
        "app.example",
        "https://app.example/",
        "https://app.example/path",
    ] {
        assert!(example::cors(&[bad.to_owned()]).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_stack_serves_its_openapi_document_and_docs() {
    let (addr, stop) = start(&[]).await;
    let (head, body) = exchange(addr, "GET", "/openapi.json", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut paths: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/json", "/plaintext", "/users/{id}"]);
    assert_eq!(
        spec["paths"]["/users/{id}"]["get"]["parameters"][0]["name"],
        "id"
    );
    let (head, _) = exchange(addr, "GET", "/docs", "").await;
    assert!(head.starts_with("http/1.1 303"), "{head}");
    let (head, page) = exchange(addr, "GET", "/docs/", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(page.contains("swagger-ui"), "{page}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn rate_limit_flag_limits_per_client_with_retry_after_and_cors_headers() {
    let (addr, stop) = start_limited("2/s").await;
    let origin = "origin: https://anywhere.example\r\n";
    for _ in 0..2 {
        let (head, _) = exchange(addr, "GET", "/plaintext", origin).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(header(&head, "ratelimit").is_some(), "{head}");
    }
    let (head, body) = exchange(addr, "GET", "/plaintext", origin).await;
    assert!(head.starts_with("http/1.1 429"), "{head}");
    let retry_after: u64 = header(&head, "retry-after").unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry_after), "{head}");
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));
    assert!(header(&head, "x-request-id").is_some(), "{head}");
    assert!(!body.is_empty(), "a short message says why");
    stop.send(()).unwrap();
}

#[test]
fn invalid_rate_limit_flags_are_refused_at_start_up() {
    for bad in ["0/s", "x", "10", "10/m", "-1/s"] {
        let err = example::rate_limit(Some(bad), None).unwrap_err();
        assert!(err.contains(bad), "{bad}: {err}");
    }
    let err = example::rate_limit(None, Some("redis://127.0.0.1:1")).unwrap_err();
    assert!(err.contains("--rate-limit"), "{err}");
    assert!(example::rate_limit(None, None).unwrap().is_none());
}

/// Starts the stack with a rate limit of `per_second` per client IP.
async fn start_limited(per_second: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let limit = example::rate_limit(Some(per_second), None).unwrap();
    start_with(example::cors(&[]).unwrap(), limit)
}

#[tokio::test]
async fn the_stack_serves_its_analytics_metrics_json_and_dashboard() {
    let (addr, stop) = start_limited("3/s").await;
    // 3 admitted, 2 refused by the limit (counted under their route), 1 unmatched.
    for _ in 0..5 {
        exchange(addr, "GET", "/users/42", "").await;
    }
    // The budget refills (one request every 333 ms, up to 3).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (head, _) = exchange(addr, "GET", "/nope", "").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");

    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (head, text) = exchange(addr, "GET", "/metrics", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let users = r#"http_request_method="GET",http_route="/users/{id}""#;
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_count{{{users},http_response_status_class=\"2xx\"}} 3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "armature_http_server_rate_limited_total{{{users}}} 2"
        )),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));

    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (head, body) = exchange(addr, "GET", "/analytics", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let route = json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/users/{id}")
        .unwrap();
    assert_eq!(route["requests"], 5);
    assert_eq!(route["rate_limited"], 2);
    assert_eq!(json["consumers"][0]["consumer"], "127.0.0.1");

    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (head, page) = exchange(addr, "GET", "/analytics/ui", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(page.contains(r#"const JSON_URL = "/analytics";"#));
    assert!(!page.contains("<script src"), "self-contained");
    stop.send(()).unwrap();
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_access_log_has_a_line_per_request_with_route_and_request_id() {
    use armature_layers::logger::{AccessLog, Logger};
    let lines = Lines::default();
    let log = AccessLog::new(lines.clone());
    let logger = Logger::default().write_to(log.clone());
    let (addr, stop) = start_logging(example::cors(&[]).unwrap(), None, logger);
    let (head, _) = exchange(addr, "GET", "/users/42", "").await;
    let (missing, _) = exchange(addr, "GET", "/nowhere", "").await;
    assert!(missing.starts_with("http/1.1 404"), "{missing}");
    let id = header(&head, "x-request-id").unwrap().to_owned();
    // The line is appended once the response body has been sent; the exchange has seen it.
    log.flush().unwrap();
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let logged: Vec<&str> = text.lines().collect();
    assert_eq!(logged.len(), 2, "{text}");
    assert!(
        !text.contains("outcome="),
        "every response was sent whole: {text}"
    );
    assert!(logged[0].contains(" GET /users/{id} 200 "), "{}", logged[0]);
    assert!(
        logged[0].contains(&format!(" rid={id} ")),
        "{} (id {id})",
        logged[0]
    );
    assert!(logged[0].contains(" peer=127.0.0.1:"), "{}", logged[0]);
    assert!(logged[1].contains(" GET /nowhere 404 "), "{}", logged[1]);
    let _ = stop.send(());
}

#[test]
fn an_unknown_access_log_choice_is_refused() {
    let err = example::access_log(Some("syslog")).unwrap_err();
    assert!(err.contains("stdout, stderr or tracing"), "{err}");
    assert!(example::access_log(None).is_ok());
}
