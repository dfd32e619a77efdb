//! The accept loop: takes connections off one listener until shutdown.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::body::FromIncoming;
use crate::bounds::{ResBody, UserService};
use crate::connection::{serve_connection, Protocols};
use crate::drain::{Changes, Watch};
use crate::host::HostCheck;
use crate::listener::BACKLOG;

/// How long to pause after an accept error that is not about one connection
/// (typically running out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Accepts until the server stops running, spawning one task per connection
/// on the current runtime. The listener is closed on return (after taking the
/// connections already in its queue, see [`take_backlog`]), so new connection
/// attempts are refused from then on.
pub(crate) async fn accept_loop<S, B>(
    listener: TcpListener,
    protocols: Arc<Protocols>,
    service: HostCheck<FromIncoming<S>>,
    watch: Watch,
) where
    S: UserService<B>,
    B: ResBody,
{
    let mut changes = watch.changes();
    loop {
        let accepted = poll_fn(|cx| {
            if changes.poll_changed(cx).is_ready() {
                // Phases only move forward: any change means stop.
                return std::task::Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let Some(accepted) = accepted else { break };
        match accepted {
            Ok((stream, peer)) => spawn_connection(stream, peer, &protocols, &service, &changes),
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(%error, "accept failed for one connection");
            }
            Err(error) => {
                tracing::error!(%error, "accept failed; pausing before the next attempt");
                tokio::select! {
                    () = changes.stopping() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    take_backlog(listener, &protocols, &service, &changes);
    tracing::debug!("listener closed");
}

fn spawn_connection<S, B>(
    stream: TcpStream,
    peer: SocketAddr,
    protocols: &Arc<Protocols>,
    service: &HostCheck<FromIncoming<S>>,
    changes: &Changes,
) where
    S: UserService<B>,
    B: ResBody,
{
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    tokio::spawn(serve_connection(
        stream,
        peer,
        protocols.clone(),
        service.clone(),
        changes.watch(),
    ));
}

/// Closes the listener, first accepting the connections waiting in its queue: the kernel
/// completed them before shutdown began, and their clients may have sent a request already,
/// which closing the listener would reset unanswered. They are served as the connections
/// already open are during shutdown: a request that has come is answered, and a connection
/// that sent nothing is closed.
///
/// The queue is read from the socket itself: tokio learns of new connections from its I/O
/// driver, which may not have run since they came.
fn take_backlog<S, B>(
    listener: TcpListener,
    protocols: &Arc<Protocols>,
    service: &HostCheck<FromIncoming<S>>,
    changes: &Changes,
) where
    S: UserService<B>,
    B: ResBody,
{
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(error) => {
            tracing::debug!(%error, "could not take the listen queue");
            return;
        }
    };
    // The queue held at most `BACKLOG + 1` connections when shutdown began (Linux's
    // accept queue takes one past its limit); any past them came after, while the listener
    // was still open. The count bounds this loop, which runs without yielding, against
    // clients that keep connecting.
    let queued = usize::try_from(BACKLOG).unwrap_or(0) + 1;
    take_queued(&listener, queued, |stream, peer| {
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream));
        match stream {
            Ok(stream) => spawn_connection(stream, peer, protocols, service, changes),
            Err(error) => tracing::debug!(%peer, %error, "could not serve a queued connection"),
        }
    });
}

/// Accepts from `listener` (non-blocking) until its queue is empty or `at_most` accepts
/// (each connection taken, or lost to its client's reset) have been made, giving each
/// connection to `take`; returns how many it took.
fn take_queued(
    listener: &std::net::TcpListener,
    at_most: usize,
    mut take: impl FnMut(std::net::TcpStream, SocketAddr),
) -> usize {
    let mut taken = 0;
    for _ in 0..at_most {
        match listener.accept() {
            Ok((stream, peer)) => {
                taken += 1;
                take(stream, peer);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if is_per_connection(&error) => {}
            Err(error) => {
                tracing::debug!(%error, "accept failed while taking the listen queue");
                break;
            }
        }
    }
    taken
}

/// Errors that concern only the connection being accepted.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_the_queue_stops_when_it_is_empty_or_at_the_bound() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        // Connections the kernel completes into the queue without an accept.
        let clients: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut peers = Vec::new();
        let taken = take_queued(&listener, 3, |_, peer| peers.push(peer));
        assert_eq!(taken, 3, "stops at the bound while connections still wait");
        assert_eq!(peers.len(), 3);
        assert_eq!(
            take_queued(&listener, 100, |_, _| {}),
            2,
            "the rest, then empty"
        );
        assert_eq!(take_queued(&listener, 100, |_, _| {}), 0);
        drop(clients);
    }
}
