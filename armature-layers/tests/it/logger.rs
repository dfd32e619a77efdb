//! The logger emits exactly one access event per request, with the right fields, whatever
//! happens to the response.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use armature_layers::logger::{Logger, TARGET};
use armature_layers::request_id::RequestIdLayer;
use armature_router::{get, Router};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

type Fields = HashMap<String, String>;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Level, Fields)>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
    }
}

impl Capture {
    fn events(&self) -> Vec<(Level, Fields)> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs `test` on a current-thread runtime with `capture` as the only subscriber, whose
/// maximum level is `max`.
fn with_capture<F: std::future::Future<Output = ()>>(
    max: Level,
    test: impl FnOnce(Capture) -> F,
) -> Capture {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(
        capture
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::from_level(max)),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fut = test(capture.clone());
    tracing::subscriber::with_default(subscriber, || rt.block_on(fut));
    capture
}

fn app() -> Router<()> {
    Router::builder()
        .route("/users/:id", get(|_req: Request<()>| async { "Alice" }))
        .build()
        .unwrap()
}

#[test]
fn one_event_with_route_template_status_size_request_id_and_peer() {
    let capture = with_capture(Level::INFO, |_| async {
        let svc = ServiceBuilder::new()
            .layer(RequestIdLayer::new())
            .layer(Logger::default())
            .service(app());
        let mut req = Request::get("/users/42").body(()).unwrap();
        req.extensions_mut()
            .insert(SocketAddr::from(([127, 0, 0, 1], 5555)));
        let res = svc.oneshot(req).await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "Alice");
        assert_eq!(id.len(), 36);
    });
    let events = capture.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let (level, f) = &events[0];
    assert_eq!(*level, Level::INFO);
    assert_eq!(f["method"], "GET");
    assert_eq!(f["route"], "/users/{id}");
    assert_eq!(f["status"], "200");
    assert_eq!(f["bytes"], "5");
    assert_eq!(f["peer"], "127.0.0.1:5555");
    assert_eq!(f["outcome"], "ok");
    assert_eq!(f["request_id"].len(), 36);
    assert!(
        f["message"].starts_with("GET /users/{id} 200 "),
        "{}",
        f["message"]
    );
    assert!(
        f["message"].contains(&format!("rid={}", f["request_id"])),
        "{}",
        f["message"]
    );
}

#[test]
fn unmatched_paths_are_logged_by_raw_path() {
    // The logger copies the path: short ones inline, long ones (past 48 bytes) on the heap.
    let long = format!("/nowhere/{}/%C3%A9", "x".repeat(100));
    let paths = ["/nowhere/else", long.as_str()];
    let capture = with_capture(Level::INFO, |_| async {
        let svc = Logger::default().level(Level::WARN);
        for path in paths {
            let res = tower::Layer::layer(&svc, app())
                .oneshot(Request::get(path).body(()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
            res.into_body().collect().await.unwrap();
        }
    });
    let events = capture.events();
    assert_eq!(events.len(), 2);
    for (event, path) in events.iter().zip(paths) {
        assert_eq!(event.0, Level::WARN);
        assert_eq!(event.1["route"], path);
        assert_eq!(event.1["status"], "404");
        assert_eq!(event.1["request_id"], "-");
    }
}

#[test]
fn the_route_is_logged_when_the_router_runs_late_or_another_layer_observes_it_too() {
    use armature_layers::analytics::AnalyticsLayer;
    let capture = with_capture(Level::INFO, |_| async {
        // The router is called in the logger's `poll`, not its `call` (`oneshot` calls in
        // its first poll).
        let late = tower::Layer::layer(&Logger::default(), service_fn(|req| app().oneshot(req)));
        // Analytics outside the logger observes the same router: the logger sees the report
        // first and hands it on, so both label the route.
        let analytics = AnalyticsLayer::new();
        let nested = ServiceBuilder::new()
            .layer(analytics.clone())
            .layer(Logger::default())
            .service(app());
        let res = late.oneshot(Request::get("/users/1").body(()).unwrap());
        res.await.unwrap().into_body().collect().await.unwrap();
        let res = nested.oneshot(Request::get("/users/2").body(()).unwrap());
        res.await.unwrap().into_body().collect().await.unwrap();
        let routes = analytics.summary().routes;
        assert_eq!(
            (routes[0].route.as_str(), routes[0].requests),
            ("/users/{id}", 1)
        );
    });
    let events = capture.events();
    assert_eq!(events.len(), 2, "{events:?}");
    for (_, f) in &events {
        assert_eq!(f["route"], "/users/{id}");
    }
}

/// A body that sends one chunk and then fails.
struct Failing(bool);

impl Body for Failing {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.0 {
            Poll::Ready(Some(Err(std::io::Error::other("disk gone"))))
        } else {
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"abc")))))
        }
    }
}

