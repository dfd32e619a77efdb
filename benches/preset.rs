//! The whole preset stack of `examples/stack.rs` (request id → analytics → logger → CORS →
//! rate limit → docs → router) beside the bare hello router, one request at a time through
//! `oneshot`, the response body read to its end as a server does. The request looks like one
//! hyper hands over: `Host`, `User-Agent` and `Accept` headers and the peer address extension
//! armature-server sets.
//!
//! ```text
//! cargo bench -p armature-benches --bench preset
//! ```
//!
//! The difference between `router/*` and `stack*/*` is what the preset costs per request.
//! `stack` writes its access log as buffered lines (`AccessLog`, into `io::sink`), as
//! `examples/stack` does by default; `stack-tracing` emits it as `tracing` events formatted by
//! a `tracing_subscriber::fmt` subscriber into `io::sink`; `stack-quiet` has no subscriber, so
//! the access event is disabled, as with `--access-log tracing` and `RUST_LOG=warn`.
//!
//! For instruction counts (immune to the noise of shared machines), the same binary runs a
//! fixed number of requests without criterion when `PRESET_PROFILE=<config>:<endpoint>:<n>`
//! is set, e.g. under callgrind:
//!
//! ```text
//! cargo bench -p armature-benches --bench preset --no-run
//! PRESET_PROFILE=stack-quiet:plaintext:100000 valgrind --tool=callgrind target/release/deps/preset-*
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use armature_benches::timed_in_batches;
use armature_examples::hello_routes;
use armature_layers::analytics::AnalyticsLayer;
use armature_layers::logger::{AccessLog, Logger};
use armature_layers::request_id::RequestIdLayer;
use armature_openapi::DocsLayer;
use armature_router::Router;
use armature_server::RequestBody;
use criterion::Criterion;
use http::header::{ACCEPT, HOST, USER_AGENT};
use http::{HeaderValue, Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

#[allow(dead_code)]
#[path = "../examples/stack.rs"]
mod stack;

/// Requests built per batch, outside the timed loop.
const BATCH: u64 = 512;

const ENDPOINTS: [(&str, &str); 3] = [
    ("plaintext", "/plaintext"),
    ("json", "/json"),
    ("user", "/users/42"),
];

fn request(path: &str) -> Request<RequestBody> {
    let mut req = Request::get(path).body(RequestBody::empty()).unwrap();
    let headers = req.headers_mut();
    headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert(USER_AGENT, HeaderValue::from_static("bench/1.0"));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    req.extensions_mut()
        .insert(SocketAddr::from(([127, 0, 0, 1], 50_000)));
    req
}

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// One configuration: serves one request to the end on a clone of the service, as
/// armature-server does for every request.
type Serve = Box<dyn Fn(Request<RequestBody>) -> BoxFuture>;

fn serving<S, B>(svc: S) -> Serve
where
    S: Service<Request<RequestBody>, Response = Response<B>, Error = Infallible> + Clone + 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Box::new(move |req| {
        let svc = svc.clone();
        Box::pin(async move {
            let Ok(res) = svc.oneshot(req).await;
            let mut body = std::pin::pin!(res.into_body());
            while let Some(frame) = body.frame().await {
                black_box(frame.map_err(Into::into).expect("the body completes"));
            }
        })
    })
}

fn router() -> Router<RequestBody> {
    hello_routes::<RequestBody>().build().unwrap()
}

fn spec() -> armature_openapi::utoipa::openapi::OpenApi {
    armature_openapi::spec(&router(), Default::default()).unwrap()
}

fn config(name: &str) -> Serve {
    let permissive = stack::cors(&[]).unwrap();
    // A quota that never refuses: every request pays for the decision and its headers.
    let limit = stack::rate_limit(Some("1000000000/s"), None).unwrap();
    match name {
        "router" => serving(router()),
        // The access log as `tracing` events: formatted into a sink, or filtered out.
        "stack-tracing" | "stack-quiet" => {
            serving(stack::app(permissive, limit, Logger::default()))
        }
        // The access log as buffered lines, into a sink.
        "stack" => serving(stack::app(
            permissive,
            limit,
            Logger::default().write_to(AccessLog::new(std::io::sink())),
        )),
        // One layer of the stack at a time around the router, to see what each costs.
        "request-id" => serving(RequestIdLayer::new().layer(router())),
        "analytics" => serving(stack::analytics(&router()).layer(router())),
        // The configurations of `benches/analytics.rs`: routes created on first use, and
        // registered up front without consumers.
        "analytics-new" => serving(AnalyticsLayer::new().layer(router())),
        "analytics-routes" => serving(
            AnalyticsLayer::builder()
                .routes(&router())
                .build()
                .layer(router()),
        ),
        "logger" => serving(Logger::default().layer(router())),
        "cors" => serving(permissive.layer(router())),
        "rate-limit" => serving(limit.expect("a quota").layer(router())),
        "docs" => serving(DocsLayer::new(&spec()).layer(router())),
        other => panic!(
            "unknown configuration {other}: router, stack, stack-quiet, stack-tracing, \
             request-id, analytics, analytics-new, analytics-routes, logger, cors, rate-limit \
             or docs"
        ),
    }
}

/// Runs `iters` requests to `path` through `serve`, timing only the calls.
async fn timed(serve: &Serve, path: &str, iters: u64) -> Duration {
    timed_in_batches(iters, BATCH, || request(path), async |req| serve(req).await).await
}

fn sink_subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("preset");
    for name in ["router", "stack-quiet", "stack", "stack-tracing"] {
        let serve = config(name);
        let _guard =
            (name == "stack-tracing").then(|| tracing::subscriber::set_default(sink_subscriber()));
        for (endpoint, path) in ENDPOINTS {
            group.bench_function(format!("{name}/{endpoint}"), |b| {
                b.to_async(&rt)
                    .iter_custom(|iters| timed(&serve, path, iters))
            });
        }
    }
    group.finish();
}

/// `PRESET_PROFILE=<config>:<endpoint>:<n>`: `n` requests, no criterion, for callgrind.
fn profile(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let [name, endpoint, n] = parts[..] else {
        panic!("PRESET_PROFILE=<config>:<endpoint>:<n>, got {spec:?}");
    };
    let path = ENDPOINTS
        .iter()
        .find(|(e, _)| *e == endpoint)
        .map(|(_, p)| *p)
        .expect("endpoint: plaintext, json or user");
    let n: u64 = n.parse().expect("n: a number of requests");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let serve = config(name);
    let _guard =
        (name == "stack-tracing").then(|| tracing::subscriber::set_default(sink_subscriber()));
    let spent = rt.block_on(timed(&serve, path, n));
    eprintln!("{spec}: {:?} per request", spent / n as u32);
}

fn main() {
    if let Ok(spec) = std::env::var("PRESET_PROFILE") {
        profile(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
