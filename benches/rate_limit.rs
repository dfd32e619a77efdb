//! Per-request overhead of the rate-limit layer with the in-process store, in the same group
//! as `tower_governor` (governor's GCRA behind a tower layer), keyed by peer IP in both, and
//! separately the cost of one decision through Redis (a real `redis-server` on a free port,
//! started and stopped here; skipped with a message if it is not installed).
//!
//! `cargo bench -p armature-benches --bench rate_limit`
//!
//! * `admitted`: every request admitted (a huge quota); armature adds `RateLimit-Policy` and
//!   `RateLimit` headers, tower_governor adds nothing by default, or `x-ratelimit-limit` and
//!   `-remaining` with `use_headers()` (`tower_governor_headers`).
//! * `refused`: every request refused (a spent quota): both build a 429 with `Retry-After`.
//! * `bare`: the inner service alone, the floor.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use armature_layers::rate_limit::{Quota, RateLimitLayer, RedisStore};
use axum::body::Body;
use axum::extract::ConnectInfo;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;

fn hello(_req: Request<()>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    std::future::ready(Ok(Response::new(Body::empty())))
}

fn request() -> Request<()> {
    let addr = SocketAddr::from(([192, 0, 2, 7], 50_000));
    let mut req = Request::new(());
    // armature-server's extension and axum's, so each layer finds the peer its own way.
    req.extensions_mut().insert(addr);
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// Polls the service's future to completion without a runtime (every future here is ready).
fn drive<S>(svc: &mut S, req: Request<()>) -> StatusCode
where
    S: Service<Request<()>, Response = Response<Body>>,
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

fn armature(quota: Quota) -> RateLimitLayer {
    RateLimitLayer::builder().quota(quota).build().unwrap()
}

fn in_process(c: &mut Criterion) {
    let inner = service_fn(hello as fn(_) -> _);
    let mut group = c.benchmark_group("rate_limit/admitted");
    let mut bare = inner;
    group.bench_function("bare", |b| {
        b.iter(|| black_box(drive(&mut bare, black_box(request()))))
    });

    let mut ours = armature(Quota::per_second(1_000_000_000)).layer(inner);
    assert_eq!(drive(&mut ours, request()), StatusCode::OK);
    group.bench_function("armature", |b| {
        b.iter(|| black_box(drive(&mut ours, black_box(request()))))
    });

    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000_000)
        .finish()
        .unwrap();
    let mut theirs = GovernorLayer::new(Arc::new(config)).layer(inner);
    assert_eq!(drive(&mut theirs, request()), StatusCode::OK);
    group.bench_function("tower_governor", |b| {
        b.iter(|| black_box(drive(&mut theirs, black_box(request()))))
    });

    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000_000)
        .use_headers()
        .finish()
        .unwrap();
    let mut theirs = GovernorLayer::new(Arc::new(config)).layer(inner);
    assert_eq!(drive(&mut theirs, request()), StatusCode::OK);
    group.bench_function("tower_governor_headers", |b| {
        b.iter(|| black_box(drive(&mut theirs, black_box(request()))))
    });
    group.finish();

    let mut group = c.benchmark_group("rate_limit/refused");
    let mut ours = armature(Quota::per_hour(1)).layer(inner);
    drive(&mut ours, request());
    assert_eq!(drive(&mut ours, request()), StatusCode::TOO_MANY_REQUESTS);
    group.bench_function("armature", |b| {
        b.iter(|| black_box(drive(&mut ours, black_box(request()))))
    });
    let config = GovernorConfigBuilder::default()
        .per_second(3600)
        .burst_size(1)
        .finish()
        .unwrap();
    let mut theirs = GovernorLayer::new(Arc::new(config)).layer(inner);
    drive(&mut theirs, request());
    assert_eq!(drive(&mut theirs, request()), StatusCode::TOO_MANY_REQUESTS);
    group.bench_function("tower_governor", |b| {
        b.iter(|| black_box(drive(&mut theirs, black_box(request()))))
    });
    group.finish();
}

/// A redis-server of our own for the round-trip benchmark, killed on drop.
struct RedisServer(Child, std::path::PathBuf);

impl RedisServer {
    fn start() -> Option<(Self, u16)> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("armature-bench-redis-{port}"));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer(child, dir);
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((server, port));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn redis_round_trip(c: &mut Criterion) {
    let Some((_redis, port)) = RedisServer::start() else {
        eprintln!("rate_limit/redis skipped: redis-server is not installed (apt-get install -y redis-server)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{port}/"))
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
