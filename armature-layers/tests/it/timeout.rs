//! The timeout layer: `oneshot` tests on tokio's paused clock (no test waits for real time),
//! and one over real sockets through armature-server and the router.

use std::convert::Infallible;
use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use armature_layers::timeout::TimeoutLayer;
use armature_router::{get, Router};
use armature_server::{RequestBody, Server};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};

use crate::conn;
use conn::Conn;

const MESSAGE: &str = "Service Unavailable: the request took longer than the server's time limit\n";

fn answer(text: &'static str) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .header("x-inner", "yes")
        .body(Full::new(Bytes::from(text)))
        .unwrap())
}

/// Sets its flag when dropped: whether the timed-out handler's future was dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_is_a_503_with_a_message_and_the_handler_is_dropped() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let svc = TimeoutLayer::new(Duration::from_secs(5)).layer(service_fn(move |_: Request<()>| {
        let guard = Dropped(flag.clone());
        async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(guard);
            answer("too late")
        }
    }));
    let res = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(res.headers().get("x-inner").is_none());
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), MESSAGE);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler's future was not dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_in_time_passes_unchanged_even_at_the_limit() {
    for after in [
        Duration::ZERO,
        Duration::from_secs(4),
        Duration::from_secs(5),
    ] {
        let svc = TimeoutLayer::new(Duration::from_secs(5)).layer(service_fn(
            move |_: Request<()>| async move {
                tokio::time::sleep(after).await;
                answer("in time")
            },
        ));
        let res = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "after {after:?}");
        assert_eq!(res.headers()["x-inner"], "yes");
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes(),
            "in time"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_status_can_be_another_and_errors_pass_through() {
    let layer = TimeoutLayer::new(Duration::from_millis(10)).status(StatusCode::GATEWAY_TIMEOUT);
    let slow = layer.layer(service_fn(|_: Request<()>| async {
        pending::<Result<Response<Full<Bytes>>, Infallible>>().await
    }));
    let res = slow.oneshot(Request::new(())).await.unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), MESSAGE);

    let failing = layer.layer(service_fn(|_: Request<()>| async {
        Err::<Response<Full<Bytes>>, _>("inner failure")
    }));
    assert_eq!(
        failing.oneshot(Request::new(())).await.unwrap_err(),
        "inner failure"
    );
}

/// Over a real socket: the timed-out request gets its 503, and the same keep-alive connection
/// then serves the next request.
#[tokio::test]
async fn over_a_real_server_the_connection_survives_the_timeout() {
    let router = Router::builder()
        .route(
            "/slow",
            get(|_: Request<RequestBody>| pending::<&'static str>()),
        )
        .route("/fast", get(|_: Request<RequestBody>| async { "fast" }))
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_millis(200)))
        .service(router);
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        server
            .shutdown_on_signals(false)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .serve(app),
    );
    let mut conn = Conn::open(addr).await;
    assert_eq!(
        conn.send("GET", "/slow", "", "").await,
        (503, MESSAGE.to_owned())
    );
    assert_eq!(
        conn.send("GET", "/fast", "", "").await,
        (200, "fast".to_owned())
    );
}

/// A gRPC call that runs out of time gets a trailers-only `DEADLINE_EXCEEDED` (HTTP 200, no
/// body), which gRPC clients read as a deadline; any other status setting is for HTTP calls.
#[tokio::test(start_paused = true)]
async fn a_grpc_call_gets_deadline_exceeded() {
    let layer = TimeoutLayer::new(Duration::from_millis(10)).status(StatusCode::GATEWAY_TIMEOUT);
    let slow = layer.layer(service_fn(|_: Request<()>| async {
        pending::<Result<Response<Full<Bytes>>, Infallible>>().await
    }));
    let call = Request::post("/pkg.Service/Method")
        .header("content-type", "application/grpc+proto")
        .body(())
        .unwrap();
    let res = slow.clone().oneshot(call).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "4");
    assert!(res.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .starts_with("deadline exceeded"));
    assert!(res
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .is_empty());
    // The same layer still answers an HTTP call with its status.
    let res = slow.oneshot(Request::new(())).await.unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
}
