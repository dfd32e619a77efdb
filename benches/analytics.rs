//! Per-request overhead of the analytics layer on a known route: the router alone, then the
//! same router behind the layer (routes found on first use, or pre-registered with
//! `.routes(&router)`, which also finds the route of refused requests by their path),
//! and with a per-consumer (client IP) table. Each iteration calls the service, polls its
//! (ready) future without a runtime and reads the response body to its end, as a server does:
//! that is when the layer records. The overhead is the difference from `router`.
//!
//! `cargo bench -p armature-benches --bench analytics`

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::task::Poll;

use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_router::{get, Router};
use bytes::Buf;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower::{Layer, Service};

fn request() -> Request<()> {
    let mut req = Request::get("/users/42").body(()).unwrap();
    req.extensions_mut()
        .insert(SocketAddr::from(([192, 0, 2, 7], 50_000)));
    req
}

/// Calls the service, polls its future to completion and reads the response body to its end,
/// all without a runtime (every future and body here is ready at once). Returns the status and
/// the body's length.
fn drive<S, B>(svc: &mut S, req: Request<()>) -> (StatusCode, usize)
where
    S: Service<Request<()>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body<Data: Buf, Error: std::fmt::Debug>,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(svc.poll_ready(&mut cx).is_ready());
    let mut fut = std::pin::pin!(svc.call(req));
    let Poll::Ready(res) = fut.as_mut().poll(&mut cx) else {
        unreachable!("no future here waits")
    };
    let res = res.unwrap();
    let status = res.status();
    let mut body = std::pin::pin!(res.into_body());
    let mut len = 0;
    loop {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(frame)) => {
                len += frame.unwrap().data_ref().map_or(0, Buf::remaining);
            }
            Poll::Ready(None) => return (status, len),
            Poll::Pending => unreachable!("no body here waits"),
        }
    }
}

/// Benchmarks `svc` as `name`, after checking that what is timed really answers: "alice"
/// from the `/users/{id}` route.
fn measure<S, B>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut svc: S)
where
    S: Service<Request<()>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body<Data: Buf, Error: std::fmt::Debug>,
{
    assert_eq!(drive(&mut svc, request()), (StatusCode::OK, 5), "{name}");
    group.bench_function(name, |b| {
        b.iter_batched(
            request,
            |req| black_box(drive(&mut svc, req)),
            BatchSize::SmallInput,
        )
    });
}

fn bench(c: &mut Criterion) {
    let router = Router::builder()
        .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
        .route("/plaintext", get(|_req: Request<()>| async { "hello" }))
        .build()
        .unwrap();
    let mut group = c.benchmark_group("analytics");
    measure(&mut group, "router", router.clone());
    measure(
        &mut group,
        "analytics+router",
        AnalyticsLayer::new().layer(router.clone()),
    );
    measure(
        &mut group,
        "analytics(routes)+router",
        AnalyticsLayer::builder()
            .routes(&router)
            .build()
            .layer(router.clone()),
    );
    measure(
        &mut group,
        "analytics(routes,consumers)+router",
        AnalyticsLayer::builder()
            .routes(&router)
            .consumers(Consumers::client_ip(), 1000)
            .build()
            .layer(router.clone()),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
