//! [`RedisStore`]: one limit shared by every process that talks to the same Redis.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::clock::{Clock, SystemClock};
use super::gcra::{Decision, Gcra};
use super::RateLimitError;

/// GCRA in one server-side step, so concurrent decisions on a key never race, in integer
/// nanoseconds like the in-process store. Lua's numbers are doubles, exact only to 2^53, so a
/// time is kept as whole seconds and nanoseconds (the TAT is stored as `"<s>:<ns>"`) and the
/// arithmetic is done on differences from now, which are exact up to 104 days (beyond that,
/// off by at most a few nanoseconds, against intervals of hours). The key expires when its
/// TAT would be in the past (a replenished key is the same as a missing one). A TAT in the
/// earlier format (microseconds as one double) is still read.
///
/// KEYS[1] the key; ARGV: emission interval and tolerance in nanoseconds, and the time as
/// seconds and nanoseconds (both empty: Redis `TIME`).
/// Returns {admitted (0/1), remaining, µs until fully replenished, µs until retry}, the
/// microseconds rounded up.
const SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now_s = tonumber(ARGV[3])
local now_n = tonumber(ARGV[4])
local slack = 0
if now_s ~= nil then
  -- A client clock: Redis still expires keys on its own, so never before 60 s.
  slack = 60000
else
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_n = tonumber(t[2]) * 1000
end
local behind = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local tat_s, tat_n = string.match(stored, '^(%d+):(%d+)$')
  if tat_s then
    behind = (tonumber(tat_s) - now_s) * 1e9 + (tonumber(tat_n) - now_n)
  elseif tonumber(stored) then
    behind = (tonumber(stored) - (now_s * 1e6 + now_n / 1000)) * 1000
  end
  if behind < 0 then behind = 0 end
end
local ahead = behind + interval
if ahead > tolerance then
  return {0, 0, math.ceil(behind / 1000), math.ceil((ahead - tolerance) / 1000)}
end
local ahead_s = math.floor(ahead / 1e9)
local tat_s = now_s + ahead_s
local tat_n = now_n + math.ceil(ahead - ahead_s * 1e9)
while tat_n >= 1e9 do
  tat_s = tat_s + 1
  tat_n = tat_n - 1e9
end
if tat_n < 0 then tat_n = 0 end
redis.call('SET', KEYS[1], string.format('%d:%d', tat_s, tat_n), 'PX',
  math.max(1, math.ceil(ahead / 1e6)) + slack)
return {1, math.floor((tolerance - ahead) / interval), math.ceil(ahead / 1000), 0}
";

/// What the layer does when Redis cannot answer within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Admit the request (availability first; the default). It carries no `RateLimit` headers.
    #[default]
    Open,
    /// Refuse the request with 429 (protection first).
    Closed,
}

/// `"open"` or `"closed"`, as a configuration file or a language binding spells it.
///
/// ```
/// use armature_layers::rate_limit::{FailurePolicy, RateLimitError};
///
/// assert_eq!("closed".parse(), Ok(FailurePolicy::Closed));
/// assert_eq!(
///     "shut".parse::<FailurePolicy>(),
///     Err(RateLimitError::UnknownFailurePolicy { value: "shut".into() })
/// );
/// ```
impl std::str::FromStr for FailurePolicy {
    type Err = RateLimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(FailurePolicy::Open),
            "closed" => Ok(FailurePolicy::Closed),
            _ => Err(RateLimitError::UnknownFailurePolicy {
                value: s.to_owned(),
            }),
        }
    }
}

/// The Redis store: each decision is one `EVALSHA` of a Lua script that reads and updates the
/// key's theoretical arrival time atomically on the server, with the server's clock (`TIME`),
/// so any number of processes share one limit and agree on the time.
///
/// Connections are a small pool of redis-rs [`ConnectionManager`]s (multiplexed,
/// reconnecting in the background), used round-robin, and opened lazily: building the store
/// never blocks, and the layer starts even while Redis is down.
///
/// **When Redis is unreachable** (refused, reset, or slower than
/// [`timeout`](RedisStoreBuilder::timeout), default 100 ms) the request is decided by the
/// [`FailurePolicy`]. Then, for the [`retry_interval`](RedisStoreBuilder::retry_interval)
/// (default 250 ms), every request is decided by the policy at once, without asking Redis;
/// after it, one request asks Redis again (waiting at most the timeout) while the others
/// still do not wait. So during an outage only about one request per retry interval pays
/// the timeout, and limiting resumes within about a retry interval of Redis answering. The
/// first failure is logged at `warn`, the recovery at `info`. Nothing waits longer than the
/// timeout and nothing panics.
///
/// ```
/// use std::time::Duration;
/// use armature_layers::rate_limit::{FailurePolicy, RedisStore};
///
/// let store = RedisStore::builder("redis://127.0.0.1:6379/")
///     .timeout(Duration::from_millis(50))
///     .on_failure(FailurePolicy::Closed)
///     .key_prefix("myapp:rl:")
///     .build()?; // does not connect yet
/// # Ok::<_, armature_layers::rate_limit::RateLimitError>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Opened on first use, inside the runtime (redis-rs needs one to create them).
    connections: std::sync::OnceLock<Result<Box<[ConnectionManager]>, String>>,
    client: redis::Client,
    config: ConnectionManagerConfig,
    pool_size: usize,
    next: AtomicUsize,
    script: redis::Script,
    timeout: Duration,
    on_failure: FailurePolicy,
    prefix: String,
    clock: Option<Arc<dyn Clock>>,
    down: AtomicBool,
    retry_interval: u64,
    /// While `down`: when (on [`SystemClock`]) the next request may ask Redis again.
    retry_at: AtomicU64,
}

