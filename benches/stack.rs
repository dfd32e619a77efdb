//! A request through `Router` via `oneshot`, for the three benchmark endpoints.
//!
//! `cargo bench -p armature-benches --bench stack`
//!
//! Requests are built ahead in batches, outside the timed loop (building one is the server's
//! work, not the router's); the timed loop calls the router and drops each response, as a
//! server does (`armature_benches::timed_in_batches`).

use std::hint::black_box;

use armature_benches::timed_in_batches;
use armature_examples::hello_routes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::ServiceExt;

/// Requests built per batch (about 230 KB of `Request<()>`).
const BATCH: u64 = 1024;

fn oneshot(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The default router, and one that passes over routes lacking the method (the Node
    // package's, as Fastify matches).
    for (group, backtrack) in [
        ("router_oneshot", false),
        ("router_oneshot_backtrack_on_method", true),
    ] {
        let router = hello_routes::<()>()
            .backtrack_on_method(backtrack)
            .build()
            .unwrap();
        let mut group = c.benchmark_group(group);
        for (name, path) in [
            ("plaintext", "/plaintext"),
            ("json", "/json"),
            ("users", "/users/42"),
        ] {
            group.bench_function(name, |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let router = router.clone();
                    async move {
                        timed_in_batches(
                            iters,
                            BATCH,
                            || Request::get(path).body(()).unwrap(),
                            async |req| drop(black_box(router.clone().oneshot(req).await)),
                        )
                        .await
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, oneshot);
criterion_main!(benches);
