//! Route lookup: Armature's router beside matchit, on the same tables, in the same groups.
//!
//! `cargo bench -p armature-benches --bench router`

use std::hint::black_box;

use armature_benches::{github_paths, github_router, GITHUB_ROUTES};
use armature_router::{get, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;

fn matchit_github() -> matchit::Router<usize> {
    let mut router = matchit::Router::new();
    for (i, route) in GITHUB_ROUTES.iter().enumerate() {
        router.insert(*route, i).expect("no conflicts");
    }
    router
}

fn github_all(c: &mut Criterion) {
    let paths = github_paths();
    let armature = github_router();
    let matchit = matchit_github();
    // Both routers must agree before their speed means anything.
    for path in &paths {
        let ours = armature
            .at(path)
            .expect("armature matches")
            .template()
            .to_owned();
        let theirs = matchit.at(path).expect("matchit matches");
        assert_eq!(ours, GITHUB_ROUTES[*theirs.value], "{path}");
    }

    let mut group = c.benchmark_group("github_all_routes");
    group.bench_function("armature", |b| {
        b.iter(|| {
            for path in &paths {
                black_box(armature.at(black_box(path)));
            }
        })
    });
    group.bench_function("matchit", |b| {
        b.iter(|| {
            for path in &paths {
                black_box(matchit.at(black_box(path)).ok());
            }
        })
    });
    group.finish();
}

fn single_lookups(c: &mut Criterion) {
    let armature = github_router();
    let matchit = matchit_github();
    let cases = [
        ("static", "/user/repos"),
        ("1_param", "/users/rust-lang"),
        ("3_params", "/repos/rust-lang/rust/issues/1234"),
        ("missing", "/repos/rust-lang/rust/unknown/thing"),
    ];
    for (name, path) in cases {
        let mut group = c.benchmark_group(format!("lookup_{name}"));
        group.bench_function("armature", |b| {
            b.iter(|| black_box(armature.at(black_box(path)).is_some()))
        });
        group.bench_function("matchit", |b| {
            b.iter(|| black_box(matchit.at(black_box(path)).is_ok()))
        });
        group.finish();
    }
}

fn build(c: &mut Criterion) {
    c.bench_function("build_github_table", |b| {
        b.iter(|| {
            let router: Router<()> = GITHUB_ROUTES
                .iter()
                .fold(Router::builder(), |b, r| {
                    b.route(r, get(|_req: Request<()>| async { "" }))
                })
                .build()
                .unwrap();
            black_box(router)
        })
    });
}

criterion_group!(benches, github_all, single_lookups, build);
criterion_main!(benches);
