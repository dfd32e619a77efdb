//! WebSocket routes (`@app.websocket(path)`): the handshake checked in Rust, the handler run
//! on the Python thread with a [`Socket`], and the frames carried by tokio-tungstenite on the
//! connection hyper hands over after the `101`.
//!
//! The two threads meet as requests do (see `bridge`): a message from the client is queued in
//! the [`Session`] and, when the handler waits for one (`await websocket.receive()`, an
//! asyncio future it gave), the Python thread is woken through the job queue to resolve that
//! future on its loop; a message from the handler goes down a channel to the connection's
//! task. Both directions are bounded by [`HIGH_WATER`]: past that many unsent bytes, `send`
//! waits until the client has read enough of them; past that many bytes the handler has not
//! taken, the task stops reading from the client until it does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armature_router::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{
    CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use http::{HeaderValue, Method, Request, StatusCode, Version};
use hyper_util::rt::TokioIo;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::bridge::{lock, Job, Msg, Queue, Reply};
use crate::engine::send_soon;
use crate::response::to_response;

/// Unsent bytes past which `send` waits for the client to read (uvicorn's default write
/// buffer is of the same order), and untaken bytes past which the server stops reading from
/// the client until the handler takes them.
const HIGH_WATER: usize = 1 << 20;

/// The largest message (and frame) taken from a client: 16 MiB, uvicorn's `ws_max_size`.
/// A larger one closes the connection with `1009 Message Too Big`.
const MAX_MESSAGE: usize = 16 << 20;

/// How long a close waits for the client's close in return before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What the client sent, as the handler receives it.
enum Event {
    Text(String),
    Binary(Bytes),
    /// The connection ended: the client's close code (`1005` when it sent none, `1006` when
    /// the connection broke without a close) and reason.
    Closed(u16, String),
}

/// The WebSocket connections of one server: told when it starts to shut down (each closes
/// with `1012 Service Restart`, as uvicorn's do), and waited for before it stops.
pub(crate) struct Sockets {
    going: watch::Sender<bool>,
    live: AtomicUsize,
    idle: Notify,
}

impl Sockets {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Sockets {
            going: watch::channel(false).0,
            live: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    /// The server is shutting down: every connection closes.
    pub(crate) fn shut_down(&self) {
        self.going.send_replace(true);
    }

