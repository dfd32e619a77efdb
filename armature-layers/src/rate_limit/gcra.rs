//! The GCRA decision, shared by every store: pure arithmetic on nanoseconds.

use std::time::Duration;

use super::{Quota, RateLimitError};

/// A quota compiled to GCRA parameters, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// The emission interval `T`: one request is replenished every `T`.
    pub(crate) interval: u64,
    /// The delay tolerance `tau = burst * T`: how far ahead of now the TAT may run.
    pub(crate) tolerance: u64,
    pub(crate) burst: u32,
}

impl Gcra {
    pub(crate) fn new(quota: &Quota) -> Result<Self, RateLimitError> {
        let interval = u64::try_from(quota.emission_interval()?.as_nanos())
            .map_err(|_| RateLimitError::PeriodTooLong)?;
        let burst = quota.burst_size();
        if burst == 0 {
            return Err(RateLimitError::ZeroBurst);
        }
        let tolerance = interval
            .checked_mul(u64::from(burst))
            .ok_or(RateLimitError::PeriodTooLong)?;
        // `decide` adds one interval to a TAT up to `tolerance` ahead of now.
        tolerance
            .checked_add(interval)
            .ok_or(RateLimitError::PeriodTooLong)?;
        Ok(Gcra {
            interval,
            tolerance,
            burst,
        })
    }

    /// Decides one request at `now` for a key whose theoretical arrival time is `tat` (`None`
    /// for a key never seen or forgotten, which is the same as a TAT in the past). Returns the
    /// decision and, when admitted, the TAT to store.
    ///
    /// Computed relative to `now`, so nothing overflows whatever the quota: `ahead` is at most
    /// `tolerance + interval`, which `new` checked fits.
    pub(crate) fn decide(&self, tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
        // How far the key's TAT runs ahead of now (0 when in the past or unknown)...
        let behind = tat.map_or(0, |tat| tat.saturating_sub(now));
        // ...and would after admitting this request.
        let ahead = behind.saturating_add(self.interval);
        if ahead > self.tolerance {
            let decision = Decision {
                allowed: false,
                remaining: 0,
                reset: Duration::from_nanos(behind),
                retry_after: Duration::from_nanos(ahead - self.tolerance),
                store_unavailable: false,
            };
            return (decision, None);
        }
        let decision = Decision {
            allowed: true,
            remaining: (self.tolerance - ahead) / self.interval,
            reset: Duration::from_nanos(ahead),
            retry_after: Duration::ZERO,
            store_unavailable: false,
        };
        (decision, Some(now.saturating_add(ahead)))
    }
}

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub(crate) allowed: bool,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
    pub(crate) retry_after: Duration,
    pub(crate) store_unavailable: bool,
}

impl Decision {
    /// Whether the request was admitted.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// How many more requests the key could make right now.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// How long until the key's full burst is available again.
    pub fn reset(&self) -> Duration {
        self.reset
    }

    /// For a refused request: how long until one would be admitted (zero when admitted); when
    /// the store was unavailable, until it is asked again.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// Whether the store could not be asked (Redis unreachable), so the failure policy
    /// decided and the counters mean nothing.
    pub fn store_unavailable(&self) -> bool {
        self.store_unavailable
    }

    /// The decision taken without a store (Redis unreachable): admitted or refused per the
    /// failure policy, with no meaningful counters. A refusal says to retry after `retry`
    /// (when the store will be asked again), not after the quota's interval, which would
    /// send clients away for as long as an hour or a day for a blip of Redis.
    pub(crate) fn unknown(allowed: bool, retry: Duration) -> Self {
        Decision {
            allowed,
            remaining: 0,
            reset: Duration::ZERO,
            retry_after: if allowed { Duration::ZERO } else { retry },
            store_unavailable: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn gcra(count: u32, period_secs: u64, burst: u32) -> Gcra {
        Gcra::new(&Quota::new(count, Duration::from_secs(period_secs)).burst(burst)).unwrap()
    }

    /// Runs `times` requests at `now` against one TAT; returns how many were admitted.
    fn spend(g: &Gcra, tat: &mut Option<u64>, now: u64, times: u32) -> u32 {
        let mut admitted = 0;
        for _ in 0..times {
            let (d, new) = g.decide(*tat, now);
            if let Some(new) = new {
                *tat = Some(new);
                admitted += 1;
            }
            assert_eq!(d.allowed, new.is_some());
        }
        admitted
    }

    #[test]
    fn a_fresh_key_gets_exactly_its_burst_then_one_per_interval() {
        let g = gcra(10, 1, 10);
        let mut tat = None;
        assert_eq!(spend(&g, &mut tat, 5 * SEC, 25), 10);
        let (d, _) = g.decide(tat, 5 * SEC);
        assert_eq!(d.retry_after, Duration::from_millis(100));
        assert_eq!(d.reset, Duration::from_secs(1));
        // One interval later, exactly one more; a nanosecond earlier, none.
        assert_eq!(spend(&g, &mut tat, 5 * SEC + SEC / 10 - 1, 3), 0);
        assert_eq!(spend(&g, &mut tat, 5 * SEC + SEC / 10, 3), 1);
    }

    #[test]
    fn remaining_counts_down_and_reset_grows() {
        let g = gcra(5, 60, 5);
        let mut tat = None;
        for expected in (0..5).rev() {
            let (d, new) = g.decide(tat, 0);
            tat = new;
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
            assert_eq!(d.reset, Duration::from_secs(12 * (5 - expected)));
        }
    }

    #[test]
    fn no_window_admits_more_than_burst_plus_replenishment() {
        // Requests every 7 ms for 10 s against 100/s with burst 20: in every window of
        // length w, at most 20 + floor(w / 10ms) admitted.
        let g = gcra(100, 1, 20);
        let mut tat = None;
        let mut admitted_at = Vec::new();
        for i in 0..1_430u64 {
            let now = i * 7_000_000;
            if let (_, Some(new)) = g.decide(tat, now) {
                tat = Some(new);
                admitted_at.push(now);
            }
        }
        for (i, &start) in admitted_at.iter().enumerate() {
            for (j, &end) in admitted_at.iter().enumerate().skip(i) {
                let count = (j - i + 1) as u64;
                assert!(
                    count <= 20 + (end - start) / 10_000_000,
                    "{start}..{end}: {count}"
                );
            }
        }
        assert!(admitted_at.len() > 1_000, "{}", admitted_at.len());
    }
}