impl RedisStore {
    /// The largest [`pool_size`](RedisStoreBuilder::pool_size). The pool is opened at once on
    /// first use, each connection costing a few KiB: 100,000 of them stalled that first
    /// request for 1.5 s and took 400 MB, and `usize::MAX` would exhaust memory.
    pub const MAX_POOL_SIZE: usize = 1024;

    /// Configures a store for the Redis at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            pool_size: 2,
            timeout: Duration::from_millis(100),
            on_failure: FailurePolicy::Open,
            prefix: "armature:ratelimit:".to_owned(),
            clock: None,
            retry_interval: Duration::from_millis(250),
        }
    }

    /// Sends `PING` within the timeout: for a health check at start-up.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::Redis`] if Redis does not answer in time.
    pub async fn ping(&self) -> Result<(), RateLimitError> {
        let mut con = self.connection().map_err(RateLimitError::Redis)?;
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut con);
        match tokio::time::timeout(self.inner.timeout, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(RateLimitError::Redis(err.to_string())),
            Err(_) => Err(RateLimitError::Redis(format!(
                "no answer within {:?}",
                self.inner.timeout
            ))),
        }
    }

    fn connection(&self) -> Result<ConnectionManager, String> {
        let inner = &*self.inner;
        let pool = inner.connections.get_or_init(|| {
            (0..inner.pool_size)
                .map(|_| {
                    ConnectionManager::new_lazy_with_config(
                        inner.client.clone(),
                        inner.config.clone(),
                    )
                })
                .collect::<Result<_, _>>()
                .map_err(|err| err.to_string())
        });
        let pool = pool.as_ref().map_err(Clone::clone)?;
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        Ok(pool[i].clone())
    }

    /// Whether this request may ask Redis: always while it answers; after a failure, only
    /// the first request once the retry interval has passed (it pushes the next try back).
    fn may_ask(&self) -> bool {
        let inner = &*self.inner;
        if !inner.down.load(Ordering::Relaxed) {
            return true;
        }
        let now = SystemClock.now_nanos();
        let at = inner.retry_at.load(Ordering::Relaxed);
        now >= at
            && inner
                .retry_at
                .compare_exchange(
                    at,
                    now.saturating_add(inner.retry_interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The failure policy's decision. A refusal's `Retry-After` is the retry interval, at
    /// least a second: when Redis will be asked again.
    fn unavailable(&self) -> Decision {
        let inner = &*self.inner;
        let retry = Duration::from_nanos(inner.retry_interval).max(Duration::from_secs(1));
        Decision::unknown(inner.on_failure == FailurePolicy::Open, retry)
    }

    /// Decides one request for `key` under the limit named `policy`.
    pub(crate) async fn check(self, gcra: Gcra, policy: Arc<str>, key: Vec<u8>) -> Decision {
        let inner = &*self.inner;
        if !self.may_ask() {
            return self.unavailable();
        }
        let mut full_key = Vec::with_capacity(inner.prefix.len() + policy.len() + 1 + key.len());
        full_key.extend_from_slice(inner.prefix.as_bytes());
        full_key.extend_from_slice(policy.as_bytes());
        full_key.push(b':');
        full_key.extend_from_slice(&key);
        let mut invocation = inner.script.prepare_invoke();
        invocation
            .key(full_key)
            .arg(gcra.interval)
            .arg(gcra.tolerance);
        match &inner.clock {
            Some(clock) => {
                let now = clock.now_nanos();
                invocation.arg(now / 1_000_000_000).arg(now % 1_000_000_000)
            }
            None => invocation.arg("").arg(""),
        };
        let outcome = match self.connection() {
            Ok(mut con) => {
                let call = invocation.invoke_async::<(i64, i64, i64, i64)>(&mut con);
                match tokio::time::timeout(inner.timeout, call).await {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err(format!("no answer within {:?}", inner.timeout)),
                }
            }
            Err(err) => Err(err),
        };
        match outcome {
            Ok((admitted, remaining, reset, retry)) => {
                if inner.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limit: Redis answers again; limiting resumed");
                }
                let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
                Decision {
                    allowed: admitted == 1,
                    remaining: u64::try_from(remaining).unwrap_or(0),
                    reset: micros(reset),
                    retry_after: micros(retry),
                    store_unavailable: false,
                }
            }
            Err(err) => {
                let retry_at = SystemClock.now_nanos().saturating_add(inner.retry_interval);
                inner.retry_at.store(retry_at, Ordering::Relaxed);
                if !inner.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %err,
                        policy = ?inner.on_failure,
                        "rate limit: Redis unreachable; deciding by the failure policy until it answers"
                    );
                }
                self.unavailable()
            }
        }
    }
}

