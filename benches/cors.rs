//! Per-request overhead of the CORS layer over a bare inner service, in the same group as
//! tower-http's `CorsLayer` with an equivalent configuration: a simple request from an
//! allowed origin, a preflight, and a simple request from a disallowed origin.
//!
//! `cargo bench -p armature-benches --bench cors`
//!
//! (Lead: this file goes to `benches/cors.rs`, with
//! `[[bench]] name = "cors"  path = "cors.rs"  harness = false` in `benches/Cargo.toml`;
//! `armature-layers` and `tower-http` with the `cors` feature are already dev-dependencies.)

use std::time::Duration;

use armature_benches::{bench_oneshot, inner, MakeRequest, Req};
use armature_layers::cors::Cors;
use criterion::{criterion_group, criterion_main, Criterion};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request};
use tower::Layer;

const ALLOWED: &str = "https://app.example";
const DISALLOWED: &str = "https://app.example.evil.com";

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
        bench_oneshot(&mut group, "bare", &rt, inner(), request);
        bench_oneshot(
            &mut group,
            "armature",
            &rt,
            armature().layer(inner()),
            request,
        );
        bench_oneshot(
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
