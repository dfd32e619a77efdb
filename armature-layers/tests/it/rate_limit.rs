//! The rate-limit layer with the in-process store: exact counts under concurrency, bounded
//! memory under a key flood, and the headers at the boundary. Time is a `ManualClock`, so no
//! count depends on how fast the machine is.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use armature_layers::rate_limit::{
    ManualClock, MemoryStore, Quota, RateLimitError, RateLimitLayer, RateLimited,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{service_fn, BoxError, Layer, Service, ServiceExt};

use crate::send;
use send::{keyed_layer, send};

use crate::flood;

type Res = Response<String>;

fn counting_inner(
    calls: Arc<AtomicUsize>,
) -> impl Service<Request<()>, Response = Res, Error = Infallible, Future = impl Send> + Clone + Send
{
    service_fn(move |_req: Request<()>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new("hello".to_owned())) }
    })
}

fn with_key(key: &str) -> Request<()> {
    Request::get("/").header("x-api-key", key).body(()).unwrap()
}

/// An in-process store whose clock never moves: counts depend on nothing but the requests.
fn still_store() -> MemoryStore {
    MemoryStore::builder()
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_64_tasks_5000_requests_admit_exactly_the_quota() {
    let clock = ManualClock::new(); // frozen: no replenishment during the test
    let store = MemoryStore::builder().clock(clock).build().unwrap();
    let layer = keyed_layer(Quota::per_minute(1_000), store);
    let flood = flood::from_64_tasks(layer).await;
    assert_eq!(flood.admitted + flood.refused, 5_000);
    assert_eq!(flood.admitted, 1_000, "admitted");
    assert_eq!(
        flood.called, 1_000,
        "refused requests never reach the service"
    );
}

#[tokio::test]
async fn a_flood_of_a_million_distinct_keys_keeps_the_store_bounded() {
    let clock = ManualClock::new();
    let store = MemoryStore::builder()
        .max_keys(10_000)
        .clock(clock.clone())
        .build()
        .unwrap();
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(5))
        .key_by_header("x-api-key")
        .store(store.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counting_inner(calls));
    let mut max_len = 0;
    for i in 0..1_000_000u32 {
        if i % 100_000 == 0 {
            // Half the flood with time frozen (every key active), half with time moving.
            clock.advance(Duration::from_secs(if i < 500_000 { 0 } else { 3_600 }));
        }
        let res = send(&mut svc, with_key(&format!("k{i}"))).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "a fresh key is always admitted"
        );
        if i % 1_000 == 0 {
            max_len = max_len.max(store.len());
        }
    }
    assert!(store.len() <= 10_000, "{}", store.len());
    assert!(max_len <= 10_000, "{max_len}");
    assert!(max_len > 5_000, "the store was used: {max_len}");
    // The limiter still works for a key it holds.
    for _ in 0..4 {
        let res = send(&mut svc, with_key("k999999")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = send(&mut svc, with_key("k999999")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn headers_and_retry_after_are_exact_at_the_boundary() {
    let clock = ManualClock::new();
    // 10 per 10 s: one request per second, burst 10.
    let layer = RateLimitLayer::builder()
        .quota(Quota::new(10, Duration::from_secs(10)))
        .key_by_header("x-api-key")
        .store(MemoryStore::builder().clock(clock.clone()).build().unwrap())
        .x_ratelimit_headers(true)
        .policy_name("api")
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counting_inner(Arc::clone(&calls)));
    let mut send = async |clock_note: &str| {
        let res = send(&mut svc, with_key("k")).await;
        let h = res.headers().clone();
        let note = format!("{clock_note}: {h:?}");
        (res, h, note)
    };
    for spent in 1..=10u64 {
        let (res, h, note) = send("burst").await;
        assert_eq!(res.status(), StatusCode::OK, "{note}");
        assert_eq!(
            header(&h, "ratelimit-policy"),
            Some(r#""api";q=10;w=10"#),
            "{note}"
        );
        let expected = format!(r#""api";r={};t={spent}"#, 10 - spent);
        assert_eq!(header(&h, "ratelimit"), Some(expected.as_str()), "{note}");
        assert_eq!(header(&h, "x-ratelimit-limit"), Some("10"), "{note}");
        assert_eq!(
            header(&h, "x-ratelimit-remaining"),
            Some((10 - spent).to_string().as_str())
        );
        assert_eq!(
            header(&h, "x-ratelimit-reset"),
            Some(spent.to_string().as_str())
        );
        assert!(h.get("retry-after").is_none(), "{note}");
        assert!(res.extensions().get::<RateLimited>().is_none());
    }
    // The 11th: refused, retry in exactly 1 s, full reset in 10 s.
    let (res, h, note) = send("11th").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{note}");
    assert_eq!(header(&h, "retry-after"), Some("1"), "{note}");
    assert_eq!(header(&h, "ratelimit"), Some(r#""api";r=0;t=10"#), "{note}");
    assert_eq!(header(&h, "x-ratelimit-remaining"), Some("0"), "{note}");
    let marker = *res.extensions().get::<RateLimited>().unwrap();
    assert_eq!(marker.retry_after(), Duration::from_secs(1));
    assert_eq!(
        header(&h, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    let message = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        message.starts_with(b"Too Many Requests"),
        "a short message: {message:?}"
    );
    // 1 ns before the slot: still refused, Retry-After rounds 1 ns up to 1 s.
    clock.advance(Duration::from_secs(1) - Duration::from_nanos(1));
    let (res, h, note) = send("1 s - 1 ns").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{note}");
    assert_eq!(header(&h, "retry-after"), Some("1"), "{note}");
    assert_eq!(
        res.extensions().get::<RateLimited>().unwrap().retry_after(),
        Duration::from_nanos(1)
    );
    // At the slot: admitted, and nothing left.
    clock.advance(Duration::from_nanos(1));
    let (res, h, note) = send("1 s").await;
    assert_eq!(res.status(), StatusCode::OK, "{note}");
    assert_eq!(header(&h, "ratelimit"), Some(r#""api";r=0;t=10"#), "{note}");
    let (res, _, note) = send("1 s again").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{note}");
    // After 10 idle seconds the whole burst is back.
    clock.advance(Duration::from_secs(10));
    let (res, h, note) = send("+10 s").await;
    assert_eq!(res.status(), StatusCode::OK, "{note}");
    assert_eq!(header(&h, "ratelimit"), Some(r#""api";r=9;t=1"#), "{note}");
    assert_eq!(calls.load(Ordering::SeqCst), 12);
}

#[tokio::test]
async fn fractional_intervals_round_retry_after_up() {
    let clock = ManualClock::new();
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_second(3))
        .key_by_header("x-api-key")
        .store(MemoryStore::builder().clock(clock.clone()).build().unwrap())
        .build()
        .unwrap();
    let mut svc = layer.layer(counting_inner(Arc::default()));
    for _ in 0..3 {
        let res = send(&mut svc, with_key("k")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = send(&mut svc, with_key("k")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    // The interval is 333,333,334 ns (rounded up, never admitting more than 3 per second).
    let retry = res.extensions().get::<RateLimited>().unwrap().retry_after();
    assert_eq!(retry, Duration::from_nanos(333_333_334));
    clock.advance(retry);
    let res = send(&mut svc, with_key("k")).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn grpc_calls_are_refused_with_resource_exhausted() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by_header("x-api-key")
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counting_inner(Arc::clone(&calls)));
    let grpc = || {
        Request::post("/grpc.health.v1.Health/Check")
            .header("content-type", "application/grpc+proto")
            .header("x-api-key", "k")
            .body(())
            .unwrap()
    };
    let res = send(&mut svc, grpc()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("grpc-status").is_none());
    let res = send(&mut svc, grpc()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "gRPC errors travel in grpc-status"
    );
    assert_eq!(res.headers()["grpc-status"], "8");
    assert_eq!(res.headers()["grpc-message"], "rate limit exceeded");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["retry-after"], "3600");
    assert!(res.extensions().get::<RateLimited>().is_some());
    // Plain HTTP on the same key gets 429.
    let res = send(&mut svc, with_key("k")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn keys_by_peer_address_and_passes_unkeyed_requests() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counting_inner(Arc::clone(&calls)));
    let from = |addr: &str| {
        let mut req = Request::new(());
        req.extensions_mut()
            .insert(addr.parse::<SocketAddr>().unwrap());
        req
    };
    let mut status = async |req: Request<()>| send(&mut svc, req).await.status();
    assert_eq!(status(from("192.0.2.1:1000")).await, StatusCode::OK);
    assert_eq!(
        status(from("192.0.2.1:2000")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "same IP, other port"
    );
    assert_eq!(
        status(from("[::ffff:192.0.2.1]:3")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "IPv4-mapped"
    );
    assert_eq!(status(from("192.0.2.2:1000")).await, StatusCode::OK);
    // IPv6 is keyed per /64 by default.
    assert_eq!(status(from("[2001:db8:0:1::1]:1")).await, StatusCode::OK);
    assert_eq!(
        status(from("[2001:db8:0:1::2]:1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(status(from("[2001:db8:0:2::1]:1")).await, StatusCode::OK);
    // No peer address (not served by armature-server): not limited, no headers.
    for _ in 0..3 {
        let res = send(&mut svc, Request::new(())).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("ratelimit").is_none());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 7);
}

#[test]
fn invalid_configurations_are_typed_errors() {
    let build = |b: armature_layers::rate_limit::RateLimitBuilder| b.build().unwrap_err();
    assert_eq!(build(RateLimitLayer::builder()), RateLimitError::NoQuota);
    assert_eq!(
        build(RateLimitLayer::builder().quota(Quota::per_second(0))),
        RateLimitError::ZeroQuota
    );
    assert_eq!(
        build(RateLimitLayer::builder().quota(Quota::new(5, Duration::ZERO))),
        RateLimitError::ZeroQuota
    );
    assert_eq!(
        build(RateLimitLayer::builder().quota(Quota::per_second(5).burst(0))),
        RateLimitError::ZeroBurst
    );
    let q = || RateLimitLayer::builder().quota(Quota::per_second(5));
    let err = build(q().trust_proxies(["10.0.0.0/8", "10.0.0.0/33"]));
    assert_eq!(
        err,
        RateLimitError::InvalidProxy {
            proxy: "10.0.0.0/33".into()
        }
    );
    assert!(err.to_string().contains("10.0.0.0/8"), "{err}");
    assert_eq!(
        build(q().ipv6_prefix(0)),
        RateLimitError::InvalidIpv6Prefix { prefix: 0 }
    );
    assert_eq!(
        build(q().ipv6_prefix(129)),
        RateLimitError::InvalidIpv6Prefix { prefix: 129 }
    );
    assert_eq!(
        build(q().key_by_header("x api")),
        RateLimitError::InvalidHeaderName {
            name: "x api".into()
        }
    );
    assert_eq!(
        build(q().key_by_header("x-api-key").trust_proxies(["10.0.0.1"])),
        RateLimitError::ProxiesWithoutClientIp
    );
    assert_eq!(
        build(q().policy_name("a\"b")),
        RateLimitError::InvalidPolicyName {
            name: "a\"b".into()
        }
    );
    assert_eq!(
        MemoryStore::builder().max_keys(0).build().unwrap_err(),
        RateLimitError::ZeroCapacity
    );
    // Valid ones build.
    q().trust_proxies(["10.0.0.0/8", "::1", "192.168.0.1", "::ffff:172.16.0.0/108"])
        .build()
        .unwrap();
}

/// The layer fits where a `BoxError` service is expected (router endpoints, axum, tonic).
#[allow(dead_code)]
fn assert_send_and_boxable() {
    fn check<S: Service<Request<()>, Error = BoxError> + Send + Sync + Clone + 'static>(_s: S)
    where
        S::Future: Send + 'static,
    {
    }
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_second(1))
        .build()
        .unwrap();
    check(layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(Response::new(String::new()))
    })));
}

#[tokio::test]
async fn long_keys_are_limited_each_on_their_own() {
    // Keys longer than 31 bytes are stored as their SHA-256: two 4 KiB API keys that differ
    // only in their last byte must still count separately.
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(2))
        .key_by_header("x-api-key")
        .store(still_store())
        .build()
        .unwrap();
    let mut svc = layer.layer(counting_inner(Arc::new(AtomicUsize::new(0))));
    let a = format!("{}a", "k".repeat(4095));
    let b = format!("{}b", "k".repeat(4095));
    let mut statuses = Vec::new();
    for key in [&a, &a, &a, &b, &b, &b] {
        let res = send(&mut svc, with_key(key)).await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
}

#[tokio::test]
async fn a_key_function_sees_the_request_head_and_the_request_goes_on_unchanged() {
    // Keyed by the first path segment (a tenant); no key: not limited.
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by(|head| {
            let tenant = head.uri.path().split('/').nth(1)?;
            (!tenant.is_empty()).then(|| tenant.to_owned())
        })
        .store(still_store())
        .build()
        .unwrap();
    let echo = service_fn(|req: Request<String>| async move {
        let seen = format!("{} {} {}", req.method(), req.uri(), req.body());
        Ok::<_, Infallible>(Response::new(seen))
    });
    let mut svc = layer.layer(echo);
    let post = |path: &str| Request::post(path).body(format!("to {path}")).unwrap();
    let mut answers = Vec::new();
    for path in ["/acme/a", "/acme/b", "/globex/a", "/", "/"] {
        let res = svc.ready().await.unwrap().call(post(path)).await.unwrap();
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        answers.push((status, String::from_utf8(body.to_vec()).unwrap()));
    }
    let ok = |path: &str| (200, format!("POST {path} to {path}"));
    assert_eq!(answers[0], ok("/acme/a"));
    assert_eq!(answers[1].0, 429);
    assert_eq!(answers[2], ok("/globex/a"));
    assert_eq!(answers[3..], [ok("/"), ok("/")]);
}

#[tokio::test]
async fn without_ratelimit_headers_only_refusals_say_when_to_retry() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by_header("x-api-key")
        .ratelimit_headers(false)
        .store(still_store())
        .build()
        .unwrap();
    let mut svc = layer.layer(counting_inner(Arc::new(AtomicUsize::new(0))));
    let ok = send(&mut svc, with_key("k")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.headers().get("ratelimit").is_none(),
        "{:?}",
        ok.headers()
    );
    assert!(ok.headers().get("ratelimit-policy").is_none());
    let refused = send(&mut svc, with_key("k")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(refused.headers(), "retry-after"), Some("3600"));
    assert!(refused.headers().get("ratelimit").is_none());
}

/// Quotas at the edges of what the limiter represents: refused at build time with a typed
/// error when they cannot be enforced as written, and otherwise enforced without overflow,
/// with a `Retry-After` that is never early.
#[tokio::test]
async fn extreme_quotas_are_typed_errors_or_enforced_exactly() {
    const YEAR: u64 = 365 * 24 * 3600;
    let build = |quota: Quota| RateLimitLayer::builder().quota(quota).build().map(|_| ());
    // More than one request per nanosecond would silently round to one per nanosecond.
    assert_eq!(
        build(Quota::new(u32::MAX, Duration::from_nanos(1))),
        Err(RateLimitError::RateTooHigh {
            count: u32::MAX,
            period: Duration::from_nanos(1)
        })
    );
    assert!(matches!(
        build(Quota::new(2, Duration::from_nanos(1))),
        Err(RateLimitError::RateTooHigh { .. })
    ));
    build(Quota::new(1, Duration::from_nanos(1))).unwrap();
    // Longer than u64 nanoseconds: 1 per 1000 years, the longest Duration, and burst ×
    // interval (or that plus one interval) past u64::MAX.
    for quota in [
        Quota::new(1, Duration::from_secs(1_000 * YEAR)),
        Quota::new(1, Duration::MAX),
        Quota::per_hour(1).burst(u32::MAX),
        Quota::new(1, Duration::from_nanos(1 << 32)).burst(u32::MAX),
    ] {
        assert_eq!(
            build(quota),
            Err(RateLimitError::PeriodTooLong),
            "{quota:?}"
        );
    }

    // A tolerance just under u64::MAX nanoseconds, checked well after the clock's epoch:
    // this used to overflow (a panic in debug builds) computing `remaining`.
    let clock = ManualClock::new();
    let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
    let layer = keyed_layer(
        Quota::new(1, Duration::from_nanos(u64::from(u32::MAX))).burst(u32::MAX),
        store,
    );
    let mut svc = layer.layer(counting_inner(Arc::default()));
    clock.advance(Duration::from_secs(3_600));
    let res = send(&mut svc, with_key("k")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(res.headers(), "ratelimit"),
        Some(r#""default";r=4294967294;t=5"#)
    );

    // One per 250 years, 200 years after the clock's epoch (TATs then run past u64::MAX
    // nanoseconds): the refusal says 250 years, to the nanosecond, not a saturated shorter
    // time (it used to say about 135 years).
    let clock = ManualClock::new();
    let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
    let period = Duration::from_secs(250 * YEAR);
    let layer = keyed_layer(Quota::new(1, period), store);
    let mut svc = layer.layer(counting_inner(Arc::default()));
    clock.advance(Duration::from_secs(200 * YEAR));
    let mut send = || svc.call(with_key("k"));
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let marker = *refused.extensions().get::<RateLimited>().unwrap();
    assert_eq!(marker.retry_after(), period);
    assert_eq!(
        header(refused.headers(), "retry-after"),
        Some(period.as_secs().to_string().as_str())
    );
    // Waiting a nanosecond less is still too early; waiting exactly that long is enough.
    clock.advance(period - Duration::from_nanos(1));
    assert_eq!(
        send().await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(Duration::from_nanos(1));
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
}

/// Behind a trusted proxy that appends to the client's own `X-Forwarded-For` field, bytes
/// that are not text in the client's part (left) do not hide the address the proxy
/// appended (right). Before, the whole field was dropped and such clients were all keyed as
/// the proxy, sharing one budget: one client could exhaust it for the others.
#[tokio::test]
async fn non_text_bytes_left_of_the_proxys_hop_do_not_hide_it() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .trust_proxies(["10.0.0.0/8"])
        .build()
        .unwrap();
    let mut svc = layer.layer(counting_inner(Arc::default()));
    let through_proxy = |field: &[u8]| {
        let mut req = Request::get("/").body(()).unwrap();
        req.headers_mut().insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(field).unwrap(),
        );
        req.extensions_mut()
            .insert(SocketAddr::from(([10, 0, 0, 2], 40000)));
        req
    };
    let first = send(&mut svc, through_proxy(b"\x80\xff, 198.51.100.7")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let other_client = send(
        &mut svc,
        through_proxy(b"caf\xc3\xa9 \xfe, 198.51.100.8, 10.1.1.1"),
    )
    .await;
    assert_eq!(other_client.status(), StatusCode::OK, "a budget of its own");
    let first_again = send(&mut svc, through_proxy(b"\x81, 198.51.100.7")).await;
    assert_eq!(first_again.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Collects the messages of `warn` events from the rate limiter.
#[derive(Clone, Default)]
struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0.lock().unwrap().push(message);
        }
    }
}

/// Keyed by client IP under a server that sets no `SocketAddr` (axum, tonic, a test), no
/// request is limited: documented, and now also logged, once per layer, instead of
/// passing silently. Keyed by a header, a request without it is by design and not logged.
#[test]
fn requests_without_a_peer_address_are_passed_and_logged_once() {
    use tracing_subscriber::layer::SubscriberExt;
    let warnings = Warnings::default();
    let subscriber = tracing_subscriber::registry().with(warnings.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let by_ip = RateLimitLayer::builder()
                .quota(Quota::per_hour(1))
                .build()
                .unwrap();
            let mut svc = by_ip.layer(counting_inner(Arc::default()));
            for _ in 0..3 {
                let req = Request::get("/").body(()).unwrap();
                let res = send(&mut svc, req).await;
                assert_eq!(res.status(), StatusCode::OK);
            }
            let by_header = RateLimitLayer::builder()
                .quota(Quota::per_hour(1))
                .key_by_header("x-api-key")
                .build()
                .unwrap();
            let mut svc = by_header.layer(counting_inner(Arc::default()));
            for _ in 0..3 {
                let req = Request::get("/").body(()).unwrap();
                let res = send(&mut svc, req).await;
                assert_eq!(res.status(), StatusCode::OK);
            }
        })
    });
    let warnings = warnings.0.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("SocketAddr"), "{}", warnings[0]);
}

/// Trusting every address as a proxy would let any client choose its own key (the leftmost
/// `X-Forwarded-For` entry, which it writes): a fresh budget per request. It is a build
/// error, however it is written.
#[test]
fn trusting_every_address_is_a_build_error() {
    for proxy in [" 0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"] {
        let err = RateLimitLayer::builder()
            .quota(Quota::per_second(5))
            .trust_proxies(["10.0.0.0/8", proxy])
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            RateLimitError::TrustsEveryAddress {
                proxy: proxy.to_owned()
            }
        );
        assert!(err.to_string().contains("every address"), "{err}");
    }
    // Broad, but not everything: still the user's call.
    RateLimitLayer::builder()
        .quota(Quota::per_second(5))
        .trust_proxies(["0.0.0.0/1", "::/1"])
        .build()
        .unwrap();
}

/// Keyed by a header, a request carrying it twice is refused with 400: otherwise a client
/// could send its real key (which an authentication layer reading the last field accepts)
/// plus a fresh one per request (which the limiter, reading the first, counted), and never
/// be limited. gRPC calls get `INVALID_ARGUMENT`. No `Retry-After`, no `RateLimited`.
#[tokio::test]
async fn a_key_header_sent_twice_is_a_bad_request() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by_header("x-api-key")
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(counting_inner(Arc::clone(&calls)));
    let res = send(&mut svc, with_key("real")).await;
    assert_eq!(res.status(), StatusCode::OK);
    for n in 0..5 {
        let req = Request::get("/")
            .header("x-api-key", format!("fresh-{n}"))
            .header("x-api-key", "real")
            .body(())
            .unwrap();
        let res = send(&mut svc, req).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "request {n}");
        assert!(res.headers().get("retry-after").is_none());
        assert!(res.extensions().get::<RateLimited>().is_none());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"Bad Request: "), "{body:?}");
    }
    let grpc = Request::post("/pkg.Svc/Call")
        .header("content-type", "application/grpc")
        .header("x-api-key", "a")
        .header("x-api-key", "b")
        .body(())
        .unwrap();
    let res = send(&mut svc, grpc).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(res.headers(), "grpc-status"), Some("3"));
    assert!(res
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .is_empty());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the first request was served"
    );
    // The real key's budget is untouched by the refused requests, and still spent.
    let res = send(&mut svc, with_key("real")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Keyed by a header: an empty value is a key like any other (all empty-keyed requests
/// share one budget, never an unlimited one), and a value that is not UTF-8 is keyed by its
/// bytes, each limited on its own. Only a missing header passes unlimited, as documented.
#[tokio::test]
async fn empty_and_non_utf8_key_headers_are_limited() {
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by_header("x-api-key")
        .build()
        .unwrap();
    let mut svc = layer.layer(counting_inner(Arc::default()));
    let keyed = |value: &[u8]| {
        let mut req = Request::get("/").body(()).unwrap();
        req.headers_mut()
            .insert("x-api-key", http::HeaderValue::from_bytes(value).unwrap());
        req
    };
    for value in [&b""[..], b"\x80\xff", b"\x80\xfe", b"caf\xc3\xa9"] {
        let first = send(&mut svc, keyed(value)).await;
        assert_eq!(first.status(), StatusCode::OK, "{value:?}");
        let second = send(&mut svc, keyed(value)).await;
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS, "{value:?}");
        assert_eq!(header(second.headers(), "retry-after"), Some("3600"));
    }
}

/// A per-route limit inside a global one, as the module docs suggest: each answer lists both
/// policies in `RateLimit-Policy` and `RateLimit` (Structured Field Lists, one item per policy,
/// in the IETF draft), so a client refused by the route's limit is not told only the global
/// budget it still has. Two layers of the same name still give one item: the outer one's.
#[tokio::test]
async fn stacked_limits_each_list_their_own_policy() {
    let limit = |name: &str, count| {
        RateLimitLayer::builder()
            .quota(Quota::per_minute(count))
            .key_by_header("x-api-key")
            .policy_name(name)
            .store(still_store())
            .build()
            .unwrap()
    };
    let inner = counting_inner(Arc::new(AtomicUsize::new(0)));
    let mut svc = limit("global", 100).layer(limit("login", 1).layer(inner));
    let all = |h: &HeaderMap, name: &str| -> Vec<String> {
        let mut items: Vec<String> = h
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        items.sort();
        items
    };

    let ok = send(&mut svc, with_key("k")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        all(ok.headers(), "ratelimit-policy"),
        [r#""global";q=100;w=60"#, r#""login";q=1;w=60"#]
    );
    assert_eq!(
        all(ok.headers(), "ratelimit"),
        [r#""global";r=99;t=1"#, r#""login";r=0;t=60"#]
    );

    let refused = send(&mut svc, with_key("k")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(refused.headers(), "retry-after"), Some("60"));
    assert_eq!(
        all(refused.headers(), "ratelimit"),
        [r#""global";r=98;t=2"#, r#""login";r=0;t=60"#]
    );

    // The same name twice (neither named): one item, the outer layer's.
    let inner = counting_inner(Arc::new(AtomicUsize::new(0)));
    let mut svc = limit("default", 100).layer(limit("default", 1).layer(inner));
    let ok = send(&mut svc, with_key("k")).await;
    assert_eq!(all(ok.headers(), "ratelimit"), [r#""default";r=99;t=1"#]);
    assert_eq!(
        all(ok.headers(), "ratelimit-policy"),
        [r#""default";q=100;w=60"#]
    );
}

#[tokio::test]
async fn forwarded_refusals_reach_the_inner_service_marked_and_keep_its_headers() {
    #[derive(Clone)]
    struct Refused(RateLimited);
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_minute(1))
        .key_by_header("x-api-key")
        .store(still_store())
        .forward_refusals(|ext, limited| {
            ext.insert(Refused(limited));
        })
        .build()
        .unwrap();
    let marks = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&marks);
    let svc = layer.layer(service_fn(move |req: Request<()>| {
        let refused = req.extensions().get::<Refused>().map(|r| r.0);
        if refused.is_some() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        async move {
            let mut res = Response::new(String::new());
            if let Some(limited) = refused {
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                *res.body_mut() = format!("later: {:?}", limited.retry_after());
                // Its own Retry-After wins over the layer's, when it sets one.
                if req.headers().contains_key("x-own") {
                    res.headers_mut()
                        .insert("retry-after", "120".parse().unwrap());
                }
            }
            Ok::<_, Infallible>(res)
        }
    }));
    let admitted = svc.clone().oneshot(with_key("a")).await.unwrap();
    assert_eq!(admitted.status(), StatusCode::OK);
    assert!(admitted.extensions().get::<RateLimited>().is_none());
    assert_eq!(
        marks.load(Ordering::SeqCst),
        0,
        "admitted requests carry no mark"
    );

    let refused = svc.clone().oneshot(with_key("a")).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the inner service answered"
    );
    assert_eq!(header(refused.headers(), "retry-after"), Some("60"));
    assert_eq!(
        header(refused.headers(), "ratelimit"),
        Some("\"default\";r=0;t=60")
    );
    assert_eq!(
        header(refused.headers(), "ratelimit-policy"),
        Some("\"default\";q=1;w=60")
    );
    assert_eq!(
        refused
            .extensions()
            .get::<RateLimited>()
            .map(RateLimited::retry_after),
        Some(Duration::from_secs(60))
    );
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "later: 60s");

    let mut own = with_key("a");
    own.headers_mut().insert("x-own", "1".parse().unwrap());
    let refused = svc.clone().oneshot(own).await.unwrap();
    assert_eq!(header(refused.headers(), "retry-after"), Some("120"));
    assert_eq!(refused.headers().get_all("retry-after").iter().count(), 1);
    assert_eq!(marks.load(Ordering::SeqCst), 2);

    // gRPC calls are still refused by the layer: trailers-only, the inner service not called.
    let grpc = Request::post("/")
        .header("x-api-key", "a")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let refused = svc.clone().oneshot(grpc).await.unwrap();
    assert_eq!(header(refused.headers(), "grpc-status"), Some("8"));
    assert_eq!(marks.load(Ordering::SeqCst), 2);
}
