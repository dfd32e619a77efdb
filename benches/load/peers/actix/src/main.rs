//! actix-web 4 peer: the default `HttpServer` (workers = available CPUs, so one
//! under `taskset -c 0`). `bind_auto_h2c` sniffs the connection preface and
//! serves HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the same port.

use actix_web::{get, http::header::ContentType, web, App, HttpResponse, HttpServer};
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

#[get("/plaintext")]
async fn plaintext() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType(mime_text_plain()))
        .body("Hello, World!")
}

fn mime_text_plain() -> actix_web::mime::Mime {
    // bare "text/plain" (no charset parameter), the same as the other servers
    "text/plain".parse().unwrap()
}

#[get("/json")]
async fn json() -> HttpResponse {
    let body = serde_json::to_vec(&Message { message: "Hello, World!" }).unwrap();
    HttpResponse::Ok().content_type(ContentType::json()).body(body)
}

#[get("/users/{id}")]
async fn user(id: web::Path<String>) -> HttpResponse {
    let body = serde_json::to_vec(&User { id: &id, name: "Alice" }).unwrap();
    HttpResponse::Ok().content_type(ContentType::json()).body(body)
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

#[actix_web::main]
#[allow(deprecated)] // bind_auto_h2c is deprecated from 4.19 on (h2c detection becomes bind()'s default)
async fn main() -> std::io::Result<()> {
    let port = port();
    eprintln!("peer-actix listening on 127.0.0.1:{port}");
    HttpServer::new(|| App::new().service(plaintext).service(json).service(user))
        .tcp_nodelay(true)
        .bind_auto_h2c(("127.0.0.1", port))?
        .run()
        .await
}
