//! The rate-limit layer with the Redis store, against a real `redis-server` that each test
//! starts on a free port (no persistence, in a scratch directory) and kills when done.
//!
//! Needs `redis-server` on the PATH (Debian: `apt-get install -y redis-server`); without it
//! every test here fails saying so. `REDIS_SERVER` overrides the binary.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use armature_layers::rate_limit::{
    FailurePolicy, ManualClock, MemoryStore, Quota, RateLimitError, RateLimitLayer, RateLimited,
    RedisStore, ResponseBody,
};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{service_fn, Layer, Service};

use crate::flood;
use crate::redis_server;
use redis_server::RedisServer;

use crate::send;
use send::{keyed_layer, send};

type Body = Full<Bytes>;
/// A response of the rate-limit layer around a service answering with `Body`.
type Limited = Response<ResponseBody<Body>>;

fn inner(
    calls: Arc<AtomicUsize>,
) -> impl Service<Request<()>, Response = Response<Body>, Error = Infallible, Future = impl Send>
       + Clone
       + Send
       + 'static {
    service_fn(move |_req: Request<()>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Body::from("hello"))) }
    })
}

fn with_key(key: &str) -> Request<()> {
    Request::get("/").header("x-api-key", key).body(()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_64_tasks_5000_requests_admit_exactly_the_quota_through_redis() {
    let redis = RedisServer::start();
    // A frozen clock passed with each call: no replenishment, so exactly 1,000, and any
    // read-modify-write race would show as more.
    let store = RedisStore::builder(redis.url())
        .clock(ManualClock::new())
        .timeout(Duration::from_secs(5))
        .pool_size(4)
        .build()
        .unwrap();
    let layer = keyed_layer(Quota::per_minute(1_000), store);
    let flood = flood::from_64_tasks(layer).await;
    assert_eq!(flood.admitted + flood.refused, 5_000);
    assert_eq!(flood.admitted, 1_000);
    assert_eq!(flood.called, 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_redis_time_the_count_is_the_quota_plus_what_elapsed_time_replenished() {
    let redis = RedisServer::start();
    let store = RedisStore::builder(redis.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = keyed_layer(Quota::per_minute(1_000), store);
    let started = Instant::now();
    let ok = flood::from_64_tasks(layer).await.admitted;
    // One request is replenished per 60 ms of Redis time; bound it by our own (longer) view.
    let replenished = (started.elapsed().as_millis() / 60) as usize + 1;
    assert!(
        (1_000..=1_000 + replenished).contains(&ok),
        "admitted {ok}, at most {} allowed",
        1_000 + replenished
    );
}

/// The Lua script and the in-process store take the same decisions, headers included, for
/// one sequence of requests and clock moves (a fractional interval and a burst above the
/// count).
#[tokio::test]
async fn redis_and_memory_stores_agree_request_by_request() {
    let redis = RedisServer::start();
    let clock = ManualClock::new();
    let quota = Quota::per_second(3).burst(5);
    let build = |store: armature_layers::rate_limit::Store| {
        RateLimitLayer::builder()
            .quota(quota)
            .key_by_header("x-api-key")
            .store(store)
            .x_ratelimit_headers(true)
            .build()
            .unwrap()
    };
    let memory = build(
        MemoryStore::builder()
            .clock(clock.clone())
            .build()
            .unwrap()
            .into(),
    );
    let redis_layer = build(
        RedisStore::builder(redis.url())
            .clock(clock.clone())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .into(),
    );
    let mut a = memory.layer(inner(Arc::default()));
    let mut b = redis_layer.layer(inner(Arc::default()));
    let steps_ms = [
        0, 0, 0, 0, 0, 0, 0, 100, 233, 1, 0, 334, 1000, 0, 0, 5000, 0, 0, 0, 0, 0, 0,
    ];
    let mut refused = 0;
    for (i, step) in steps_ms.iter().enumerate() {
        clock.advance(Duration::from_millis(*step));
        let ra = send(&mut a, with_key("k")).await;
        let rb = send(&mut b, with_key("k")).await;
        assert_eq!(ra.status(), rb.status(), "step {i}");
        assert_eq!(ra.headers(), rb.headers(), "step {i}");
        // Redis works in microseconds, so the exact durations may differ below that.
        let retry = |r: &Limited| {
            r.extensions()
                .get::<RateLimited>()
                .map(|m| m.retry_after().as_micros())
        };
        let (da, db) = (retry(&ra), retry(&rb));
        assert_eq!(da.is_some(), db.is_some(), "step {i}");
        if let (Some(da), Some(db)) = (da, db) {
            assert!(da.abs_diff(db) <= 1, "step {i}: {da} µs vs {db} µs");
        }
        refused += usize::from(ra.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(refused >= 5, "the sequence reaches the limit: {refused}");
}

async fn send_within(
    svc: &mut (impl Service<Request<()>, Response = Limited, Error = Infallible> + Send),
    req: Request<()>,
) -> Limited {
    // Not a timing assertion: a guard that turns a hang into a failure.
    tokio::time::timeout(Duration::from_secs(5), send(svc, req))
        .await
        .expect("the request hung while Redis was down")
}

async fn redis_killed_and_restarted(policy: FailurePolicy) {
    let mut redis = RedisServer::start();
    let store = RedisStore::builder(redis.url())
        .timeout(Duration::from_millis(200))
        .on_failure(policy)
        .build()
        .unwrap();
    store.ping().await.unwrap();
    let layer = keyed_layer(Quota::per_hour(3), store);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(inner(Arc::clone(&calls)));
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let res = send_within(&mut svc, with_key("k")).await;
        assert_eq!(res.status(), expected);
        assert!(res.headers().contains_key("ratelimit"));
    }

    redis.kill();
    for i in 0..20 {
        let res = send_within(&mut svc, with_key(&format!("down-{}", i % 2))).await;
        assert!(
            !res.headers().contains_key("ratelimit"),
            "no counters while down"
        );
        match policy {
            FailurePolicy::Open => {
                assert_eq!(res.status(), StatusCode::OK, "fail open admits")
            }
            FailurePolicy::Closed => {
                assert_eq!(
                    res.status(),
                    StatusCode::TOO_MANY_REQUESTS,
                    "fail closed refuses"
                );
                let marker = res.extensions().get::<RateLimited>().unwrap();
                assert!(marker.store_unavailable());
                // Retry when Redis is next asked (the default 250 ms retry interval, as
                // at least a second), not after the quota's 20-minute interval.
                assert_eq!(marker.retry_after(), Duration::from_secs(1));
                assert_eq!(res.headers()["retry-after"], "1");
            }
        }
    }

    redis.restart();
    // Reconnection happens in the background; poll until decisions carry counters again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = send_within(&mut svc, with_key("after")).await;
        if res.headers().contains_key("ratelimit") {
            assert_eq!(res.status(), StatusCode::OK);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "limiting did not resume within 30 s of Redis restarting"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And it limits again: 2 more for "after", then refused from the quota.
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let res = send_within(&mut svc, with_key("after")).await;
        assert_eq!(res.status(), expected);
        let marker = res.extensions().get::<RateLimited>();
        assert!(marker.is_none_or(|m| !m.store_unavailable()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fail_open_then_limits_again() {
    redis_killed_and_restarted(FailurePolicy::Open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fail_closed_then_limits_again() {
    redis_killed_and_restarted(FailurePolicy::Closed).await;
}

/// A child process serving one route behind the Redis-backed limiter (keyed by client IP).
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn spawn(redis_url: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                // The test's full name in this binary: its module path, minus the crate.
                concat!(module_path!(), "::child_server")
                    .split_once("::")
                    .unwrap()
                    .1,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ARMATURE_RL_CHILD_REDIS", redis_url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the child server exited before printing its address")
                .unwrap();
            // libtest may print "test child_server ... " on the same line first.
            if let Some((_, addr)) = line.split_once("LISTENING ") {
                break addr.trim().parse().unwrap();
            }
        };
        ChildServer { child, addr }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection; the status code.
fn get_status(addr: SocketAddr) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn two_server_processes_sharing_one_redis_enforce_one_combined_limit() {
    let redis = RedisServer::start();
    let a = ChildServer::spawn(&redis.url());
    let b = ChildServer::spawn(&redis.url());
    assert_ne!(a.child.id(), b.child.id());
    let (mut ok_a, mut ok_b, mut refused) = (0, 0, 0);
    for i in 0..300 {
        let (addr, ok) = if i % 2 == 0 {
            (a.addr, &mut ok_a)
        } else {
            (b.addr, &mut ok_b)
        };
        match get_status(addr) {
            200 => *ok += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // Quota 100 per day on Redis time: replenishment during the test is nil.
    assert_eq!(ok_a + ok_b, 100, "a: {ok_a}, b: {ok_b}");
    assert_eq!(ok_a, 50, "both processes admitted while the budget lasted");
    assert_eq!(refused, 200);
}

/// Helper run as a child process by the test above: serves until killed.
#[test]
#[ignore = "a helper: started as a child process by two_server_processes_sharing_one_redis_..."]
fn child_server() {
    let Ok(url) = std::env::var("ARMATURE_RL_CHILD_REDIS") else {
        eprintln!("child_server only runs as the child of the two-process test");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = RedisStore::builder(url)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        store.ping().await.unwrap();
        let layer = RateLimitLayer::builder()
            .quota(Quota::new(100, Duration::from_secs(86_400)))
            .policy_name("shared")
            .store(store)
            .build()
            .unwrap();
        // Generic over the body, whatever type the server hands requests in.
        async fn hello<B>(_req: Request<B>) -> Result<Response<Body>, Infallible> {
            Ok(Response::new(Body::from("hello")))
        }
        let app = layer.layer(service_fn(hello));
        let server = armature_server::Server::bind(([127, 0, 0, 1], 0))
            .unwrap()
            .shutdown_on_signals(false);
        println!("LISTENING {}", server.local_addr());
        std::io::stdout().flush().unwrap();
        server.serve(app).await.unwrap();
    });
}

/// A "Redis" that accepts connections and never answers (a hung server, a black-holed
/// network), counting the connections it is offered.
struct Blackhole {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Blackhole {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                // Read and drop whatever is sent; never answer.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        Blackhole { port, connections }
    }
}

/// While Redis does not answer, the requests after a failure are decided by the failure
/// policy without asking Redis (so without waiting for the timeout) until the retry
/// interval has passed. Before, every request opened a connection to the hung server and
/// waited the whole timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failure_requests_do_not_wait_for_a_hung_redis() {
    let hung = Blackhole::start();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{}/", hung.port))
        .timeout(Duration::from_millis(500))
        .retry_interval(Duration::from_secs(3600))
        .on_failure(FailurePolicy::Closed)
        .build()
        .unwrap();
    let layer = keyed_layer(Quota::per_hour(100), store);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = layer.layer(inner(Arc::clone(&calls)));
    // The first request asks Redis and gives up after the timeout.
    for i in 0..21 {
        let res = send_within(&mut svc, with_key(&format!("k{i}"))).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "request {i}");
        let marker = res.extensions().get::<RateLimited>().unwrap();
        assert!(marker.store_unavailable(), "request {i}");
        assert!(!res.headers().contains_key("ratelimit"), "request {i}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "fail closed calls nothing");
    // One connection for the first request (redis-rs may also reconnect in the background),
    // not one or more per request.
    let connections = hung.connections.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&connections),
        "{connections} connections for 21 requests"
    );
}

/// Redis down when the application starts: the layer builds and serves (failing open),
/// and limits once Redis comes up, without a restart of the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_fails_open_then_limits_once_it_is_up() {
    let mut redis = RedisServer::start();
    redis.kill();
    let store = RedisStore::builder(redis.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(store.ping().await.is_err(), "nothing listens yet");
    let layer = keyed_layer(Quota::per_hour(1), store);
    let mut svc = layer.layer(inner(Arc::default()));
    for _ in 0..5 {
        let res = send_within(&mut svc, with_key("k")).await;
        assert_eq!(res.status(), StatusCode::OK, "fail open");
        assert!(!res.headers().contains_key("ratelimit"));
    }
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = send_within(&mut svc, with_key("k")).await;
        if res.headers().contains_key("ratelimit") {
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "the key's first counted request"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "limiting did not start within 30 s of Redis coming up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = send_within(&mut svc, with_key("k")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!res
        .extensions()
        .get::<RateLimited>()
        .unwrap()
        .store_unavailable());
}

/// Intervals of a microsecond or less, at today's magnitude of time (where a double of
/// microseconds is exact only to a quarter microsecond): Redis decides exactly like the
/// in-process store. Before, it admitted 1,112 of a burst of 1,000 at 900,000/s, and every
/// request at 1 per 100 ns with a burst of 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_intervals_are_counted_exactly_through_redis() {
    let redis = RedisServer::start();
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1_765_000_000)); // about now, since 1970
    let quotas = [
        Quota::per_second(900_000).burst(1_000),
        Quota::per_second(3_000_000).burst(1_000),
        Quota::per_second(9_000).burst(1_000),
        Quota::new(1, Duration::from_nanos(100)).burst(1),
    ];
    for (n, quota) in quotas.into_iter().enumerate() {
        let build = |store: armature_layers::rate_limit::Store| keyed_layer(quota, store);
        let memory = MemoryStore::builder().clock(clock.clone()).build().unwrap();
        let shared = RedisStore::builder(redis.url())
            .clock(clock.clone())
            .key_prefix(format!("fine-{n}:"))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut a = build(memory.into()).layer(inner(Arc::default()));
        let mut b = build(shared.into()).layer(inner(Arc::default()));
        let mut admitted = 0;
        for i in 0..1_500 {
            if i % 100 == 99 {
                clock.advance(Duration::from_nanos(1_234));
            }
            let ra = send(&mut a, with_key("k")).await;
            let rb = send(&mut b, with_key("k")).await;
            assert_eq!(ra.status(), rb.status(), "{quota:?}, request {i}");
            assert_eq!(ra.headers(), rb.headers(), "{quota:?}, request {i}");
            admitted += usize::from(rb.status() == StatusCode::OK);
        }
        assert!(admitted < 1_500, "{quota:?}: the limit was reached");
    }
}

/// Sends one command to `redis` in RESP and returns its answer: a status line as sent, a
/// bulk string's content.
fn redis_command(redis: &RedisServer, args: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command += &format!("${}\r\n{arg}\r\n", arg.len());
    }
    stream.write_all(command.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    if line.starts_with('$') && line != "$-1\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
        line.truncate(line.trim_end().len());
    }
    line
}

/// A TAT written by the earlier script (microseconds as one double) is still read, so
/// budgets survive an upgrade; a value that is no TAT at all counts as a fresh key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tats_in_the_earlier_format_are_still_read() {
    let redis = RedisServer::start();
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1_765_000_000));
    let now_us: u64 = 1_765_000_000 * 1_000_000;
    // Three 6-second intervals already spent.
    let old = format!("{}", now_us + 3 * 6_000_000);
    let set = redis_command(&redis, &["SET", "armature:ratelimit:default:old", &old]);
    assert_eq!(set, "+OK\r\n");
    let set = redis_command(&redis, &["SET", "armature:ratelimit:default:junk", "x y"]);
    assert_eq!(set, "+OK\r\n");
    let store = RedisStore::builder(redis.url())
        .clock(clock.clone())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = keyed_layer(Quota::per_minute(10), store);
    let mut svc = layer.layer(inner(Arc::default()));
    let res = send_within(&mut svc, with_key("old")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["ratelimit"], r#""default";r=6;t=24"#);
    let res = send_within(&mut svc, with_key("junk")).await;
    assert_eq!(res.headers()["ratelimit"], r#""default";r=9;t=6"#);
    // Written back in the new format, and read back the same.
    let stored = redis_command(&redis, &["GET", "armature:ratelimit:default:old"]);
    assert_eq!(stored, "1765000024:0", "<seconds>:<nanoseconds>");
    let res = send_within(&mut svc, with_key("old")).await;
    assert_eq!(res.headers()["ratelimit"], r#""default";r=5;t=30"#);
}

/// Keys are sent to Redis as binary-safe arguments, never spliced into a command: keys with
/// CR LF, spaces and RESP syntax (as a key function may return) are limited each on their
/// own, and run nothing (the other budgets survive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_protocol_bytes_are_plain_keys() {
    let redis = RedisServer::start();
    let store = RedisStore::builder(redis.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_hour(1))
        .key_by(|head| {
            head.headers
                .get("x-api-key")
                .map(|k| String::from_utf8_lossy(k.as_bytes()).replace("\\r\\n", "\r\n"))
        })
        .store(store)
        .build()
        .unwrap();
    let mut svc = layer.layer(inner(Arc::default()));
    let res = send_within(&mut svc, with_key("victim")).await;
    assert_eq!(res.status(), StatusCode::OK);
    for key in [
        "x\\r\\nFLUSHALL\\r\\n",
        "*1\\r\\n$8\\r\\nFLUSHALL\\r\\n",
        "a b c",
        "x\\r\\nFLUSHALL\\r\\nand then more than 31 bytes",
    ] {
        let res = send_within(&mut svc, with_key(key)).await;
        assert_eq!(res.status(), StatusCode::OK, "{key}");
        let res = send_within(&mut svc, with_key(key)).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{key}");
    }
    let res = send_within(&mut svc, with_key("victim")).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "its budget survived"
    );
    assert_eq!(redis_command(&redis, &["DBSIZE"]), ":5\r\n");
}

/// A pool size no deployment needs is a build error: the pool is opened at once on first
/// use, and `usize::MAX` connections would exhaust memory there.
#[test]
fn absurd_pool_sizes_are_build_errors() {
    for size in [RedisStore::MAX_POOL_SIZE + 1, 100_000, usize::MAX] {
        let err = RedisStore::builder("redis://127.0.0.1:6379/")
            .pool_size(size)
            .build()
            .unwrap_err();
        assert_eq!(err, RateLimitError::PoolTooLarge { size });
        assert!(err.to_string().contains("too large"), "{err}");
    }
    RedisStore::builder("redis://127.0.0.1:6379/")
        .pool_size(RedisStore::MAX_POOL_SIZE)
        .build()
        .unwrap();
}
