//! A stack served by armature-server on 127.0.0.1 (an OS-chosen port), stoppable gracefully.
#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;

use armature_server::{RequestBody, Server, ServerError};
use bytes::Bytes;
use http::{Request, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running server.
pub struct Serving {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ServerError>>,
}

/// Serves `app` in a task, signals off (tests share one process).
pub fn serve<S, B>(app: S) -> Serving
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let server = Server::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server
        .shutdown_on_signals(false)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    Serving {
        addr,
        stop,
        handle: tokio::spawn(server.serve(app)),
    }
}

impl Serving {
    /// Shuts down gracefully and waits for the server to return.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}
