//! Handing requests to JS in batches, and taking the answers back.
//!
//! A JS route parks its request in [`State::pending`] under a fresh id and appends
//! `(id, handler)` to the ready batch. The request that finds neither a wake-up queued nor one
//! about to be spawns a task that calls the threadsafe function after the runtime's current
//! turn; by the time JS runs, the batch holds every request that arrived meanwhile, and JS
//! copies it into its own `Uint32Array` with one `take` call. JS answers each id with a
//! synchronous `respond`, which hands the [`Reply`] and the request back to the connection's
//! task through the request's oneshot channel.

use std::sync::{Arc, Mutex, MutexGuard};

use armature_router::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::log::{self, Json, TARGET};
use crate::response::{error, Reply};

/// What goes back to the connection's task: the answer, and the request itself, so that its
/// allocations are freed on the thread that made them rather than on the JS thread (a free
/// from another thread is several times dearer in glibc's allocator).
type Answer = (Reply, Request<Bytes>);

/// A request waiting for its JS handler.
pub(crate) struct Pending {
    pub(crate) req: Request<Bytes>,
    tx: oneshot::Sender<Answer>,
    /// JS asked for the request's `signal`: tell it when the request is abandoned.
    watched: bool,
}

/// In place of a handler number in the batch: the request was abandoned (its client went away,
/// or the server stopped waiting for it), and JS aborts its `signal`.
pub(crate) const ABANDONED: u32 = u32::MAX;

#[derive(Default)]
pub(crate) struct State {
    next: u32,
    pub(crate) pending: FxHashMap<u32, Pending>,
    /// `id, handler` pairs not yet taken by JS.
    ready: Vec<u32>,
    /// A wake-up is queued on the JS thread and no `take` has emptied the batch since.
    scheduled: bool,
    /// A task that will queue the wake-up is spawned and has not run yet.
    flushing: bool,
}

/// The wake-up: weak (never keeps Node alive by itself; a listening server holds the event
/// loop open with its `closed()` promise instead), not callee-handled, and called with
/// `call_with_return_value` so that a JS exception comes back to Rust as an `Err` instead of
/// reaching `napi_fatal_exception` (the JS dispatcher catches everything anyway). It passes no
/// arguments: JS takes the batch itself.
type Wake = ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>;

pub(crate) struct Dispatcher {
    state: Mutex<State>,
    wake: Wake,
    /// The app logs as JSON lines (`Logger.json()`): its errors are JSON lines too.
    json_log: bool,
}

impl Dispatcher {
    /// `dispatch()` is the JS side: it calls `take` until the batch is empty and runs the
    /// handlers. With `json_log`, errors are logged as JSON lines.
    pub(crate) fn new(
        dispatch: Function<'_, (), Unknown<'static>>,
        json_log: bool,
    ) -> Result<Self> {
        let wake = dispatch
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(|_ctx| Ok(()))?;
        Ok(Dispatcher {
            state: Mutex::new(State::default()),
            wake,
            json_log,
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Parks `req` for JS handler `handler` and waits for the answer.
    pub(crate) fn call(
        self: &Arc<Self>,
        handler: u32,
        req: Request<Bytes>,
    ) -> impl std::future::Future<Output = Response> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let id;
        let flush = {
            let mut state = self.state();
            id = state.next;
            state.next = state.next.wrapping_add(1);
            state.pending.insert(
                id,
                Pending {
                    req,
                    tx,
                    watched: false,
                },
            );
            state.ready.extend([id, handler]);
            state.wake_needed()
        };
        if flush {
            self.flush_soon();
        }
        let json_log = self.json_log;
        let mut waiting = Waiting {
            dispatcher: Arc::clone(self),
            id: Some(id),
        };
        async move {
            let answer = rx.await;
            // A method call, so that the future owns all of `waiting`, not just its field.
            waiting.answered();
            match answer {
                Ok((reply, req)) => {
                    let res = reply.into_response(&req, json_log);
                    drop(req);
                    res
                }
                Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            }
        }
    }

    /// Marks request `id` as watched: if it is abandoned before JS answers it, JS hears of it
    /// (an [`ABANDONED`] entry in a batch). `false` when it is no longer waiting.
    pub(crate) fn watch(&self, id: u32) -> bool {
        match self.state().pending.get_mut(&id) {
            Some(pending) if !pending.tx.is_closed() => {
                pending.watched = true;
                true
            }
            _ => false,
        }
    }

    /// The server dropped request `id` unanswered (its client went away, or a shutdown
    /// deadline passed): tells JS if it watches the request. The request stays readable
    /// until JS answers it (the answer then goes nowhere).
    fn abandoned(self: &Arc<Self>, id: u32) {
        let flush = {
            let mut state = self.state();
            match state.pending.get(&id) {
                Some(pending) if pending.watched => {
                    state.ready.extend([id, ABANDONED]);
                    state.wake_needed()
                }
                _ => false,
            }
        };
        if flush {
            self.flush_soon();
        }
    }

    /// Wakes JS once the runtime has run what is ready now, not at once: the other
    /// connections that became readable in this turn of the event loop then join the batch,
    /// and JS wakes once for all of them. Waking at once made batches of 1 to 3 requests on
    /// one core, because the wake-up preempts this thread right away.
    fn flush_soon(self: &Arc<Self>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let flush = FlushOnDrop(Arc::clone(self));
                runtime.spawn(async move {
                    // Spawned from a worker, a task runs next (tokio's LIFO slot); yielding
                    // once puts it behind the tasks already woken in this turn.
                    tokio::task::yield_now().await;
                    drop(flush);
                });
            }
            Err(_) => self.flush(),
        }
    }

