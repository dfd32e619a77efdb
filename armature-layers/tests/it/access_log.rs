//! `Logger::write_to(AccessLog)`: one line per request, written in batches, never lost on
//! flush or drop, and a failing writer never fails a request.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armature_layers::logger::{AccessLog, Format, Logger};
use armature_layers::request_id::RequestIdLayer;
use armature_router::{get, Router};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// A writer the test can read, counting its `write` calls.
#[derive(Clone, Default)]
struct Shared {
    bytes: Arc<Mutex<Vec<u8>>>,
    writes: Arc<Mutex<usize>>,
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.lock().unwrap().extend_from_slice(buf);
        *self.writes.lock().unwrap() += 1;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.bytes.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn writes(&self) -> usize {
        *self.writes.lock().unwrap()
    }
}

fn router() -> Router<()> {
    Router::builder()
        .route("/users/{id}", get(|_r: Request<()>| async { "alice" }))
        .build()
        .unwrap()
}

fn request(path: &str) -> Request<()> {
    let mut req = Request::get(path).body(()).unwrap();
    req.extensions_mut()
        .insert(SocketAddr::from(([10, 1, 2, 3], 4567)));
    req
}

/// Sends `path` through `svc` and reads the whole body (the line is written at its end).
async fn send<S, B>(svc: &mut S, path: &str) -> StatusCode
where
    S: Service<Request<()>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(request(path))
        .await
        .unwrap();
    let status = res.status();
    res.into_body().collect().await.unwrap();
    status
}

#[tokio::test]
async fn one_text_line_per_request_with_every_field() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone()).flush_interval(Duration::from_secs(3600));
    let mut svc = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(Logger::default().write_to(log.clone()))
        .service(router());
    assert_eq!(send(&mut svc, "/users/7").await, StatusCode::OK);
    assert_eq!(send(&mut svc, "/nowhere").await, StatusCode::NOT_FOUND);
    assert!(out.lines().is_empty(), "buffered until a flush");
    log.flush().unwrap();

    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let words: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(words.len(), 8, "{}", lines[0]);
    assert!(
        words[0].ends_with('Z') && words[0].len() == 24,
        "{}",
        words[0]
    );
    assert_eq!(&words[1..4], ["GET", "/users/{id}", "200"]);
    assert!(words[4].ends_with("ms"), "{}", words[4]);
    assert_eq!(words[5], "5B");
    assert!(
        words[6].starts_with("rid=") && words[6].len() == 40,
        "{}",
        words[6]
    );
    assert_eq!(words[7], "peer=10.1.2.3:4567");
    // Unmatched paths are logged by their raw path.
    assert!(lines[1].contains(" GET /nowhere 404 "), "{}", lines[1]);
}

#[tokio::test]
async fn json_lines_parse() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone());
    let mut svc = Logger::json().write_to(log.clone()).layer(router());
    send(&mut svc, "/users/7").await;
    log.flush().unwrap();
    let lines = out.lines();
    let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(value["method"], "GET");
    assert_eq!(value["route"], "/users/{id}");
    assert_eq!(value["status"], 200);
    assert_eq!(value["bytes"], 5);
    assert_eq!(value["request_id"], "-");
    assert_eq!(value["peer"], "10.1.2.3:4567");
    assert_eq!(value["outcome"], "ok");
    assert!(value["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(value["time"].as_str().unwrap().ends_with('Z'));
    // Format::Json through the builder says the same.
    assert_eq!(
        Logger::default()
            .format(Format::Json)
            .write_to(log)
            .layer(router())
            .oneshot(request("/users/1"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn lines_are_written_in_batches_when_the_buffer_fills() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone())
        .buffer_size(1024)
        .flush_interval(Duration::from_secs(3600));
    let mut svc = Logger::default().write_to(log.clone()).layer(router());
    for _ in 0..100 {
        send(&mut svc, "/users/7").await;
    }
    let written = out.lines().len();
    // ~90-byte lines: a batch each ~12 lines, never one write per line.
    assert!(written >= 80, "{written} lines written before any flush");
    assert!(
        out.writes() <= 10,
        "{} writes for {written} lines",
        out.writes()
    );
    log.flush().unwrap();
    assert_eq!(out.lines().len(), 100);
}

#[tokio::test]
async fn the_background_flusher_writes_without_being_asked() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone()).flush_interval(Duration::from_millis(10));
    let mut svc = Logger::default().write_to(log).layer(router());
    send(&mut svc, "/users/7").await;
    // No timing assertion: wait (bounded) until the line shows up.
    for _ in 0..500 {
        if out.lines().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the flusher never wrote the line");
}

#[tokio::test]
async fn dropping_the_last_handle_writes_what_is_left() {
    let out = Shared::default();
    {
        let log = AccessLog::new(out.clone()).flush_interval(Duration::from_secs(3600));
        let mut svc = Logger::default().write_to(log).layer(router());
        send(&mut svc, "/users/7").await;
        send(&mut svc, "/users/8").await;
    }
    assert_eq!(out.lines().len(), 2);
}

#[tokio::test]
async fn an_aborted_response_is_logged_as_such() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone());
    let svc = Logger::default().write_to(log.clone()).layer(router());
    let res = svc.oneshot(request("/users/7")).await.unwrap();
    drop(res); // the client went away before the body was sent
    log.flush().unwrap();
    let lines = out.lines();
    assert!(lines[0].ends_with(" outcome=aborted"), "{}", lines[0]);
}

