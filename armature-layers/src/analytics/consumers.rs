//! Per-consumer usage as a bounded top-N: the space-saving algorithm (Metwally et al.) over a
//! few independently locked shards. Memory is fixed at build time, however many distinct
//! consumers call: a newcomer replaces the least-counted entry of its shard and inherits its
//! count as an overestimate, so heavy hitters are never lost.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use http::{HeaderName, Request};

use crate::sync::lock;

const SHARDS: usize = 8;

/// Who a request is counted for in the per-consumer top-N of an
/// [`AnalyticsLayer`](super::AnalyticsLayer).
///
/// ```
/// use armature_layers::analytics::{AnalyticsLayer, Consumers};
///
/// // API keys are secrets: they are listed by a fingerprint, never in clear.
/// let by_key = AnalyticsLayer::builder().consumers(Consumers::api_key("x-api-key"), 100).build();
/// // A non-secret tenant id is listed as sent.
/// let by_tenant = AnalyticsLayer::builder().consumers(Consumers::header("x-tenant"), 100).build();
/// // The peer address armature-server puts in every request's extensions.
/// let by_ip = AnalyticsLayer::builder().consumers(Consumers::client_ip(), 100).build();
/// # let _ = (by_key, by_tenant, by_ip);
/// ```
#[derive(Debug, Clone)]
pub struct Consumers(Source);

#[derive(Debug, Clone)]
enum Source {
    Header { name: HeaderName, secret: bool },
    ClientIp,
}

impl Consumers {
    /// The value of header `name`, listed as `key:` and a 16-hex-digit fingerprint (a keyed
    /// hash fixed for the life of the process) so the dashboard never shows a key.
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    ///
    /// ```
    /// let _ = armature_layers::analytics::Consumers::api_key("x-api-key");
    /// ```
    pub fn api_key(name: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        Consumers(Source::Header { name, secret: true })
    }

    /// The value of header `name`, listed as sent (for ids that are not secrets).
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    ///
    /// ```
    /// let _ = armature_layers::analytics::Consumers::header("x-tenant");
    /// ```
    pub fn header(name: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        Consumers(Source::Header {
            name,
            secret: false,
        })
    }

    /// The IP of the peer (`SocketAddr` request extension, set by armature-server).
    ///
    /// ```
    /// let _ = armature_layers::analytics::Consumers::client_ip();
    /// ```
    pub fn client_ip() -> Self {
        Consumers(Source::ClientIp)
    }
}

struct Entry {
    hash: u64,
    label: String,
    count: u64,
    /// How much of `count` may belong to the consumers this entry replaced.
    error: u64,
    rate_limited: u64,
}

#[derive(Default)]
struct Shard {
    index: HashMap<u64, usize, foldhash::fast::FixedState>,
    entries: Vec<Entry>,
}

/// One consumer of the top-N, as reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerUsage {
    /// The consumer's label (an IP, a header value, or an API key's fingerprint).
    pub consumer: String,
    /// Requests counted for it: an upper bound, exact when `overestimate` is 0.
    pub requests: u64,
    /// How much of `requests` may belong to consumers it displaced in the bounded table.
    pub overestimate: u64,
    /// Its requests the rate limiter refused (counted while it was in the table).
    pub rate_limited: u64,
}

pub(crate) struct TopConsumers {
    source: Source,
    shards: [Mutex<Shard>; SHARDS],
    per_shard: usize,
    hasher: foldhash::fast::RandomState,
}

