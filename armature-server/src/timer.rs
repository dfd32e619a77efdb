//! [`Alarm`]: the deadline behind the HTTP/1 header-read timeout.
//!
//! Each HTTP/1 connection keeps one alarm for its whole life and moves it forward after every
//! response ([`head_timeout`](crate::head_timeout)). A slowloris deadline of seconds does not
//! need a precise timer: here an alarm registers in a sharded slab, and one background thread
//! wakes the expired ones every [`TICK`]. Deadlines are counted in the ticker's ticks, so
//! setting one reads no clock: an alarm fires after its timeout, never before, and at most two
//! ticks after (while the ticker runs on time). Restarting an alarm is a load and a store; the
//! next poll after a tick (or at once, for a move to an earlier deadline) brings the ticker's
//! copy up to date under its shard's uncontended lock, where a tokio timer would be
//! re-registered in the runtime's timer wheel every time.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

/// How often expired sleeps are woken: the timer's precision.
pub(crate) const TICK: Duration = Duration::from_millis(50);

/// How far ahead a deadline that does not fit in an `Instant` is put: thirty years, as
/// tokio does for a `sleep` that long.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// The tokio deadline `timeout` from now, saturating: a timeout as long as `Duration::MAX`
/// (which [`Limits::check`](crate::Limits::check) accepts, as "no timeout to speak of") is
/// put thirty years ahead instead of overflowing the clock, which panics.
pub(crate) fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + FAR_FUTURE)
}

/// A timeout that can be restarted: a [`CoarseSleep`], or tokio's sleep when the ticker
/// thread cannot be started.
#[derive(Debug)]
pub(crate) enum Alarm {
    Coarse(CoarseSleep),
    Tokio {
        sleep: Pin<Box<tokio::time::Sleep>>,
        timeout: Duration,
    },
}

impl Alarm {
    /// An alarm that fires `timeout` from now. Must be created inside a tokio runtime (for the
    /// fallback).
    pub(crate) fn new(timeout: Duration) -> Self {
        match wheel() {
            Some(wheel) => {
                let span = span(timeout);
                let deadline = deadline(span);
                Alarm::Coarse(CoarseSleep {
                    deadline,
                    span,
                    wheel,
                    slot: None,
                    registered: deadline,
                    epoch: 0,
                })
            }
            None => Alarm::Tokio {
                sleep: Box::pin(tokio::time::sleep(timeout)),
                timeout,
            },
        }
    }

    /// Starts the timeout again from now; a fired alarm is armed again.
    pub(crate) fn restart(&mut self) {
        match self {
            Alarm::Coarse(sleep) => sleep.restart(),
            Alarm::Tokio { sleep, timeout } => sleep.as_mut().reset(deadline_after(*timeout)),
        }
    }

    /// Changes the timeout later restarts count; the deadline set now stays.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        match self {
            Alarm::Coarse(sleep) => sleep.span = span(timeout),
            Alarm::Tokio { timeout: old, .. } => *old = timeout,
        }
    }

    /// `Ready` once the deadline has passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Alarm::Coarse(sleep) => Pin::new(sleep).poll(cx),
            Alarm::Tokio { sleep, .. } => sleep.as_mut().poll(cx),
        }
    }
}

/// Where a registered sleep lives: its shard and index there.
#[derive(Debug, Clone, Copy)]
struct Slot {
    shard: usize,
    index: usize,
}

/// The coarse alarm: registered with the ticker on its first pending poll, removed when
/// dropped. Its deadline is a tick number ([`EPOCH`]): it fires once that many ticks have
/// happened.
///
/// Moving the deadline only changes `deadline` here; the next poll that looks at the entry
/// brings the ticker's copy up to date (at once when the deadline moved earlier; within a
/// tick when it moved later, since the ticker may then only fire early, which that poll
/// undoes). Between two ticks nothing can have fired, so a poll with the same waker takes no
/// lock. A connection that moves its alarm after every request thus takes the shard's lock
/// about once per tick, not once per request.
#[derive(Debug)]
pub(crate) struct CoarseSleep {
    /// The tick at which it fires.
    deadline: u64,
    /// Its timeout in ticks, plus one: a deadline set at tick `e` is `e + span`. Ticks come at
    /// least [`TICK`] apart and tick `e + 1` comes after the deadline is set, so tick
    /// `e + span` comes at least the timeout later.
    span: u64,
    wheel: &'static Wheel,
    /// Where the ticker keeps this alarm, once registered, and the waker it has.
    slot: Option<(Slot, Waker)>,
    /// The deadline the ticker has for this alarm, when registered.
    registered: u64,
    /// [`EPOCH`] when this alarm last looked at its entry.
    epoch: u64,
}

