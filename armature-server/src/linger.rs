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

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::forward::forward_io;

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
}

impl<T> Linger<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            state: State::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Linger<T> {
    forward_io!(poll_read);
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

    #[tokio::test]
    async fn shutdown_drains_until_peer_closes() {
        let (mut client, server) = tokio::io::duplex(16);
        let mut server = Linger::new(server);
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