impl TopConsumers {
    pub(crate) fn new(consumers: Consumers, capacity: usize) -> Self {
        TopConsumers {
            source: consumers.0,
            shards: Default::default(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Counts one request of the consumer of `req`, if it names one; returns its hash.
    pub(crate) fn record<B>(&self, req: &Request<B>) -> Option<u64> {
        match &self.source {
            Source::Header { name, secret } => {
                let value = req.headers().get(name)?;
                let hash = self.hasher.hash_one(value.as_bytes());
                self.bump(hash, |label| {
                    if *secret {
                        let _ = write!(label, "key:{hash:016x}");
                    } else {
                        label.push_str(&String::from_utf8_lossy(value.as_bytes()));
                    }
                });
                Some(hash)
            }
            Source::ClientIp => {
                let ip = req.extensions().get::<SocketAddr>()?.ip();
                let hash = self.hasher.hash_one(ip);
                self.bump(hash, |label| {
                    let _ = write!(label, "{ip}");
                });
                Some(hash)
            }
        }
    }

    /// The shard consumer `hash` lives in.
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        lock(&self.shards[(hash >> 59) as usize % SHARDS])
    }

    fn bump(&self, hash: u64, label: impl FnOnce(&mut String)) {
        let mut shard = self.shard(hash);
        let shard = &mut *shard;
        if let Some(&i) = shard.index.get(&hash) {
            shard.entries[i].count += 1;
            return;
        }
        if shard.entries.len() < self.per_shard {
            let mut text = String::new();
            label(&mut text);
            shard.index.insert(hash, shard.entries.len());
            shard.entries.push(Entry {
                hash,
                label: text,
                count: 1,
                error: 0,
                rate_limited: 0,
            });
            return;
        }
        // Full: the newcomer takes the place (and the count, as its error) of the minimum.
        let (i, min) = shard
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.count)
            .map(|(i, e)| (i, e.count))
            .expect("a full shard has entries");
        let entry = &mut shard.entries[i];
        shard.index.remove(&entry.hash);
        shard.index.insert(hash, i);
        entry.hash = hash;
        entry.label.clear(); // reuses the buffer
        label(&mut entry.label);
        entry.count = min + 1;
        entry.error = min;
        entry.rate_limited = 0;
    }

    /// Marks one request of consumer `hash` as rate-limited, if it is still in the table.
    pub(crate) fn rate_limited(&self, hash: u64) {
        let mut shard = self.shard(hash);
        if let Some(&i) = shard.index.get(&hash) {
            shard.entries[i].rate_limited += 1;
        }
    }

    /// The `n` heaviest consumers, heaviest first.
    pub(crate) fn top(&self, n: usize) -> Vec<ConsumerUsage> {
        let mut all: Vec<ConsumerUsage> = self
            .shards
            .iter()
            .flat_map(|shard| {
                let shard = lock(shard);
                shard
                    .entries
                    .iter()
                    .map(|e| ConsumerUsage {
                        consumer: e.label.clone(),
                        requests: e.count,
                        overestimate: e.error,
                        rate_limited: e.rate_limited,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_unstable_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then(a.consumer.cmp(&b.consumer))
        });
        all.truncate(n);
        all
    }

    /// How many entries the table holds (at most its capacity, rounded up to the shards).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str) -> Request<()> {
        Request::get("/").header("x-api-key", key).body(()).unwrap()
    }

    #[test]
    fn heavy_hitters_survive_a_flood_of_one_off_consumers() {
        let top = TopConsumers::new(Consumers::header("x-api-key"), 64);
        for i in 0..20_000 {
            top.record(&req(&format!("once-{i}")));
            if i % 10 == 0 {
                top.record(&req("heavy"));
            }
        }
        assert!(top.len() <= 64);
        let first = &top.top(1)[0];
        assert_eq!(first.consumer, "heavy");
        assert!(first.requests - first.overestimate <= 2_000);
        assert!(first.requests >= 2_000);
    }

    #[test]
    fn api_keys_are_listed_by_fingerprint() {
        let top = TopConsumers::new(Consumers::api_key("x-api-key"), 8);
        top.record(&req("s3cret"));
        let listed = &top.top(1)[0].consumer;
        assert!(
            listed.starts_with("key:") && !listed.contains("s3cret"),
            "{listed}"
        );
    }
}
