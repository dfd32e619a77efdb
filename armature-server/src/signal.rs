//! What starts a shutdown: the user's future, SIGINT or SIGTERM.

use std::future::{pending, Future};
use std::io;
use std::pin::Pin;

/// A shutdown future supplied by the user.
pub(crate) type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Returns a future that resolves when shutdown should begin.
///
/// Signal handlers are installed here, before the future is first polled,
/// so a signal that arrives while the server is starting is not lost.
pub(crate) fn trigger(
    user: Option<ShutdownFuture>,
    signals: bool,
) -> io::Result<impl Future<Output = ()> + Send> {
    let signal = if signals { Some(os_signal()?) } else { None };
    Ok(async move {
        let user = async {
            match user {
                Some(fut) => fut.await,
                None => pending().await,
            }
        };
        let signal = async {
            match signal {
                Some(fut) => fut.await,
                None => pending().await,
            }
        };
        tokio::select! {
            () = user => tracing::info!("shutdown requested"),
            () = signal => {},
        }
    })
}

#[cfg(unix)]
fn os_signal() -> io::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    })
}

#[cfg(not(unix))]
fn os_signal() -> io::Result<impl Future<Output = ()> + Send> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received, shutting down");
        }
    })
}
