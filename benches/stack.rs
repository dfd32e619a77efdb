//! A request through `Router` via `oneshot`, for the three benchmark endpoints.
//!
//! `cargo bench -p armature-benches --bench stack`

use std::hint::black_box;

use armature_examples::hello_routes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::Request;
use tower::ServiceExt;

fn oneshot(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let router = hello_routes::<()>().build().unwrap();
    let mut group = c.benchmark_group("router_oneshot");
    for (name, path) in [
        ("plaintext", "/plaintext"),
        ("json", "/json"),
        ("users", "/users/42"),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                || (router.clone(), Request::get(path).body(()).unwrap()),
                |(router, req)| async move { black_box(router.oneshot(black_box(req)).await.unwrap()) },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, oneshot);
criterion_main!(benches);
