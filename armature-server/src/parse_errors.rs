//! A short message in hyper's own HTTP/1 error answers.
//!
//! When a request head cannot be parsed, hyper answers by itself (`400`, `414` or `431`)
//! before any service sees the request, with an empty body and no way to change it. Clients
//! (and people reading `curl -i`) then learn the status and nothing else. This transport
//! wrapper recognises that answer as hyper writes it and adds a `text/plain` body that says
//! what was wrong, such as `Request Header Fields Too Large: the request head is over 16384
//! bytes or 100 header fields`.
//!
//! To a `HEAD` request the answer keeps the message's `content-length` and sends no body, as
//! RFC 9110 §9.3.2 asks of any answer to `HEAD`. Whether the request is one is told by the
//! first bytes protocol detection read ([`begins_head`](crate::sniff::begins_head), on
//! cleartext connections; over TLS, whose HTTP/1.1 connections skip detection, the answer
//! keeps its body), so reads pay nothing for it.
//!
//! With HTTP/3 on, the rewritten answer carries its `Alt-Svc` too, as every response the
//! server gives does (see `finish` in `host.rs`): hyper's own answer has none.
//!
//! Only while the connection has handed no request to the service: then nothing written on
//! it can be a service's response, so a handler's own `400` is never touched. A bad head
//! after good requests on a keep-alive connection keeps hyper's empty answer (the answers
//! before it may share its write, and telling them apart would mean parsing our own output).
//! The check on the hot path is one relaxed atomic load per write.
//!
//! Being the HTTP/1 connection's transport, it also reports each read that brought bytes to
//! the connection's [`Counts`], so that graceful shutdown knows when a request head has begun
//! arriving (two relaxed loads and a store per read).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::forward::forward_io;
use crate::head_timeout::Counts;

/// Wraps an HTTP/1 connection's transport; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct ParseErrors<I> {
    inner: I,
    counts: Arc<Counts>,
    max_header_size: usize,
    alt_svc: Option<HeaderValue>,
    /// A rewritten answer being written, and the length of hyper's original, which is
    /// reported to hyper as written once all of it is.
    rewritten: Option<(Vec<u8>, usize, usize)>,
    /// Whether the connection's first bytes began a `HEAD` request: the answer to a `HEAD`
    /// has no body, even one hyper could not parse further.
    head: bool,
}

impl<I> ParseErrors<I> {
    pub(crate) fn new(
        inner: I,
        counts: Arc<Counts>,
        max_header_size: usize,
        alt_svc: Option<HeaderValue>,
        head: bool,
    ) -> Self {
        Self {
            inner,
            counts,
            max_header_size,
            alt_svc,
            rewritten: None,
            head,
        }
    }
}

impl<I: AsyncWrite + Unpin> ParseErrors<I> {
    /// `buf` as hyper wrote it, or its rewrite when it is hyper's error answer on a
    /// connection that has served nothing.
    fn poll_write_checked(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.rewritten.is_none() && !self.counts.any_started() {
            if let Some(answer) =
                with_message(buf, self.max_header_size, self.alt_svc.as_ref(), self.head)
            {
                self.rewritten = Some((answer, 0, buf.len()));
            }
        }
        let Some((answer, written, original)) = &mut self.rewritten else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        while *written < answer.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let original = *original;
        self.rewritten = None;
        Poll::Ready(Ok(original))
    }
}

/// The answers hyper writes for a request head it cannot parse (`Server::on_error` in hyper's
/// `proto::h1::role`), each with the message added here.
const ANSWERS: [(&[u8], &str); 3] = [
    (
        b"HTTP/1.1 400 Bad Request\r\n",
        "Bad Request: the request is not valid HTTP/1.1\n",
    ),
    (
        b"HTTP/1.1 414 URI Too Long\r\n",
        "URI Too Long: the request target is longer than the server accepts\n",
    ),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        "Request Header Fields Too Large",
    ),
];

/// What follows the status line in hyper's error answer, up to the date's value.
const HEADERS: &[u8] = b"connection: close\r\ncontent-length: 0\r\ndate: ";

