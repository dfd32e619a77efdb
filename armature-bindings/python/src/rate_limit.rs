//! `@rate_limit(...)`: the options the Python decorator collected, turned into Armature's
//! Rust rate-limit layer (GCRA, in this process or in Redis) for one route.

use std::time::Duration;

use armature_layers::rate_limit::{FailurePolicy, Quota, RateLimitLayer, RedisStore};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `options[key]`, when present and not `None`.
fn get<'py>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(options.get_item(key)?.filter(|v| !v.is_none()))
}

/// Builds the layer from `{"count", "period", "burst", "key_header", "trust_proxies",
/// "name", "x_ratelimit_headers", "redis", "redis_on_failure", "redis_prefix"}`;
/// configuration errors come from the Rust builders, as `ValueError`. The layer owns its
/// store: every clone of it (the served stack, the `TestClient`'s) counts against the same
/// budget, and with `redis` so does every layer (in any process) with the same Redis, key
/// prefix and name. A Redis store connects on the first request, not here.
pub(crate) fn layer(options: &Bound<'_, PyDict>) -> PyResult<RateLimitLayer> {
    let count: u32 = match get(options, "count")? {
        Some(v) => v.extract()?,
        None => 0,
    };
    let period: f64 = match get(options, "period")? {
        Some(v) => v.extract()?,
        None => 0.0,
    };
    let period = Some(period)
        .filter(|p| *p > 0.0)
        .and_then(|p| Duration::try_from_secs_f64(p).ok())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid rate limit: the period must be a positive number of seconds, got {period}"
            ))
        })?;
    let mut quota = Quota::new(count, period);
    if let Some(burst) = get(options, "burst")? {
        quota = quota.burst(burst.extract()?);
    }
    let mut builder = RateLimitLayer::builder().quota(quota);
    if let Some(header) = get(options, "key_header")? {
        builder = builder.key_by_header(header.extract::<String>()?);
    }
    if let Some(proxies) = get(options, "trust_proxies")? {
        let proxies: Vec<String> = proxies.extract()?;
        if !proxies.is_empty() {
            builder = builder.trust_proxies(proxies);
        }
    }
    if let Some(name) = get(options, "name")? {
        builder = builder.policy_name(name.extract::<String>()?);
    }
    if let Some(x) = get(options, "x_ratelimit_headers")? {
        builder = builder.x_ratelimit_headers(x.extract()?);
    }
    // The decorator refuses `redis_on_failure` and `redis_prefix` without `redis`.
    if let Some(url) = get(options, "redis")? {
        let mut redis = RedisStore::builder(url.extract::<String>()?);
        if let Some(policy) = get(options, "redis_on_failure")? {
            let policy: FailurePolicy = policy
                .extract::<String>()?
                .parse()
                .map_err(|e| invalid(format_args!("redis_on_failure: {e}")))?;
            redis = redis.on_failure(policy);
        }
        if let Some(prefix) = get(options, "redis_prefix")? {
            redis = redis.key_prefix(prefix.extract::<String>()?);
        }
        builder = builder.store(redis.build().map_err(invalid)?);
    }
    builder.build().map_err(invalid)
}

fn invalid(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("invalid rate limit: {message}"))
}
