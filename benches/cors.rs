//! Per-request overhead of the CORS layer over a bare inner service, in the same group as
//! tower-http's `CorsLayer` with an equivalent configuration: a simple request from an
//! allowed origin, a preflight, and a simple request from a disallowed origin.
//!
//! `cargo bench -p armature-benches --bench cors`
//!
//! (Lead: this file goes to `benches/cors.rs`, with
//! `[[bench]] name = "cors"  path = "cors.rs"  harness = false` in `benches/Cargo.toml`;
//! `armature-layers` and `tower-http` with the `cors` feature are already dev-dependencies.)

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use armature_layers::cors::Cors;
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use tower::{service_fn, Layer, Service, ServiceExt};

type Req = Empty<Bytes>;
type Res = Full<Bytes>;
type MakeRequest = fn() -> Request<Req>;

const ALLOWED: &str = "https://app.example";
const DISALLOWED: &str = "https://app.example.evil.com";

type Inner = tower::util::ServiceFn<
    fn(Request<Req>) -> std::future::Ready<Result<Response<Res>, Infallible>>,
>;

fn inner() -> Inner {
    fn hello(_req: Request<Req>) -> std::future::Ready<Result<Response<Res>, Infallible>> {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(
            b"Hello, World!",
        )))))
    }
    service_fn(hello as fn(_) -> _)
}

/// The same policy in both: two exact origins, three methods, two request headers, one
/// exposed header, credentials, ten minutes of preflight caching.
fn armature() -> armature_layers::cors::CorsLayer {
    Cors::builder()
        .allow_origins([ALLOWED, "https://admin.example"])
        .allow_methods([Method::GET, Method::PUT, Method::DELETE])
        .allow_headers([HeaderName::from_static("x-api-key"), header::CONTENT_TYPE])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
        .build()
        .expect("a valid configuration")
}

fn tower_http() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new()
        .allow_origin([
            HeaderValue::from_static(ALLOWED),
            HeaderValue::from_static("https://admin.example"),
        ])
        .allow_methods([Method::GET, Method::PUT, Method::DELETE])
        .allow_headers([HeaderName::from_static("x-api-key"), header::CONTENT_TYPE])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

fn simple(origin: &'static str) -> Request<Req> {
    Request::get("/users/42")
        .header(header::ORIGIN, origin)
        .body(Req::new())
        .unwrap()
}

fn preflight() -> Request<Req> {
    Request::options("/users/42")
        .header(header::ORIGIN, ALLOWED)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-api-key")
        .body(Req::new())
        .unwrap()
}

/// Benchmarks one request (response body read to the end) through `svc`; the request is
/// built outside the measured part.
fn bench<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    svc: S,
    request: MakeRequest,
) where
    S: Service<Request<Req>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || (svc.clone(), request()),
            |(svc, req)| async move {
                let res = svc.oneshot(black_box(req)).await.unwrap();
                black_box(res.into_body().collect().await.unwrap());
            },
            BatchSize::SmallInput,
        )
    });
}

fn cors(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let scenarios: [(&str, MakeRequest); 3] = [
        ("cors_simple_allowed_origin", || simple(ALLOWED)),
        ("cors_preflight", preflight),
        ("cors_disallowed_origin", || simple(DISALLOWED)),
    ];
    for (group_name, request) in scenarios {
        let mut group = c.benchmark_group(group_name);
        // For the preflight, "bare" is the inner service answering the OPTIONS itself.
        bench(&mut group, "bare", &rt, inner(), request);
        bench(
            &mut group,
            "armature",
            &rt,
            armature().layer(inner()),
            request,
        );
        bench(
            &mut group,
            "tower_http",
            &rt,
            tower_http().layer(inner()),
            request,
        );
        group.finish();
    }
}

criterion_group!(benches, cors);
criterion_main!(benches);
