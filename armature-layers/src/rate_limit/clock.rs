//! [`Clock`]: where the in-process store (and, on request, the Redis store) reads the time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::ticks::Ticks;

/// A monotonic clock, read in nanoseconds since an arbitrary epoch of its own.
///
/// The default is [`SystemClock`]. Tests use [`ManualClock`] so that time only moves when
/// they say so, which makes counts exact no matter how slowly the machine runs.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's epoch; never decreases.
    fn now_nanos(&self) -> u64;
}

/// Monotonic time from the first time any `SystemClock` is read, by `quanta` (the CPU's
/// invariant TSC where it has one, calibrated against the OS clock; the OS clock otherwise):
/// a few nanoseconds a read instead of a `clock_gettime` call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        static EPOCH: std::sync::OnceLock<Ticks> = std::sync::OnceLock::new();
        // u64 nanoseconds last 584 years.
        EPOCH.get_or_init(Ticks::now).elapsed_nanos()
    }
}

/// A clock that moves only when [`advance`](ManualClock::advance)d; clones share the time.
///
/// ```
/// use std::time::Duration;
/// use armature_layers::rate_limit::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let same = clock.clone();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(same.now_nanos(), 5_000_000);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at its epoch (time zero) that stays there until advanced.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock")
            .field(&Duration::from_nanos(self.now_nanos()))
            .finish()
    }
}
