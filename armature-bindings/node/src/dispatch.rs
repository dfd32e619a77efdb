//! Handing requests to JS in batches, and taking the answers back.
//!
//! A JS route parks its request in [`State::pending`] under a fresh id and appends
//! `(id, handler)` to the ready batch. Only the request that finds no wake-up queued calls the
//! threadsafe function; by the time JS runs, the batch holds every request that arrived
//! meanwhile, and JS copies it into its own `Uint32Array` with one `take` call. JS answers
//! each id with a synchronous `respond`, which hands the [`Reply`] and the request back to the
//! connection's task through the request's oneshot channel.

use std::sync::{Arc, Mutex, MutexGuard};

use armature_router::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::log::TARGET;
use crate::response::{error, Reply};

/// What goes back to the connection's task: the answer, and the request itself, so that its
/// allocations are freed on the thread that made them rather than on the JS thread (a free
/// from another thread is several times dearer in glibc's allocator).
type Answer = (Reply, Request<Bytes>);

/// A request waiting for its JS handler.
pub(crate) struct Pending {
    pub(crate) req: Request<Bytes>,
    tx: oneshot::Sender<Answer>,
}

#[derive(Default)]
pub(crate) struct State {
    next: u32,
    pub(crate) pending: FxHashMap<u32, Pending>,
    /// `id, handler` pairs not yet taken by JS.
    ready: Vec<u32>,
    /// A wake-up is queued on the JS thread and no `take` has emptied the batch since.
    scheduled: bool,
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
}

impl Dispatcher {
    /// `dispatch()` is the JS side: it calls `take` until the batch is empty and runs the
    /// handlers.
    pub(crate) fn new(dispatch: Function<'_, (), Unknown<'static>>) -> Result<Self> {
        let wake = dispatch
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(|_ctx| Ok(()))?;
        Ok(Dispatcher {
            state: Mutex::new(State::default()),
            wake,
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
        let (id, wake) = {
            let mut state = self.state();
            let id = state.next;
            state.next = state.next.wrapping_add(1);
            state.pending.insert(id, Pending { req, tx });
            state.ready.extend([id, handler]);
            (id, !std::mem::replace(&mut state.scheduled, true))
        };
        if wake {
            let status = self.wake.call_with_return_value(
                (),
                ThreadsafeFunctionCallMode::NonBlocking,
                |result, _env| {
                    if let Err(err) = result {
                        tracing::error!(target: TARGET, error = %err, "the JS dispatcher threw");
                    }
                    Ok(())
                },
            );
            if status != Status::Ok {
                // Node is shutting down (or the app was closed): nobody will take the batch.
                let mut state = self.state();
                state.scheduled = false;
                state.ready.clear();
                state.pending.remove(&id);
            }
        }
        async move {
            match rx.await {
                Ok((reply, req)) => {
                    let res = reply.into_response(&req);
                    drop(req);
                    res
                }
                Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
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
    pub(crate) fn complete(&self, id: u32, reply: Reply) -> bool {
        let pending = self.state().pending.remove(&id);
        match pending {
            Some(Pending { req, tx }) => tx.send((reply, req)).is_ok(),
            None => false,
        }
    }
}
