//! Malformed HTTP/3 request heads and bodies (RFC 9114 §4.1.2, §4.2,
//! §4.3.1), sent byte by byte with a raw QUIC client: what h3 itself
//! refuses (stream reset with `H3_MESSAGE_ERROR`), what the server refuses
//! on top, as it does over HTTP/1 and HTTP/2 (`400` naming the reason), and
//! `Content-Length` held against the DATA frames. After each, the same
//! connection still serves.

use crate::common;

use armature_server::RequestBody;
use bytes::{Bytes, BytesMut};
use common::h3::{dev_cert, h3_server};
use common::h3raw::{self, Outcome, Raw};
use common::Running;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};

type Head = Vec<(&'static [u8], Vec<u8>)>;

/// Answers `"{host headers} {body length}"`; a body that fails to read is
/// the service's error, as with a handler using `?`.
fn service() -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = armature_server::BodyError,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: Request<RequestBody>| async move {
        let hosts = req.headers().get_all("host").iter().count();
        let body = req.into_body().collect().await?.to_bytes();
        Ok(Response::new(Full::new(Bytes::from(format!(
            "{hosts} {}",
            body.len()
        )))))
    })
}

fn get() -> Head {
    h3raw::get_head("/")
}

fn post() -> Head {
    let mut head = get();
    head[0].1 = b"POST".to_vec();
    head
}

fn with(mut head: Head, name: &'static [u8], value: &str) -> Head {
    head.push((name, value.as_bytes().to_vec()));
    head
}

fn without(head: Head, name: &[u8]) -> Head {
    head.into_iter().filter(|(n, _)| *n != name).collect()
}

fn request(head: &Head, body: &[&[u8]]) -> Bytes {
    let refs: Vec<(&[u8], &[u8])> = head.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let mut bytes = BytesMut::from(&h3raw::headers(&refs)[..]);
    for data in body {
        bytes.extend_from_slice(&h3raw::frame(h3raw::DATA, data));
    }
    bytes.freeze()
}

/// The status and body of an answer (panics on anything else).
fn answer(outcome: &Outcome) -> (u16, String) {
    let Outcome::Answered(bytes) = outcome else {
        panic!("no answer: {outcome:?}");
    };
    let status = outcome.status().expect("a status");
    let body = String::from_utf8_lossy(&h3raw::body_of(bytes)).into_owned();
    (status, body)
}

async fn still_serves(raw: &Raw) {
    let outcome = h3raw::exchange(raw, &request(&get(), &[])).await;
    assert_eq!(answer(&outcome), (200, "0 0".to_owned()));
}

