//! A corpus of raw HTTP/1 framing cases, each sent over a real socket,
//! with the outcome the server must produce.
//!
//! Every case is followed on the same connection by a sentinel request
//! (`GET /sentinel`, `Connection: close`). The outcome is the list of
//! responses read before the server closed the connection: `"200 <echo>"`
//! for requests the service handled (the echo is `METHOD path body-len`),
//! the bare status for errors. So `["400"]` means "answered 400 and closed,
//! nothing after it was processed", and a missing sentinel after a `200`
//! means the server closed the connection after that response. An empty
//! list means closed without a response.

use crate::common;

use common::{raw_exchange, Running};

const SENTINEL: &str = "GET /sentinel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
const SENTINEL_OK: &str = "200 GET /sentinel 0";

struct Case {
    name: &'static str,
    request: Vec<u8>,
    expect: &'static [&'static str],
}

fn case(name: &'static str, request: impl AsRef<[u8]>, expect: &'static [&'static str]) -> Case {
    Case {
        name,
        request: request.as_ref().to_vec(),
        expect,
    }
}

fn corpus() -> Vec<Case> {
    let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20 * 1024));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..101)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    vec![
        // Baselines.
        case("plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &["200 GET / 0", SENTINEL_OK]),
        case(
            "POST with Content-Length",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            &["200 POST /a 5", SENTINEL_OK],
        ),
        case(
            "chunked POST",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            &["200 POST /a 5", SENTINEL_OK],
        ),
        case(
            "chunked with extension and trailer",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-trailer: t\r\n\r\n",
            &["200 POST /a 5", SENTINEL_OK],
        ),
        case(
            "pipelined requests",
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
            &["200 GET /1 0", "200 GET /2 0", SENTINEL_OK],
        ),
        case(
            "leading empty line is ignored (RFC 9112 §2.2)",
            "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &["200 GET / 0", SENTINEL_OK],
        ),
        case(
            "bare LF line endings are accepted (RFC 9112 §2.2 MAY)",
            "GET / HTTP/1.1\nHost: x\n\n",
            &["200 GET / 0", SENTINEL_OK],
        ),
        case(
            "absolute-form target",
            "GET http://x/abs HTTP/1.1\r\nHost: x\r\n\r\n",
            &["200 GET /abs 0", SENTINEL_OK],
        ),
        // Content-Length and Transfer-Encoding together: read as chunked,
        // then the connection is closed (RFC 9112 §6.3 ¶3), so the bytes
        // after the chunked body are never parsed as a request.
        case(
            "CL then TE (CL.TE smuggling attempt)",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
            &["200 POST / 0"],
        ),
        case(
            "TE then CL (TE.CL smuggling attempt)",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            &["200 POST / 8"],
        ),
        // Duplicate Content-Length.
        case(
            "duplicate Content-Length, same value",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            &["200 POST / 5", SENTINEL_OK],
        ),
        case(
            "duplicate Content-Length, differing values",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            &["400"],
        ),
        case(
            "Content-Length list in one field",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
            &["400"],
        ),
        case(
            "signed Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
            &["400"],
        ),
        case(
            "negative Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            &["400"],
        ),
        case(
            "overflowing Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            &["400"],
        ),
        // Transfer-Encoding variants.
        case(
            "Transfer-Encoding in HTTP/1.0",
            "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "Transfer-Encoding without chunked last",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "unknown Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "second Transfer-Encoding line ends in identity",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        // hyper checks that chunked comes last; the server refuses the rest (RFC 9112 §6.1).
        case(
            "a transfer coding before chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            &["501"],
        ),
        case(
            "a transfer coding on its own line before chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            &["501"],
        ),
        case(
            "chunked twice",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "space before colon in Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
            &["400"],
        ),
        // Broken chunked bodies: the service sees a body error and the test service
        // propagates it (as a handler using `?` does): the server answers 400 for it, then
        // closes the connection.
        case(
            "non-hex chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "overflowing chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
            &["400"],
        ),
        case(
            "chunk data longer than its size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
            &["400"],
        ),
        // Header syntax.
        case(
            "obs-fold header continuation",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
            &["400"],
        ),
        case(
            "space in header name",
            "GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
            &["400"],
        ),
        case(
            "NUL in header value",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n",
            &["400"],
        ),
        case("more than 100 headers", many_headers, &["431"]),
        // Request line.
        case("invalid method token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", &["400"]),
        case("unknown HTTP version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", &["400"]),
        case("HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", &["400"]),
        case("HTTP/0.9 request", "GET /\r\n\r\n", &["400"]),
        case("double space in request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", &["400"]),
        case("space in request target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", &["400"]),
        case("over-long request line", long_path, &["431"]),
        case("garbage bytes", b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", &["400"]),
        // Host (RFC 9112 §3.2), enforced by the server.
        case("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", &["400"]),
        case(
            "two Host headers",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            &["400"],
        ),
        case(
            "two identical Host headers",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            &["400"],
        ),
        case("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", &["400"]),
        case("Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", &["400"]),
        case("Host with a bad port", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", &["400"]),
        case(
            "Host rejection does not read the body",
            "POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
            &["400"],
        ),
        case(
            "HTTP/1.0 without Host is allowed",
            "GET /old HTTP/1.0\r\n\r\n",
            &["200 GET /old 0"],
        ),
        case(
            "HTTP/1.0 with two Hosts",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            &["400"],
        ),
        case(
            "empty Host is valid (RFC 9112 §3.2)",
            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
            &["200 GET / 0", SENTINEL_OK],
        ),
    ]
}

fn summarize(responses: Vec<(u16, String)>) -> Vec<String> {
    responses
        .into_iter()
        .map(|(status, body)| {
            if status == 200 {
                format!("200 {body}")
            } else {
                status.to_string()
            }
        })
        .collect()
}

#[tokio::test]
async fn framing_corpus() {
    let server = Running::start(common::local_server());
    let mut failures = Vec::new();
    for case in corpus() {
        let mut request = case.request.clone();
        request.extend_from_slice(SENTINEL.as_bytes());
        let got = summarize(raw_exchange(server.addr, &request).await.responses());
        if got != case.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.expect, got
            ));
        }
    }
    // The server is still healthy after the whole corpus.
    assert_eq!(common::get_once(server.addr, "/after").await.0, 200);
    server.stop().await.unwrap();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// hyper 1.12 trap: with `pipeline_flush(true)`, a connection that closes
/// while unparsed bytes remain in hyper's read buffer never writes its
/// last response, so every automatic parse-error response is lost. This is
/// why `Server::http1_pipeline_flush` defaults to `false`. If this test
/// starts failing after a hyper upgrade, the bug is fixed: re-run the
/// corpus with pipelining flushes on and reconsider the default.
#[tokio::test]
async fn pipeline_flush_loses_error_responses() {
    let server = Running::start(common::local_server().http1_pipeline_flush(true));
    let garbage = raw_exchange(server.addr, b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        garbage.statuses(),
        Vec::<u16>::new(),
        "hyper now flushes the 400"
    );
    // Well-formed pipelined traffic is unaffected.
    let ok = raw_exchange(
        server.addr,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(ok.statuses(), vec![200, 200]);
    server.stop().await.unwrap();
}

/// hyper answers a head it cannot parse by itself, and the server adds a short message as its
/// body; to a `HEAD` request the answer has none (RFC 9110 §9.3.2): its `content-length` is
/// the message's, and the connection closes right after the head.
#[tokio::test]
async fn a_head_request_that_cannot_be_parsed_gets_a_bodiless_400() {
    let server = Running::start(common::local_server());
    for (request, head) in [
        (
            &b"HEAD /json HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"[..],
            true,
        ),
        (b"\r\nHEAD / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", true),
        (b"GET /json HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", false),
    ] {
        let got = raw_exchange(server.addr, request).await.bytes;
        let text = String::from_utf8_lossy(&got);
        let message = "Bad Request: the request is not valid HTTP/1.1\n";
        assert!(text.starts_with("HTTP/1.1 400 "), "{text:?}");
        assert_eq!(
            common::response_header(&got, "content-length").as_deref(),
            Some(message.len().to_string().as_str()),
            "{text:?}"
        );
        let (_, body) = text.split_once("\r\n\r\n").expect("a whole head");
        assert_eq!(body, if head { "" } else { message }, "{text:?}");
    }
    assert_eq!(common::get_once(server.addr, "/after").await.0, 200);
    server.stop().await.unwrap();
}
