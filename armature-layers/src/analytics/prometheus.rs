//! `/metrics`: the counters as OpenMetrics text, written by `prometheus-client`'s encoder.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::layer::Shared;
use super::stats::{RouteStats, CLASSES, DURATION_BUCKETS, METHODS, SIZE_BUCKETS};

/// The content type of [`render`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads the shared counters at each scrape.
#[derive(Clone)]
struct Counters(Arc<Shared>);

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("analytics counters")
    }
}

pub(crate) fn render(shared: &Arc<Shared>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Counters(Arc::clone(shared))));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

type Labels<'a> = [(&'static str, &'a str); 3];

fn labels<'a>(stats: &'a RouteStats, third: (&'static str, &'a str)) -> Labels<'a> {
    [
        ("http_request_method", stats.method),
        ("http_route", &stats.label),
        third,
    ]
}

impl Collector for Counters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut all = self.0.routes.all();
        all.sort_by(|a, b| (&*a.route, a.method).cmp(&(&*b.route, b.method)));

        let mut family = encoder.encode_descriptor(
            "http_server_request_duration",
            "Duration of HTTP server requests (OpenTelemetry http.server.request.duration), until the response body ended.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for stats in &all {
            for (i, name) in CLASSES.iter().enumerate() {
                let h = stats.class(i).duration;
                if h.count() == 0 {
                    continue;
                }
                let labels = labels(stats, ("http_response_status_class", name));
                family
                    .encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(
                        h.sum as f64 / 1e9,
                        h.count(),
                        &h.buckets(&DURATION_BUCKETS),
                        None,
                    )?;
            }
        }

        for (metric, help, pick) in [
            (
                "http_server_request_body_size",
                "Size of HTTP server request bodies as declared by Content-Length (OpenTelemetry http.server.request.body.size).",
                0,
            ),
            (
                "http_server_response_body_size",
                "Size of HTTP server response bodies as sent (OpenTelemetry http.server.response.body.size).",
                1,
            ),
        ] {
            let mut family = encoder.encode_descriptor(
                metric,
                help,
                Some(&Unit::Bytes),
                MetricType::Histogram,
            )?;
            for stats in &all {
                for (i, name) in CLASSES.iter().enumerate() {
                    let class = stats.class(i);
                    let h = if pick == 0 {
                        class.request_size
                    } else {
                        class.response_size
                    };
                    if h.count() == 0 {
                        continue;
                    }
                    let labels = labels(stats, ("http_response_status_class", name));
                    family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                        h.sum as f64,
                        h.count(),
                        &h.buckets(&SIZE_BUCKETS),
                        None,
                    )?;
                }
            }
        }

        let mut family = encoder.encode_descriptor(
            "http_server_active_requests",
            "HTTP server requests in flight (OpenTelemetry http.server.active_requests).",
            None,
            MetricType::Gauge,
        )?;
        let active = self.0.routes.active();
        for (&active, &method) in active.iter().zip(&METHODS) {
            if active != 0 || all.iter().any(|s| s.method == method) {
                let labels = [("http_request_method", method)];
                family.encode_family(&labels)?.encode_gauge(&active)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "armature_http_server_rate_limited",
            "HTTP server requests refused by the rate-limit layer.",
            None,
            MetricType::Counter,
        )?;
        for stats in &all {
            let n = stats
                .rate_limited
                .load(std::sync::atomic::Ordering::Relaxed);
            let labels = [
                ("http_request_method", stats.method),
                ("http_route", &*stats.label),
            ];
            prometheus_client::metrics::counter::ConstCounter::new(n)
                .encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "armature_http_server_failures",
            "HTTP server requests that failed: the service returned an error (service_error), the response body failed (body_error), or the client went away (aborted).",
            None,
            MetricType::Counter,
        )?;
        for stats in &all {
            for (kind, counter) in [
                ("service_error", &stats.service_errors),
                ("body_error", &stats.body_errors),
                ("aborted", &stats.aborted),
            ] {
                let n = counter.load(std::sync::atomic::Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let labels = labels(stats, ("error_type", kind));
                prometheus_client::metrics::counter::ConstCounter::new(n)
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
