//! The two directions between tokio and the one Python thread, each woken once per batch.
//!
//! Both threads usually share a core (one worker per core, or a pinned process), and waking
//! the other side lets the kernel switch to it at once. Waking per request made the two
//! threads take turns one request at a time: about one context switch each way per request,
//! which cost more CPU than the request itself. So:
//!
//! - **to Python** ([`Queue`]): a tokio thread queues jobs and, when the Python side is
//!   asleep, owes it a wake-up, which it pays (one byte on a socket pair the asyncio loop
//!   watches) when it runs out of work and parks: by then it has queued every request its
//!   ready connections had.
//! - **to tokio** ([`Outbox`]): the Python thread puts each response in the outbox of the
//!   runtime that asked, and wakes that runtime's dispatcher task once, at the end of the
//!   batch; the dispatcher completes the waiting requests from inside the runtime, which
//!   costs no system call per request.

use std::cell::Cell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use armature_router::Response;
use bytes::Bytes;
use http::request::Parts;
use pyo3::prelude::*;
use tokio::sync::{oneshot, Notify};

/// A queue that reaches this many jobs wakes the Python side without waiting for the tokio
/// thread to park (which a runtime that never runs out of work would not do).
const MAX_DEFERRED: usize = 256;

/// Where a response goes: the request's channel, through its runtime's outbox.
pub(crate) struct Reply {
    tx: oneshot::Sender<Response>,
    outbox: Arc<Outbox>,
}

impl Reply {
    pub(crate) fn new(outbox: &Arc<Outbox>) -> (Self, oneshot::Receiver<Response>) {
        let (tx, rx) = oneshot::channel();
        let outbox = Arc::clone(outbox);
        (Reply { tx, outbox }, rx)
    }

    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Whether nobody waits for the response any more: the client closed the connection
    /// (HTTP/1.1) or reset the stream (HTTP/2), or the server stopped waiting.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues the response; the runtime hears of it at the next [`Outbox::post`].
    pub(crate) fn send(self, res: Response) {
        lock(&self.outbox.ready).push((self.tx, res));
    }
}

/// One request for the Python thread.
pub(crate) struct Job {
    pub(crate) route: usize,
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    pub(crate) reply: Reply,
    /// A WebSocket route's socket (the reply then answers its handshake).
    pub(crate) socket: Option<crate::websocket::Socket>,
}

// Requests are the hot path and `Stopped` comes once per server: boxing `Job` to shrink the
// enum would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Request(Job),
    /// A WebSocket handler's wait is over (a message came, or room to send): resolve its
    /// future on the loop.
    Socket(Arc<crate::websocket::Session>),
    /// A streamed body has room again, or its client left: wake its task on the loop.
    Stream(Arc<crate::response::Flow>),
    /// A server finished (with its error, if any): call `callback(error)` on the loop.
    Stopped {
        callback: Py<PyAny>,
        error: Option<String>,
    },
}

thread_local! {
    /// The queue (its address) whose owed wake-up this thread pays when it parks: set by
    /// [`Queue::on_park`], so only threads that run that hook defer.
    static PAYS_AT_PARK: Cell<usize> = const { Cell::new(0) };
}

/// The job queue and its wake-up socket.
pub(crate) struct Queue {
    jobs: Mutex<Vec<Msg>>,
    /// True while the Python side has drained everything and waits for a wake-up byte.
    sleeping: AtomicBool,
    /// A wake-up is owed: jobs came while Python slept, and the thread that queued them
    /// writes the byte when it parks.
    owed: AtomicBool,
    waker: UnixStream,
}

impl Queue {
    pub(crate) fn new(waker: UnixStream) -> Self {
        Queue {
            jobs: Mutex::new(Vec::new()),
            sleeping: AtomicBool::new(true),
            owed: AtomicBool::new(false),
            waker,
        }
    }

    fn address(&self) -> usize {
        self as *const Queue as usize
    }

