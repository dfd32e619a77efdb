//! `/analytics`: a JSON summary of the counters, for people and the dashboard.

use std::sync::atomic::Ordering::Relaxed;

use serde::Serialize;

use super::consumers::ConsumerUsage;
use super::layer::Shared;
use super::stats::{HistogramSnapshot, RouteStats, CLASS_ERROR, DURATION_BUCKETS};

/// What [`AnalyticsLayer::summary`](super::AnalyticsLayer::summary) returns and the JSON
/// service serves.
///
/// ```
/// use armature_layers::analytics::AnalyticsLayer;
///
/// let summary = AnalyticsLayer::new().summary();
/// assert_eq!(summary.total.requests, 0);
/// assert_eq!(summary.total.latency_ms.p99, None); // no request yet
/// let json = sonic_rs::to_string(&summary).unwrap();
/// assert!(json.contains(r#""routes":[]"#));
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Seconds since the layer was built.
    pub uptime_seconds: f64,
    /// Every route together.
    pub total: Totals,
    /// The busiest routes, busiest first (including registered routes not called yet).
    pub routes: Vec<RouteSummary>,
    /// The heaviest consumers, heaviest first (empty unless consumers are counted).
    pub consumers: Vec<ConsumerUsage>,
}

/// Counts over every route; see [`Summary`].
///
/// ```
/// let total = armature_layers::analytics::AnalyticsLayer::new().summary().total;
/// assert_eq!((total.requests, total.errors, total.rate_limited, total.in_flight), (0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Totals {
    /// Finished requests.
    pub requests: u64,
    /// Requests in flight now.
    pub in_flight: i64,
    /// Requests that failed: 5xx answers, service errors and failed response bodies, each
    /// request counted once (a 5xx whose body then failed is one error).
    pub errors: u64,
    /// Requests the rate limiter refused.
    pub rate_limited: u64,
    /// `errors / requests` (0 when there are none).
    pub error_rate: f64,
    /// `rate_limited / requests` (0 when there are none).
    pub limited_rate: f64,
    /// Latency percentiles over every request.
    pub latency_ms: Latency,
}

/// One method + route template; see [`Summary`].
///
/// ```
/// use armature_layers::analytics::AnalyticsLayer;
/// use armature_router::{get, Router};
///
/// let router = Router::builder().route("/a", get(|_r: http::Request<()>| async { "" })).build().unwrap();
/// let summary = AnalyticsLayer::builder().routes(&router).build().summary();
/// let a = summary.routes.iter().find(|r| r.method == "GET").unwrap();
/// assert_eq!((a.route.as_str(), a.requests, a.status.ok), ("/a", 0, 0));
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RouteSummary {
    /// The method (`_OTHER` for methods outside the standard ones).
    pub method: String,
    /// The route template, or `unmatched`.
    pub route: String,
    /// Finished requests.
    pub requests: u64,
    /// Requests per status class.
    pub status: StatusCounts,
    /// Requests that failed: 5xx answers, service errors and failed response bodies, each
    /// request counted once (a 5xx whose body then failed is one error).
    pub errors: u64,
    /// Requests the rate limiter refused.
    pub rate_limited: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// `rate_limited / requests`.
    pub limited_rate: f64,
    /// Latency percentiles.
    pub latency_ms: Latency,
    /// Request body bytes (as declared by `Content-Length`).
    pub request_bytes: u64,
    /// Response body bytes sent.
    pub response_bytes: u64,
}

/// Requests per status class; `failed` got no response (service error, or the client left
/// before the handler answered).
///
/// ```
/// let s = armature_layers::analytics::AnalyticsLayer::new().summary();
/// assert!(s.routes.is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatusCounts {
    /// 1xx.
    #[serde(rename = "1xx")]
    pub informational: u64,
    /// 2xx.
    #[serde(rename = "2xx")]
    pub ok: u64,
    /// 3xx.
    #[serde(rename = "3xx")]
    pub redirect: u64,
    /// 4xx (rate-limit refusals included).
    #[serde(rename = "4xx")]
    pub client_error: u64,
    /// 5xx.
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// No response.
    pub failed: u64,
}

/// Latency percentiles in milliseconds, interpolated within histogram buckets as Prometheus'
/// `histogram_quantile` does (so within a bucket's width: 25 µs at the low end), and the mean;
/// each to a tenth of a microsecond, `None` without requests.
///
/// ```
/// let l = armature_layers::analytics::AnalyticsLayer::new().summary().total.latency_ms;
/// assert_eq!((l.p50, l.p95, l.p99, l.mean), (None, None, None, None));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Latency {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Mean (of the exact durations, not of buckets).
    pub mean: Option<f64>,
}

