//! Telling HTTP/2 with prior knowledge (h2c) from HTTP/1 on a cleartext
//! connection.
//!
//! An h2c client opens with the fixed 24-byte connection preface
//! (RFC 9113 §3.4); no HTTP/1 request can start with it. We read just enough
//! to decide: the first byte that differs from the preface means HTTP/1,
//! all 24 bytes matching means HTTP/2. For HTTP/2 we also wait for the
//! header of the client's first frame (the SETTINGS frame that must follow
//! the preface), so a client that stalls right after the preface is caught
//! by the opening timeout: hyper's HTTP/2 handshake has no timeout of its
//! own. Whatever was read is handed back through
//! [`Rewind`](crate::rewind::Rewind).

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The HTTP/2 connection preface.
pub(crate) const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The size of an HTTP/2 frame header.
const FRAME_HEADER_LEN: usize = 9;

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// Reads the opening bytes of `io` and decides its protocol.
///
/// Resolves to the bytes consumed so they can be replayed, or `None` if the
/// client closed the connection before sending anything decisive.
pub(crate) fn sniff<T: AsyncRead + Unpin>(io: &mut T) -> Sniff<'_, T> {
    Sniff {
        io,
        // Room for a typical first request in one read, so HTTP/1 (the common
        // case) decides on the first byte without a second syscall.
        buf: BytesMut::with_capacity(4096),
    }
}

/// The future of [`sniff`].
pub(crate) struct Sniff<'a, T> {
    io: &'a mut T,
    buf: BytesMut,
}

impl<T> Sniff<'_, T> {
    /// Whether the client has sent anything yet.
    pub(crate) fn has_bytes(&self) -> bool {
        !self.buf.is_empty()
    }
}

impl<T: AsyncRead + Unpin> Future for Sniff<'_, T> {
    type Output = io::Result<Option<(Protocol, Bytes)>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if ready!(pin!(this.io.read_buf(&mut this.buf)).poll(cx))? == 0 {
                return Poll::Ready(Ok(None));
            }
            match decide(&this.buf) {
                Some(Protocol::Http2) if this.buf.len() < H2_PREFACE.len() + FRAME_HEADER_LEN => {}
                Some(protocol) => {
                    return Poll::Ready(Ok(Some((protocol, this.buf.split().freeze()))))
                }
                None => {}
            }
        }
    }
}

/// `Some` once `seen` is enough to decide, `None` while it is a strict
/// prefix of the preface.
fn decide(seen: &[u8]) -> Option<Protocol> {
    let n = seen.len().min(H2_PREFACE.len());
    if seen[..n] != H2_PREFACE[..n] {
        Some(Protocol::Http1)
    } else if n == H2_PREFACE.len() {
        Some(Protocol::Http2)
    } else {
        None
    }
}

/// Whether the first bytes of a connection (as protocol detection read them) begin a `HEAD`
/// request, after the empty lines a server ignores before one (RFC 9112 §2.2).
pub(crate) fn begins_head(first: &[u8]) -> bool {
    let start = first
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(first.len());
    first[start..].starts_with(b"HEAD ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_head_request_after_leading_empty_lines() {
        for (first, head) in [
            (&b"HEAD / HTTP/1.1\r\n"[..], true),
            (b"\r\nHEAD /x", true),
            (b"GET / HTTP/1.1\r\n", false),
            (b"HEADER /", false),
            (b"head / HTTP/1.1", false),
            (b"HEA", false),
            (b"", false),
        ] {
            assert_eq!(
                begins_head(first),
                head,
                "{:?}",
                String::from_utf8_lossy(first)
            );
        }
    }

    #[test]
    fn decides_on_first_differing_byte() {
        assert_eq!(decide(b"G"), Some(Protocol::Http1));
        assert_eq!(decide(b"POST / HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(decide(b"PRI * HTTP/1.1\r\n"), Some(Protocol::Http1));
    }

    #[test]
    fn waits_while_prefix_of_preface() {
        assert_eq!(decide(b"P"), None);
        assert_eq!(decide(b"PRI * HTTP/2.0\r\n"), None);
    }

    #[test]
    fn full_preface_is_http2() {
        assert_eq!(decide(H2_PREFACE), Some(Protocol::Http2));
        let mut more = H2_PREFACE.to_vec();
        more.extend_from_slice(b"\0\0\x12\x04");
        assert_eq!(decide(&more), Some(Protocol::Http2));
    }

    #[tokio::test]
    async fn returns_everything_read() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n")
            .await
            .unwrap();
        let (protocol, bytes) = sniff(&mut server).await.unwrap().unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(&bytes[..], b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn http2_waits_for_the_first_frame_header() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, H2_PREFACE)
            .await
            .unwrap();
        let sniffing = tokio::spawn(async move { sniff(&mut server).await });
        tokio::task::yield_now().await;
        assert!(!sniffing.is_finished());
        tokio::io::AsyncWriteExt::write_all(&mut client, b"\0\0\0\x04\0\0\0\0\0")
            .await
            .unwrap();
        let (protocol, bytes) = sniffing.await.unwrap().unwrap().unwrap();
        assert_eq!(protocol, Protocol::Http2);
        assert_eq!(bytes.len(), 33);
    }

    #[tokio::test]
    async fn tells_whether_anything_came_while_undecided() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let mut sniffing = std::pin::pin!(sniff(&mut server));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(sniffing.as_mut().poll(&mut cx).is_pending());
        assert!(!sniffing.has_bytes());
        // `P` may begin `POST` or the HTTP/2 preface: still undecided.
        tokio::io::AsyncWriteExt::write_all(&mut client, b"P")
            .await
            .unwrap();
        assert!(sniffing.as_mut().poll(&mut cx).is_pending());
        assert!(sniffing.has_bytes());
    }

    #[tokio::test]
    async fn eof_before_deciding_is_none() {
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert!(sniff(&mut server).await.unwrap().is_none());
    }
}
