//! WebSockets through armature-server: an axum app's `WebSocketUpgrade` route, behind
//! Armature's layers, served by `Server` over HTTP/1.1 (`Upgrade: websocket`, `101`), talked
//! to by a real WebSocket client (tokio-tungstenite) over a real socket.

use std::net::SocketAddr;
use std::time::Duration;

use armature_layers::cors::Cors;
use armature_layers::logger::Logger;
use armature_layers::request_id::RequestIdLayer;
use armature_server::Server;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tower::ServiceBuilder;

/// Echoes text frames upper-cased, until the client closes.
async fn echo(socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    while let Some(Ok(message)) = rx.next().await {
        let reply = match message {
            Message::Text(text) => Message::Text(text.to_uppercase().into()),
            Message::Close(_) => break,
            _ => continue,
        };
        if tx.send(reply).await.is_err() {
            break;
        }
    }
}

async fn upgrade(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(echo)
}

const HEAD_TIMEOUT: Duration = Duration::from_millis(200);

/// The axum app, Armature's layers around it, on armature-server; stopped by the sender.
fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (addr, stop, _) = start_server();
    (addr, stop)
}

/// [`start`], with the server's task.
fn start_server() -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), armature_server::ServerError>>,
) {
    let app = axum::Router::new()
        .route("/ws", get(upgrade))
        .route("/plain", get(|| async { "plain" }))
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(Logger::default())
                .layer(Cors::permissive()),
        );
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = server
        .shutdown_on_signals(false)
        // Short, so the test below can outlast it: an upgraded connection is no longer an
        // HTTP one, and no request-head clock may cut it.
        .header_read_timeout(HEAD_TIMEOUT)
        // Far longer than any test waits: a server that waited for its upgraded connections
        // would fail the shutdown test below rather than pass it late.
        .shutdown_timeout(Duration::from_secs(600))
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(server.serve(app));
    (addr, stop, task)
}

/// A plain HTTP/1.1 `GET path` on a new connection: the raw answer.
async fn plain_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    raw
}

#[tokio::test]
async fn an_axum_websocket_route_upgrades_through_armature_server_and_its_layers() {
    let (addr, _stop) = start();
    let (mut ws, res) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("the upgrade is accepted");
    assert_eq!(res.status(), 101);
    // The layers saw the upgrade request as any other: the response carries its request id.
    assert!(res.headers().contains_key("x-request-id"), "{res:?}");
    for text in ["hello", "second frame", "ünïcode"] {
        ws.send(ClientMessage::text(text)).await.unwrap();
        let reply = ws.next().await.expect("a reply").expect("a frame");
        assert_eq!(reply, ClientMessage::text(text.to_uppercase()));
    }
    // A large frame, past one read buffer.
    let big = "x".repeat(256 * 1024);
    ws.send(ClientMessage::text(big.clone())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply.into_text().unwrap().len(), big.len());
    // Quiet for longer than the server's header-read timeout: still open.
    tokio::time::sleep(HEAD_TIMEOUT * 4).await;
    ws.send(ClientMessage::text("still there")).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply, ClientMessage::text("STILL THERE"));
    ws.close(None).await.unwrap();

    // Plain requests are served beside it, on their own connections.
    let raw = plain_get(addr, "/plain").await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.ends_with("plain"), "{raw}");
}

#[tokio::test]
async fn several_websockets_stay_open_at_once_and_a_request_that_is_no_upgrade_is_refused() {
    let (addr, _stop) = start();
    let mut sockets = Vec::new();
    for _ in 0..8 {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        sockets.push(ws);
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        ws.send(ClientMessage::text(format!("socket {i}")))
            .await
            .unwrap();
    }
    for (i, ws) in sockets.iter_mut().enumerate().rev() {
        let reply = ws.next().await.unwrap().unwrap();
        assert_eq!(reply, ClientMessage::text(format!("SOCKET {i}")));
    }
    // A plain GET of the WebSocket route is axum's refusal, not a hang.
    let raw = plain_get(addr, "/ws").await;
    assert!(raw.starts_with("HTTP/1.1 4"), "{raw}");
}

#[tokio::test]
async fn graceful_shutdown_does_not_wait_for_upgraded_connections() {
    let (addr, stop, server) = start_server();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(ClientMessage::text("before")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        ClientMessage::text("BEFORE")
    );
    // The upgraded connection is the service's now (its task, its socket): the server stops
    // once its HTTP connections are done, and the WebSocket lives on with its task.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops without waiting for the WebSocket")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    ws.send(ClientMessage::text("after")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        ClientMessage::text("AFTER")
    );
}

/// The same with Armature's own router: a handler takes the connection with
/// `hyper::upgrade::on` and speaks WebSocket over it with tokio-tungstenite (axum's
/// `WebSocketUpgrade` does the same inside).
#[tokio::test]
async fn an_armature_router_handler_can_upgrade_with_hyper() {
    use armature_router::{IntoResponse, Router};
    use armature_server::RequestBody;
    use http::{header, Request, StatusCode};
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;

    async fn ws(mut req: Request<RequestBody>) -> armature_router::Response {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return (StatusCode::BAD_REQUEST, "not a WebSocket handshake").into_response();
        };
        let upgraded = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(upgraded.await.unwrap());
            let mut socket =
                tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None).await;
            while let Some(Ok(ClientMessage::Text(text))) = socket.next().await {
                let reply = ClientMessage::text(format!("router: {text}"));
                if socket.send(reply).await.is_err() {
                    break;
                }
            }
        });
        let accept = derive_accept_key(key.as_bytes());
        let headers = [
            (header::CONNECTION, "upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ];
        (StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
    }

    let router = Router::builder()
        .route("/ws", armature_router::get(ws))
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(router);
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = server
        .shutdown_on_signals(false)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    tokio::spawn(server.serve(app));
    let (mut socket, res) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    socket.send(ClientMessage::text("hi")).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        ClientMessage::text("router: hi")
    );
}