#[tokio::test]
async fn heads_h3_finds_malformed_reset_the_stream_with_h3_message_error() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let cases: Vec<(&str, Head)> = vec![
        ("no :authority and no Host", without(get(), b":authority")),
        ("Host disagreeing", with(get(), b"host", "other.example")),
        ("no :method", without(get(), b":method")),
        ("no :scheme", without(get(), b":scheme")),
        ("no :path", without(get(), b":path")),
        ("unknown pseudo-header", with(get(), b":protocol-x", "1")),
        ("uppercase field name", with(get(), b"X-Upper", "1")),
    ];
    for (case, head) in cases {
        let outcome = h3raw::exchange(&raw, &request(&head, &[])).await;
        assert_eq!(outcome, Outcome::Reset(h3raw::H3_MESSAGE_ERROR), "{case}");
    }
    still_serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heads_http_forbids_get_a_400_naming_the_reason() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let host_only = |host: &str| with(without(get(), b":authority"), b"host", host);
    let cases: Vec<(Head, &str)> = vec![
        (
            with(with(get(), b"host", "localhost"), b"host", "evil.example"),
            "more than one Host header",
        ),
        (host_only("user@localhost"), "invalid :authority"),
        (
            {
                let mut head = get();
                head[2].1 = b"user@localhost".to_vec();
                head
            },
            "invalid :authority",
        ),
        (
            with(get(), b"connection", "keep-alive"),
            "connection-specific header field",
        ),
        (
            with(post(), b"transfer-encoding", "chunked"),
            "connection-specific header field",
        ),
        (
            with(get(), b"upgrade", "websocket"),
            "connection-specific header field",
        ),
        (
            with(get(), b"keep-alive", "timeout=5"),
            "connection-specific header field",
        ),
        (
            with(get(), b"te", "gzip"),
            "TE header other than \"trailers\"",
        ),
        (
            with(post(), b"content-length", "5x"),
            "invalid Content-Length",
        ),
        (
            with(post(), b"content-length", "-1"),
            "invalid Content-Length",
        ),
        (
            with(with(post(), b"content-length", "5"), b"content-length", "6"),
            "conflicting Content-Length values",
        ),
    ];
    for (head, reason) in cases {
        let outcome = h3raw::exchange(&raw, &request(&head, &[b"hello"])).await;
        assert_eq!(
            answer(&outcome),
            (400, format!("Bad Request: {reason}\n")),
            "{head:?}"
        );
    }
    still_serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heads_that_are_fine_are_served() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let cases: Vec<(Head, &str)> = vec![
        (with(get(), b"host", "localhost"), "1 0"),
        (
            with(without(get(), b":authority"), b"host", "localhost:443"),
            "1 0",
        ),
        (with(get(), b"te", "trailers"), "0 0"),
        (with(post(), b"content-length", "10"), "0 10"),
        (
            with(
                with(post(), b"content-length", "10"),
                b"content-length",
                "10",
            ),
            "0 10",
        ),
    ];
    for (head, expected) in cases {
        let outcome = h3raw::exchange(&raw, &request(&head, &[b"hello", b"world"])).await;
        let expected = if head[0].1 == b"GET" {
            // A GET here carries the body too; the service reads it.
            expected.replace(" 0", " 10")
        } else {
            expected.to_owned()
        };
        assert_eq!(answer(&outcome), (200, expected), "{head:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_disagreeing_with_its_content_length_never_reads_as_complete() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    // Longer than declared, in one frame or over two; shorter; none at all.
    for (declared, body) in [
        ("4", &[&b"hello"[..]][..]),
        ("5", &[&b"hel"[..], &b"lo!"[..]][..]),
        ("10", &[&b"hello"[..]][..]),
        ("1", &[][..]),
    ] {
        let head = with(post(), b"content-length", declared);
        let outcome = h3raw::exchange(&raw, &request(&head, body)).await;
        // The service's body read failed and it returned that error: the server answers
        // 400 for a body it could not read. (Without the check it read the bytes as a
        // complete body: 200.)
        let (status, _) = answer(&outcome);
        assert_eq!(status, 400, "content-length {declared}, {body:?}");
    }
    let head = with(post(), b"content-length", "5");
    let outcome = h3raw::exchange(&raw, &request(&head, &[b"he", b"llo"])).await;
    assert_eq!(answer(&outcome), (200, "0 5".to_owned()));
    still_serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn head_gets_the_length_and_no_body() {
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), common::ok_service());
    let client = common::h3::h3_connect(server.addr, cert.cert_der()).await;
    let url = format!("https://localhost:{}/", server.addr.port());
    let get = client
        .request(Request::get(&url).body(()).unwrap(), Bytes::new(), None)
        .await
        .unwrap();
    assert_eq!((get.status.as_u16(), &get.body[..]), (200, &b"ok"[..]));
    assert_eq!(get.headers["content-length"], "2");
    let head = client
        .request(Request::head(&url).body(()).unwrap(), Bytes::new(), None)
        .await
        .unwrap();
    assert_eq!(head.status.as_u16(), 200);
    assert!(head.body.is_empty(), "{:?}", head.body);
    assert_eq!(head.headers["content-length"], "2");
    server.stop().await.unwrap();
}