/// A coarse alarm's [`span`](CoarseSleep::span) for `timeout`: the ticks the timeout takes,
/// plus one to wait for the next tick (which may come at once).
fn span(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(TICK.as_nanos());
    u64::try_from(ticks)
        .unwrap_or(u64::MAX / 2)
        .saturating_add(1)
}

/// The deadline of an alarm of `span` set now.
fn deadline(span: u64) -> u64 {
    EPOCH.load(Ordering::Acquire).saturating_add(span)
}

/// Ticks so far: the clock deadlines are counted in. An entry can only have fired if this
/// moved since it was last looked at.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Waits until `n` more ticks have happened (tests wait on ticks, not on time).
#[cfg(test)]
pub(crate) async fn ticks_pass(n: u64) {
    let target = EPOCH.load(Ordering::Acquire) + n;
    while EPOCH.load(Ordering::Acquire) < target {
        tokio::time::sleep(TICK / 5).await;
    }
}

impl CoarseSleep {
    fn restart(&mut self) {
        self.deadline = deadline(self.span);
    }
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let epoch = EPOCH.load(Ordering::Acquire);
        if let Some((_, waker)) = &this.slot {
            let unchanged = epoch == this.epoch
                && this.deadline >= this.registered
                && waker.will_wake(cx.waker());
            if unchanged {
                return Poll::Pending;
            }
        }
        this.epoch = epoch;
        if epoch >= this.deadline {
            // The ticker's entry has fired (or is about to): it holds no deadline to wait for.
            // Marked so, a poll after a restart in this same tick re-arms it rather than
            // taking the shortcut above and waiting for a wake-up that will not come.
            this.registered = u64::MAX;
            return Poll::Ready(());
        }
        let wheel = this.wheel;
        let waker = cx.waker();
        match &mut this.slot {
            None => {
                let shard = shard_of_this_thread(wheel.shards.len());
                let index = wheel.shard(shard).insert(Entry {
                    deadline: this.deadline,
                    waker: waker.clone(),
                    fired: false,
                });
                this.slot = Some((Slot { shard, index }, waker.clone()));
            }
            Some((slot, known)) => {
                let mut shard = wheel.shard(slot.shard);
                if let Some(entry) = shard.entries[slot.index].as_mut() {
                    // Fired at a deadline since moved, or holding an old one: this one counts.
                    entry.deadline = this.deadline;
                    entry.fired = false;
                    if !entry.waker.will_wake(waker) {
                        entry.waker = waker.clone();
                        *known = waker.clone();
                    }
                }
            }
        }
        this.registered = this.deadline;
        Poll::Pending
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        if let Some((slot, _)) = self.slot.take() {
            self.wheel.shard(slot.shard).remove(slot.index);
        }
    }
}

struct Entry {
    /// The tick at which it fires.
    deadline: u64,
    waker: Waker,
    fired: bool,
}

