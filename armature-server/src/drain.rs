//! Shutdown phases shared by the accept loops and every connection task.
//!
//! One [`Drain`] (held by whoever coordinates shutdown) and many
//! [`Watch`]es (one per accept loop and per connection). A task holding a
//! `Watch` counts as still running: [`Drain::wait_idle`] returns once all
//! of them are dropped. This is the idea of hyper-util's
//! `GracefulShutdown`, extended with a forced phase for the deadline and
//! with coverage of connections still in their TLS handshake or protocol
//! detection, which hyper-util's cannot watch.
//!
//! It is also cheaper on the hot path. A waiting `tokio::sync::Notify`
//! future takes the notifier's mutex every time it is polled, and a
//! connection task is polled on every read and write; with one notifier
//! shared by all connections (across all cores in per-core mode) that is a
//! contended lock per I/O event. [`Changes`] polls its notification only to
//! register it and when it fires, and otherwise reads an atomic.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

/// After the deadline, how long to wait for connection tasks to notice that
/// they must close. They react at their next poll, so this is rarely used.
const FORCED_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Where the server is in its life. Phases only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Running = 0,
    /// Not accepting; connections finish their in-flight requests and close.
    Draining = 1,
    /// The deadline passed: connections close now.
    Closing = 2,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Closing,
        }
    }
}

#[derive(Debug)]
struct Shared {
    phase: AtomicU8,
    changed: Arc<Notify>,
    tasks: AtomicUsize,
    idle: Notify,
}

/// The coordinator's end. Dropping it moves to [`Phase::Closing`], so
/// connections do not outlive a cancelled server.
#[derive(Debug)]
pub(crate) struct Drain {
    shared: Arc<Shared>,
}

/// A task's end: counts as one running task until dropped.
#[derive(Debug)]
pub(crate) struct Watch {
    shared: Arc<Shared>,
}

impl Drain {
    pub(crate) fn new() -> (Drain, Watch) {
        let shared = Arc::new(Shared {
            phase: AtomicU8::new(Phase::Running as u8),
            changed: Arc::new(Notify::new()),
            tasks: AtomicUsize::new(1),
            idle: Notify::new(),
        });
        let watch = Watch {
            shared: shared.clone(),
        };
        (Drain { shared }, watch)
    }

    /// Moves to `phase` (never backwards), waking every watcher.
    pub(crate) fn enter(&self, phase: Phase) {
        self.shared.phase.fetch_max(phase as u8, SeqCst);
        self.shared.changed.notify_waiters();
    }

    /// Waits until every [`Watch`] is dropped; `false` if `limit` passed first.
    pub(crate) async fn wait_idle(&self, limit: Duration) -> bool {
        let idle = async {
            loop {
                let notified = self.shared.idle.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if self.remaining() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, idle).await.is_ok()
    }

    /// Waits for in-flight work up to `deadline`, then makes the remaining
    /// connections close and waits (briefly) for them to go.
    pub(crate) async fn finish(self, deadline: Duration) {
        if self.wait_idle(deadline).await {
            tracing::debug!("all connections finished");
            return;
        }
        tracing::warn!(
            remaining = self.remaining(),
            "shutdown deadline passed; closing the remaining connections"
        );
        self.enter(Phase::Closing);
        if !self.wait_idle(FORCED_CLOSE_WAIT).await {
            tracing::warn!(remaining = self.remaining(), "connections still closing");
        }
    }

    /// How many tasks still hold a [`Watch`].
    pub(crate) fn remaining(&self) -> usize {
        self.shared.tasks.load(SeqCst)
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.enter(Phase::Closing);
    }
}

impl Watch {
    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        Phase::from_u8(self.shared.phase.load(SeqCst))
    }

    /// Turns this watch into a listener for phase changes.
    pub(crate) fn changes(self) -> Changes {
        let notified = Box::pin(self.shared.changed.clone().notified_owned());
        Changes {
            watch: self,
            seen: Phase::Running,
            notified,
            armed: false,
        }
    }
}

