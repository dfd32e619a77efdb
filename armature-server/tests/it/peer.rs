//! Every request carries the client's address as a `SocketAddr` extension, over both protocols.

use crate::common;

use std::convert::Infallible;
use std::net::SocketAddr;

use armature_server::{RequestBody, RuntimeMode};
use bytes::Bytes;
use common::{get, send_h1, send_h2, Running};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

fn peer_echo() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<RequestBody>| async move {
        let peer = req
            .extensions()
            .get::<SocketAddr>()
            .map_or("none".to_owned(), |p| p.to_string());
        Ok(Response::new(Full::new(Bytes::from(peer))))
    })
}

#[tokio::test]
async fn the_peer_address_is_in_the_request_extensions() {
    let server = Running::start_with(common::local_server(), peer_echo());

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    drop(stream);

    let mut h1 = common::h1_client(server.addr).await;
    let (status, body) = send_h1(&mut h1, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let peer: SocketAddr = body.parse().expect("a socket address, not `none`");
    assert_eq!(peer.ip(), local.ip());
    assert_ne!(peer.port(), server.addr.port());

    let mut h2 = common::h2_client(server.addr).await;
    let (status, body) = send_h2(&mut h2, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        body.parse::<SocketAddr>().unwrap(),
        peer,
        "another connection, another port"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn peer_addr_extension_false_leaves_requests_without_one() {
    let server = Running::start_with(
        common::local_server().peer_addr_extension(false),
        peer_echo(),
    );
    let mut h1 = common::h1_client(server.addr).await;
    assert_eq!(
        send_h1(&mut h1, get("/")).await,
        (StatusCode::OK, "none".to_owned())
    );
    let mut h2 = common::h2_client(server.addr).await;
    assert_eq!(
        send_h2(&mut h2, get("/")).await,
        (StatusCode::OK, "none".to_owned())
    );
    server.stop().await.unwrap();
}

/// `Server::run` builds its services apart from `serve` (one per worker runtime): the switch
/// holds there too, and the default still inserts the address.
#[test]
fn run_honours_peer_addr_extension_in_both_runtime_modes() {
    for runtime in [RuntimeMode::per_core(), RuntimeMode::multi_thread()] {
        for enabled in [true, false] {
            let server = common::local_server()
                .runtime(runtime)
                .peer_addr_extension(enabled);
            let addr = server.local_addr();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = server.with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            let running = std::thread::spawn(move || server.run(peer_echo()));
            let client = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let (status, body) = client.block_on(common::get_once(addr, "/"));
            assert_eq!(status, StatusCode::OK);
            if enabled {
                body.parse::<SocketAddr>()
                    .unwrap_or_else(|_| panic!("{runtime:?}: an address, got {body:?}"));
            } else {
                assert_eq!(body, "none", "{runtime:?}");
            }
            stop.send(()).unwrap();
            running.join().unwrap().unwrap();
        }
    }
}