    /// Waits (at most `deadline`) until every connection has closed.
    pub(crate) async fn closed(&self, deadline: Duration) {
        let _ = tokio::time::timeout(deadline, async {
            loop {
                let idle = self.idle.notified();
                if self.live.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }

    fn enter(self: &Arc<Self>) -> Live {
        self.live.fetch_add(1, Ordering::AcqRel);
        Live(Arc::clone(self))
    }
}

/// One open connection of [`Sockets`].
struct Live(Arc<Sockets>);

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Event {
    fn len(&self) -> usize {
        match self {
            Event::Text(text) => text.len(),
            Event::Binary(bytes) => bytes.len(),
            Event::Closed(..) => 0,
        }
    }
}

/// What the handler sends.
enum Out {
    Text(String),
    Binary(Bytes),
    Close(u16, String),
}

impl Out {
    fn len(&self) -> usize {
        match self {
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
    /// Bytes received and not yet taken by the handler: past [`HIGH_WATER`] the connection's
    /// task stops reading (TCP then slows the client) until the handler catches up.
    received: AtomicUsize,
    /// Told when the handler takes a message after the task stopped reading.
    readable: Notify,
    /// Bytes handed to the connection's task and not yet written.
    pending: AtomicUsize,
    /// The connection's task is done: nothing more can be sent.
    gone: AtomicBool,
}

#[derive(Default)]
struct State {
    incoming: VecDeque<Event>,
    /// The future a waiting `receive` gave, resolved with the next event.
    receiver: Option<Py<PyAny>>,
    /// The future a waiting `send` gave, resolved once there is room (or the socket is gone).
    sender: Option<Py<PyAny>>,
}

impl Session {
    fn new(queue: Arc<Queue>) -> Arc<Self> {
        Arc::new(Session {
            queue,
            state: Mutex::new(State::default()),
            received: AtomicUsize::new(0),
            readable: Notify::new(),
            pending: AtomicUsize::new(0),
            gone: AtomicBool::new(false),
        })
    }

    /// From the connection's task: queues `event`, and wakes the Python thread if the
    /// handler waits for one.
    fn deliver(self: &Arc<Self>, event: Event) {
        self.received.fetch_add(event.len(), Ordering::AcqRel);
        let waiting = {
            let mut state = lock(&self.state);
            state.incoming.push_back(event);
            state.receiver.is_some()
        };
        if waiting {
            self.queue.push(Msg::Socket(Arc::clone(self)));
        }
    }

    /// Whether the connection's task may read more from the client.
    fn room_to_receive(&self) -> bool {
        self.received.load(Ordering::Acquire) <= HIGH_WATER
    }

    /// The handler took a message of `len` bytes.
    fn received_taken(&self, len: usize) {
        let before = self.received.fetch_sub(len, Ordering::AcqRel);
        if before > HIGH_WATER && before - len <= HIGH_WATER {
            self.readable.notify_one();
        }
    }

    /// From the connection's task: `written` bytes went out (or, `gone`, nothing more will);
    /// wakes a `send` waiting for room.
    fn drained(self: &Arc<Self>, written: usize, gone: bool) {
        self.pending.fetch_sub(written, Ordering::AcqRel);
        if gone {
            self.gone.store(true, Ordering::Release);
        }
        let waiting = lock(&self.state).sender.is_some();
        if waiting && (gone || self.pending.load(Ordering::Acquire) <= HIGH_WATER) {
            self.queue.push(Msg::Socket(Arc::clone(self)));
        }
    }

    /// On the Python thread (the loop's): resolves the futures whose wait is over.
    pub(crate) fn wake(&self, py: Python<'_>) {
        let (receiver, event, sender) = {
            let mut state = lock(&self.state);
            let (receiver, event) = match (&state.receiver, state.incoming.is_empty()) {
                (Some(_), false) => (state.receiver.take(), state.incoming.pop_front()),
                _ => (None, None),
            };
            let room = self.gone.load(Ordering::Acquire)
                || self.pending.load(Ordering::Acquire) <= HIGH_WATER;
            let sender = if room { state.sender.take() } else { None };
            (receiver, event, sender)
        };
        if let (Some(receiver), Some(event)) = (receiver, event) {
            let len = event.len();
            match resolve(py, &receiver, event, event_object) {
                Ok(()) => self.received_taken(len),
                // Cancelled meanwhile: the event waits for the next `receive`.
                Err(event) => lock(&self.state).incoming.push_front(event),
            }
        }
        if let Some(sender) = sender {
            let _ = resolve(py, &sender, (), |py, _| Ok(py.None().into_bound(py)));
        }
    }
}

/// Sets `future`'s result to `value(py, &item)` unless it is done (cancelled); gives `item`
/// back then.
fn resolve<T>(
    py: Python<'_>,
    future: &Py<PyAny>,
    item: T,
    value: impl for<'py> FnOnce(Python<'py>, &T) -> PyResult<Bound<'py, PyAny>>,
) -> Result<(), T> {
    let future = future.bind(py);
    let done = future
        .call_method0(pyo3::intern!(py, "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true);
    if done {
        return Err(item);
    }
    let set =
        value(py, &item).and_then(|v| future.call_method1(pyo3::intern!(py, "set_result"), (v,)));
    if let Err(err) = set {
        err.print(py);
    }
    Ok(())
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

    /// Refuses the handshake with `response` (an `HttpResponse`, a `403` or an error's).
    /// `False` if it was answered already.
    fn answer(&self, py: Python<'_>, response: &Bound<'_, PyAny>) -> PyResult<bool> {
        let res = to_response(py, response)?;
        Ok(self.reply(py, res))
    }

    /// The next message: the event at once if one is queued, else `None`, after keeping
    /// `future` (an asyncio future of the loop), if given, to resolve with it.
    #[pyo3(signature = (future=None))]
    fn receive<'py>(
        &self,
        py: Python<'py>,
        future: Option<Py<PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut state = lock(&self.session.state);
        match state.incoming.pop_front() {
            Some(event) => {
                drop(state);
                self.session.received_taken(event.len());
                event_object(py, &event).map(Some)
            }
            None => {
                if future.is_some() {
                    state.receiver = future;
                }
                Ok(None)
            }
        }
    }

    /// Sends text (a `str`) or binary (`bytes`) data: `0` sent, `1` no room yet (`future`
    /// resolves when there is: send again then), `2` the connection is gone.
    fn send(&self, data: &Bound<'_, PyAny>, future: Py<PyAny>) -> PyResult<u8> {
        let message = if let Ok(text) = data.cast::<PyString>() {
            Out::Text(text.to_str()?.to_owned())
        } else {
            Out::Binary(Bytes::copy_from_slice(data.extract::<&[u8]>()?))
        };
        let session = &self.session;
        if session.gone.load(Ordering::Acquire) {
            return Ok(2);
        }
        if session.pending.load(Ordering::Acquire) > HIGH_WATER {
            let mut state = lock(&session.state);
            // Checked again under the lock the connection's task takes after each write.
            if session.pending.load(Ordering::Acquire) > HIGH_WATER
                && !session.gone.load(Ordering::Acquire)
            {
                state.sender = Some(future);
                return Ok(1);
            }
        }
        Ok(self.push(message))
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

impl Socket {
    fn reply(&self, py: Python<'_>, res: Response) -> bool {
        let Some(reply) = lock(&self.reply).take() else {
            return false;
        };
        send_soon(py, reply, res);
        true
    }

    fn push(&self, message: Out) -> u8 {
        let len = message.len();
        let out = lock(&self.out);
        let Some(tx) = out.as_ref() else {
            return 2;
        };
        self.session.pending.fetch_add(len, Ordering::AcqRel);
        if tx.send(message).is_err() {
            self.session.pending.fetch_sub(len, Ordering::AcqRel);
            return 2;
        }
        0
    }
}

/// Why a request to a WebSocket route is not a handshake this server takes, as the status
/// and message of its answer; `None` for a good one.
fn refusal<B>(req: &Request<B>) -> Option<(StatusCode, &'static str)> {
    let has_token = |name, token: &str| {
        req.headers().get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if req.method() != Method::GET || req.version() != Version::HTTP_11 {
        return Some((
            StatusCode::BAD_REQUEST,
            "WebSocket handshake expected: GET over HTTP/1.1",
        ));
    }
    if !has_token(UPGRADE, "websocket") || !has_token(CONNECTION, "upgrade") {
        return Some((
            StatusCode::BAD_REQUEST,
            "WebSocket handshake expected: Upgrade: websocket and Connection: upgrade",
        ));
    }
    if req
        .headers()
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Some((
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket version 13 expected",
        ));
    }
    if req.headers().get(SEC_WEBSOCKET_KEY).is_none() {
        return Some((StatusCode::BAD_REQUEST, "Sec-WebSocket-Key missing"));
    }
    None
}

/// `{"detail": message}` with `status`.
fn detail(status: StatusCode, message: &'static str) -> Response {
    let body = format!(r#"{{"detail":"{message}"}}"#);
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::UPGRADE_REQUIRED {
        res.headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    }
    res
}

/// A WebSocket route's endpoint: checks the handshake, hands the request and its [`Socket`]
/// to the Python thread, and answers with what the handler answered the handshake with; on a
/// `101`, the connection's task carries the frames once hyper hands the connection over.
pub(crate) async fn endpoint<B>(
    queue: Arc<Queue>,
    sockets: Arc<Sockets>,
    (reply, rx): (Reply, oneshot::Receiver<Response>),
    route: usize,
    mut req: Request<B>,
) -> Response {
    if let Some((status, message)) = refusal(&req) {
        return detail(status, message);
    }
    let key = req.headers()[SEC_WEBSOCKET_KEY].clone();
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, _) = req.into_parts();
    let session = Session::new(Arc::clone(&queue));
    let (tx, out_rx) = mpsc::unbounded_channel();
    let socket = Socket {
        session: Arc::clone(&session),
        reply: Mutex::new(None),
        out: Mutex::new(Some(tx)),
    };
    queue.push(Msg::Request(Job {
        route,
        parts,
        body: Bytes::new(),
        reply,
        socket: Some(socket),
    }));
    let mut res = rx.await.unwrap_or_else(|_| {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    });
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        session.drained(0, true);
        return res;
    }
    let accept = derive_accept_key(key.as_bytes());
    let headers = res.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(accept) = HeaderValue::try_from(accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    tokio::spawn(run(session, sockets, on_upgrade, out_rx));
    res
}

/// The connection's task: frames in and out until either side closes.
async fn run(
    session: Arc<Session>,
    sockets: Arc<Sockets>,
    on_upgrade: hyper::upgrade::OnUpgrade,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    let _live = sockets.enter();
    let mut going = sockets.going.subscribe();
    if *going.borrow_and_update() {
        // The server began to stop as this connection was accepted: say so at once.
        going.mark_changed();
    }
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(_) => {
            // No connection to take over (a request sent without one, as in tests).
            session.deliver(Event::Closed(1006, String::new()));
            session.drained(0, true);
            return;
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = socket.split();
    let closed = loop {
        let room = session.room_to_receive();
        tokio::select! {
            // The handler caught up with what it was sent.
            _ = session.readable.notified(), if !room => {}
            frame = stream.next(), if room => match frame {
                Some(Ok(Message::Text(text))) => session.deliver(Event::Text(text.as_str().to_owned())),
                Some(Ok(Message::Binary(bytes))) => session.deliver(Event::Binary(bytes)),
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite queued the close in return; send it.
                    let _ = sink.flush().await;
                    break frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.as_str().to_owned()));
                }
                // Pings are answered by tungstenite; pongs and raw frames need nothing.
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    let code = match err {
                        tokio_tungstenite::tungstenite::Error::Capacity(_) => {
                            let _ = sink.send(Message::Close(Some(CloseFrame {
                                code: CloseCode::Size,
                                reason: "message too big".into(),
                            }))).await;
                            1009
                        }
                        _ => 1006,
                    };
                    break (code, String::new());
                }
                None => break (1006, String::new()),
            },
            // Only ever set to true (checked below for one set before this connection).
            _ = going.changed() => {
                closing(&mut sink, &mut stream, 1012, "server shutting down".to_owned()).await;
                break (1012, "server shutting down".to_owned());
            }
            message = out.recv() => {
                let (message, len) = match message {
                    Some(Out::Text(text)) => { let len = text.len(); (Message::text(text), len) }
                    Some(Out::Binary(bytes)) => { let len = bytes.len(); (Message::binary(bytes), len) }
                    Some(Out::Close(code, reason)) => {
                        closing(&mut sink, &mut stream, code, reason).await;
                        break (code, String::new());
                    }
                    // The handler returned without closing.
                    None => {
                        closing(&mut sink, &mut stream, 1000, String::new()).await;
                        break (1000, String::new());
                    }
                };
                let sent = sink.send(message).await;
                session.drained(len, false);
                if sent.is_err() {
                    break (1006, String::new());
                }
            }
        }
    };
    session.deliver(Event::Closed(closed.0, closed.1));
    session.drained(0, true);
}

type Sink =
    futures_util::stream::SplitSink<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, Message>;
type Stream = futures_util::stream::SplitStream<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>>;

/// Sends a close and waits (a while) for the client's in return, as RFC 6455 asks.
async fn closing(sink: &mut Sink, stream: &mut Stream, code: u16, reason: String) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    if sink.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(frame)) = stream.next().await {
            if frame.is_close() {
                break;
            }
        }
    })
    .await;
}