#[derive(Default)]
struct Shard {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

impl Shard {
    fn insert(&mut self, entry: Entry) -> usize {
        match self.free.pop() {
            Some(index) => {
                self.entries[index] = Some(entry);
                index
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        }
    }

    fn remove(&mut self, index: usize) {
        self.entries[index] = None;
        self.free.push(index);
    }

    /// Marks the entries due at tick `epoch` fired and hands their wakers over.
    fn expire(&mut self, epoch: u64, due: &mut Vec<Waker>) {
        for entry in self.entries.iter_mut().flatten() {
            if !entry.fired && entry.deadline <= epoch {
                entry.fired = true;
                due.push(entry.waker.clone());
            }
        }
    }
}

pub(crate) struct Wheel {
    shards: Box<[Mutex<Shard>]>,
}

impl std::fmt::Debug for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl Wheel {
    fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Entries are plain data; a panic elsewhere cannot leave one half-written.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The process-wide wheel, and its ticker thread, started on first use;
/// `None` if that thread could not be started.
fn wheel() -> Option<&'static Wheel> {
    static WHEEL: OnceLock<Option<Wheel>> = OnceLock::new();
    WHEEL
        .get_or_init(|| {
            let shards = thread::available_parallelism().map_or(1, |n| n.get());
            let wheel = Wheel {
                shards: (0..shards).map(|_| Mutex::default()).collect(),
            };
            let spawned = thread::Builder::new()
                .name("armature-timer".into())
                .spawn(tick);
            match spawned {
                Ok(_) => Some(wheel),
                Err(error) => {
                    tracing::warn!(%error, "no timer thread; using tokio's timer instead");
                    None
                }
            }
        })
        .as_ref()
}

fn tick() {
    let mut due = Vec::new();
    // This thread is spawned from inside `wheel()`'s initialiser: this call waits for that
    // initialiser to finish, and then finds the wheel set (it spawned us, so it succeeded).
    let Some(wheel) = wheel() else {
        return;
    };
    loop {
        // At least a tick between two: `sleep` never returns early.
        thread::sleep(TICK);
        // Only this thread moves the epoch.
        let epoch = EPOCH.load(Ordering::Relaxed) + 1;
        for index in 0..wheel.shards.len() {
            wheel.shard(index).expire(epoch, &mut due);
        }
        // Before the wakes: a woken alarm must see the new epoch, or it would not look.
        EPOCH.store(epoch, Ordering::Release);
        // Woken outside the locks: a waker may poll, and so lock, at once.
        due.drain(..).for_each(Waker::wake);
    }
}

/// The shard of the calling thread: threads take the shards in turn, so the
/// workers of a per-core server never share one.
fn shard_of_this_thread(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i % shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn alarm(timeout: Duration) -> Alarm {
        let alarm = Alarm::new(timeout);
        assert!(
            matches!(alarm, Alarm::Coarse(_)),
            "the ticker thread starts"
        );
        alarm
    }

    async fn expired(alarm: &mut Alarm) {
        std::future::poll_fn(|cx| alarm.poll_expired(cx)).await
    }

    #[tokio::test]
    async fn fires_after_its_timeout_never_before() {
        let earliest = Instant::now() + Duration::from_millis(120);
        expired(&mut alarm(Duration::from_millis(120))).await;
        assert!(Instant::now() >= earliest);
    }

    #[tokio::test]
    async fn a_zero_timeout_fires_at_the_next_tick_not_at_once() {
        // Read first: the alarm's deadline is then at least the tick after `before`.
        let before = EPOCH.load(Ordering::Acquire);
        let mut alarm = alarm(Duration::ZERO);
        let mut cx = Context::from_waker(Waker::noop());
        let ready = alarm.poll_expired(&mut cx).is_ready();
        // Ready only if a tick came between making and polling it.
        assert!(!ready || EPOCH.load(Ordering::Acquire) > before);
        expired(&mut alarm).await;
    }

    #[tokio::test]
    async fn restart_rearms_a_fired_alarm_for_its_whole_timeout() {
        let mut alarm = alarm(Duration::ZERO);
        expired(&mut alarm).await;
        let mut cx = Context::from_waker(Waker::noop());
        // Restarted after firing: pending again (an hour away, whatever the machine's load).
        alarm.set_timeout(Duration::from_secs(3600));
        alarm.restart();
        assert!(alarm.poll_expired(&mut cx).is_pending());
        // Restarted with a short timeout: fires, and not before that timeout.
        alarm.set_timeout(Duration::from_millis(60));
        let earliest = Instant::now() + Duration::from_millis(60);
        alarm.restart();
        expired(&mut alarm).await;
        assert!(Instant::now() >= earliest);
    }

    #[tokio::test]
    async fn an_alarm_restarted_in_the_poll_that_saw_it_fire_fires_again() {
        // As an HTTP/2 connection's idle clock is: restarted at once, then polled with the
        // same waker within the same tick. It used to wait for a wake-up that never came.
        // In a task of its own, so that only the alarm can wake it.
        let fired_twice = tokio::spawn(async {
            let mut alarm = alarm(Duration::ZERO);
            let mut restarted = false;
            std::future::poll_fn(move |cx| {
                while alarm.poll_expired(cx).is_ready() {
                    if restarted {
                        return Poll::Ready(());
                    }
                    restarted = true;
                    alarm.restart();
                }
                Poll::Pending
            })
            .await;
        });
        tokio::time::timeout(Duration::from_secs(10), fired_twice)
            .await
            .expect("the restarted alarm never fired")
            .unwrap();
    }

    #[test]
    fn dropped_alarms_free_their_slots() {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            let mut alarm = alarm(Duration::from_secs(3600));
            assert!(alarm.poll_expired(&mut cx).is_pending());
        }
        // Each dropped alarm gave its slot back: the slab holds no more than the
        // few alarms other tests may have alive meanwhile.
        let wheel = wheel().unwrap();
        let held: usize = wheel
            .shards
            .iter()
            .map(|s| s.lock().unwrap().entries.len())
            .sum();
        assert!(
            held < 20,
            "{held} slots for 1000 alarms, one alive at a time"
        );
    }

    #[tokio::test]
    async fn a_timeout_past_the_clock_saturates() {
        let deadline = deadline_after(Duration::MAX);
        assert!(deadline > tokio::time::Instant::now() + Duration::from_secs(3600));
        // The fallback alarm restarts with it too.
        let mut alarm = Alarm::Tokio {
            sleep: Box::pin(tokio::time::sleep(Duration::MAX)),
            timeout: Duration::MAX,
        };
        alarm.restart();
        assert!(alarm
            .poll_expired(&mut Context::from_waker(Waker::noop()))
            .is_pending());
    }
}
