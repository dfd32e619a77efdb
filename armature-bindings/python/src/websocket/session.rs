//! [`Session`]: what a WebSocket's connection task and its Python handler share, and
//! [`Socket`], the handler's side of it.
//!
//! The futures the handler gives (`wait_receive`, `wait_send`) only say "look again": the
//! handler takes a message off the queue itself, synchronously, after it wakes. A `receive`
//! cancelled while it waits (`asyncio.wait_for`, `asyncio.timeout`) therefore loses nothing,
//! and any number of tasks may wait on one socket: all of them are woken, each looks again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use armature_router::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio::sync::{mpsc, Notify};

use crate::bridge::{lock, Msg, Queue, Reply};
use crate::engine::send_soon;
use crate::response::to_response;

/// Bytes past which each direction waits: `send` once that much is unsent (the client reads
/// slowly), the connection's task stops reading once the handler has not taken that much
/// (TCP then slows the client down).
pub(super) const HIGH_WATER: usize = 1 << 20;

/// What a message counts for beyond its payload, so that a flood of empty messages is
/// bounded as well (about 16,000 of them fill [`HIGH_WATER`]).
const MESSAGE_OVERHEAD: usize = 64;

/// What the client sent, as the handler receives it.
pub(super) enum Event {
    Text(String),
    Binary(Bytes),
    /// The connection ended: the close code (`1005` when the client sent none, `1006` when the
    /// connection broke without a close) and reason.
    Closed(u16, String),
}

impl Event {
    fn cost(&self) -> usize {
        MESSAGE_OVERHEAD
            + match self {
                Event::Text(text) => text.len(),
                Event::Binary(bytes) => bytes.len(),
                Event::Closed(..) => 0,
            }
    }
}

/// What the handler sends.
pub(super) enum Out {
    Text(String),
    Binary(Bytes),
    Close(u16, String),
}

impl Out {
    pub(super) fn cost(&self) -> usize {
        MESSAGE_OVERHEAD
            + match self {
                Out::Text(text) => text.len(),
                Out::Binary(bytes) => bytes.len(),
                Out::Close(..) => 0,
            }
    }
}

/// What the connection's task and the Python thread share.
pub(crate) struct Session {
    queue: Arc<Queue>,
    state: Mutex<State>,
    /// The cost of the messages received and not yet taken by the handler.
    received: AtomicUsize,
    /// Told when the handler takes a message after the task stopped reading.
    pub(super) readable: Notify,
    /// The cost of the messages handed to the connection's task and not yet written.
    pending: AtomicUsize,
    /// The connection's task is done: nothing more can be sent.
    gone: AtomicBool,
}

#[derive(Default)]
struct State {
    incoming: VecDeque<Event>,
    /// The futures of the handler's tasks waiting for a message or for room to send.
    waiters: Vec<Py<PyAny>>,
    /// A wake-up of the waiters is queued for the Python thread.
    wake_queued: bool,
    /// How the connection ended, once it has.
    ended: Option<(u16, String)>,
}

impl Session {
    pub(super) fn new(queue: Arc<Queue>) -> Arc<Self> {
        Arc::new(Session {
            queue,
            state: Mutex::new(State::default()),
            received: AtomicUsize::new(0),
            readable: Notify::new(),
            pending: AtomicUsize::new(0),
            gone: AtomicBool::new(false),
        })
    }

    /// From the connection's task: queues `event` and wakes the handler's waiting tasks.
    pub(super) fn deliver(self: &Arc<Self>, event: Event) {
        self.received.fetch_add(event.cost(), Ordering::AcqRel);
        let mut state = lock(&self.state);
        if let Event::Closed(code, reason) = &event {
            state.ended = Some((*code, reason.clone()));
        }
        state.incoming.push_back(event);
        self.wake_waiters(state);
    }

