//! The response headers (`RateLimit-Policy`, `RateLimit`, `Retry-After`, optionally
//! `X-RateLimit-*`) and the answers to refused requests (HTTP 429, or gRPC
//! `RESOURCE_EXHAUSTED`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{Entry, HeaderName, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::gcra::{Decision, Gcra};
use super::RateLimited;
use crate::body::{grpc_head, message_head};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// `RESOURCE_EXHAUSTED`.
const GRPC_RESOURCE_EXHAUSTED: HeaderValue = HeaderValue::from_static("8");

/// Everything about the headers that is fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Headers {
    name: Arc<str>,
    policy: HeaderValue,
    limit: HeaderValue,
    /// `"<name>";r=`: the start of every `RateLimit` value.
    ratelimit_prefix: Box<[u8]>,
    /// `"<name>"`: how this policy's items start, in either field.
    item_name: Box<[u8]>,
    ietf: bool,
    x_headers: bool,
    /// GCRA's emission interval in nanoseconds and burst, for [`quota_secs`].
    interval: u64,
    burst: u32,
}

impl Headers {
    pub(crate) fn new(name: Arc<str>, gcra: &Gcra, ietf: bool, x_headers: bool) -> Self {
        // The window is the time a spent burst takes to replenish: burst × interval.
        let window = quota_secs(
            Duration::from_nanos(gcra.tolerance),
            gcra.interval,
            gcra.burst,
        );
        let policy = format!("\"{name}\";q={};w={window}", gcra.burst);
        Headers {
            policy: HeaderValue::from_str(&policy).expect("the name is a checked token"),
            limit: HeaderValue::from(gcra.burst),
            ratelimit_prefix: format!("\"{name}\";r=").into_bytes().into(),
            item_name: format!("\"{name}\"").into_bytes().into(),
            name,
            ietf,
            x_headers,
            interval: gcra.interval,
            burst: gcra.burst,
        }
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Sets the headers for `decision`. `RateLimit-Policy` and `RateLimit` are lists, one item
    /// per policy: the items of other policies (a rate limit layer with another name inside
    /// this one, on the route) are kept beside this policy's, and one of this policy's name is
    /// replaced. The `X-RateLimit-*` fields, which name no policy, and `Retry-After` are
    /// replaced.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, decision: &Decision) {
        if !decision.allowed {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs(decision.retry_after)));
        }
        if decision.store_unavailable {
            // The failure policy decided: there are no counters to report.
            return;
        }
        let reset = quota_secs(decision.reset, self.interval, self.burst);
        if self.ietf {
            self.set_item(headers, RATELIMIT_POLICY, self.policy.clone());
            self.set_item(
                headers,
                RATELIMIT,
                self.ratelimit(decision.remaining, reset),
            );
        }
        if self.x_headers {
            headers.insert(X_LIMIT, self.limit.clone());
            headers.insert(X_REMAINING, HeaderValue::from(decision.remaining));
            headers.insert(X_RESET, HeaderValue::from(reset));
        }
    }

    /// Puts `item` in the list field `name`, in place of the lines of this policy and beside
    /// those of the others (one line per item, as every layer writes them).
    fn set_item(&self, headers: &mut HeaderMap, name: HeaderName, item: HeaderValue) {
        let mut lines = match headers.entry(name) {
            Entry::Vacant(field) => {
                field.insert(item);
                return;
            }
            Entry::Occupied(lines) => lines,
        };
        let others: Vec<HeaderValue> = lines
            .iter()
            .filter(|line| !self.is_own(line))
            .cloned()
            .collect();
        lines.insert(item);
        for line in others {
            lines.append(line);
        }
    }

    /// Whether a line of `RateLimit-Policy` or `RateLimit` is an item of this policy's name.
    fn is_own(&self, line: &HeaderValue) -> bool {
        line.as_bytes()
            .trim_ascii_start()
            .strip_prefix(&*self.item_name)
            .is_some_and(|rest| matches!(rest.first(), None | Some(b';' | b',' | b' ' | b'\t')))
    }

    /// `"<name>";r=<remaining>;t=<reset>`, written straight into one buffer.
    fn ratelimit(&self, remaining: u64, reset: u64) -> HeaderValue {
        let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (r, t) = (r.format(remaining).as_bytes(), t.format(reset).as_bytes());
        let mut value = Vec::with_capacity(self.ratelimit_prefix.len() + r.len() + 3 + t.len());
        value.extend_from_slice(&self.ratelimit_prefix);
        value.extend_from_slice(r);
        value.extend_from_slice(b";t=");
        value.extend_from_slice(t);
        HeaderValue::from_maybe_shared(Bytes::from(value)).expect("digits and a token")
    }
}

