//! [`RateLimitError`]: a rate-limit configuration that cannot work.

use std::fmt;
use std::time::Duration;

/// Returned by the builders, never a panic; each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// No [`quota`](super::RateLimitBuilder::quota) was given.
    NoQuota,
    /// A quota of zero requests, or over a zero period.
    ZeroQuota,
    /// A burst of zero: no request could ever be admitted.
    ZeroBurst,
    /// The period (or burst × emission interval) does not fit in 584 years of nanoseconds.
    PeriodTooLong,
    /// More than one request per nanosecond, the limiter's resolution: the emission interval
    /// would round up to 1 ns and silently admit up to `count` times fewer requests.
    RateTooHigh {
        /// The quota's count.
        count: u32,
        /// The quota's period.
        period: Duration,
    },
    /// A store with no room (`max_keys`, `shards` or `pool_size` of zero).
    ZeroCapacity,
    /// A Redis connection pool larger than
    /// [`RedisStore::MAX_POOL_SIZE`](super::RedisStore::MAX_POOL_SIZE).
    PoolTooLarge {
        /// The size as given.
        size: usize,
    },
    /// A Redis timeout of zero.
    ZeroTimeout,
    /// A [`FailurePolicy`](super::FailurePolicy) parsed from a string other than `"open"` or
    /// `"closed"`.
    UnknownFailurePolicy {
        /// The string as given.
        value: String,
    },
    /// A trusted proxy that is neither an IP address nor a network in CIDR notation.
    InvalidProxy {
        /// The entry as given.
        proxy: String,
    },
    /// A trusted proxy network of every address (`0.0.0.0/0`, `::/0`): every hop would be
    /// trusted, so the key would be the leftmost `X-Forwarded-For` entry, which the client
    /// writes, and any client could name a fresh key per request.
    TrustsEveryAddress {
        /// The entry as given.
        proxy: String,
    },
    /// An IPv6 prefix length above 128 or of zero.
    InvalidIpv6Prefix {
        /// The length as given.
        prefix: u8,
    },
    /// A policy name that is not a token of letters, digits, `-`, `_` and `.`.
    InvalidPolicyName {
        /// The name as given.
        name: String,
    },
    /// `key_by_header` with a name that is not a valid header name.
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
    /// Trusted proxies configured while keying by something other than the client address.
    ProxiesWithoutClientIp,
    /// Redis refused the configuration or did not answer.
    Redis(String),
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitError::NoQuota => f.write_str(
                "no rate-limit quota: call .quota(Quota::per_second(n)) (or per_minute/per_hour/new)",
            ),
            RateLimitError::ZeroQuota => {
                f.write_str("a rate-limit quota needs at least one request per non-zero period")
            }
            RateLimitError::ZeroBurst => {
                f.write_str("a rate-limit burst of 0 admits nothing; use at least 1")
            }
            RateLimitError::PeriodTooLong => {
                f.write_str("the rate-limit period (or burst × interval) is too long to represent")
            }
            RateLimitError::RateTooHigh { count, period } => write!(
                f,
                "a rate-limit quota of {count} per {period:?} is more than one request per \
                 nanosecond, which the limiter cannot represent (was the period meant in other units?)"
            ),
            RateLimitError::ZeroCapacity => {
                f.write_str("a rate-limit store needs at least one key, shard and connection")
            }
            RateLimitError::PoolTooLarge { size } => write!(
                f,
                "a Redis pool of {size} connections is too large (at most {}); each connection \
                 is multiplexed, so a few are plenty",
                super::RedisStore::MAX_POOL_SIZE
            ),
            RateLimitError::ZeroTimeout => {
                f.write_str("a zero Redis timeout would fail every request; use e.g. 100 ms")
            }
            RateLimitError::UnknownFailurePolicy { value } => write!(
                f,
                "unknown Redis failure policy {value:?}: use \"open\" (admit while Redis is \
                 unreachable) or \"closed\" (refuse with 429)"
            ),
            RateLimitError::InvalidProxy { proxy } => write!(
                f,
                "invalid trusted proxy {proxy:?}: write an IP address (10.0.0.1) or a network (10.0.0.0/8)"
            ),
            RateLimitError::TrustsEveryAddress { proxy } => write!(
                f,
                "trusted proxy {proxy:?} is every address: clients could then choose their own \
                 rate-limit key in the forwarding header; list only your proxies' addresses"
            ),
            RateLimitError::InvalidIpv6Prefix { prefix } => {
                write!(f, "invalid IPv6 prefix length {prefix}: use 1 to 128")
            }
            RateLimitError::InvalidPolicyName { name } => write!(
                f,
                "invalid rate-limit policy name {name:?}: use letters, digits, '-', '_' and '.'"
            ),
            RateLimitError::InvalidHeaderName { name } => {
                write!(f, "invalid header name {name:?} to key the rate limit by")
            }
            RateLimitError::ProxiesWithoutClientIp => f.write_str(
                "trusted proxies only matter when keying by client IP (key_by_client_ip)",
            ),
            RateLimitError::Redis(err) => write!(f, "rate-limit Redis store: {err}"),
        }
    }
}

impl std::error::Error for RateLimitError {}
