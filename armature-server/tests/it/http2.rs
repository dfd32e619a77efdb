//! HTTP/2 with prior knowledge (h2c) on the same port as HTTP/1.1, using
//! hyper's own HTTP/2 client over a real socket.

use crate::common;

use bytes::Bytes;
use common::{send_h2, Running};
use http::{Request, StatusCode, Version};
use http_body_util::Full;

fn h2_get(path: &str) -> Request<Full<Bytes>> {
    // No Host header: HTTP/2 carries the authority in `:authority`.
    Request::get(format!("http://localhost{path}"))
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn serves_h2c_prior_knowledge() {
    let server = Running::start(common::local_server());
    let mut client = common::h2_client(server.addr).await;
    client.ready().await.unwrap();
    let res = client.send_request(h2_get("/hello")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.headers()["x-version"], "HTTP/2.0");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http1_and_http2_share_the_port() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    assert_eq!(
        send_h2(&mut h2, h2_get("/2")).await,
        (StatusCode::OK, "GET /2 0".to_owned())
    );
    let (status, body) = common::get_once(server.addr, "/1").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "GET /1 0"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn multiplexes_concurrent_streams() {
    let server = Running::start(common::local_server());
    let client = common::h2_client(server.addr).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            send_h2(&mut client, h2_get(&format!("/{i}"))).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), (StatusCode::OK, format!("GET /{i} 0")));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn delivers_request_bodies() {
    let server = Running::start(common::local_server());
    let mut client = common::h2_client(server.addr).await;
    let req = Request::post("http://localhost/upload")
        .body(Full::new(Bytes::from(vec![b'x'; 100_000])))
        .unwrap();
    assert_eq!(
        send_h2(&mut client, req).await,
        (StatusCode::OK, "POST /upload 100000".to_owned())
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_stream_limit_queues_rather_than_fails() {
    let server = Running::start(common::local_server().http2_max_concurrent_streams(2));
    let mut client = common::h2_client(server.addr).await;
    // Once a response is in, the client has the server's SETTINGS and
    // respects the limit by queueing; a client that ignores it gets
    // REFUSED_STREAM for the excess streams.
    assert_eq!(
        send_h2(&mut client, h2_get("/warm-up")).await.0,
        StatusCode::OK
    );
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            send_h2(&mut client, h2_get("/slow")).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().0, StatusCode::OK);
    }
    server.stop().await.unwrap();
}

/// hyper drops the body of a `HEAD` answer over HTTP/1.1 only; over HTTP/2 it sent it, and
/// clients failed the stream. The server drops it on both, keeping the length it would have had.
#[tokio::test]
async fn head_answers_carry_no_body_and_keep_their_length() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    let mut h1 = common::h1_client(server.addr).await;
    for (version, res) in head_both_ways(&mut h2, &mut h1, "/abc").await {
        assert_eq!(res.status(), StatusCode::OK, "{version:?}");
        // The echo service's body would be "HEAD /abc 0": eleven bytes.
        assert_eq!(
            res.headers()[http::header::CONTENT_LENGTH],
            "11",
            "{version:?}"
        );
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(body.is_empty(), "{version:?}: {body:?}");
    }
    // The connections still serve.
    assert_eq!(send_h2(&mut h2, h2_get("/after")).await.0, StatusCode::OK);
    server.stop().await.unwrap();
}

/// RFC 9113 §8.3.1: a `Host` header sent beside `:authority` must agree with it.
#[tokio::test]
async fn a_host_header_that_disagrees_with_the_authority_is_refused() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    let with_host = |host: &str| {
        Request::get("http://a.example/x")
            .header(http::header::HOST, host)
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    let (status, body) = send_h2(&mut h2, with_host("b.example")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("disagrees with :authority"), "{body}");
    // The same host (in any case), or none, is served.
    let mut h2 = common::h2_client(server.addr).await;
    assert_eq!(
        send_h2(&mut h2, with_host("A.example")).await.0,
        StatusCode::OK
    );
    // The scheme's default port names the same host (`http` here: `:80`); another does not.
    assert_eq!(
        send_h2(&mut h2, with_host("a.example:80")).await.0,
        StatusCode::OK
    );
    assert_eq!(send_h2(&mut h2, h2_get("/x")).await.0, StatusCode::OK);
    let mut h2 = common::h2_client(server.addr).await;
    assert_eq!(
        send_h2(&mut h2, with_host("a.example:8080")).await.0,
        StatusCode::BAD_REQUEST
    );
    server.stop().await.unwrap();
}