/// Configures a [`RedisStore`]; see [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    pool_size: usize,
    timeout: Duration,
    on_failure: FailurePolicy,
    prefix: String,
    clock: Option<Arc<dyn Clock>>,
    retry_interval: Duration,
}

impl RedisStoreBuilder {
    /// How many multiplexed connections to spread decisions over (default 2, at most
    /// [`RedisStore::MAX_POOL_SIZE`]). Each carries many concurrent requests, so a handful
    /// is plenty.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// The longest a request waits for Redis before the failure policy decides (default
    /// 100 ms). Also the connect and response timeouts of the connections.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// After Redis failed to answer, how long every request is decided by the
    /// [`FailurePolicy`] without asking Redis (default 250 ms); then one request asks again.
    /// Zero asks Redis on every request, each then waiting up to the timeout during an outage.
    /// With [`FailurePolicy::Closed`], refusals say to retry after this interval (at least
    /// 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use armature_layers::rate_limit::RedisStore;
    ///
    /// let store = RedisStore::builder("redis://127.0.0.1:6379/")
    ///     .timeout(Duration::from_millis(50))
    ///     .retry_interval(Duration::from_secs(1))
    ///     .build()?;
    /// # Ok::<_, armature_layers::rate_limit::RateLimitError>(())
    /// ```
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// What to do while Redis is unreachable (default [`FailurePolicy::Open`]).
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.on_failure = policy;
        self
    }

    /// Prepended to every key (default `armature:ratelimit:`), followed by the layer's policy
    /// name and `:`, so several layers and applications can share one Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Takes the time from `clock` instead of Redis' `TIME`. Every process sharing the limit
    /// must then read the same clock; this is meant for tests (a frozen
    /// [`ManualClock`](super::ManualClock) makes counts exact however slow the machine is).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the store without connecting (connections open on first use).
    ///
    /// # Errors
    ///
    /// [`RateLimitError::Redis`] for a URL redis-rs does not accept,
    /// [`RateLimitError::ZeroCapacity`] for a pool of zero connections,
    /// [`RateLimitError::PoolTooLarge`] for more than [`RedisStore::MAX_POOL_SIZE`], and
    /// [`RateLimitError::ZeroTimeout`] for a zero timeout.
    ///
    /// ```
    /// use armature_layers::rate_limit::{RateLimitError, RedisStore};
    ///
    /// let err = RedisStore::builder("redis://127.0.0.1:6379/").pool_size(1 << 20).build().unwrap_err();
    /// assert_eq!(err, RateLimitError::PoolTooLarge { size: 1 << 20 });
    /// ```
    pub fn build(self) -> Result<RedisStore, RateLimitError> {
        if self.pool_size == 0 {
            return Err(RateLimitError::ZeroCapacity);
        }
        if self.pool_size > RedisStore::MAX_POOL_SIZE {
            return Err(RateLimitError::PoolTooLarge {
                size: self.pool_size,
            });
        }
        if self.timeout.is_zero() {
            return Err(RateLimitError::ZeroTimeout);
        }
        let client = redis::Client::open(self.url.as_str())
            .map_err(|err| RateLimitError::Redis(err.to_string()))?;
        // The retry interval is timed on `SystemClock`: calibrated now, not on the request
        // that first finds Redis down.
        crate::ticks::warm_up();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(500));
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connections: std::sync::OnceLock::new(),
                client,
                config,
                pool_size: self.pool_size,
                next: AtomicUsize::new(0),
                script: redis::Script::new(SCRIPT),
                timeout: self.timeout,
                on_failure: self.on_failure,
                prefix: self.prefix,
                clock: self.clock,
                down: AtomicBool::new(false),
                retry_interval: u64::try_from(self.retry_interval.as_nanos()).unwrap_or(u64::MAX),
                retry_at: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("pool_size", &self.inner.pool_size)
            .field("timeout", &self.inner.timeout)
            .field("on_failure", &self.inner.on_failure)
            .field(
                "retry_interval",
                &Duration::from_nanos(self.inner.retry_interval),
            )
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RedisStoreBuilder")
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("retry_interval", &self.retry_interval)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
