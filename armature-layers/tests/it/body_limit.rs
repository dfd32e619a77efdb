//! Body limits are tower-http's `RequestBodyLimitLayer`, which does the job well: Armature
//! does not write its own. These tests prove it in an Armature stack over real sockets: a
//! declared length over the limit is refused before the handler runs, and a chunked body that
//! grows past it makes `Json` answer `413` as it reads.

use armature_router::{post, Json, Router};
use armature_server::{RequestBody, Server};
use http::{Request, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceBuilder;
use tower_http::body::Limited;
use tower_http::limit::RequestBodyLimitLayer;

use crate::conn;
use conn::Conn;

const LIMIT: usize = 64;

async fn start() -> std::net::SocketAddr {
    let router = Router::builder()
        .route(
            "/echo",
            post(|req: Request<Limited<RequestBody>>| async move {
                match Json::<Value>::from_request(req).await {
                    Ok(Json(value)) => Ok(Json(value)),
                    Err(rejection) => Err(rejection),
                }
            }),
        )
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(RequestBodyLimitLayer::new(LIMIT))
        .service(router);
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.shutdown_on_signals(false).serve(app));
    addr
}

#[tokio::test]
async fn a_body_within_the_limit_reaches_the_handler() {
    let addr = start().await;
    let mut conn = Conn::open(addr).await;
    let (status, body) = conn
        .send(
            "POST",
            "/echo",
            "content-type: application/json\r\n",
            r#"{"a":1}"#,
        )
        .await;
    assert_eq!((status, body.as_str()), (200, r#"{"a":1}"#));
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_a_413_before_the_handler() {
    let addr = start().await;
    let mut conn = Conn::open(addr).await;
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(LIMIT));
    let (status, body) = conn
        .send("POST", "/echo", "content-type: application/json\r\n", &big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE.as_u16());
    assert_eq!(body, "length limit exceeded");
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_makes_json_answer_413() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let chunk = "x".repeat(40);
    let request = format!(
        "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         28\r\n{chunk}\r\n28\r\n{chunk}\r\n0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    // The limit that cut in is tower-http's (64 bytes), not `Json`'s own (2 MiB).
    assert!(
        answer.ends_with("\r\n\r\nrequest body is larger than the server accepts"),
        "{answer}"
    );
}
