//! Raw hyper 1.x peer: a hand-written match on the path, served by hyper-util's
//! auto builder (HTTP/1.1 and HTTP/2 prior knowledge on the same port) on
//! tokio's default multi-thread runtime.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    header::{HeaderValue, CONTENT_TYPE},
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct User<'a> {
    id: &'a str,
    name: &'static str,
}

fn respond(content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET {
        let mut res = Response::new(Full::default());
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return Ok(res);
    }
    let path = req.uri().path();
    let res = match path {
        "/plaintext" => respond("text/plain", Bytes::from_static(b"Hello, World!")),
        "/json" => respond(
            "application/json",
            serde_json::to_vec(&Message { message: "Hello, World!" }).unwrap(),
        ),
        _ => match path.strip_prefix("/users/") {
            Some(id) if !id.is_empty() && !id.contains('/') => respond(
                "application/json",
                serde_json::to_vec(&User { id, name: "Alice" }).unwrap(),
            ),
            _ => {
                let mut res = Response::new(Full::default());
                *res.status_mut() = StatusCode::NOT_FOUND;
                res
            }
        },
    };
    Ok(res)
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
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port()))
        .await
        .expect("bind");
    eprintln!("peer-hyper listening on {}", listener.local_addr().unwrap());
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
