//! One client's 5,000 requests sent by 64 concurrent tasks through a rate-limit layer: the
//! exact-count check of the in-process and the Redis tests (both include this file by path).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use armature_layers::rate_limit::{RateLimitLayer, RateLimited};
use http::{Request, Response, StatusCode};
use tower::{service_fn, Layer, ServiceExt};

/// What became of the 5,000 requests.
#[derive(Debug)]
pub struct Flood {
    pub admitted: usize,
    pub refused: usize,
    /// How many reached the inner service.
    pub called: usize,
}

/// Sends 5,000 requests keyed `x-api-key: one-client` from 64 tasks. Every answer must be a
/// 200 or a 429 decided by the store (not by the failure policy).
pub async fn from_64_tasks(layer: RateLimitLayer) -> Flood {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(service_fn({
        let calls = Arc::clone(&calls);
        move |_req: Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(String::from("hello"))) }
        }
    }));
    let sent = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let svc = svc.clone();
            let sent = Arc::clone(&sent);
            tokio::spawn(async move {
                let (mut admitted, mut refused) = (0usize, 0usize);
                while sent.fetch_add(1, Ordering::SeqCst) < 5_000 {
                    let req = Request::get("/")
                        .header("x-api-key", "one-client")
                        .body(())
                        .unwrap();
                    let res = svc.clone().oneshot(req).await.unwrap();
                    match res.status() {
                        StatusCode::OK => admitted += 1,
                        StatusCode::TOO_MANY_REQUESTS => {
                            let marker = res.extensions().get::<RateLimited>().unwrap();
                            assert!(!marker.store_unavailable(), "the store failed");
                            refused += 1;
                        }
                        other => panic!("unexpected {other}"),
                    }
                    tokio::task::yield_now().await;
                }
                (admitted, refused)
            })
        })
        .collect();
    let mut flood = Flood {
        admitted: 0,
        refused: 0,
        called: 0,
    };
    for task in tasks {
        let (admitted, refused) = task.await.unwrap();
        flood.admitted += admitted;
        flood.refused += refused;
    }
    flood.called = calls.load(Ordering::SeqCst);
    flood
}
