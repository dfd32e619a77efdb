//! Per-request overhead of each Armature layer over a bare inner service, in the same group as
//! tower-http's equivalent.
//!
//! `cargo bench -p armature-benches --bench layers`

use armature_benches::{bench_oneshot, inner, Req};
use armature_layers::logger::Logger;
use armature_layers::request_id::RequestIdLayer;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::Layer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

fn request() -> Request<Req> {
    Request::get("/users/42")
        .header("origin", "https://app.example")
        .body(Req::new())
        .unwrap()
}

fn request_id(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("request_id");
    bench_oneshot(&mut group, "bare", &rt, inner(), request);
    bench_oneshot(
        &mut group,
        "armature",
        &rt,
        RequestIdLayer::new().layer(inner()),
        request,
    );
    bench_oneshot(
        &mut group,
        "tower_http",
        &rt,
        SetRequestIdLayer::x_request_id(MakeRequestUuid)
            .layer(PropagateRequestIdLayer::x_request_id().layer(inner())),
        request,
    );
    group.finish();
}

fn logger(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // No subscriber: both layers only check whether their events are enabled.
    let mut group = c.benchmark_group("logger_disabled");
    bench_oneshot(&mut group, "bare", &rt, inner(), request);
    bench_oneshot(
        &mut group,
        "armature",
        &rt,
        Logger::default().layer(inner()),
        request,
    );
    bench_oneshot(
        &mut group,
        "tower_http_trace",
        &rt,
        TraceLayer::new_for_http().layer(inner()),
        request,
    );
    group.finish();

    // A subscriber that formats every event (to a sink): what logging really costs.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut group = c.benchmark_group("logger_enabled");
        bench_oneshot(
            &mut group,
            "armature",
            &rt,
            Logger::default()
                .level(tracing::Level::DEBUG)
                .layer(inner()),
            request,
        );
        bench_oneshot(
            &mut group,
            "tower_http_trace",
            &rt,
            TraceLayer::new_for_http().layer(inner()),
            request,
        );
        group.finish();
    });
}

criterion_group!(benches, request_id, logger);
criterion_main!(benches);
