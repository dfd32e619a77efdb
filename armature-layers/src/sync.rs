//! Two small things the layers' shared state needs: a per-thread slot number and a lock that
//! survives a panic elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// The calling thread's slot: 0, 1, 2, … in the order threads first ask, fixed for the
/// thread's life and never given to another thread. Per-thread shards index by it.
#[inline]
pub(crate) fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Relaxed);
    }
    SLOT.with(|slot| *slot)
}

/// Locks `mutex`, also after a panic poisoned it: what the layers keep behind locks (counters,
/// buffered bytes) is plain data that a panic cannot leave half-written.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
