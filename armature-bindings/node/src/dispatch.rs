//! Handing requests to JS in batches, and taking the answers back.
//!
//! A JS route parks its request in [`State::pending`] under a fresh id and appends
//! `(id, handler)` to the ready batch. Only the request that finds no wake-up queued calls the
//! threadsafe function; by the time JS runs, the batch holds every request that arrived
//! meanwhile, and JS takes it in that one call. JS answers each id with a synchronous
//! `respond`, which completes the request's oneshot channel.

use std::sync::{Arc, Mutex, MutexGuard};

use armature_router::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use napi::bindgen_prelude::{Function, Uint32Array, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::log::TARGET;
use crate::response::error;

/// A request waiting for its JS handler.
pub(crate) struct Pending {
    pub(crate) req: Request<Bytes>,
    tx: oneshot::Sender<Response>,
}

#[derive(Default)]
pub(crate) struct State {
    next: u32,
    pub(crate) pending: FxHashMap<u32, Pending>,
    /// `id, handler` pairs not yet handed to JS.
    ready: Vec<u32>,
    /// A wake-up is queued on the JS thread and has not taken the batch yet.
    scheduled: bool,
}

/// The wake-up: weak (never keeps Node alive by itself; a listening server holds the event
/// loop open with its `closed()` promise instead), not callee-handled, and called with
/// `call_with_return_value` so that a JS exception comes back to Rust as an `Err` instead of
/// reaching `napi_fatal_exception` (the JS dispatcher catches everything anyway).
type Wake = ThreadsafeFunction<(), Unknown<'static>, Uint32Array, Status, false, true>;

pub(crate) struct Dispatcher {
    state: Arc<Mutex<State>>,
    wake: Wake,
}

impl Dispatcher {
    /// `dispatch(batch)` is the JS side: it receives a `Uint32Array` of `id, handler` pairs.
    pub(crate) fn new(dispatch: Function<'_, Uint32Array, Unknown<'static>>) -> Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let taken = Arc::clone(&state);
        let wake = dispatch
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| {
                let mut state = lock(&taken);
                state.scheduled = false;
                Ok(Uint32Array::new(std::mem::take(&mut state.ready)))
            })?;
        Ok(Dispatcher { state, wake })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
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
            rx.await
                .unwrap_or_else(|_| error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"))
        }
    }

    /// Completes request `id` with `res`; `false` if it is not waiting (already answered, or
    /// its client went away and the server dropped it).
    pub(crate) fn complete(&self, id: u32, res: Response) -> bool {
        let pending = self.state().pending.remove(&id);
        match pending {
            Some(pending) => pending.tx.send(res).is_ok(),
            None => false,
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
