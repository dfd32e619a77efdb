//! One QUIC connection: handshake, then HTTP/3 requests until the client
//! leaves or shutdown.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::JoinSet;

use super::guard;
use super::request::serve_request;
use super::Settings;
use crate::bounds::{ResBody, UserService};
use crate::drain::{Changes, Phase, Watch};

/// Serves the connection `incoming` is trying to open. Never panics on
/// client behaviour; failures are logged at debug level.
///
/// Shutdown: on [`Phase::Draining`] the client gets a GOAWAY naming the
/// first request not accepted, requests already accepted finish, and the
/// connection is then closed with `H3_NO_ERROR` (an idle one at once). A
/// connection that serves no request for `header_read_timeout` is closed the
/// same way. On [`Phase::Closing`] the remaining requests are cancelled and
/// the connection closed.
pub(crate) async fn serve_connection<S, B>(
    incoming: quinn::Incoming,
    settings: Arc<Settings>,
    service: S,
    watch: Watch,
) where
    S: UserService<B>,
    B: ResBody,
{
    let mut changes = watch.changes();
    let peer = incoming.remote_address();
    let opening = async {
        let connection = incoming.accept()?.await?;
        let mut builder = h3::server::builder();
        builder.max_field_section_size(settings.max_field_section_size);
        let h3 = builder
            .build::<_, Bytes>(guard::Connection::new(
                connection,
                guard::frame_limit(settings.max_field_section_size),
            ))
            .await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(h3)
    };
    let opening = tokio::time::timeout(settings.opening_timeout, opening);
    let mut h3 = tokio::select! {
        biased;
        () = changes.stopping() => return,
        opened = opening => match opened {
            Ok(Ok(h3)) => h3,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "QUIC/HTTP3 connection failed to open");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "QUIC handshake not done within header_read_timeout");
                return;
            }
        },
    };

    let mut requests = JoinSet::new();
    let mut draining = false;
    // Runs while no request is being served: a connection that serves none
    // for `header_read_timeout` gets GOAWAY and is closed, as an HTTP/2 one
    // does. The QUIC idle timeout alone never closes it while the client
    // sends keep-alive PINGs.
    let idle = tokio::time::sleep(settings.opening_timeout);
    let mut idle = std::pin::pin!(idle);
    loop {
        tokio::select! {
            biased;
            phase = poll_fn(|cx| changes.poll_changed(cx)) => match phase {
                Phase::Running => {}
                Phase::Draining => {
                    draining = true;
                    // GOAWAY: requests already accepted are served, later
                    // ones rejected so the client retries them elsewhere.
                    // Its ID is the first request *not* processed (RFC 9114
                    // §5.2): h3 sends the last one accepted plus this count,
                    // so 1 (with 0 the last request accepted, still being
                    // served, read as not processed and safe to retry).
                    if let Err(error) = h3.shutdown(1).await {
                        tracing::debug!(%peer, %error, "could not send GOAWAY");
                        break;
                    }
                }
                Phase::Closing => {
                    tracing::debug!(%peer, "closing HTTP/3 connection: shutdown deadline passed");
                    requests.abort_all();
                    break;
                }
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {
                if requests.is_empty() {
                    idle.as_mut().reset(crate::timer::deadline_after(settings.opening_timeout));
                }
            }
            () = &mut idle, if requests.is_empty() && !draining => {
                tracing::debug!(%peer, "HTTP/3 connection served nothing for header_read_timeout: GOAWAY");
                draining = true;
                if let Err(error) = h3.shutdown(1).await {
                    tracing::debug!(%peer, %error, "could not send GOAWAY");
                    break;
                }
            }
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    requests.spawn(serve_request(
                        resolver,
                        service.clone(),
                        peer,
                        settings.opening_timeout,
                        settings.peer_addr,
                    ));
                }
                // The client sent GOAWAY and its requests are done.
                Ok(None) => break,
                Err(error) => {
                    if !error.is_h3_no_error() {
                        tracing::debug!(%peer, %error, "HTTP/3 connection ended with an error");
                    }
                    break;
                }
            },
        }
        if draining && requests.is_empty() {
            break;
        }
    }
    finish_requests(&mut requests, &mut changes).await;
    // Dropping the connection closes it with H3_NO_ERROR (CONNECTION_CLOSE).
    drop(h3);
}

/// Lets requests still running finish, unless the deadline passes.
async fn finish_requests(requests: &mut JoinSet<()>, changes: &mut Changes) {
    while !requests.is_empty() {
        tokio::select! {
            biased;
            phase = poll_fn(|cx| changes.poll_changed(cx)) => {
                if phase == Phase::Closing {
                    requests.abort_all();
                    while requests.join_next().await.is_some() {}
                    return;
                }
            }
            _ = requests.join_next() => {}
        }
    }
}
