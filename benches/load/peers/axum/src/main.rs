//! axum 0.8 peer: `axum::serve` on tokio's default multi-thread runtime.
//! With axum's `http2` feature, `axum::serve` uses hyper-util's auto builder,
//! so it answers HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the same port.

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

fn port() -> u16 {
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

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
        .route("/users/{id}", get(user));
    let addr = ("127.0.0.1", port());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    eprintln!("peer-axum listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
