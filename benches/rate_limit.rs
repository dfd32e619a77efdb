//! Per-request overhead of the rate-limit layer with the in-process store, in the same group
//! as `tower_governor` (governor's GCRA behind a tower layer), keyed by peer IP in both, and
//! separately the cost of one decision through Redis (a real `redis-server` on a free port,
//! started and stopped here; `apt-get install -y redis-server`).
//!
//! `cargo bench -p armature-benches --bench rate_limit`
//!
//! * `admitted`: every request admitted (a huge quota); armature adds `RateLimit-Policy` and
//!   `RateLimit` headers (`armature_no_headers`: none, with `ratelimit_headers(false)`),
//!   tower_governor adds nothing by default, or `x-ratelimit-limit` and `-remaining` with
//!   `use_headers()` (`tower_governor_headers`).
//! * `refused`: every request refused (a spent quota): both build a 429 with `Retry-After`.
//! * `bare`: the inner service alone, the floor.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use armature_benches::{bench_oneshot, Req};
use armature_layers::rate_limit::{Quota, RateLimitLayer, RedisStore};
use axum::body::Body;
use axum::extract::ConnectInfo;
use criterion::{criterion_group, criterion_main, Criterion};
use governor::middleware::NoOpMiddleware;
use http::{Request, Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_governor::GovernorLayer;

fn hello(_req: Request<Req>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    std::future::ready(Ok(Response::new(Body::empty())))
}

/// A request from one client: armature-server's peer extension and axum's, so each layer
/// finds the address its own way.
fn request() -> Request<Req> {
    let addr = SocketAddr::from(([192, 0, 2, 7], 50_000));
    let mut req = Request::new(Req::new());
    req.extensions_mut().insert(addr);
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// The status `svc` answers one more request with (to check a setup before timing it).
fn status<S, B>(rt: &tokio::runtime::Runtime, svc: &S) -> StatusCode
where
    S: Service<Request<Req>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    rt.block_on(svc.clone().oneshot(request()))
        .unwrap()
        .status()
}

fn armature(quota: Quota) -> RateLimitLayer {
    RateLimitLayer::builder().quota(quota).build().unwrap()
}

/// tower_governor's configuration for a quota of one request per `per_nanos` ns, burst `burst`.
fn governor(
    per_nanos: u64,
    burst: u32,
) -> GovernorConfigBuilder<PeerIpKeyExtractor, NoOpMiddleware> {
    let mut config = GovernorConfigBuilder::default();
    config.per_nanosecond(per_nanos).burst_size(burst);
    config
}

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let inner = service_fn(hello as fn(_) -> _);
    let mut group = c.benchmark_group("rate_limit/admitted");
    bench_oneshot(&mut group, "bare", &rt, inner, request);
    let ours = armature(Quota::per_second(1_000_000_000)).layer(inner);
    assert_eq!(status(&rt, &ours), StatusCode::OK);
    bench_oneshot(&mut group, "armature", &rt, ours, request);
    // The same work as tower_governor without headers: decide, pass the response through.
    let quiet = RateLimitLayer::builder()
        .quota(Quota::per_second(1_000_000_000))
        .ratelimit_headers(false)
        .build()
        .unwrap()
        .layer(inner);
    assert_eq!(status(&rt, &quiet), StatusCode::OK);
    bench_oneshot(&mut group, "armature_no_headers", &rt, quiet, request);
    let theirs =
        GovernorLayer::new(Arc::new(governor(1, 1_000_000_000).finish().unwrap())).layer(inner);
    assert_eq!(status(&rt, &theirs), StatusCode::OK);
    bench_oneshot(&mut group, "tower_governor", &rt, theirs, request);
    let config = governor(1, 1_000_000_000).use_headers().finish().unwrap();
    let theirs = GovernorLayer::new(Arc::new(config)).layer(inner);
    assert_eq!(status(&rt, &theirs), StatusCode::OK);
    bench_oneshot(&mut group, "tower_governor_headers", &rt, theirs, request);
    group.finish();

    let mut group = c.benchmark_group("rate_limit/refused");
    let ours = armature(Quota::per_hour(1)).layer(inner);
    status(&rt, &ours);
    assert_eq!(status(&rt, &ours), StatusCode::TOO_MANY_REQUESTS);
    bench_oneshot(&mut group, "armature", &rt, ours, request);
    let config = governor(3_600_000_000_000, 1).finish().unwrap();
    let theirs = GovernorLayer::new(Arc::new(config)).layer(inner);
    status(&rt, &theirs);
    assert_eq!(status(&rt, &theirs), StatusCode::TOO_MANY_REQUESTS);
    bench_oneshot(&mut group, "tower_governor", &rt, theirs, request);
    group.finish();
}

#[path = "../armature-layers/tests/support/redis.rs"]
mod redis_server;

fn redis_round_trip(c: &mut Criterion) {
    let redis = redis_server::RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = RedisStore::builder(redis.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_second(1_000_000_000))
        .store(store)
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(hello as fn(_) -> _));
    let warm = svc.clone();
    let status = runtime.block_on(async move { warm.oneshot(request()).await.unwrap().status() });
    assert_eq!(status, StatusCode::OK);
    let mut group = c.benchmark_group("rate_limit/redis");
    group.bench_function("decision_round_trip", |b| {
        b.to_async(&runtime).iter(|| {
            let svc = svc.clone();
            async move { black_box(svc.oneshot(black_box(request())).await.unwrap().status()) }
        })
    });
    group.finish();
}

criterion_group!(benches, in_process, redis_round_trip);
criterion_main!(benches);