/// Whole seconds, rounded up, of a span GCRA counts in whole intervals of `interval`
/// nanoseconds (a reset, the window). The interval was rounded up — to a nanosecond in
/// process, to a microsecond in Redis — so `k` intervals may pass the quota's own span by up
/// to `k` of those units — 3 a second: 3 × 333,333,334 ns = 1,000,000,002 ns — which rounded
/// up would read a second too many (`w=2`). `k` microseconds come off first, so both stores
/// give the same figures.
///
/// A span is at most `burst + 1` intervals, so only one at most that many microseconds past a
/// whole second can need it: any other is rounded up at once, with no division (the hot path).
fn quota_secs(d: Duration, interval: u64, burst: u32) -> u64 {
    let past = u64::from(d.subsec_nanos());
    if past == 0 || past > (u64::from(burst) + 1).saturating_mul(1_000) {
        return secs(d);
    }
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let slack = nanos.div_ceil(interval.max(1)).saturating_mul(1_000);
    // A span that is not zero still reads at least a second, as rounding up gives.
    secs(Duration::from_nanos(nanos - slack.min(nanos))).max(u64::from(nanos > 0))
}

/// Whole seconds, rounded up: a client that waits this long is never early.
fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `INVALID_ARGUMENT`.
const GRPC_INVALID_ARGUMENT: HeaderValue = HeaderValue::from_static("3");

/// The answer to a request whose key header appears more than once: `400 Bad Request`, or
/// for gRPC a trailers-only `INVALID_ARGUMENT`. Not a rate-limit refusal: no `Retry-After`,
/// no [`RateLimited`] marker.
pub(crate) fn ambiguous_key(grpc: bool) -> Response<()> {
    if grpc {
        grpc_head(
            GRPC_INVALID_ARGUMENT,
            "the rate-limit key header appears more than once",
        )
    } else {
        message_head(StatusCode::BAD_REQUEST)
    }
}

/// The answer to a refused request: `429 Too Many Requests`, or for gRPC a trailers-only
/// response (HTTP 200, `grpc-status: 8`) that clients read as `RESOURCE_EXHAUSTED`.
pub(crate) fn refusal(grpc: bool, headers: &Headers, decision: &Decision) -> Response<()> {
    let mut res = if grpc {
        grpc_head(GRPC_RESOURCE_EXHAUSTED, "rate limit exceeded")
    } else {
        message_head(StatusCode::TOO_MANY_REQUESTS)
    };
    headers.apply(res.headers_mut(), decision);
    res.extensions_mut().insert(RateLimited::of(decision));
    res
}

/// `headers` plus those of the layer's own refusal (`Retry-After`, the rate-limit fields) that
/// they do not have: the inner service's answer to a forwarded refusal keeps what it set.
pub(crate) fn add_refusal_headers(config: &Headers, decision: &Decision, headers: &mut HeaderMap) {
    let mut refusal = HeaderMap::new();
    config.apply(&mut refusal, decision);
    let mut current: Option<HeaderName> = None;
    for (name, value) in refusal {
        if let Some(name) = name {
            current = (!headers.contains_key(&name)).then_some(name);
        }
        if let Some(name) = &current {
            headers.append(name.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Quota;

    fn policy(quota: Quota) -> String {
        let gcra = Gcra::new(&quota).unwrap();
        let headers = Headers::new(Arc::from("q"), &gcra, true, false);
        headers.policy.to_str().unwrap().to_owned()
    }

    #[test]
    fn the_window_is_the_quotas_own_span() {
        // Quotas whose interval is not a whole number of nanoseconds.
        assert_eq!(policy(Quota::per_second(3)), r#""q";q=3;w=1"#);
        assert_eq!(policy(Quota::per_second(7)), r#""q";q=7;w=1"#);
        assert_eq!(policy(Quota::per_minute(7)), r#""q";q=7;w=60"#);
        assert_eq!(policy(Quota::per_hour(7)), r#""q";q=7;w=3600"#);
        // A burst other than the count: burst × interval.
        assert_eq!(policy(Quota::per_minute(10).burst(5)), r#""q";q=5;w=30"#);
        assert_eq!(policy(Quota::per_second(3).burst(10)), r#""q";q=10;w=4"#);
        // Under a second reads as one.
        assert_eq!(policy(Quota::per_second(10).burst(1)), r#""q";q=1;w=1"#);
    }

    #[test]
    fn a_spent_burst_resets_in_the_quotas_span() {
        let gcra = Gcra::new(&Quota::per_second(3)).unwrap();
        let headers = Headers::new(Arc::from("q"), &gcra, true, false);
        let mut tat = None;
        let mut last = None;
        for _ in 0..3 {
            let (decision, next) = gcra.decide(tat, 0);
            tat = next;
            last = Some(decision);
        }
        let mut map = HeaderMap::new();
        headers.apply(&mut map, &last.unwrap());
        assert_eq!(map[RATELIMIT], r#""q";r=0;t=1"#);
    }
}