impl Clone for Watch {
    fn clone(&self) -> Self {
        self.shared.tasks.fetch_add(1, SeqCst);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.shared.tasks.fetch_sub(1, SeqCst) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}

/// Reports phase changes to one task, cheaply enough to poll on every
/// wake-up of a busy connection.
pub(crate) struct Changes {
    watch: Watch,
    seen: Phase,
    notified: Pin<Box<OwnedNotified>>,
    /// The notification is registered with this task's waker (tasks keep
    /// one waker for life, so it stays valid).
    armed: bool,
}

impl Changes {
    /// `Ready(phase)` once per change of phase, `Pending` otherwise (and
    /// then the task is woken on the next change).
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Phase> {
        loop {
            if !self.armed {
                if self.notified.as_mut().poll(cx).is_ready() {
                    self.rearm();
                    continue;
                }
                self.armed = true;
            }
            let phase = self.watch.phase();
            if phase == self.seen {
                return Poll::Pending;
            }
            self.seen = phase;
            self.rearm();
            return Poll::Ready(phase);
        }
    }

    fn rearm(&mut self) {
        let fresh = self.watch.shared.changed.clone().notified_owned();
        self.notified.set(fresh);
        self.armed = false;
    }

    /// Resolves once the server stops running (draining or closing).
    pub(crate) async fn stopping(&mut self) {
        while self.seen == Phase::Running {
            poll_fn(|cx| self.poll_changed(cx)).await;
        }
    }

    /// Whether the server was seen to stop running (draining or closing).
    pub(crate) fn is_stopping(&self) -> bool {
        self.seen != Phase::Running
    }

    /// Whether the shutdown deadline was seen to pass (closing).
    pub(crate) fn is_closing(&self) -> bool {
        self.seen == Phase::Closing
    }

    /// Resolves once the shutdown deadline has passed (closing).
    pub(crate) async fn closing(&mut self) {
        while self.seen != Phase::Closing {
            poll_fn(|cx| self.poll_changed(cx)).await;
        }
    }

    /// A new [`Watch`] for a task started by this one.
    pub(crate) fn watch(&self) -> Watch {
        self.watch.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_idle_waits_for_every_watch() {
        let (drain, watch) = Drain::new();
        let mut other = watch.clone().changes();
        assert_eq!(drain.remaining(), 2);
        let task = tokio::spawn(async move {
            other.stopping().await;
            other.seen
        });
        drop(watch);
        tokio::task::yield_now().await;
        drain.enter(Phase::Draining);
        assert_eq!(task.await.unwrap(), Phase::Draining);
        assert!(drain.wait_idle(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn wait_idle_gives_up_at_limit() {
        let (drain, _held) = Drain::new();
        assert!(!drain.wait_idle(Duration::from_millis(10)).await);
    }

    #[tokio::test]
    async fn dropped_drain_reads_as_closing() {
        let (drain, watch) = Drain::new();
        let mut changes = watch.changes();
        drop(drain);
        assert_eq!(poll_fn(|cx| changes.poll_changed(cx)).await, Phase::Closing);
    }

    #[tokio::test]
    async fn each_change_is_reported_once() {
        let (drain, watch) = Drain::new();
        let mut changes = watch.changes();
        let mut polled = poll_fn(|cx| Poll::Ready(changes.poll_changed(cx))).await;
        assert!(polled.is_pending());
        drain.enter(Phase::Draining);
        polled = poll_fn(|cx| Poll::Ready(changes.poll_changed(cx))).await;
        assert_eq!(polled, Poll::Ready(Phase::Draining));
        polled = poll_fn(|cx| Poll::Ready(changes.poll_changed(cx))).await;
        assert!(polled.is_pending());
        drain.enter(Phase::Closing);
        assert_eq!(poll_fn(|cx| changes.poll_changed(cx)).await, Phase::Closing);
    }

    #[tokio::test]
    async fn a_change_before_the_first_poll_is_seen() {
        let (drain, watch) = Drain::new();
        drain.enter(Phase::Draining);
        let mut changes = watch.changes();
        changes.stopping().await;
        assert_eq!(changes.seen, Phase::Draining);
    }
}