/// A writer that always fails.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
}

#[tokio::test]
async fn a_failing_writer_never_fails_a_request() {
    let log = AccessLog::new(Broken).buffer_size(1);
    let mut svc = Logger::default().write_to(log.clone()).layer(router());
    for _ in 0..3 {
        assert_eq!(send(&mut svc, "/users/7").await, StatusCode::OK);
    }
    assert!(log.flush().is_err(), "flush reports the writer's error");
}

#[tokio::test]
async fn a_body_dropped_after_its_last_frame_is_complete_not_aborted() {
    // hyper stops polling a body once it reports its end, and drops it.
    let out = Shared::default();
    let log = AccessLog::new(out.clone());
    let svc = Logger::default().write_to(log.clone()).layer(router());
    let res = svc.oneshot(request("/users/7")).await.unwrap();
    let mut body = Box::pin(res.into_body());
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "alice");
    assert!(http_body::Body::is_end_stream(&*body));
    drop(body); // never polled to its `None`
    log.flush().unwrap();
    let lines = out.lines();
    assert!(lines[0].ends_with("peer=10.1.2.3:4567"), "{}", lines[0]);
}

/// Without `RequestIdLayer` the line's id comes from the client's `x-request-id`; one the
/// layer would refuse (a space, a tab, over 128 characters) is logged as `-`, so a client
/// cannot forge the line's other fields or make it arbitrarily long.
#[tokio::test]
async fn a_client_request_id_cannot_forge_fields_or_bloat_the_line() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone()).flush_interval(Duration::from_secs(3600));
    let mut svc = Logger::default().write_to(log.clone()).layer(router());
    let long = "x".repeat(64 * 1024);
    let ids = [
        "gw-7 peer=6.6.6.6:1 outcome=ok",
        "tab\there",
        long.as_str(),
        "gateway-42",
    ];
    for id in ids {
        let mut req = request("/users/7");
        req.headers_mut()
            .insert("x-request-id", id.parse().unwrap());
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        res.into_body().collect().await.unwrap();
    }
    log.flush().unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines[..3] {
        assert!(line.contains(" rid=- peer=10.1.2.3:4567"), "{line}");
        assert_eq!(line.matches("peer=").count(), 1, "{line}");
        assert!(line.len() < 200, "{} bytes", line.len());
    }
    // A well-formed id (a gateway's) is still logged.
    assert!(lines[3].contains(" rid=gateway-42 peer="), "{}", lines[3]);
}

/// With the `RequestIdLayer` *inside* the logger (a plausible ordering), the line carries
/// the id that layer chose and echoed, not the untrusted one the client sent, which the
/// layer replaced: else a client could put any id in the log, unrelated to its response.
#[tokio::test]
async fn with_request_ids_set_inside_the_line_has_the_echoed_id() {
    let out = Shared::default();
    let log = AccessLog::new(out.clone()).flush_interval(Duration::from_secs(3600));
    let mut svc = ServiceBuilder::new()
        .layer(Logger::default().write_to(log.clone()))
        .layer(RequestIdLayer::new())
        .service(router());
    let mut req = request("/users/7");
    req.headers_mut()
        .insert("x-request-id", "forged-by-client".parse().unwrap());
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(echoed, "forged-by-client");
    res.into_body().collect().await.unwrap();
    log.flush().unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!(" rid={echoed} ")),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("forged"), "{}", lines[0]);
}

/// An unmatched path is written as sent, but what is not visible ASCII is escaped as `\xHH`
/// (as nginx does): its UTF-8, a line separator some viewers break at, a right-to-left
/// override, and a `\` (so an escape in the path cannot pass for one of ours). A route
/// template from another router (`route_label`) is escaped the same way.
#[tokio::test]
async fn paths_are_escaped_in_text_lines() {
    #[derive(Clone)]
    struct Template(&'static str);
    let out = Shared::default();
    let log = AccessLog::new(out.clone()).flush_interval(Duration::from_secs(3600));
    let mut svc = Logger::default()
        .write_to(log.clone())
        .route_label(|ext| ext.get::<Template>().map(|t| t.0))
        .layer(tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
        }));
    let mut labelled = request("/x");
    labelled.extensions_mut().insert(Template("/a b"));
    for req in [
        request("/caf\u{e9}\u{2028}fake"),
        request("/rtl\u{202e}txt"),
        request(r"/back\x41slash"),
        labelled,
    ] {
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        res.into_body().collect().await.unwrap();
    }
    log.flush().unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let routes: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(
        routes,
        [
            r"/caf\xc3\xa9\xe2\x80\xa8fake",
            r"/rtl\xe2\x80\xaetxt",
            r"/back\x5cx41slash",
            r"/a\x20b",
        ]
    );
    assert!(lines.iter().all(|l| l.is_ascii()), "{lines:?}");
}
