//! The analytics layer over real sockets: armature-server, the real rate-limit layer and the
//! router, driven by real HTTP/1.1 requests. The `/metrics` output is parsed by the Python
//! reference client's strict OpenMetrics parser (`tests/python`, a venv CI creates).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_layers::rate_limit::{Quota, RateLimitLayer};
use armature_router::{get, on_service, post, Router, RouterBuilder};
use armature_server::RequestBody;
use http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::{Layer, ServiceBuilder, ServiceExt};

use crate::conn;
use crate::serve;
use conn::Conn;

const USER: &str = r#"{"name":"Alice"}"#;

fn routes() -> RouterBuilder<RequestBody> {
    Router::builder()
        .route(
            "/users/{id}",
            get(|_r: Request<RequestBody>| async { USER }),
        )
        .route(
            "/items",
            post(|_r: Request<RequestBody>| async { (StatusCode::CREATED, "made") }),
        )
        .route(
            "/boom",
            get(|_r: Request<RequestBody>| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
}

/// Serves analytics → rate limit (per `x-api-key`, 10 per hour) → router (+ the services).
async fn start(analytics: impl FnOnce(&Router<RequestBody>) -> AnalyticsLayer) -> Running {
    let analytics = analytics(&routes().build().unwrap());
    let router = routes()
        .route(
            "/metrics",
            on_service(Method::GET, analytics.metrics_service()),
        )
        .route(
            "/analytics",
            on_service(Method::GET, analytics.json_service()),
        )
        .build()
        .unwrap();
    let limit = RateLimitLayer::builder()
        .quota(Quota::per_hour(10))
        .key_by_header("x-api-key")
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(analytics.clone())
        .layer(limit)
        .service(router);
    let serving = serve::serve(app);
    Running {
        addr: serving.addr,
        analytics,
        _serving: serving,
    }
}

struct Running {
    addr: SocketAddr,
    analytics: AnalyticsLayer,
    // Stops the server when the test ends.
    _serving: serve::Serving,
}

/// The Python with `prometheus_client`: the test venv, or `ANALYTICS_PYTHON`.
fn python() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let python = std::env::var_os("ANALYTICS_PYTHON")
        .map_or_else(|| dir.join(".venv/bin/python"), PathBuf::from);
    let ok = Command::new(&python)
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the OpenMetrics parser is missing ({}); install it with\n  \
         python3 -m venv armature-layers/tests/python/.venv && \
         armature-layers/tests/python/.venv/bin/pip install -r armature-layers/tests/python/requirements.txt\n\
         (or set ANALYTICS_PYTHON to a python that has it)",
        python.display()
    );
    python
}

/// Every sample of `text`, as parsed by the reference parser.
fn parse_openmetrics(text: &str) -> Vec<Value> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/parse_openmetrics.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of sample `name` whose labels include `labels` (exactly one must match).
fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Value> = samples
        .iter()
        .filter(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0]["value"].as_f64().unwrap()
}

fn series(method: &str, route: &str, class: &str) -> Vec<(&'static str, String)> {
    vec![
        ("http_request_method", method.to_owned()),
        ("http_route", route.to_owned()),
        ("http_response_status_class", class.to_owned()),
    ]
}

