//! [`Shards`]: counters that each thread adds to without atomic read-modify-writes.
//!
//! A relaxed `fetch_add` is a locked instruction: some twenty cycles each, uncontended, and a
//! request updates a dozen counters. Here every thread that records gets a slot of its own for
//! the life of the process, and each counter block has one shard per slot, created on that
//! thread's first write. Only that thread ever writes its shard, so an add is a plain load and
//! store ([`Add::Exclusive`]); readers sum the shards. Threads beyond the shards' number share
//! one last shard with atomic adds ([`Add::Atomic`]): always correct, only slower.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::sync::thread_slot;

/// How the calling thread adds to the shard it was given.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Add {
    /// The shard is this thread's alone: load, add, store.
    Exclusive,
    /// The shard is shared: `fetch_add`.
    Atomic,
}

impl Add {
    #[inline]
    pub(crate) fn u64(self, cell: &AtomicU64, value: u64) {
        match self {
            Add::Exclusive => cell.store(cell.load(Relaxed).wrapping_add(value), Relaxed),
            Add::Atomic => {
                cell.fetch_add(value, Relaxed);
            }
        }
    }
}

/// One `T` of counters per recording thread, plus one shared by the threads past them.
pub(crate) struct Shards<T> {
    own: Box<[OnceLock<Box<T>>]>,
    shared: T,
}

impl<T: Default> Shards<T> {
    /// Room for twice the CPUs' threads (at least 4, at most 256): a server's workers, with
    /// slack for the other threads of the process that record.
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_capacity((2 * cpus).clamp(4, 256))
    }

    pub(crate) fn with_capacity(shards: usize) -> Self {
        Shards {
            own: (0..shards).map(|_| OnceLock::new()).collect(),
            shared: T::default(),
        }
    }

    /// The calling thread's shard and how to add to it.
    #[inline]
    pub(crate) fn local(&self) -> (&T, Add) {
        match self.own.get(thread_slot()) {
            Some(cell) => (cell.get_or_init(Box::default), Add::Exclusive),
            None => (&self.shared, Add::Atomic),
        }
    }

    /// Every shard written so far, for readers to sum.
    pub(crate) fn each(&self) -> impl Iterator<Item = &T> {
        self.own
            .iter()
            .filter_map(|cell| cell.get().map(|b| &**b))
            .chain(std::iter::once(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Default)]
    struct Counter(AtomicU64);

    fn total(shards: &Shards<Counter>) -> u64 {
        shards.each().map(|c| c.0.load(Relaxed)).sum()
    }

    #[test]
    fn many_threads_lose_no_count_with_or_without_a_shard_of_their_own() {
        // Two own shards for 16 threads: most threads share the last one.
        let shards = Arc::new(Shards::<Counter>::with_capacity(2));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let shards = Arc::clone(&shards);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let (counter, add) = shards.local();
                        add.u64(&counter.0, 1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(total(&shards), 160_000);
    }

    #[test]
    fn a_thread_keeps_its_shard() {
        let shards = Shards::<Counter>::with_capacity(1024);
        let (a, _) = shards.local();
        let (b, add) = shards.local();
        assert!(std::ptr::eq(a, b));
        assert!(matches!(add, Add::Exclusive));
        add.u64(&b.0, 5);
        assert_eq!(total(&shards), 5);
    }
}
