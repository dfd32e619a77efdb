//! [`Quota`]: how many requests per period, and how many at once.

use std::time::Duration;

use super::RateLimitError;

/// A quota of `count` requests per `period`, with a burst.
///
/// The limiter is GCRA (the generic cell rate algorithm, as in the `governor` crate): one
/// request is replenished every `period / count` (the *emission interval*), and a client may
/// spend up to `burst` requests at once. The burst defaults to `count`, so a fresh client can
/// make `count` requests at once and then one per emission interval. Over any window of length
/// `w`, a key is admitted at most `burst + floor(w / interval)` requests — never more.
///
/// Nothing is checked until [`RateLimitBuilder::build`](super::RateLimitBuilder::build): a zero
/// count, burst or period is a [`RateLimitError`] there.
///
/// ```
/// use std::time::Duration;
/// use armature_layers::rate_limit::Quota;
///
/// let q = Quota::per_minute(1_000);
/// assert_eq!(q.emission_interval(), Ok(Duration::from_millis(60)));
/// assert_eq!(q.burst_size(), 1_000);
/// let q = Quota::per_second(10).burst(50);
/// assert_eq!(q.burst_size(), 50);
/// assert_eq!(Quota::new(3, Duration::from_secs(1)).emission_interval().unwrap().as_nanos(), 333_333_334);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: Option<u32>,
}

impl Quota {
    /// `count` requests per `period`, burst `count`.
    pub fn new(count: u32, period: Duration) -> Self {
        Quota {
            count,
            period,
            burst: None,
        }
    }

    /// `count` requests per second, burst `count`.
    pub fn per_second(count: u32) -> Self {
        Quota::new(count, Duration::from_secs(1))
    }

    /// `count` requests per minute, burst `count`.
    pub fn per_minute(count: u32) -> Self {
        Quota::new(count, Duration::from_secs(60))
    }

    /// `count` requests per hour, burst `count`.
    pub fn per_hour(count: u32) -> Self {
        Quota::new(count, Duration::from_secs(3600))
    }

    /// Lets a client spend up to `burst` requests at once (default: the count).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The burst: the most requests a fresh client may make at once.
    pub fn burst_size(&self) -> u32 {
        self.burst.unwrap_or(self.count)
    }

    /// `period / count`, rounded *up* to the nanosecond so that rounding never admits more
    /// than the quota.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::ZeroQuota`] if the count or the period is zero,
    /// [`RateLimitError::RateTooHigh`] if it asks for more than one request per nanosecond
    /// (the limiter's resolution), and [`RateLimitError::PeriodTooLong`] if the interval does
    /// not fit in 584 years of nanoseconds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use armature_layers::rate_limit::{Quota, RateLimitError};
    ///
    /// // 5,000 per microsecond, probably meant per millisecond: refused, not rounded to 1 per ns.
    /// let err = Quota::new(5_000, Duration::from_nanos(1_000)).emission_interval().unwrap_err();
    /// assert_eq!(err, RateLimitError::RateTooHigh { count: 5_000, period: Duration::from_nanos(1_000) });
    /// ```
    pub fn emission_interval(&self) -> Result<Duration, RateLimitError> {
        if self.count == 0 || self.period.is_zero() {
            return Err(RateLimitError::ZeroQuota);
        }
        if self.period.as_nanos() < u128::from(self.count) {
            return Err(RateLimitError::RateTooHigh {
                count: self.count,
                period: self.period,
            });
        }
        let nanos = self.period.as_nanos().div_ceil(u128::from(self.count));
        Ok(Duration::from_nanos(
            u64::try_from(nanos).map_err(|_| RateLimitError::PeriodTooLong)?,
        ))
    }
}
