//! Rate limits from JS, turned into armature-layers' `RateLimitLayer` (errors become JS errors).
//!
//! The layer is built once, when JS constructs the `RateLimit`: its store (in process, or
//! Redis) belongs to that object, so recompiling an app after a new route keeps the counts,
//! and apps wrapped with the same `RateLimit` share one budget per key.

use std::time::Duration;

use armature_layers::rate_limit::{FailurePolicy, Quota, RateLimitLayer, RedisStore};
use napi::{Error, Result, Status};
use napi_derive::napi;

use crate::app::Refused;

/// Options of `new RateLimit({...})`, after the JS layer has normalized them.
#[napi(object)]
#[derive(Clone, Default)]
pub struct RateLimitOptions {
    /// Requests admitted per key per `perSeconds` (replenished one at a time, GCRA).
    pub requests: u32,
    /// The period of `requests`, in seconds (default 1; fractions allowed).
    pub per_seconds: Option<f64>,
    /// How many requests may arrive at once (default `requests`).
    pub burst: Option<u32>,
    /// Key by this request header (like `x-api-key`) instead of the client IP; requests
    /// without it are not limited.
    pub key_header: Option<String>,
    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` names the client.
    pub trust_proxies: Option<Vec<String>>,
    /// Count in this Redis (`redis://host:port/db`), shared by every process using it.
    pub redis: Option<String>,
    /// With `redis`: when Redis is unreachable, `"open"` (admit, the default) or `"closed"`
    /// (refuse with 429).
    pub redis_on_failure: Option<String>,
    /// With `redis`: the prefix of its keys (default `armature:ratelimit:`).
    pub redis_prefix: Option<String>,
    /// The policy name in the `RateLimit-Policy` / `RateLimit` headers and Redis keys.
    pub name: Option<String>,
    /// Sends `RateLimit-Policy` and `RateLimit` on every answer (default true).
    pub headers: Option<bool>,
    /// Also sends `X-RateLimit-Limit`, `-Remaining` and `-Reset` (default false).
    pub x_headers: Option<bool>,
}

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, format!("RateLimit: {message}"))
}

pub(crate) fn layer(options: &RateLimitOptions) -> Result<RateLimitLayer> {
    let secs = options.per_seconds.unwrap_or(1.0);
    let period = Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|p| !p.is_zero())
        .ok_or_else(|| {
            invalid(format!(
                "perSeconds must be a positive number of seconds, got {secs}"
            ))
        })?;
    let mut quota = Quota::new(options.requests, period);
    if let Some(burst) = options.burst {
        quota = quota.burst(burst);
    }
    // Its refusals go on, marked, to the app's `Refusals` (app.rs), which answers them in the
    // package's error shape, or through JS when the app has an error handler; the limit adds
    // `Retry-After` and the `RateLimit` headers to that answer.
    let mut builder =
        RateLimitLayer::builder()
            .quota(quota)
            .forward_refusals(|extensions, limited| {
                extensions.insert(Refused::RateLimited(limited));
            });
    if let Some(header) = &options.key_header {
        builder = builder.key_by_header(header);
    }
    if let Some(proxies) = &options.trust_proxies {
        builder = builder.trust_proxies(proxies);
    }
    if let Some(name) = &options.name {
        builder = builder.policy_name(name);
    }
    if let Some(on) = options.headers {
        builder = builder.ratelimit_headers(on);
    }
    if let Some(on) = options.x_headers {
        builder = builder.x_ratelimit_headers(on);
    }
    match &options.redis {
        Some(url) => {
            let mut redis = RedisStore::builder(url.as_str());
            if let Some(policy) = &options.redis_on_failure {
                let policy: FailurePolicy = policy
                    .parse()
                    .map_err(|e| invalid(format_args!("redisOnFailure: {e}")))?;
                redis = redis.on_failure(policy);
            }
            if let Some(prefix) = &options.redis_prefix {
                redis = redis.key_prefix(prefix.as_str());
            }
            builder = builder.store(redis.build().map_err(invalid)?);
        }
        None if options.redis_on_failure.is_some() || options.redis_prefix.is_some() => {
            return Err(invalid(
                "redisOnFailure and redisPrefix only apply with `redis: 'redis://...'`",
            ))
        }
        None => {}
    }
    builder.build().map_err(invalid)
}

/// A checked rate limit and its store; JS wraps one in each `RateLimit`.
#[napi]
pub struct NativeRateLimit {
    layer: RateLimitLayer,
}

#[napi]
impl NativeRateLimit {
    /// Builds the layer now (a Redis store connects lazily, on the first request); throws
    /// the configuration error.
    #[napi(constructor)]
    pub fn new(options: RateLimitOptions) -> Result<Self> {
        Ok(NativeRateLimit {
            layer: layer(&options)?,
        })
    }
}

impl NativeRateLimit {
    pub(crate) fn layer(&self) -> RateLimitLayer {
        self.layer.clone()
    }
}
