//! [`MemoryStore`]: the in-process store, sharded and bounded.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use super::clock::{Clock, SystemClock};
use super::gcra::{Decision, Gcra};
use super::key::KeyBuf;
use super::RateLimitError;

type Shard = HashMap<KeyBuf, u64, foldhash::fast::RandomState>;

/// The in-process store: each key's theoretical arrival time (one `u64`) in a map split into
/// shards, each behind its own mutex held only for one lookup and update.
///
/// **Memory is bounded**: at most [`max_keys`](MemoryStoreBuilder::max_keys) keys are kept.
/// When a shard is full, keys whose budget has fully replenished are dropped first — for GCRA
/// such a key is exactly the same as one never seen, so nothing is lost. Only if more than
/// `max_keys` keys are *all* still mid-budget (a flood of distinct keys faster than they
/// replenish) are the quarter of a shard's keys closest to replenishing forgotten; those
/// clients get a fresh budget early. A flood of distinct keys therefore costs at most
/// `max_keys` entries, never more.
///
/// The store is cheap to clone (clones share the map). Give each [`RateLimitLayer`] its own
/// store unless layers are meant to share budgets.
///
/// [`RateLimitLayer`]: super::RateLimitLayer
///
/// ```
/// use armature_layers::rate_limit::{ManualClock, MemoryStore};
///
/// let store = MemoryStore::builder().max_keys(10_000).clock(ManualClock::new()).build()?;
/// assert_eq!(store.len(), 0);
/// # Ok::<_, armature_layers::rate_limit::RateLimitError>(())
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
    hasher: foldhash::fast::RandomState,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// Up to 100,000 keys on the system clock.
    pub fn new() -> Self {
        MemoryStore::builder()
            .build()
            .expect("the defaults are valid")
    }

    /// Configures a store.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            max_keys: 100_000,
            shards: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// How many keys are held now (at most `max_keys`).
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn check(&self, gcra: &Gcra, key: &[u8]) -> Decision {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        // The high bits pick the shard; the map re-hashes with its own state.
        let index = (hash >> 40) as usize % inner.shards.len();
        let mut shard = inner.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = inner.clock.now_nanos();
        if let Some(tat) = shard.get_mut(key) {
            let (decision, new_tat) = gcra.decide(Some(*tat), now);
            if let Some(new_tat) = new_tat {
                *tat = new_tat;
            }
            return decision;
        }
        let (decision, new_tat) = gcra.decide(None, now);
        if let Some(new_tat) = new_tat {
            if shard.len() >= inner.shard_capacity {
                evict(&mut shard, now, inner.shard_capacity);
            }
            shard.insert(KeyBuf::from_slice(key), new_tat);
        }
        decision
    }
}

/// Makes room in a full shard: first every replenished key, then if needed the quarter of the
/// keys closest to replenishing (so a flood costs amortized O(1) per new key).
fn evict(shard: &mut Shard, now: u64, capacity: usize) {
    shard.retain(|_, tat| *tat > now);
    if shard.len() < capacity {
        return;
    }
    let mut tats: Vec<u64> = shard.values().copied().collect();
    let quarter = (tats.len() / 4).max(1) - 1;
    let (_, &mut threshold, _) = tats.select_nth_unstable(quarter);
    shard.retain(|_, tat| *tat > threshold);
    tracing::debug!(
        kept = shard.len(),
        "rate limit: store full of active keys; forgot those closest to replenishing"
    );
}

/// Configures a [`MemoryStore`]; see [`MemoryStore::builder`].
#[must_use]
pub struct MemoryStoreBuilder {
    max_keys: usize,
    shards: Option<usize>,
    clock: Arc<dyn Clock>,
}

impl MemoryStoreBuilder {
    /// Keeps at most this many keys (default 100,000; about 64 bytes each).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Splits the map into this many shards (default: 4 per CPU, at least 8, at most
    /// `max_keys`).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Reads the time from `clock` (default [`SystemClock`]; tests use a
    /// [`ManualClock`](super::ManualClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the store.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::ZeroCapacity`] if `max_keys` or `shards` is zero.
    pub fn build(self) -> Result<MemoryStore, RateLimitError> {
        if self.max_keys == 0 || self.shards == Some(0) {
            return Err(RateLimitError::ZeroCapacity);
        }
        // Calibrated now rather than on the first request (`SystemClock` reads it).
        crate::ticks::warm_up();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shards = self.shards.unwrap_or((cpus * 4).max(8)).min(self.max_keys);
        let shard_capacity = self.max_keys / shards;
        let shards = (0..shards)
            .map(|_| Mutex::new(Shard::with_hasher(Default::default())))
            .collect();
        Ok(MemoryStore {
            inner: Arc::new(Inner {
                shards,
                shard_capacity,
                hasher: foldhash::fast::RandomState::default(),
                clock: self.clock,
            }),
        })
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.inner.shards.len())
            .field(
                "max_keys",
                &(self.inner.shard_capacity * self.inner.shards.len()),
            )
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MemoryStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStoreBuilder")
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ManualClock, Quota};
    use super::*;
    use std::time::Duration;

    #[test]
    fn live_keys_past_capacity_are_bounded() {
        let clock = ManualClock::new();
        let store = MemoryStore::builder()
            .max_keys(1_000)
            .shards(4)
            .clock(clock.clone())
            .build()
            .unwrap();
        let gcra = Gcra::new(&Quota::per_hour(10)).unwrap();
        for i in 0..50_000u32 {
            assert!(store.check(&gcra, &i.to_be_bytes()).allowed);
            assert!(store.len() <= 1_000);
        }
        // A key still held keeps its spent budget.
        let last = 49_999u32.to_be_bytes();
        for _ in 0..9 {
            assert!(store.check(&gcra, &last).allowed);
        }
        assert!(!store.check(&gcra, &last).allowed);
    }

    #[test]
    fn replenished_keys_are_dropped_first() {
        let clock = ManualClock::new();
        let store = MemoryStore::builder()
            .max_keys(8)
            .shards(1)
            .clock(clock.clone())
            .build()
            .unwrap();
        let gcra = Gcra::new(&Quota::per_second(10)).unwrap();
        // Key i spends i + 1 requests: its TAT is (i + 1) * 100 ms.
        for i in 0..8u8 {
            for _ in 0..=i {
                assert!(store.check(&gcra, &[i]).allowed);
            }
        }
        assert_eq!(store.len(), 8);
        // At 99 ms every key is active: the quarter closest to replenishing (keys 0 and 1)
        // is forgotten to make room.
        clock.advance(Duration::from_millis(99));
        store.check(&gcra, &[100]);
        assert_eq!(store.len(), 7);
        assert_eq!(
            store.check(&gcra, &[0]).remaining(),
            9,
            "key 0 starts afresh"
        );
        // Key 7 kept its TAT: 8 spent, about one replenished, one more spent now.
        assert_eq!(
            store.check(&gcra, &[7]).remaining(),
            1,
            "key 7 kept its TAT"
        );
        // At 1 s every key has replenished: the next new key finds the shard full and
        // drops them all at once.
        clock.advance(Duration::from_millis(901));
        store.check(&gcra, &[101]);
        assert_eq!(store.len(), 1);
    }
}