/// A `HEAD` answer whose service emptied the body itself (a router answering from a
/// streamed `GET` route, whose length nobody knows) gets no `Content-Length`, as over
/// HTTP/1.1 and HTTP/2 (`http2::an_emptied_head_answer_claims_no_length`): a `0` there tells
/// the client the `GET` answer is empty (RFC 9110 §8.6).
#[tokio::test]
async fn an_emptied_head_answer_claims_no_length() {
    let service = tower::service_fn(|req: Request<RequestBody>| async move {
        let body = if req.method() == http::Method::HEAD {
            Full::new(Bytes::new())
        } else {
            Full::new(Bytes::from_static(b"streamed"))
        };
        Ok::<_, std::convert::Infallible>(Response::new(body))
    });
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service);
    let client = common::h3::h3_connect(server.addr, cert.cert_der()).await;
    let url = format!("https://localhost:{}/", server.addr.port());
    let head = client
        .request(Request::head(&url).body(()).unwrap(), Bytes::new(), None)
        .await
        .unwrap();
    assert_eq!(head.status.as_u16(), 200);
    assert!(head.body.is_empty(), "{:?}", head.body);
    assert_eq!(head.headers.get("content-length"), None);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_overrunning_its_content_length_on_a_stream_left_open_is_answered() {
    // The client does not finish its stream, so the server's next read is
    // pending when it finds the body too long, and stops the stream then:
    // h3-quinn panicked the request's task on that (the client got no
    // answer at all), which the stream wrapper now prevents.
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let head = with(post(), b"content-length", "4");
    let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
    send.write_all(&request(&head, &[b"hello"])).await.unwrap();
    let outcome = h3raw::read_outcome(&mut recv).await;
    assert_eq!(answer(&outcome).0, 400, "{outcome:?}");
    drop(send);
    still_serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_with_empty_data_frames_reads_whole() {
    // RFC 9114 allows empty DATA frames; h3 0.0.8 took one for the end of
    // the body and closed the connection (H3_FRAME_UNEXPECTED) at the DATA
    // frame after it.
    let cert = dev_cert();
    let server = Running::start_with(h3_server(&cert), service());
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let bodies: [&[&[u8]]; 4] = [
        &[b"abc", b"", b"def"],
        &[b"", b"abcdef"],
        &[b"abcdef", b""],
        &[b"", b"", b"ab", b"", b"cdef", b""],
    ];
    for body in bodies {
        let outcome = h3raw::exchange(&raw, &request(&post(), body)).await;
        assert_eq!(answer(&outcome), (200, "0 6".to_owned()), "{body:?}");
    }
    // With a declared length too.
    let head = with(post(), b"content-length", "6");
    let outcome = h3raw::exchange(&raw, &request(&head, &[b"abc", b"", b"def"])).await;
    assert_eq!(answer(&outcome), (200, "0 6".to_owned()));
    still_serves(&raw).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bodies_of_many_frames_with_empty_ones_among_them_echo_byte_exact() {
    // Frames of varied sizes, empty ones among them, written in pieces of
    // varied sizes so frame headers fall across the server's reads.
    let cert = dev_cert();
    let (started, _started) = tokio::sync::mpsc::unbounded_channel();
    let server = Running::start_with(h3_server(&cert), common::h3::service(1, started));
    let raw = h3raw::connect(server.addr, cert.cert_der()).await;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound) as usize
    };
    for round in 0..5 {
        let body = common::h3::pattern(300_000 + round * 7);
        let mut head = post();
        head[3].1 = b"/echo".to_vec();
        let mut wire = BytesMut::from(&request(&head, &[])[..]);
        let mut at = 0;
        while at < body.len() {
            let len = [0, 1, 7, 100, 5000, 20_000][next(6)].min(body.len() - at);
            wire.extend_from_slice(&h3raw::frame(h3raw::DATA, &body[at..at + len]));
            at += len;
        }
        let (mut send, mut recv) = raw.conn.open_bi().await.unwrap();
        let wire = wire.freeze();
        let writing = async {
            let mut from = 0;
            while from < wire.len() {
                let to = (from + 1 + next(3000)).min(wire.len());
                send.write_all(&wire[from..to]).await.unwrap();
                from = to;
            }
            send.finish().unwrap();
        };
        let (_, outcome) = tokio::join!(writing, h3raw::read_outcome(&mut recv));
        let Outcome::Answered(bytes) = &outcome else {
            panic!("round {round}: {outcome:?}")
        };
        assert!(h3raw::body_of(bytes) == body, "round {round}: echo differs");
    }
    server.stop().await.unwrap();
}