impl Latency {
    fn of(h: &HistogramSnapshot<19>) -> Self {
        let ms = |q| {
            h.quantile(q, &DURATION_BUCKETS)
                .map(|s| tenth_of_us(s * 1e3))
        };
        let count = h.count();
        Latency {
            p50: ms(0.5),
            p95: ms(0.95),
            p99: ms(0.99),
            mean: (count > 0).then(|| tenth_of_us(h.sum as f64 / count as f64 / 1e6)),
        }
    }
}

/// `ms` to a tenth of a microsecond: past that, digits are float noise (`0.037500000000000006`),
/// not precision (the percentiles are only good to a bucket's width anyway).
fn tenth_of_us(ms: f64) -> f64 {
    (ms * 1e4).round() / 1e4
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

fn route(stats: &RouteStats, all: &mut HistogramSnapshot<19>) -> RouteSummary {
    let mut latency = HistogramSnapshot::zero();
    let mut counts = [0u64; 6];
    let (mut request_bytes, mut response_bytes) = (0, 0);
    for (i, count) in counts.iter_mut().enumerate() {
        let class = stats.class(i);
        *count = class.duration.count();
        latency.add(&class.duration);
        // Modulo 2^64, as the counters add (`HistogramSnapshot::add`).
        request_bytes = class.request_size.sum.wrapping_add(request_bytes);
        response_bytes = class.response_size.sum.wrapping_add(response_bytes);
    }
    all.add(&latency);
    let requests = counts.iter().sum();
    // One a request: a 5xx whose body then failed is one error, not two.
    // (Read apart from each other, the two may be caught between the increments of one
    // failure, so the difference saturates.)
    let body_errors = stats
        .body_errors
        .load(Relaxed)
        .saturating_sub(stats.body_errors_after_5xx.load(Relaxed));
    let errors = counts[4] + stats.service_errors.load(Relaxed) + body_errors;
    let rate_limited = stats.rate_limited.load(Relaxed);
    RouteSummary {
        method: stats.method.to_owned(),
        route: stats.route.to_string(),
        requests,
        status: StatusCounts {
            informational: counts[0],
            ok: counts[1],
            redirect: counts[2],
            client_error: counts[3],
            server_error: counts[4],
            failed: counts[CLASS_ERROR],
        },
        errors,
        rate_limited,
        error_rate: rate(errors, requests),
        limited_rate: rate(rate_limited, requests),
        latency_ms: Latency::of(&latency),
        request_bytes,
        response_bytes,
    }
}

pub(crate) fn summarize(shared: &Shared) -> Summary {
    let mut all = HistogramSnapshot::zero();
    let mut routes: Vec<RouteSummary> = shared
        .routes
        .all()
        .iter()
        .map(|stats| route(stats, &mut all))
        .collect();
    let requests = routes.iter().map(|r| r.requests).sum();
    let errors = routes.iter().map(|r| r.errors).sum();
    let rate_limited = routes.iter().map(|r| r.rate_limited).sum();
    routes
        .sort_by(|a, b| (b.requests, &a.route, &a.method).cmp(&(a.requests, &b.route, &b.method)));
    routes.truncate(shared.top_routes);
    Summary {
        uptime_seconds: shared.started.elapsed().as_secs_f64(),
        total: Totals {
            requests,
            in_flight: i64::try_from(shared.routes.active().iter().sum::<u64>())
                .unwrap_or(i64::MAX),
            errors,
            rate_limited,
            error_rate: rate(errors, requests),
            limited_rate: rate(rate_limited, requests),
            latency_ms: Latency::of(&all),
        },
        routes,
        consumers: shared
            .consumers
            .as_ref()
            .map(|c| c.top(shared.top_consumers))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::tenth_of_us;

    #[test]
    fn latencies_are_shown_to_a_tenth_of_a_microsecond() {
        assert_eq!(tenth_of_us(0.037_500_000_000_000_006), 0.0375);
        assert_eq!(tenth_of_us(1.234_56), 1.2346);
        assert_eq!(tenth_of_us(0.0), 0.0);
        let shown = sonic_rs::to_string(&tenth_of_us(0.152_499_999_999_999_97)).unwrap();
        assert_eq!(shown, "0.1525");
    }
}
