//! Lingering close: let the client read the last response before the socket
//! goes away.
//!
//! When a server closes a TCP socket that still has unread bytes in its
//! receive buffer, the kernel answers with a RST instead of a FIN, and a RST
//! makes the client's kernel throw away response bytes the client has not
//! read yet. That is exactly what happens after a `431` for a 500 KB header
//! or a `400` for garbage: the client is still sending when the server
//! answers and closes, and the error response is lost about half the time.
//!
//! `Linger` turns `poll_shutdown` into "send FIN, then read and discard what
//! the client still sends until it closes its side, for at most
//! [`LINGER_TIME`] and [`LINGER_BYTES`]". hyper calls `poll_shutdown` on
//! every orderly close, so the error responses it writes for parse errors
//! reach the client reliably.
//!
//! Being the one wrapper that holds the socket itself, `Linger` also reads it
//! past tokio's readiness when graceful shutdown asks ([`Counts::look_in_socket`]):
//! tokio learns that a socket has become readable only when its I/O driver next
//! runs, and a request that has arrived by the time shutdown decides what to do
//! with a connection must be seen then (see `drive` in `connection.rs`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::forward::forward_io;
use crate::head_timeout::Counts;

/// The longest a closing connection keeps draining the client's bytes.
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(3);

/// The most bytes a closing connection reads and discards: enough for an upload refused
/// before it was read (a body limit's `413`) to end normally, so that the client reads the
/// answer; clients that stop at a failed write (Node's `http` and `fetch`) never see it
/// otherwise. 1 MiB lost the `413` of a 48 MiB upload on loopback.
pub(crate) const LINGER_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
enum State {
    Open,
    Draining {
        deadline: Pin<Box<Sleep>>,
        budget: usize,
    },
    Closed,
}

/// Wraps a socket so that its shutdown drains before it completes.
#[derive(Debug)]
pub(crate) struct Linger<T> {
    inner: T,
    state: State,
    /// The connection's counts, which say when to read past tokio's readiness.
    counts: Arc<Counts>,
}

impl<T> Linger<T> {
    pub(crate) fn new(inner: T, counts: Arc<Counts>) -> Self {
        Self {
            inner,
            state: State::Open,
            counts,
        }
    }
}

/// A socket read from directly, whatever tokio's readiness says.
pub(crate) trait ReadNow {
    /// Reads what the socket holds now, without waiting (`WouldBlock` if nothing).
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadNow for TcpStream {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        // tokio's sockets are non-blocking.
        io::Read::read(&mut &*socket2::SockRef::from(self), buf)
    }
}

/// The most read past tokio's readiness at once.
const READ_NOW_MAX: usize = 16 * 1024;

impl<T: AsyncRead + ReadNow + Unpin> AsyncRead for Linger<T> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        // One relaxed load, on reads that found nothing.
        if polled.is_pending() && this.counts.looks_in_socket() {
            return read_now(&this.inner, buf);
        }
        polled
    }
}

/// What `socket` holds now, read into `buf` (only while shutdown decides: off the hot path).
#[cold]
#[inline(never)]
fn read_now(socket: &impl ReadNow, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Pending;
    }
    let room = buf.remaining().min(READ_NOW_MAX);
    match socket.read_now(buf.initialize_unfilled_to(room)) {
        Ok(n) => {
            buf.advance(n);
            Poll::Ready(Ok(()))
        }
        // tokio's `poll_read` has registered the waker.
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        Err(error) => Poll::Ready(Err(error)),
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Linger<T> {
    forward_io!(
        poll_write,
        poll_write_vectored,
        is_write_vectored,
        poll_flush
    );

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    this.state = State::Draining {
                        deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
                        budget: LINGER_BYTES,
                    };
                }
                State::Draining { deadline, budget } => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 16 * 1024];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                            *budget = budget.saturating_sub(buf.filled().len());
                            if *budget == 0 {
                                this.state = State::Closed;
                            }
                        }
                        // EOF or an error: the client is gone either way.
                        Poll::Ready(_) => this.state = State::Closed,
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    impl ReadNow for tokio::io::DuplexStream {
        fn read_now(&self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    #[tokio::test]
    async fn shutdown_drains_until_peer_closes() {
        let (mut client, server) = tokio::io::duplex(16);
        let mut server = Linger::new(server, Arc::default());
        let client_side = tokio::spawn(async move {
            // More than the duplex buffer: only completes if the server drains.
            client.write_all(&[b'x'; 4096]).await.unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            rest
        });
        server.write_all(b"bye").await.unwrap();
        server.shutdown().await.unwrap();
        assert_eq!(client_side.await.unwrap(), b"bye");
    }
}