#[test]
fn a_failing_body_is_logged_as_body_error() {
    let capture = with_capture(Level::INFO, |_| async {
        let svc = ServiceBuilder::new()
            .layer(Logger::default())
            .service(service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(Failing(false)))
            }));
        let res = svc.oneshot(Request::new(())).await.unwrap();
        assert!(res.into_body().collect().await.is_err());
    });
    let events = capture.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["outcome"], "body_error");
    assert_eq!(events[0].1["bytes"], "3");
}

#[test]
fn a_client_that_goes_away_is_logged_as_aborted() {
    let capture = with_capture(Level::INFO, |_| async {
        // The body is dropped before it is read.
        let svc = ServiceBuilder::new()
            .layer(Logger::default())
            .service(app());
        let res = svc
            .oneshot(Request::get("/users/1").body(()).unwrap())
            .await
            .unwrap();
        drop(res);
        // The handler future is dropped before it answers.
        let slow = ServiceBuilder::new()
            .layer(Logger::default())
            .service(service_fn(|_req: Request<()>| async {
                std::future::pending::<()>().await;
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
        let fut = slow.oneshot(Request::new(()));
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(1), fut)
                .await
                .is_err()
        );
    });
    let events = capture.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].1["outcome"], "aborted");
    assert_eq!(events[0].1["status"], "200");
    assert_eq!(events[1].1["outcome"], "aborted");
    assert_eq!(events[1].1["status"], "0");
}

#[test]
fn a_service_error_is_logged() {
    let capture = with_capture(Level::INFO, |_| async {
        let svc = ServiceBuilder::new()
            .layer(Logger::default())
            .service(service_fn(|_req: Request<()>| async {
                Err::<Response<String>, _>(std::io::Error::other("boom"))
            }));
        assert!(svc.oneshot(Request::new(())).await.is_err());
    });
    let events = capture.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["outcome"], "service_error");
}

#[test]
fn empty_and_head_responses_are_complete() {
    let capture = with_capture(Level::INFO, |_| async {
        let svc = ServiceBuilder::new()
            .layer(Logger::default())
            .service(app());
        let res = svc
            .clone()
            .oneshot(Request::head("/users/1").body(()).unwrap())
            .await
            .unwrap();
        drop(res);
        let empty = ServiceBuilder::new()
            .layer(Logger::default())
            .service(service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(http_body_util::Empty::<Bytes>::new()))
            }));
        drop(empty.oneshot(Request::new(())).await.unwrap());
    });
    let outcomes: Vec<String> = capture
        .events()
        .into_iter()
        .map(|(_, f)| f["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["ok", "ok"]);
}

#[test]
fn json_format_writes_one_json_object() {
    let capture = with_capture(Level::INFO, |_| async {
        let svc = ServiceBuilder::new().layer(Logger::json()).service(app());
        let res = svc
            .oneshot(Request::get("/users/\"q\"").body(()).unwrap())
            .await
            .unwrap();
        res.into_body().collect().await.unwrap();
    });
    let events = capture.events();
    assert_eq!(events.len(), 1);
    let line: serde_json::Value = serde_json::from_str(&events[0].1["message"]).unwrap();
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/users/{id}");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes"], 5);
    assert_eq!(line["peer"], serde_json::Value::Null);
    assert_eq!(line["outcome"], "ok");
}

#[test]
fn a_disabled_level_logs_nothing_and_passes_through() {
    let capture = with_capture(Level::WARN, |_| async {
        let svc = ServiceBuilder::new()
            .layer(Logger::default().level(Level::DEBUG))
            .service(app());
        let res = svc
            .oneshot(Request::get("/users/1").body(()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "Alice");
    });
    assert!(capture.events().is_empty());
}
