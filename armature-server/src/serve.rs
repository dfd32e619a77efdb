//! Serving on the caller's runtime: [`Server::serve`].

use std::pin::pin;

use bytes::Bytes;
use http::{Request, Response};

use crate::accept::accept_loop;
use crate::body::FromIncoming;
use crate::bounds::BoxError;
use crate::drain::{Drain, Phase};
use crate::host::HostCheck;
use crate::{signal, RequestBody, Server, ServerError};

impl Server {
    /// Serves `service` on the current Tokio runtime until shutdown, then
    /// returns `Ok(())` once in-flight requests have finished (or the
    /// [`shutdown_timeout`](Server::shutdown_timeout) has passed).
    ///
    /// Each connection runs in its own task, speaking HTTP/1.1 or HTTP/2
    /// (h2c with prior knowledge, or ALPN `h2` over TLS), and with
    /// [`http3`](Server::http3) also HTTP/3 over QUIC. The service is cloned
    /// per request; its request body is a [`RequestBody`] whatever the
    /// protocol. Requests that break the `Host` rules of RFC 9112
    /// are answered `400` without calling it.
    ///
    /// Errors come only from startup (TLS files, signal handlers, registering
    /// the listener); trouble on one connection is logged at debug level.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use armature_server::Server;
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let service = tower::service_fn(|_req: http::Request<armature_server::RequestBody>| async {
    ///     Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hi"))))
    /// });
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = Server::bind(([127, 0, 0, 1], 0))
    ///     .unwrap()
    ///     .shutdown_on_signals(false)
    ///     .with_graceful_shutdown(async { let _ = stopped.await; });
    /// let running = tokio::spawn(server.serve(service));
    /// stop.send(()).unwrap();
    /// running.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn serve<S, B>(self, service: S) -> Result<(), ServerError>
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let prepared = self.prepare()?;
        let trigger =
            signal::trigger(prepared.shutdown, prepared.signals).map_err(ServerError::Signal)?;
        let listener =
            tokio::net::TcpListener::from_std(prepared.listener).map_err(ServerError::Listener)?;
        let (drain, watch) = Drain::new();
        tracing::info!(addr = %prepared.local_addr, "serving");
        if let Some(h3) = prepared.http3 {
            tokio::spawn(h3.start()?.serve(service.clone(), watch.clone()));
        }

        let mut accepting = pin!(accept_loop(
            listener,
            prepared.protocols,
            HostCheck::new(FromIncoming::new(service))
                .alt_svc(prepared.alt_svc)
                .peer_addr(prepared.peer_addr),
            watch,
        ));
        let accept_ended = tokio::select! {
            () = trigger => false,
            () = accepting.as_mut() => true,
        };
        drain.enter(Phase::Draining);
        if !accept_ended {
            // Returns at its next poll, dropping the listener.
            accepting.await;
        }
        drain.finish(prepared.shutdown_timeout).await;
        tracing::info!("server stopped");
        Ok(())
    }
}