    /// From the connection's task: messages of `cost` went out (or, `gone`, nothing more
    /// will); wakes the tasks waiting to send once there is room.
    pub(super) fn drained(self: &Arc<Self>, cost: usize, gone: bool) {
        self.pending.fetch_sub(cost, Ordering::AcqRel);
        if gone {
            self.gone.store(true, Ordering::Release);
        }
        let state = lock(&self.state);
        if gone || !self.full() {
            self.wake_waiters(state);
        }
    }

    /// Queues a wake-up of the waiters (one at a time) for the Python thread.
    fn wake_waiters(self: &Arc<Self>, mut state: std::sync::MutexGuard<'_, State>) {
        if state.waiters.is_empty() || state.wake_queued {
            return;
        }
        state.wake_queued = true;
        drop(state);
        self.queue.push(Msg::Socket(Arc::clone(self)));
    }

    /// Whether the connection's task may read more from the client.
    pub(super) fn room_to_receive(&self) -> bool {
        self.received.load(Ordering::Acquire) <= HIGH_WATER
    }

    fn full(&self) -> bool {
        self.pending.load(Ordering::Acquire) > HIGH_WATER
    }

    /// On the Python thread (the loop's): resolves every waiting future, which then looks
    /// again.
    pub(crate) fn wake(&self, py: Python<'_>) {
        let waiters = {
            let mut state = lock(&self.state);
            state.wake_queued = false;
            std::mem::take(&mut state.waiters)
        };
        for waiter in waiters {
            let waiter = waiter.bind(py);
            if !is_done(waiter) {
                if let Err(err) = waiter.call_method1(pyo3::intern!(py, "set_result"), (py.None(),))
                {
                    err.print(py);
                }
            }
        }
    }

    /// Keeps `future` to resolve at the next wake-up, unless `ready` already holds (then
    /// the caller looks again at once). Futures of cancelled waits are dropped once they
    /// pile up (a loop of short `wait_for`s on a quiet socket).
    fn wait(
        self: &Arc<Self>,
        py: Python<'_>,
        future: Py<PyAny>,
        ready: impl FnOnce(&State) -> bool,
    ) -> bool {
        let mut state = lock(&self.state);
        if ready(&state) {
            return false;
        }
        if state.waiters.len() >= 16 {
            state.waiters.retain(|w| !is_done(w.bind(py)));
        }
        state.waiters.push(future);
        true
    }
}

