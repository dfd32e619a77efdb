//! [`Ticks`]: the time as the CPU's counter reads it, for the layers that time every request.
//!
//! One `quanta::Clock` for the process, calibrated once (the invariant TSC against the OS
//! clock; the OS clock itself where there is no usable TSC). A read is the raw counter only:
//! no thread-local check for a mocked clock and no scaling, which `quanta::Instant::now` does
//! on every read; the scaling is done once, on the difference of two reads.

use std::sync::OnceLock;

/// The process's calibrated clock. The first call calibrates it (from half a millisecond to
/// 200 ms): layers call [`warm_up`] when they are built, so no request pays for it.
#[inline]
fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Calibrates the clock now, if it is not yet.
pub(crate) fn warm_up() {
    clock();
}

/// A raw reading of the clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticks(u64);

impl Ticks {
    /// Reads the clock.
    #[inline]
    pub(crate) fn now() -> Ticks {
        Ticks(clock().raw())
    }

    /// Nanoseconds from `self` to now; 0 if the counter reads earlier now (another core's
    /// counter a little behind this one's, say).
    #[inline]
    pub(crate) fn elapsed_nanos(self) -> u64 {
        let clock = clock();
        clock.delta_as_nanos(self.0, clock.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn elapsed_time_is_bracketed_by_the_os_clock() {
        warm_up();
        // OS clock started before and after the ticks, read after and before them: the
        // ticks' span lies between the two OS spans, however the thread is preempted.
        let outer = Instant::now();
        let ticks = Ticks::now();
        let inner = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let shorter = inner.elapsed();
        let measured = ticks.elapsed_nanos();
        let longer = outer.elapsed();
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap();
        // Calibration is good to well under 1%: allow 1% and 20 µs either way.
        let slack = |n: u64| n / 100 + 20_000;
        assert!(
            measured + slack(measured) >= nanos(shorter),
            "{measured} ns < {shorter:?}"
        );
        assert!(
            measured <= nanos(longer) + slack(nanos(longer)),
            "{measured} ns > {longer:?}"
        );
    }
}