/// A `HEAD` the server refuses itself (here a `Host` at odds with `:authority`) gets its
/// `400` without a body, as any `HEAD` answer: with one, the client failed the stream with
/// a protocol error and never saw the status. Over HTTP/1.1 too, with the length it would
/// have had.
#[tokio::test]
async fn a_refused_head_request_gets_its_status_and_no_body() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    let head = Request::head("http://a.example/x")
        .header(http::header::HOST, "b.example")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(
        send_h2(&mut h2, head).await,
        (StatusCode::BAD_REQUEST, String::new())
    );
    let get = Request::get("http://a.example/x")
        .header(http::header::HOST, "b.example")
        .body(Full::<Bytes>::default())
        .unwrap();
    let (status, body) = send_h2(&mut h2, get).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let exchange = common::raw_exchange(server.addr, b"HEAD /x HTTP/1.1\r\n\r\n").await;
    let text = String::from_utf8_lossy(&exchange.bytes).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 400 "), "{text}");
    assert!(
        text.contains(&format!(
            "content-length: {}\r\n",
            "Bad Request: missing Host header\n".len()
        )),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "no body expected: {text}");
    assert!(body.contains("disagrees with :authority"), "{body}");
    server.stop().await.unwrap();
}

/// RFC 9113 §8.3.1: `:authority` has `Host`'s grammar (no userinfo): one that breaks it is
/// refused, as a `Host` header that does; the connection still serves.
#[tokio::test]
async fn an_invalid_authority_is_refused() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    for uri in ["http://user@a.example/x", "http://a.example:port/x"] {
        let req = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
        let (status, body) = send_h2(&mut h2, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains("invalid :authority"), "{uri}: {body}");
    }
    assert_eq!(send_h2(&mut h2, h2_get("/x")).await.0, StatusCode::OK);
    server.stop().await.unwrap();
}

/// RFC 9113 §8.2.3: HTTP/2 clients (browsers among them) may send each cookie in a `Cookie`
/// field of its own; the service sees them joined into one, so `headers().get(COOKIE)` holds
/// every cookie.
#[tokio::test]
async fn cookie_fields_reach_the_service_as_one() {
    let server = Running::start(common::local_server());
    let mut h2 = common::h2_client(server.addr).await;
    let req = Request::get("http://localhost/cookies")
        .header(http::header::COOKIE, "a=1")
        .header(http::header::COOKIE, "b=2; c=3")
        .header(http::header::COOKIE, "d=4")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(
        send_h2(&mut h2, req).await,
        (StatusCode::OK, "a=1; b=2; c=3; d=4".to_owned())
    );
    // One field is passed as it came (no separator added or removed).
    let req = Request::get("http://localhost/cookies")
        .header(http::header::COOKIE, "a=1;b=2")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(
        send_h2(&mut h2, req).await,
        (StatusCode::OK, "a=1;b=2".to_owned())
    );
    server.stop().await.unwrap();
}

/// A `HEAD` answer whose service emptied the body itself (a router answering from a
/// streamed `GET` route, whose length nobody knows) gets no `Content-Length`: a `0` there
/// would tell the client the `GET` answer is empty (RFC 9110 §8.6).
#[tokio::test]
async fn an_emptied_head_answer_claims_no_length() {
    let service = tower::service_fn(|req: Request<armature_server::RequestBody>| async move {
        let body = if req.method() == http::Method::HEAD {
            Full::new(Bytes::new())
        } else {
            Full::new(Bytes::from_static(b"streamed"))
        };
        Ok::<_, std::convert::Infallible>(http::Response::new(body))
    });
    let server = Running::start_with(common::local_server(), service);
    let mut h2 = common::h2_client(server.addr).await;
    let mut h1 = common::h1_client(server.addr).await;
    for (version, res) in head_both_ways(&mut h2, &mut h1, "/s").await {
        assert_eq!(res.status(), StatusCode::OK, "{version:?}");
        assert_eq!(
            res.headers().get(http::header::CONTENT_LENGTH),
            None,
            "{version:?}"
        );
    }
    server.stop().await.unwrap();
}

/// A `HEAD` of `path` over HTTP/2 and over HTTP/1.1 (the same connections each call), with the
/// version each answer came over.
async fn head_both_ways(
    h2: &mut common::H2,
    h1: &mut common::H1,
    path: &str,
) -> Vec<(Version, http::Response<hyper::body::Incoming>)> {
    let head = |uri: String| {
        Request::head(uri)
            .header(http::header::HOST, "localhost")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    h2.ready().await.unwrap();
    let over_h2 = h2
        .send_request(head(format!("http://localhost{path}")))
        .await
        .unwrap();
    h1.ready().await.unwrap();
    let over_h1 = h1.send_request(head(path.to_owned())).await.unwrap();
    vec![(Version::HTTP_2, over_h2), (Version::HTTP_11, over_h1)]
}