    pub(crate) fn push(&self, msg: Msg) {
        let deferrable = matches!(msg, Msg::Request(_))
            && PAYS_AT_PARK.with(|pays| pays.get() == self.address());
        let queued = {
            let mut jobs = lock(&self.jobs);
            jobs.push(msg);
            jobs.len()
        };
        if self.sleeping.swap(false, Ordering::AcqRel) {
            if deferrable {
                self.owed.store(true, Ordering::Release);
            } else {
                self.wake();
            }
        }
        if queued >= MAX_DEFERRED {
            self.pay();
        }
    }

    /// The tokio runtime's `on_thread_park` hook: from now on this thread defers its
    /// wake-ups to here, and pays the one it owes.
    pub(crate) fn on_park(&self) {
        PAYS_AT_PARK.with(|pays| pays.set(self.address()));
        self.pay();
    }

    fn pay(&self) {
        if self.owed.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }

    pub(crate) fn wake(&self) {
        // The socket is non-blocking: if its buffer is full, a wake-up is pending anyway.
        let _ = (&self.waker).write(&[1]);
    }

    pub(crate) fn take(&self) -> Vec<Msg> {
        std::mem::take(&mut *lock(&self.jobs))
    }

    /// The Python side is done with its batch: it sleeps unless more jobs came meanwhile,
    /// in which case it wakes itself (and the loop runs other callbacks before coming back).
    pub(crate) fn sleep(&self) {
        self.sleeping.store(true, Ordering::Release);
        let empty = lock(&self.jobs).is_empty();
        if !empty && self.sleeping.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }
}

/// Responses on their way back into one tokio runtime.
pub(crate) struct Outbox {
    ready: Mutex<Vec<(oneshot::Sender<Response>, Response)>>,
    notify: Notify,
    /// A post is scheduled on the asyncio loop for responses sent outside a batch.
    scheduled: AtomicBool,
}

impl Outbox {
    /// A new outbox, and the dispatcher task to spawn on the runtime it serves.
    pub(crate) fn new() -> (
        Arc<Self>,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let outbox = Arc::new(Outbox {
            ready: Mutex::new(Vec::new()),
            notify: Notify::new(),
            scheduled: AtomicBool::new(false),
        });
        let dispatcher = Arc::clone(&outbox).dispatch();
        (outbox, dispatcher)
    }

    /// Wakes the dispatcher if responses wait.
    pub(crate) fn post(&self) {
        let waiting = !lock(&self.ready).is_empty();
        if waiting {
            self.notify.notify_one();
        }
    }

    /// For a response sent outside a batch (a Task finished): true when the caller is to
    /// schedule [`Outbox::post_scheduled`] on the loop; the responses of the other Tasks that
    /// finish in the same loop iteration go with it.
    pub(crate) fn schedule(&self) -> bool {
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn post_scheduled(&self) {
        self.scheduled.store(false, Ordering::Release);
        self.post();
    }

    async fn dispatch(self: Arc<Self>) {
        let mut batch = Vec::new();
        loop {
            self.notify.notified().await;
            std::mem::swap(&mut batch, &mut *lock(&self.ready));
            for (tx, res) in batch.drain(..) {
                // The client may have gone; nothing to do then.
                let _ = tx.send(res);
            }
        }
    }
}

/// The outboxes one batch touched (almost always one), to post once each at its end.
#[derive(Default)]
pub(crate) struct Posts(Vec<Arc<Outbox>>);

impl Posts {
    pub(crate) fn note(&mut self, outbox: &Arc<Outbox>) {
        if !self.0.iter().any(|o| Arc::ptr_eq(o, outbox)) {
            self.0.push(Arc::clone(outbox));
        }
    }

    pub(crate) fn post(&mut self) {
        for outbox in self.0.drain(..) {
            outbox.post();
        }
    }
}

/// Locks `mutex`, also after a panic poisoned it: queued jobs and responses are plain data,
/// and a panic in one handler's conversion must not stop every later request.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
