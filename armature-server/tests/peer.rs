//! Every request carries the client's address as a `SocketAddr` extension, over both protocols.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use armature_server::RequestBody;
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
