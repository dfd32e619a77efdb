//! Per-request overhead of the analytics layer on a known route: the router alone, then the
//! same router behind the layer (routes found on first use, or pre-registered with
//! `.routes(&router)`, which also finds the route of refused requests by their path),
//! and with a per-consumer (client IP) table. Each iteration calls the service, polls its
//! (ready) future without a runtime and drops the response, which is when the layer records.
//! The overhead is the difference from `router`.
//!
//! `cargo bench -p armature-benches --bench analytics`

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;

use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_router::{get, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

fn request() -> Request<()> {
    let mut req = Request::get("/users/42").body(()).unwrap();
    req.extensions_mut()
        .insert(SocketAddr::from(([192, 0, 2, 7], 50_000)));
    req
}

/// Calls the service and polls its future to completion without a runtime (every future
/// here is ready at once), then drops the response.
fn drive<S, B>(svc: &mut S, req: Request<()>) -> StatusCode
where
    S: Service<Request<()>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(svc.poll_ready(&mut cx).is_ready());
    let mut fut = std::pin::pin!(svc.call(req));
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(res) => res.unwrap().status(),
        std::task::Poll::Pending => unreachable!("no future here waits"),
    }
}

fn bench(c: &mut Criterion) {
    let router = Router::builder()
        .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
        .route("/plaintext", get(|_req: Request<()>| async { "hello" }))
        .build()
        .unwrap();
    let mut group = c.benchmark_group("analytics");

    let mut bare = router.clone();
    group.bench_function("router", |b| {
        b.iter_batched(
            request,
            |req| black_box(drive(&mut bare, req)),
            criterion::BatchSize::SmallInput,
        )
    });

    let mut layered = AnalyticsLayer::new().layer(router.clone());
    group.bench_function("analytics+router", |b| {
        b.iter_batched(
            request,
            |req| black_box(drive(&mut layered, req)),
            criterion::BatchSize::SmallInput,
        )
    });

    let mut registered = AnalyticsLayer::builder()
        .routes(&router)
        .build()
        .layer(router.clone());
    group.bench_function("analytics(routes)+router", |b| {
        b.iter_batched(
            request,
            |req| black_box(drive(&mut registered, req)),
            criterion::BatchSize::SmallInput,
        )
    });

    let mut consumers = AnalyticsLayer::builder()
        .routes(&router)
        .consumers(Consumers::client_ip(), 1000)
        .build()
        .layer(router.clone());
    group.bench_function("analytics(routes,consumers)+router", |b| {
        b.iter_batched(
            request,
            |req| black_box(drive(&mut consumers, req)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