/// Whether an asyncio future is done (resolved, or cancelled: its task gave up the wait);
/// one that cannot say counts as done.
fn is_done(future: &Bound<'_, PyAny>) -> bool {
    future
        .call_method0(pyo3::intern!(future.py(), "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true)
}

/// `("text", str)`, `("bytes", bytes)` or `("close", code, reason)`.
fn event_object<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyAny>> {
    Ok(match event {
        Event::Text(text) => ("text", PyString::new(py, text))
            .into_pyobject(py)?
            .into_any(),
        Event::Binary(bytes) => ("bytes", PyBytes::new(py, bytes))
            .into_pyobject(py)?
            .into_any(),
        Event::Closed(code, reason) => ("close", *code, reason.as_str())
            .into_pyobject(py)?
            .into_any(),
    })
}

/// What `Socket.send` says.
const SENT: u8 = 0;
const FULL: u8 = 1;
const GONE: u8 = 2;

/// The handler's side of a WebSocket (`armature.websockets.WebSocket` wraps it).
#[pyclass(frozen, module = "armature._armature")]
pub struct Socket {
    session: Arc<Session>,
    /// The handshake's answer (the request's reply, set when the handler gets the socket):
    /// a `101` accepts, anything else refuses.
    pub(crate) reply: Mutex<Option<Reply>>,
    /// To the connection's task; dropped by `finish` (the handler is done).
    out: Mutex<Option<mpsc::UnboundedSender<Out>>>,
}

impl Socket {
    pub(super) fn new(session: &Arc<Session>, out: mpsc::UnboundedSender<Out>) -> Self {
        Socket {
            session: Arc::clone(session),
            reply: Mutex::new(None),
            out: Mutex::new(Some(out)),
        }
    }

    fn reply(&self, py: Python<'_>, res: Response) -> bool {
        let Some(reply) = lock(&self.reply).take() else {
            return false;
        };
        send_soon(py, reply, res);
        true
    }

    fn push(&self, message: Out) -> u8 {
        let cost = message.cost();
        let out = lock(&self.out);
        let Some(tx) = out.as_ref() else {
            return GONE;
        };
        self.session.pending.fetch_add(cost, Ordering::AcqRel);
        if tx.send(message).is_err() {
            self.session.pending.fetch_sub(cost, Ordering::AcqRel);
            return GONE;
        }
        SENT
    }
}

#[pymethods]
impl Socket {
    /// Accepts the handshake (`101`; the server adds `Upgrade`, `Connection` and
    /// `Sec-WebSocket-Accept`) with these extra `headers` (a chosen subprotocol among them).
    /// `False` if it was answered already.
    fn accept(&self, py: Python<'_>, headers: Vec<(String, String)>) -> PyResult<bool> {
        let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
        for (name, value) in headers {
            let name = http::HeaderName::try_from(name.as_str())
                .map_err(|e| PyValueError::new_err(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| PyValueError::new_err(format!("header {name}: {e}")))?;
            res.headers_mut().append(name, value);
        }
        Ok(self.reply(py, res))
    }

    /// Refuses the handshake with `response` (an `HttpResponse`: a `403`, or an error's).
    /// `False` if it was answered already.
    fn answer(&self, py: Python<'_>, response: &Bound<'_, PyAny>) -> PyResult<bool> {
        let res = to_response(py, response, &self.session.queue, None)?;
        Ok(self.reply(py, res))
    }

    /// The next message if one is queued, else `None` (then `wait_receive`).
    fn receive<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let event = lock(&self.session.state).incoming.pop_front();
        let Some(event) = event else {
            return Ok(None);
        };
        let cost = event.cost();
        let before = self.session.received.fetch_sub(cost, Ordering::AcqRel);
        if before > HIGH_WATER && before - cost <= HIGH_WATER {
            self.session.readable.notify_one();
        }
        event_object(py, &event).map(Some)
    }

    /// Keeps `future` (of the loop) to resolve once a message may be there; `False` when one
    /// is already: call `receive` again at once.
    fn wait_receive(&self, py: Python<'_>, future: Py<PyAny>) -> bool {
        self.session
            .wait(py, future, |state| !state.incoming.is_empty())
    }

    /// Sends text (a `str`) or binary (`bytes`) data: `0` sent, `1` no room yet (then
    /// `wait_send`), `2` the connection is gone.
    fn send(&self, data: &Bound<'_, PyAny>) -> PyResult<u8> {
        if self.session.gone.load(Ordering::Acquire) {
            return Ok(GONE);
        }
        if self.session.full() {
            return Ok(FULL);
        }
        let message = match data.cast::<PyString>() {
            Ok(text) => Out::Text(text.to_str()?.to_owned()),
            Err(_) => Out::Binary(Bytes::copy_from_slice(data.extract::<&[u8]>()?)),
        };
        Ok(self.push(message))
    }

    /// Keeps `future` to resolve once there may be room to send (or the connection is
    /// gone); `False` when there is already: call `send` again at once.
    fn wait_send(&self, py: Python<'_>, future: Py<PyAny>) -> bool {
        let session = &self.session;
        session.wait(py, future, |_| {
            !session.full() || session.gone.load(Ordering::Acquire)
        })
    }

    /// How the connection ended (`(code, reason)`), once it has: what a `send` that found it
    /// gone reports.
    fn ended(&self) -> Option<(u16, String)> {
        lock(&self.session.state).ended.clone()
    }

    /// Closes the connection with `code` and `reason` (after what was sent before).
    fn close(&self, code: u16, reason: String) -> u8 {
        self.push(Out::Close(code, reason))
    }

    /// The handler is done: the connection closes (`1000`) unless it did already.
    fn finish(&self) {
        lock(&self.out).take();
    }
}
