//! axum 0.8 peers: the three benchmark routes, and serving a router with `axum::serve` on
//! tokio's default multi-thread runtime. With axum's `http2` feature, `axum::serve` uses
//! hyper-util's auto builder, so it answers HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the
//! same port. `peer-axum` serves the routes alone, `peer-axum-stack` behind the tower-http /
//! tower_governor / axum-prometheus equivalent of Armature's preset stack.

use axum::{
    extract::Path,
    http::header::CONTENT_TYPE,
    response::IntoResponse,
    routing::get,
    serve::{Listener, ListenerExt},
    Json, Router,
};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct User {
    id: String,
    name: &'static str,
}

async fn plaintext() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain")], "Hello, World!")
}

async fn json() -> Json<Message> {
    Json(Message { message: "Hello, World!" })
}

async fn user(Path(id): Path<String>) -> Json<User> {
    Json(User { id, name: "Alice" })
}

/// `GET /plaintext`, `GET /json`, `GET /users/{id}`.
pub fn routes() -> Router {
    Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
        .route("/users/{id}", get(user))
}

/// `--port N`, `--port=N` or `PORT`, else 3000.
pub fn port() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--port" {
            return args.next().and_then(|p| p.parse().ok()).expect("--port N");
        }
        if let Some(p) = a.strip_prefix("--port=") {
            return p.parse().expect("--port=N");
        }
    }
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000)
}

/// Serves `app` on 127.0.0.1:`port()`, with TCP_NODELAY, until the process ends; with each
/// client's address in the request (`ConnectInfo`) if `connect_info`, for layers keyed on it.
pub async fn serve(name: &str, app: Router, connect_info: bool) {
    let addr = ("127.0.0.1", port());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    eprintln!("{name} listening on {}", listener.local_addr().unwrap());
    if connect_info {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    } else {
        axum::serve(listener, app).await.unwrap();
    }
}
