//! A request through `Router` via `oneshot`, for the three benchmark endpoints.
//!
//! `cargo bench -p armature-benches --bench stack`
//!
//! Requests are built ahead in batches, outside the timed loop (building one is the server's
//! work, not the router's); the timed loop calls the router and drops each response, as a
//! server does. The batch vector is reused, so no page is first touched while timing —
//! criterion's `iter_batched` collects outputs into a fresh vector and so times the page
//! faults of that vector, about 50 ns a request here.

use std::hint::black_box;
use std::time::{Duration, Instant};

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
    let router = hello_routes::<()>().build().unwrap();
    let mut group = c.benchmark_group("router_oneshot");
    for (name, path) in [
        ("plaintext", "/plaintext"),
        ("json", "/json"),
        ("users", "/users/42"),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let router = router.clone();
                async move {
                    let mut batch = Vec::with_capacity(BATCH as usize);
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(BATCH);
                        batch.extend((0..n).map(|_| Request::get(path).body(()).unwrap()));
                        let start = Instant::now();
                        for req in batch.drain(..) {
                            let res = router.clone().oneshot(black_box(req)).await;
                            drop(black_box(res));
                        }
                        timed += start.elapsed();
                        left -= n;
                    }
                    timed
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, oneshot);
criterion_main!(benches);
