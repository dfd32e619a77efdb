//! [`run`]: a WebSocket's connection task, from hyper's upgraded connection to the close, and
//! [`Sockets`], the connections of one server (told when it stops, waited for).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

use super::session::{Event, Out, Session};

/// The largest message (and frame) taken from a client: 16 MiB, uvicorn's `ws_max_size`.
/// A larger one closes the connection with `1009 Message Too Big`.
const MAX_MESSAGE: usize = 16 << 20;

/// How long a close waits for the client's close in return (and for room to send its own)
/// before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// How long a stopping server waits for its connections' closing handshakes.
pub(crate) const CLOSING: Duration = Duration::from_secs(4);

/// The close `run` reports when the server stops.
const SHUTTING_DOWN: (u16, &str) = (1012, "server shutting down");

/// Keep-alive, as uvicorn's `ws_ping_interval` / `ws_ping_timeout`: a ping every `interval`,
/// and a connection that has sent nothing for `interval + timeout` is closed (`1011`; no
/// `timeout`: never). `None`:
/// no pings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pings {
    pub(crate) interval: Duration,
    pub(crate) timeout: Option<Duration>,
}

/// The WebSocket connections of one server: told when it starts to shut down (each closes
/// with `1012 Service Restart`, as uvicorn's do), and waited for before it stops.
pub(crate) struct Sockets {
    going: watch::Sender<bool>,
    live: AtomicUsize,
    idle: Notify,
    pings: Option<Pings>,
}