    /// Queues the wake-up for what is ready.
    fn flush(&self) {
        {
            let mut state = self.state();
            state.flushing = false;
            if state.scheduled || state.ready.is_empty() {
                return;
            }
            state.scheduled = true;
        }
        let json_log = self.json_log;
        let status = self.wake.call_with_return_value(
            (),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |result, _env| {
                if let Err(err) = result {
                    if json_log {
                        let error = err.to_string();
                        log::json_error(
                            "the JS dispatcher threw",
                            &[("error", Json::Text(&error))],
                        );
                    } else {
                        tracing::error!(target: TARGET, error = %err, "the JS dispatcher threw");
                    }
                }
                Ok(())
            },
        );
        if status != Status::Ok {
            // Node is shutting down (or the app was closed): nobody will take the batch.
            // Dropping the requests' senders answers them 503.
            let mut state = self.state();
            state.scheduled = false;
            let ready = std::mem::take(&mut state.ready);
            for id in ready.chunks_exact(2).map(|pair| pair[0]) {
                state.pending.remove(&id);
            }
        }
    }

    /// Moves up to `into.len() / 2` waiting `id, handler` pairs into `into`; returns how many
    /// numbers it wrote. Once the batch is empty, the next request wakes JS again.
    pub(crate) fn take(&self, into: &mut [u32]) -> usize {
        let mut state = self.state();
        let n = state.ready.len().min(into.len() & !1);
        into[..n].copy_from_slice(&state.ready[..n]);
        state.ready.drain(..n);
        if state.ready.is_empty() {
            state.scheduled = false;
        }
        n
    }

    /// Completes request `id` with `reply`; `false` if it is not waiting (already answered,
    /// or its client went away and the server dropped it).
    ///
    /// A failure answered after the server dropped the request is still logged, as it would
    /// be when sent: a handler that fails once its client gave up (a timeout, often the very
    /// time a failure matters) must not fail silently.
    pub(crate) fn complete(&self, id: u32, reply: Reply) -> bool {
        let pending = self.state().pending.remove(&id);
        match pending {
            Some(Pending { req, tx, .. }) => match tx.send((reply, req)) {
                Ok(()) => true,
                Err((reply @ Reply::Failed { .. }, req)) => {
                    drop(reply.into_response(&req, self.json_log));
                    false
                }
                Err(_) => false,
            },
            None => false,
        }
    }
}

impl State {
    /// After adding to the batch: whether this caller must arrange the wake-up (none is
    /// queued, and no task is about to queue one).
    fn wake_needed(&mut self) -> bool {
        !(self.scheduled || std::mem::replace(&mut self.flushing, true))
    }
}

/// Held by a request's future while it waits for JS: dropped before the answer came (the
/// connection closed, the stream was reset, the server gave up on it), it tells the
/// dispatcher.
struct Waiting {
    dispatcher: Arc<Dispatcher>,
    /// `None` once answered.
    id: Option<u32>,
}

impl Waiting {
    fn answered(&mut self) {
        self.id = None;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.dispatcher.abandoned(id);
        }
    }
}

/// Flushes when dropped: after the task's yield, and also if a runtime shutting down drops the
/// task unpolled, so `flushing` never stays set with nobody left to clear it.
struct FlushOnDrop(Arc<Dispatcher>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush();
    }
}
