//! WebSocket routes (`@app.websocket(path)`): the handshake checked here, the handler run on
//! the Python thread with a [`Socket`] (see [`session`]), and the frames carried by
//! tokio-tungstenite on the connection hyper hands over after the `101` (see [`connection`]).
//!
//! The two threads meet as requests do (see `bridge`): a message from the client is queued in
//! the session and the handler's waiting tasks are woken through the job queue, on the
//! loop's thread; a message from the handler goes down a channel to the connection's task.
//! Both directions are bounded (`session::HIGH_WATER`).

mod connection;
mod session;

use std::sync::Arc;

use armature_router::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Version};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::bridge::{Job, Msg, Queue, Reply};
use crate::stack::detail;
use connection::{run, Ending};
pub(crate) use connection::{Pings, Sockets, CLOSING};
pub(crate) use session::{Session, Socket};

/// Why a request to a WebSocket route is not a handshake this server takes, as the status
/// and message of its answer; `None` for a good one.
fn refusal<B>(req: &Request<B>) -> Option<(StatusCode, &'static str)> {
    if req.method() != Method::GET || req.version() != Version::HTTP_11 {
        return Some((
            StatusCode::BAD_REQUEST,
            "WebSocket handshake expected: GET over HTTP/1.1",
        ));
    }
    if !is_upgrade(req) || !has_token(req, CONNECTION, "upgrade") {
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

/// Whether a field `name` of `req` lists `token` (comma-separated, any case).
fn has_token<B>(req: &Request<B>, name: HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Whether `req` asks for a WebSocket (`Upgrade: websocket`): a route serving both HTTP and
/// WebSocket on one path sends it to the WebSocket handler.
pub(crate) fn is_upgrade<B>(req: &Request<B>) -> bool {
    has_token(req, UPGRADE, "websocket")
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
        let mut res = detail(status, message);
        if status == StatusCode::UPGRADE_REQUIRED {
            res.headers_mut()
                .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        return res;
    }
    let key = req.headers()[SEC_WEBSOCKET_KEY].clone();
    let upgrade = hyper::upgrade::on(&mut req);
    let (parts, _) = req.into_parts();
    let session = Session::new(Arc::clone(&queue));
    let (tx, out) = mpsc::unbounded_channel();
    // Counted from now, and told of its end even if this future is dropped (the client left
    // before the answer) or the answer refuses.
    let live = sockets.enter();
    let ending = Ending::new(&session);
    queue.push(Msg::Request(Job {
        route,
        parts,
        body: Bytes::new(),
        reply,
        socket: Some(Socket::new(&session, tx)),
    }));
    let mut res = rx.await.unwrap_or_else(|_| {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    });
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        return res;
    }
    let accept = derive_accept_key(key.as_bytes());
    let headers = res.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(accept) = HeaderValue::try_from(accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    tokio::spawn(run(session, sockets, live, ending, upgrade, out));
    res
}