impl Sockets {
    pub(crate) fn new(pings: Option<Pings>) -> Arc<Self> {
        Arc::new(Sockets {
            going: watch::channel(false).0,
            live: AtomicUsize::new(0),
            idle: Notify::new(),
            pings,
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

    /// A connection from now on (its handshake is being answered).
    pub(super) fn enter(self: &Arc<Self>) -> Live {
        self.live.fetch_add(1, Ordering::AcqRel);
        Live(Arc::clone(self))
    }
}

/// One open connection of [`Sockets`].
pub(super) struct Live(Arc<Sockets>);

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Tells the handler how the connection ended, whatever ends it: the end of [`run`], a
/// client gone before the `101`, or a runtime dropped with the task in it (`1006` unless
/// set otherwise).
pub(super) struct Ending {
    session: Arc<Session>,
    code: u16,
    reason: String,
}

impl Ending {
    pub(super) fn new(session: &Arc<Session>) -> Self {
        Ending {
            session: Arc::clone(session),
            code: 1006,
            reason: String::new(),
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        let reason = std::mem::take(&mut self.reason);
        self.session.deliver(Event::Closed(self.code, reason));
        self.session.drained(0, true);
    }
}

type Socket = WebSocketStream<TokioIo<Upgraded>>;
type Sink = SplitSink<Socket, Message>;
type Stream = SplitStream<Socket>;
/// A write in progress: it owns the sink and gives it back with the outcome and the cost
/// written (so reading, the server's shutdown and the keep-alive go on while a slow client
/// holds a write).
type Writing = Pin<Box<dyn Future<Output = (Sink, Result<(), Error>, usize)> + Send>>;

fn write(mut sink: Sink, message: Message, cost: usize) -> Writing {
    Box::pin(async move {
        let sent = sink.send(message).await;
        (sink, sent, cost)
    })
}

/// The connection's task: frames in and out until either side closes, the server stops,
/// or the client stops answering pings.
pub(super) async fn run(
    session: Arc<Session>,
    sockets: Arc<Sockets>,
    live: Live,
    mut ending: Ending,
    upgrade: OnUpgrade,
    mut out: mpsc::UnboundedReceiver<Out>,
) {
    let mut going = sockets.going.subscribe();
    let Ok(upgraded) = upgrade.await else {
        // No connection to take over (a request sent without one): `ending` says 1006.
        return;
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (sink, mut stream) = socket.split();
    let mut sink = Some(sink);
    let mut writing: Option<Writing> = None;
    let pings = sockets.pings;
    let mut ticks = tokio::time::interval(pings.map_or(Duration::from_secs(3600), |p| p.interval));
    ticks.reset();
    let mut heard = Instant::now();
    if *going.borrow_and_update() {
        // The server began to stop as this connection was accepted.
        going.mark_changed();
    }
    let (code, reason) = loop {
        let room = session.room_to_receive();
        tokio::select! {
            // The handler caught up with what it was sent: read again.
            _ = session.readable.notified(), if !room => {}
            frame = stream.next(), if room => {
                heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => session.deliver(Event::Text(text.as_str().to_owned())),
                    Some(Ok(Message::Binary(bytes))) => session.deliver(Event::Binary(bytes)),
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite queued the close in return: send it.
                        if let Some(sink) = sink.as_mut() {
                            let _ = tokio::time::timeout(CLOSE_WAIT, sink.flush()).await;
                        }
                        break frame.map_or((1005, String::new()), |f| {
                            (u16::from(f.code), f.reason.as_str().to_owned())
                        });
                    }
                    // Pings are answered by tungstenite; pongs and raw frames need nothing.
                    Some(Ok(_)) => {}
                    Some(Err(Error::Capacity(_))) => {
                        break closing(sink.take(), &mut stream, 1009, "message too big".to_owned()).await;
                    }
                    // A frame that breaks RFC 6455 (unmasked, reserved bits or opcodes, a bad
                    // control frame) fails the connection with `1002`; text that is not UTF-8
                    // with `1007` (RFC 6455 section 7.4.1): the client hears why.
                    Some(Err(Error::Protocol(_))) => {
                        break closing(sink.take(), &mut stream, 1002, "protocol error".to_owned()).await;
                    }
                    Some(Err(Error::Utf8(_))) => {
                        break closing(sink.take(), &mut stream, 1007, "invalid UTF-8 in a text message".to_owned()).await;
                    }
                    Some(Err(_)) | None => break (1006, String::new()),
                }
            }
            (returned, sent, cost) = async { writing.as_mut().expect("guarded").await }, if writing.is_some() => {
                writing = None;
                sink = Some(returned);
                session.drained(cost, false);
                if sent.is_err() {
                    break (1006, String::new());
                }
            }
            message = out.recv(), if writing.is_none() => {
                let Some(idle) = sink.take() else { break (1006, String::new()) };
                let (message, cost) = match message {
                    Some(message @ (Out::Text(_) | Out::Binary(_))) => {
                        let cost = message.cost();
                        let frame = match message {
                            Out::Text(text) => Message::text(text),
                            Out::Binary(bytes) => Message::binary(bytes),
                            Out::Close(..) => unreachable!("matched above"),
                        };
                        (frame, cost)
                    }
                    Some(Out::Close(code, reason)) => {
                        break closing(Some(idle), &mut stream, code, reason).await;
                    }
                    // The handler returned without closing.
                    None => break closing(Some(idle), &mut stream, 1000, String::new()).await,
                };
                writing = Some(write(idle, message, cost));
            }
            _ = going.changed() => {
                let (code, reason) = SHUTTING_DOWN;
                break closing(sink.take(), &mut stream, code, reason.to_owned()).await;
            }
            _ = ticks.tick(), if pings.is_some() => {
                let Some(pings) = pings else { continue };
                let silent = pings.timeout.is_some_and(|t| heard.elapsed() > pings.interval + t);
                if room && silent {
                    break closing(sink.take(), &mut stream, 1011, "keepalive ping timeout".to_owned()).await;
                }
                if let Some(idle) = sink.take() {
                    writing = Some(write(idle, Message::Ping(Default::default()), 0));
                }
            }
        }
    };
    ending.code = code;
    ending.reason = reason;
    // The handler hears of the end before the server counts the connection closed.
    drop(ending);
    drop(live);
}

/// Sends a close and waits (a while) for the client's in return, as RFC 6455 asks; gives
/// the close the handler hears of. Without the sink (a write to a client that reads nothing
/// holds it) the connection is just dropped.
async fn closing(
    sink: Option<Sink>,
    stream: &mut Stream,
    code: u16,
    reason: String,
) -> (u16, String) {
    let Some(mut sink) = sink else {
        return (code, reason);
    };
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.clone().into(),
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if sink.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(frame)) = stream.next().await {
            if frame.is_close() {
                break;
            }
        }
    })
    .await;
    (code, reason)
}