fn labels<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The scripted mix: (method, path, api key, body, expected status), with how many times.
const MIX: &[(usize, &str, &str, &str, &str, u16)] = &[
    (6, "GET", "/users/7", "alice", "", 200),
    (2, "GET", "/boom", "alice", "", 500),
    (2, "POST", "/items", "alice", "hello", 201),
    // alice's 10 per hour are spent: refused before the router, counted under the route.
    (3, "GET", "/users/9", "alice", "", 429),
    (4, "GET", "/nope", "bob", "", 404),
    (1, "POST", "/items", "bob", "1234567", 201),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_mix_is_counted_exactly_in_openmetrics_and_json() {
    let server = start(|router| {
        AnalyticsLayer::builder()
            .routes(router)
            .consumers(Consumers::header("x-api-key"), 16)
            .build()
    })
    .await;
    let mut conn = Conn::open(server.addr).await;
    let mut refusal_bytes = 0; // the limiter's 429s carry a short message
    for &(times, method, path, key, body, status) in MIX {
        for _ in 0..times {
            let (got, answer) = conn
                .send(method, path, &format!("x-api-key: {key}\r\n"), body)
                .await;
            assert_eq!(got, status, "{method} {path} as {key}");
            if got == 429 {
                refusal_bytes += answer.len();
            }
        }
    }

    // Each request is recorded when its body ends; the server may finish that just after the
    // client read the last byte, so wait (briefly) until nothing scripted is in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.analytics.summary().total.requests < 18 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Prometheus: parsed by the reference parser, every count exact.
    let (status, text) = conn.send("GET", "/metrics", "", "").await;
    assert_eq!(status, 200);
    let samples = parse_openmetrics(&text);
    let count = |m: &str, r: &str, c: &str| {
        sample(
            &samples,
            "http_server_request_duration_seconds_count",
            &labels(&series(m, r, c)),
        )
    };
    assert_eq!(count("GET", "/users/{id}", "2xx"), 6.0);
    assert_eq!(count("GET", "/users/{id}", "4xx"), 3.0);
    assert_eq!(count("GET", "/boom", "5xx"), 2.0);
    assert_eq!(count("POST", "/items", "2xx"), 3.0);
    assert_eq!(count("GET", "unmatched", "4xx"), 4.0);
    let users_2xx = series("GET", "/users/{id}", "2xx");
    let mut inf = labels(&users_2xx);
    inf.push(("le", "+Inf"));
    assert_eq!(
        sample(
            &samples,
            "http_server_request_duration_seconds_bucket",
            &inf
        ),
        6.0
    );
    let limited = |m: &str, r: &str| {
        sample(
            &samples,
            "armature_http_server_rate_limited_total",
            &[("http_request_method", m), ("http_route", r)],
        )
    };
    assert_eq!(limited("GET", "/users/{id}"), 3.0);
    assert_eq!(limited("GET", "/boom"), 0.0);
    assert_eq!(
        sample(
            &samples,
            "http_server_request_body_size_bytes_sum",
            &labels(&series("POST", "/items", "2xx"))
        ),
        17.0 // 2 x "hello" + "1234567"
    );
    assert_eq!(
        sample(
            &samples,
            "http_server_response_body_size_bytes_sum",
            &labels(&users_2xx)
        ),
        (6 * USER.len()) as f64
    );
    assert_eq!(
        sample(
            &samples,
            "http_server_active_requests",
            &[("http_request_method", "GET")]
        ),
        1.0, // the scrape itself
    );
    let family = samples
        .iter()
        .find(|s| s["name"] == "http_server_request_duration_seconds_count")
        .unwrap();
    assert_eq!(family["family"], "http_server_request_duration_seconds");
    assert_eq!(family["type"], "histogram");
    assert_eq!(family["unit"], "seconds");

    // JSON: the same counts, plus rates, percentiles and consumers.
    let (status, body) = conn.send("GET", "/analytics", "", "").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    let routes: BTreeMap<String, &Value> = json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["route"].as_str().unwrap()
                ),
                r,
            )
        })
        .collect();
    let users = routes["GET /users/{id}"];
    assert_eq!(users["requests"], 9);
    assert_eq!(users["status"]["2xx"], 6);
    assert_eq!(users["status"]["4xx"], 3);
    assert_eq!(users["rate_limited"], 3);
    assert_eq!(users["limited_rate"], 3.0 / 9.0);
    assert_eq!(users["errors"], 0);
    assert_eq!(users["response_bytes"], 6 * USER.len() + refusal_bytes);
    for q in ["p50", "p95", "p99", "mean"] {
        let ms = users["latency_ms"][q].as_f64().unwrap();
        assert!(ms > 0.0 && ms < 1000.0, "{q} = {ms}");
    }
    assert!(users["latency_ms"]["p50"].as_f64() <= users["latency_ms"]["p99"].as_f64());
    let boom = routes["GET /boom"];
    assert_eq!(
        (boom["requests"].as_u64(), boom["errors"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(boom["error_rate"], 1.0);
    assert_eq!(routes["POST /items"]["request_bytes"], 17);
    assert_eq!(routes["GET unmatched"]["status"]["4xx"], 4);
    // Scripted: 18 requests; plus the /metrics scrape (finished) and this one (in flight).
    assert_eq!(json["total"]["requests"], 19);
    assert_eq!(json["total"]["errors"], 2);
    assert_eq!(json["total"]["rate_limited"], 3);
    assert_eq!(json["total"]["in_flight"], 1);
    let consumers = json["consumers"].as_array().unwrap();
    assert_eq!(consumers[0]["consumer"], "alice");
    assert_eq!(consumers[0]["requests"], 13);
    assert_eq!(consumers[0]["rate_limited"], 3);
    assert_eq!(consumers[0]["overestimate"], 0);
    assert_eq!(consumers[1]["consumer"], "bob");
    assert_eq!(consumers[1]["requests"], 5);
    assert_eq!(consumers.len(), 2, "scrapes carry no key: {consumers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_lose_no_count() {
    const TASKS: usize = 64;
    const EACH: usize = 100;
    let server = start(|router| AnalyticsLayer::builder().routes(router).build()).await;
    let addr = server.addr;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await;
                for i in 0..EACH {
                    // No api key: the rate limiter has nothing to key on and lets it through.
                    let path = if i % 10 == 9 {
                        "/boom".to_owned()
                    } else {
                        format!("/users/{t}-{i}")
                    };
                    let (status, _) = conn.send("GET", &path, "", "").await;
                    assert!(status == 200 || status == 500, "{status}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.analytics.summary().total.in_flight != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let summary = server.analytics.summary();
    assert_eq!(summary.total.requests, (TASKS * EACH) as u64);
    assert_eq!(summary.total.in_flight, 0);
    let users = summary
        .routes
        .iter()
        .find(|r| r.route == "/users/{id}")
        .unwrap();
    assert_eq!(users.status.ok, (TASKS * EACH * 9 / 10) as u64);
    assert_eq!(
        users.response_bytes,
        (TASKS * EACH * 9 / 10 * USER.len()) as u64
    );
    let boom = summary.routes.iter().find(|r| r.route == "/boom").unwrap();
    assert_eq!(boom.status.server_error, (TASKS * EACH / 10) as u64);

    // The Prometheus view of the same counters agrees.
    let samples = parse_openmetrics(&server.analytics.render_metrics());
    let total: f64 = samples
        .iter()
        .filter(|s| s["name"] == "http_server_request_duration_seconds_count")
        .map(|s| s["value"].as_f64().unwrap())
        .sum();
    assert_eq!(total, (TASKS * EACH) as f64);
}

#[tokio::test]
async fn the_consumer_table_stays_bounded_under_100k_distinct_consumers() {
    let analytics = AnalyticsLayer::builder()
        .consumers(Consumers::api_key("x-api-key"), 100)
        .build();
    let app = analytics.layer(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let request = |key: &str| Request::get("/").header("x-api-key", key).body(()).unwrap();
    for i in 0..100_000 {
        app.clone()
            .oneshot(request(&format!("one-off-{i}")))
            .await
            .unwrap();
        if i % 20 == 0 {
            app.clone().oneshot(request("heavy")).await.unwrap();
        }
    }
    assert!(
        analytics.tracked_consumers() <= 104,
        "{} entries",
        analytics.tracked_consumers()
    );
    let summary = analytics.summary();
    assert_eq!(summary.total.requests, 105_000);
    let heavy = &summary.consumers[0];
    // Space-saving: the true count (5000) lies within [requests - overestimate, requests].
    assert!(
        heavy.requests >= 5_000 && heavy.requests - heavy.overestimate <= 5_000,
        "{heavy:?}"
    );
    assert!(heavy.consumer.starts_with("key:") && !heavy.consumer.contains("heavy"));
    assert!(summary.consumers.len() <= 20);
}

#[tokio::test]
async fn a_failing_service_is_counted_as_an_error_without_status() {
    let analytics = AnalyticsLayer::new();
    let app = analytics.layer(tower::service_fn(|_req: Request<()>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("down"))
    }));
    assert!(app
        .oneshot(Request::get("/").body(()).unwrap())
        .await
        .is_err());
    let summary = analytics.summary();
    assert_eq!(summary.total.errors, 1);
    assert_eq!(summary.routes[0].status.failed, 1);
    assert_eq!(summary.total.in_flight, 0);
    let text = analytics.render_metrics();
    let samples = parse_openmetrics(&text);
    assert_eq!(
        sample(
            &samples,
            "armature_http_server_failures_total",
            &[("http_route", "unmatched"), ("error_type", "service_error")]
        ),
        1.0
    );
}

/// A route template with a quote, a backslash or a newline (one another router labels with,
/// `route_label`) is escaped in `/metrics`: the reference parser reads it back whole, and the
/// other series survive the scrape.
#[tokio::test]
async fn route_labels_are_escaped_in_the_exposition() {
    #[derive(Clone)]
    struct Template(&'static str);
    let analytics = AnalyticsLayer::builder()
        .route_label(|ext| ext.get::<Template>().map(|t| t.0))
        .build();
    let app = analytics
        .clone()
        .layer(tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
        }));
    let templates = [r#"/search/"{q}""#, r"/a\b", "/line\nbreak", "/plain"];
    for template in templates {
        let mut req = Request::get("/x").body(()).unwrap();
        req.extensions_mut().insert(Template(template));
        let res = app.clone().oneshot(req).await.unwrap();
        drop(
            http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap(),
        );
    }
    let samples = parse_openmetrics(&analytics.render_metrics());
    for template in templates {
        assert_eq!(
            sample(
                &samples,
                "http_server_request_duration_seconds_count",
                &labels(&series("GET", template, "2xx"))
            ),
            1.0,
            "{template:?}"
        );
    }
    // The JSON summary keeps the template as it is.
    let summary = analytics.summary();
    assert!(summary.routes.iter().any(|r| r.route == r#"/search/"{q}""#));
}

/// Sends `"part"`, then fails.
struct FailingBody(u8);

impl http_body::Body for FailingBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0 += 1;
        std::task::Poll::Ready(Some(match self.0 {
            1 => Ok(http_body::Frame::data(bytes::Bytes::from_static(b"part"))),
            _ => Err(std::io::Error::other("disk gone")),
        }))
    }
}

/// A `5xx` whose body then fails is one failed request: the error rate never passes 100%.
/// A `200` whose body fails is an error too.
#[tokio::test]
async fn a_failing_5xx_body_is_one_error_not_two() {
    let analytics = AnalyticsLayer::new();
    let app = analytics
        .clone()
        .layer(tower::service_fn(|req: Request<()>| async move {
            let mut res = http::Response::new(FailingBody(0));
            if req.uri().path() == "/500" {
                *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            Ok::<_, std::convert::Infallible>(res)
        }));
    for path in ["/500", "/200"] {
        let res = app
            .clone()
            .oneshot(Request::get(path).body(()).unwrap())
            .await
            .unwrap();
        assert!(http_body_util::BodyExt::collect(res.into_body())
            .await
            .is_err());
    }
    let summary = analytics.summary();
    assert_eq!((summary.total.requests, summary.total.errors), (2, 2));
    assert_eq!(summary.total.error_rate, 1.0);
    let samples = parse_openmetrics(&analytics.render_metrics());
    // The body failures are still both in the failure counter.
    assert_eq!(
        sample(
            &samples,
            "armature_http_server_failures_total",
            &[("http_route", "unmatched"), ("error_type", "body_error")]
        ),
        2.0
    );
}
