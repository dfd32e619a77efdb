//! The accept loop: takes connections off one listener until shutdown.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::body::FromIncoming;
use crate::bounds::{ResBody, UserService};
use crate::connection::{serve_connection, Protocols};
use crate::drain::Watch;
use crate::host::HostCheck;

/// How long to pause after an accept error that is not about one connection
/// (typically running out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Accepts until the server stops running, spawning one task per connection
/// on the current runtime. The listener is dropped on return, so new
/// connection attempts are refused from then on.
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
            Ok((stream, peer)) => {
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
    drop(listener);
    tracing::debug!("listener closed");
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
