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
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                match stream {
                    Ok(stream) => spawn_connection(stream, peer, protocols, service, changes),
                    Err(error) => {
                        tracing::debug!(%peer, %error, "could not serve a queued connection")
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if is_per_connection(&error) => {}
            Err(error) => {
                tracing::debug!(%error, "accept failed while taking the listen queue");
                break;
            }
        }
    }
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
