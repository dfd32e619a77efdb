//! Per-request overhead of each Armature layer over a bare inner service, in the same group as
//! tower-http's equivalent.
//!
//! `cargo bench -p armature-benches --bench layers`

use std::convert::Infallible;
use std::hint::black_box;

use armature_layers::logger::Logger;
use armature_layers::request_id::RequestIdLayer;
use bytes_body::body;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

type Req = http_body_util::Empty<bytes::Bytes>;

mod bytes_body {
    use http_body_util::Full;
    pub type Body = Full<bytes::Bytes>;
    pub fn body() -> Body {
        Full::new(bytes::Bytes::from_static(b"Hello, World!"))
    }
}

type Inner = tower::util::ServiceFn<
    fn(Request<Req>) -> std::future::Ready<Result<Response<bytes_body::Body>, Infallible>>,
>;

fn inner() -> Inner {
    fn hello(
        _req: Request<Req>,
    ) -> std::future::Ready<Result<Response<bytes_body::Body>, Infallible>> {
        std::future::ready(Ok(Response::new(body())))
    }
    service_fn(hello as fn(_) -> _)
}

/// Benchmarks one request (response body read to the end) through `svc`.
fn bench<S, B>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    svc: S,
) where
    S: Service<Request<Req>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || {
                (
                    svc.clone(),
                    Request::get("/users/42")
                        .header("origin", "https://app.example")
                        .body(Req::new())
                        .unwrap(),
                )
            },
            |(svc, req)| async move {
                let res = svc.oneshot(black_box(req)).await.unwrap();
                black_box(res.into_body().collect().await.unwrap());
            },
            BatchSize::SmallInput,
        )
    });
}

fn request_id(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("request_id");
    bench(&mut group, "bare", &rt, inner());
    bench(
        &mut group,
        "armature",
        &rt,
        RequestIdLayer::new().layer(inner()),
    );
    bench(
        &mut group,
        "tower_http",
        &rt,
        SetRequestIdLayer::x_request_id(MakeRequestUuid)
            .layer(PropagateRequestIdLayer::x_request_id().layer(inner())),
    );
    group.finish();
}

fn logger(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // No subscriber: both layers only check whether their events are enabled.
    let mut group = c.benchmark_group("logger_disabled");
    bench(&mut group, "bare", &rt, inner());
    bench(
        &mut group,
        "armature",
        &rt,
        Logger::default().layer(inner()),
    );
    bench(
        &mut group,
        "tower_http_trace",
        &rt,
        TraceLayer::new_for_http().layer(inner()),
    );
    group.finish();

    // A subscriber that formats every event (to a sink): what logging really costs.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut group = c.benchmark_group("logger_enabled");
        bench(
            &mut group,
            "armature",
            &rt,
            Logger::default()
                .level(tracing::Level::DEBUG)
                .layer(inner()),
        );
        bench(
            &mut group,
            "tower_http_trace",
            &rt,
            TraceLayer::new_for_http().layer(inner()),
        );
        group.finish();
    });
}

criterion_group!(benches, request_id, logger);
criterion_main!(benches);
