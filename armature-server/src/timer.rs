//! [`CoarseTimer`]: the hyper timer behind `header_read_timeout`.
//!
//! hyper arms the HTTP/1 header-read timer anew for every request on a
//! keep-alive connection and drops it as soon as the head has arrived: with
//! tokio's timer that is a registration in the timer wheel, a removal, and
//! timer bookkeeping on every park of the runtime (about 800 instructions a
//! request, measured with callgrind). A slowloris deadline of seconds does not
//! need that precision. Here a sleep registers in a sharded slab, and one
//! background thread wakes the expired ones every [`TICK`]: a sleep fires at
//! most one tick after its deadline, never before it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// How often expired sleeps are woken: the timer's precision.
pub(crate) const TICK: Duration = Duration::from_millis(50);

/// A `hyper::rt::Timer` with [`TICK`] precision. See the module docs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoarseTimer(&'static Wheel);

impl CoarseTimer {
    /// The timer, or `None` when its ticker thread cannot be started (the
    /// caller then falls back to tokio's timer).
    pub(crate) fn start() -> Option<Self> {
        wheel().map(CoarseTimer)
    }
}

impl Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CoarseSleep {
            deadline,
            wheel: self.0,
            slot: None,
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<CoarseSleep>() {
            Some(sleep) => sleep.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// Where a registered sleep lives: its shard and index there.
#[derive(Debug, Clone, Copy)]
struct Slot {
    shard: usize,
    index: usize,
}

/// A sleep of [`CoarseTimer`]; registered with the ticker on its first
/// pending poll, removed when dropped.
#[derive(Debug)]
pub(crate) struct CoarseSleep {
    deadline: Instant,
    wheel: &'static Wheel,
    slot: Option<Slot>,
}

impl CoarseSleep {
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some(slot) = self.slot {
            let mut shard = self.wheel.shard(slot.shard);
            if let Some(entry) = shard.entries[slot.index].as_mut() {
                entry.deadline = deadline;
                entry.fired = false;
            }
        }
    }
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        let wheel = this.wheel;
        match this.slot {
            None => {
                let shard = shard_of_this_thread(wheel.shards.len());
                let index = wheel.shard(shard).insert(Entry {
                    deadline: this.deadline,
                    waker: cx.waker().clone(),
                    fired: false,
                });
                this.slot = Some(Slot { shard, index });
            }
            Some(slot) => {
                let mut shard = wheel.shard(slot.shard);
                if let Some(entry) = shard.entries[slot.index].as_mut() {
                    if entry.fired {
                        // The ticker saw the deadline pass (its clock may be a hair ahead).
                        return Poll::Ready(());
                    }
                    if !entry.waker.will_wake(cx.waker()) {
                        entry.waker = cx.waker().clone();
                    }
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep for CoarseSleep {}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.wheel.shard(slot.shard).remove(slot.index);
        }
    }
}

struct Entry {
    deadline: Instant,
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

    /// Marks the entries due at `now` fired and hands their wakers over.
    fn expire(&mut self, now: Instant, due: &mut Vec<Waker>) {
        for entry in self.entries.iter_mut().flatten() {
            if !entry.fired && entry.deadline <= now {
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
        thread::sleep(TICK);
        let now = Instant::now();
        for index in 0..wheel.shards.len() {
            wheel.shard(index).expire(now, &mut due);
            // Woken outside the lock: a waker may poll, and so lock, at once.
            due.drain(..).for_each(Waker::wake);
        }
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

    fn timer() -> CoarseTimer {
        CoarseTimer::start().expect("the ticker thread starts")
    }

    #[tokio::test]
    async fn fires_after_its_deadline_never_before() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(120);
        timer().sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    }

    #[tokio::test]
    async fn a_past_deadline_is_ready_at_once() {
        let sleep = timer().sleep(Duration::ZERO);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut sleep = sleep;
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
    }

    #[tokio::test]
    async fn reset_moves_the_deadline() {
        let timer = timer();
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        // Registered with a far deadline...
        let waker = Waker::noop();
        assert!(sleep
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending());
        // ...then brought close: it fires.
        let soon = Instant::now() + Duration::from_millis(60);
        timer.reset(&mut sleep, soon);
        sleep.await;
        assert!(Instant::now() >= soon);
    }

    #[test]
    fn dropped_sleeps_free_their_slots() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let timer = timer();
        for _ in 0..1000 {
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            assert!(sleep.as_mut().poll(&mut cx).is_pending());
        }
        // Each dropped sleep gave its slot back: the slab holds no more than the
        // few sleeps other tests may have alive meanwhile.
        let held: usize = timer
            .0
            .shards
            .iter()
            .map(|s| s.lock().unwrap().entries.len())
            .sum();
        assert!(
            held < 20,
            "{held} slots for 1000 sleeps, one alive at a time"
        );
    }
}