/// `buf` with a message (and `alt_svc`), if it is exactly one of hyper's error answers; for a
/// `head` request, the message's `content-length` without the message (RFC 9110 §9.3.2).
fn with_message(
    buf: &[u8],
    max_header_size: usize,
    alt_svc: Option<&HeaderValue>,
    head: bool,
) -> Option<Vec<u8>> {
    let (status_line, message) = ANSWERS
        .iter()
        .find(|(status_line, _)| buf.starts_with(status_line))?;
    let rest = buf[status_line.len()..].strip_prefix(HEADERS)?;
    // An IMF-fixdate is 29 bytes: `Sun, 06 Nov 1994 08:49:37 GMT`.
    if rest.len() != 29 + 4 || !rest.ends_with(b" GMT\r\n\r\n") {
        return None;
    }
    let message = if status_line.starts_with(b"HTTP/1.1 431") {
        format!(
            "{message}: the request head is over {max_header_size} bytes or 100 header fields\n"
        )
    } else {
        (*message).to_owned()
    };
    let alt_svc_len = alt_svc.map_or(0, |value| value.len() + 11);
    let mut answer = Vec::with_capacity(buf.len() + 64 + alt_svc_len + message.len());
    answer.extend_from_slice(status_line);
    answer.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n");
    if let Some(value) = alt_svc {
        answer.extend_from_slice(b"alt-svc: ");
        answer.extend_from_slice(value.as_bytes());
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(format!("content-length: {}\r\ndate: ", message.len()).as_bytes());
    answer.extend_from_slice(rest);
    if !head {
        answer.extend_from_slice(message.as_bytes());
    }
    Some(answer)
}

impl<I: AsyncRead + Unpin> AsyncRead for ParseErrors<I> {
    /// Reads, and tells the connection's counts that bytes came (graceful shutdown answers a
    /// request whose head has begun arriving; see [`Counts::bytes_read`]).
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.remaining() != room {
            self.counts.bytes_read();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ParseErrors<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_checked(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper writes its error answer as one buffer (nothing else is queued).
        if self.rewritten.is_some() || !self.counts.any_started() {
            let mut filled = bufs.iter().filter(|b| !b.is_empty());
            if let (Some(only), None) = (filled.next(), filled.next()) {
                return self.poll_write_checked(cx, only);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    forward_io!(is_write_vectored, poll_flush, poll_shutdown);
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sun, 06 Dec 2026 21:24:46 GMT";

    fn hyper_answer(status_line: &str) -> Vec<u8> {
        format!("{status_line}\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n")
            .into_bytes()
    }

    #[test]
    fn hyper_error_answers_get_their_message() {
        for (status_line, message) in [
            ("HTTP/1.1 400 Bad Request", "Bad Request: the request is not valid HTTP/1.1\n".to_owned()),
            (
                "HTTP/1.1 414 URI Too Long",
                "URI Too Long: the request target is longer than the server accepts\n".to_owned(),
            ),
            (
                "HTTP/1.1 431 Request Header Fields Too Large",
                "Request Header Fields Too Large: the request head is over 8192 bytes or 100 header fields\n".to_owned(),
            ),
        ] {
            let answer = with_message(&hyper_answer(status_line), 8192, None, false).expect(status_line);
            let expected = format!(
                "{status_line}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\
                 content-length: {}\r\ndate: {DATE}\r\n\r\n{message}",
                message.len()
            );
            assert_eq!(String::from_utf8(answer).unwrap(), expected);
        }
    }

    #[test]
    fn with_http3_on_the_answer_advertises_it() {
        let alt_svc = HeaderValue::from_static("h3=\":8443\"; ma=86400");
        let answer = with_message(
            &hyper_answer("HTTP/1.1 400 Bad Request"),
            8192,
            Some(&alt_svc),
            false,
        )
        .unwrap();
        let message = "Bad Request: the request is not valid HTTP/1.1\n";
        let expected = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             connection: close\r\nalt-svc: h3=\":8443\"; ma=86400\r\n\
             content-length: {}\r\ndate: {DATE}\r\n\r\n{message}",
            message.len()
        );
        assert_eq!(String::from_utf8(answer).unwrap(), expected);
    }

    #[test]
    fn anything_else_is_left_alone() {
        let mut longer = hyper_answer("HTTP/1.1 400 Bad Request");
        longer.extend_from_slice(b"x");
        let mut shorter = hyper_answer("HTTP/1.1 400 Bad Request");
        shorter.pop();
        for buf in [
            hyper_answer("HTTP/1.1 200 OK"),
            hyper_answer("HTTP/1.1 404 Not Found"),
            longer,
            shorter,
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n"
                .to_vec(),
            Vec::new(),
        ] {
            assert_eq!(
                with_message(&buf, 8192, None, false),
                None,
                "{:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }

    #[test]
    fn the_answer_to_a_head_request_has_no_body() {
        let answer = with_message(&hyper_answer("HTTP/1.1 400 Bad Request"), 8192, None, true);
        let message = "Bad Request: the request is not valid HTTP/1.1\n";
        let expected = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             connection: close\r\ncontent-length: {}\r\ndate: {DATE}\r\n\r\n",
            message.len()
        );
        assert_eq!(String::from_utf8(answer.unwrap()).unwrap(), expected);
    }
}
